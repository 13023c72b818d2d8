import functools

import keras

from pixelrnn_tf.layers.pixel_rnn_residual_block import RNN_TYPES
from pixelrnn_tf.layers.pixel_rnn_residual_block import PixelRNNResidualBlock
from pixelrnn_tf.models.autoregressive_model import AutoregressiveModel


@keras.saving.register_keras_serializable(package="pixelrnn_tf")
class PixelRNN(AutoregressiveModel):
    """PixelRNN with Row LSTM (§3.1) or Diagonal BiLSTM (§3.2) layers.

    7×7 mask-A conv -> `num_layers` LSTM layers, each in a residual block
    (§3.3: 2h features in, h per gate, 1×1 conv back to 2h) -> output stack
    -> per-channel softmax. The Row LSTM sees a triangle of the rows above;
    the Diagonal BiLSTM sees the whole causal context from its first layer,
    but for the last pixel of the row above on rows wider than 4 (the
    mask-A features there exclude it; see tests/test_causality.py).

    Args:
        rnn_type: str. `"row_lstm"` or `"diagonal_bilstm"`.
        **kwargs: the arguments of `AutoregressiveModel`.

    Example:
    >>> model = PixelRNN("row_lstm", image_shape=(8, 8, 3), num_levels=4,
    ...                  hidden_dim=6, num_layers=2)
    >>> model(np.zeros((2, 8, 8, 3))).shape
    (2, 8, 8, 3, 4)

    Reference:
     - [van den Oord et al., 2016](https://arxiv.org/abs/1601.06759), §3
    """

    def __init__(self, rnn_type, image_shape, **kwargs):
        if rnn_type not in RNN_TYPES:
            raise ValueError(
                f"`rnn_type` must be one of {list(RNN_TYPES)}. "
                f"Received: rnn_type={rnn_type!r}"
            )
        block_factory = functools.partial(PixelRNNResidualBlock, rnn_type)
        super().__init__(block_factory, image_shape, **kwargs)
        self.rnn_type = rnn_type

    @property
    def architecture(self):
        return self.rnn_type

    def get_config(self):
        return {"rnn_type": self.rnn_type, **super().get_config()}
