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
    the Diagonal BiLSTM sees the whole causal context from its first layer.

    The paper's Diagonal BiLSTM stack has one blind spot on rows wider than
    4: the mask-A features at (i-1, W-1) exclude that pixel, the
    right-to-left map reaches row i only from row i-1 and the left-to-right
    map only from columns <= j, so (i, j < W-4) never sees the last
    sub-pixel of pixel (i-1, W-1). With `close_blind_spot` (the default for
    it), the network runs on the input with one constant column on the
    right, cropped before the head: the mask-A features at (i-1, W) see all
    of (i-1, W-1), and the right-to-left LSTM carries them along row i-1 to
    every (i, j). No layer changes, no weight is added; 1/W more compute.

    Args:
        rnn_type: str. `"row_lstm"` or `"diagonal_bilstm"`.
        close_blind_spot: bool or None. Diagonal BiLSTM only: pad one
            column on the right as above. None means True for it (False
            gives the paper-literal stack) and False for the Row LSTM.
        **kwargs: the arguments of `AutoregressiveModel`.

    Example:
    >>> model = PixelRNN("row_lstm", image_shape=(8, 8, 3), num_levels=4,
    ...                  hidden_dim=6, num_layers=2)
    >>> model(np.zeros((2, 8, 8, 3))).shape
    (2, 8, 8, 3, 4)

    Reference:
     - [van den Oord et al., 2016](https://arxiv.org/abs/1601.06759), §3
    """

    def __init__(self, rnn_type, image_shape, close_blind_spot=None, **kwargs):
        if rnn_type not in RNN_TYPES:
            raise ValueError(
                f"`rnn_type` must be one of {list(RNN_TYPES)}. "
                f"Received: rnn_type={rnn_type!r}"
            )
        diagonal = rnn_type == "diagonal_bilstm"
        if close_blind_spot is None:
            close_blind_spot = diagonal
        if close_blind_spot and not diagonal:
            raise ValueError(
                "`close_blind_spot` applies to the Diagonal BiLSTM only. "
                f"Received: rnn_type={rnn_type!r}, close_blind_spot=True"
            )
        block_factory = functools.partial(PixelRNNResidualBlock, rnn_type)
        super().__init__(
            block_factory, image_shape, pad_right=close_blind_spot, **kwargs
        )
        self.rnn_type = rnn_type
        self.close_blind_spot = bool(close_blind_spot)

    @property
    def architecture(self):
        return self.rnn_type

    def get_config(self):
        return {
            "rnn_type": self.rnn_type,
            "close_blind_spot": self.close_blind_spot,
            **super().get_config(),
        }

    @classmethod
    def from_config(cls, config):
        # Saved before the option existed: the paper-literal stack.
        return cls(**{"close_blind_spot": False, **config})
