import keras
from keras import ops

from pixelrnn_tf.layers import shared_trace
from pixelrnn_tf.layers import stepping
from pixelrnn_tf.layers.step_composite import StepComposite
from pixelrnn_tf.layers.diagonal_bilstm import DiagonalBiLSTM
from pixelrnn_tf.layers.masked_conv2d import MaskedConv2D
from pixelrnn_tf.layers.row_lstm import RowLSTM

RNN_TYPES = ("row_lstm", "diagonal_bilstm")


@keras.saving.register_keras_serializable(package="pixelrnn_tf")
class PixelRNNResidualBlock(StepComposite, keras.layers.Layer):
    """A PixelRNN layer with its residual connection (paper §3.3, Figure 5).

    The 2h input features go through the LSTM layer, whose input-to-state
    convolution produces h features per gate; the h-dimensional hidden map is
    projected back to 2h features by a 1×1 mask-B convolution and the input
    is added.

    Args:
        rnn_type: str. `"row_lstm"` or `"diagonal_bilstm"`.
        units: int. Hidden size h; at least `color_channels`.
        kernel_size: int. Row LSTM kernel width k (unused by the Diagonal
            BiLSTM, whose kernels are fixed by the paper). Defaults to `3`.
        color_channels: int. 3 for RGB, 1 for grayscale. Defaults to `3`.
        use_residual: bool. Add the input to the output. Defaults to `True`.
        condition_dim: int or None. A conditioning input's size: its
            projection joins the LSTM's input-to-state pre-activations.
            Defaults to `None`.
        **kwargs: base `Layer` arguments.

    Input shape: `(B, H, W, F)`, F at least `color_channels`.
    Output shape: `(B, H, W, F)`.

    Reference:
     - [van den Oord et al., 2016](https://arxiv.org/abs/1601.06759), §3.3
    """

    def __init__(
        self,
        rnn_type,
        units,
        kernel_size=3,
        color_channels=3,
        use_residual=True,
        condition_dim=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if rnn_type not in RNN_TYPES:
            raise ValueError(
                f"`rnn_type` must be one of {list(RNN_TYPES)}. "
                f"Received: rnn_type={rnn_type!r}"
            )
        self.rnn_type = rnn_type
        self.units = units
        self.kernel_size = kernel_size
        self.color_channels = color_channels
        self.use_residual = use_residual
        self.condition_dim = condition_dim
        if rnn_type == "row_lstm":
            self.lstm = RowLSTM(
                units,
                kernel_size,
                color_channels,
                condition_dim,
                dtype=self.dtype_policy,
                name="row_lstm",
            )
        else:
            self.lstm = DiagonalBiLSTM(
                units,
                color_channels,
                condition_dim,
                dtype=self.dtype_policy,
                name="diagonal_bilstm",
            )

    def build(self, input_shape):
        self.lstm.build(input_shape)
        self.output_conv = MaskedConv2D(
            input_shape[-1],
            1,
            mask_type="B",
            color_channels=self.color_channels,
            dtype=self.dtype_policy,
            name="output_conv",
        )
        self.output_conv.build(self.lstm.compute_output_shape(input_shape))

    def call(self, inputs, condition=None):
        # The blocks of a model share one trace (see `shared_trace`).
        return shared_trace.call(self, "residual", inputs, condition)

    def residual(self, inputs, condition=None):
        """The block's output: `call` without the shared trace."""
        x = self.output_conv(self.lstm(inputs, condition))  # h -> 2h (§3.3)
        return inputs + x if self.use_residual else x

    # === Step form (see `stepping`) ===

    def step_kept(self):
        return {"lstm_out": self.units}

    def step_parts(self):
        return (self.lstm, self.output_conv)

    def step(self, inputs, cache, column, group=None):
        cache = dict(cache)
        x = ops.cast(inputs, self.compute_dtype)
        y = stepping.step(self.lstm, x, cache, column, group)
        y = stepping.keep(cache, "lstm_out", y, group)
        y = stepping.step(self.output_conv, y, cache, column, group)
        if self.use_residual:
            features = self.output_conv.filters
            y = y + stepping.part(x, group, self.color_channels, features)
        return y, cache

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "rnn_type": self.rnn_type,
                "units": self.units,
                "kernel_size": self.kernel_size,
                "color_channels": self.color_channels,
                "use_residual": self.use_residual,
                "condition_dim": self.condition_dim,
            }
        )
        return config
