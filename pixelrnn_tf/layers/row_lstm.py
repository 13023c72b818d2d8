import keras
from keras import ops

from pixelrnn_tf.layers.spatial_lstm_cell import SpatialLSTMCell
from pixelrnn_tf.layers.spatial_lstm_cell import input_to_state_conv
from pixelrnn_tf.layers.spatial_lstm_cell import recurrence


@keras.saving.register_keras_serializable(package="pixelrnn_tf")
class RowLSTMCell(SpatialLSTMCell):
    """One Row LSTM step: a whole image row (paper §3.1).

    The state-to-state convolution is unmasked and `kernel_size` wide along
    the row: it reads the previous row's hidden state, which lies wholly in
    the past of the current row.

    Args:
        units: int. Hidden size h.
        positions: int. Image width W.
        kernel_size: int. Odd width k of the state-to-state kernel.
            Defaults to `3`.
        **kwargs: `SpatialLSTMCell` arguments.
    """

    def __init__(self, units, positions, kernel_size=3, **kwargs):
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(
                "`kernel_size` must be a positive odd number. "
                f"Received: kernel_size={kernel_size}"
            )
        super().__init__(units, positions, **kwargs)
        self.kernel_size = kernel_size

    def state_to_state(self, h):
        return ops.conv(h, self.recurrent_kernel, padding="same")  # (B, W, 4h)

    def get_config(self):
        config = super().get_config()
        config["kernel_size"] = self.kernel_size
        return config


@keras.saving.register_keras_serializable(package="pixelrnn_tf")
class RowLSTM(keras.layers.Layer):
    """Row LSTM layer: processes the image row by row from top to bottom.

    The input-to-state component is a mask-B convolution `kernel_size` wide
    along the row, computed for the whole map at once and masked per gate
    chunk so every gate keeps the R|G|B grouping. The state-to-state
    component (`RowLSTMCell`) then runs over the rows. Each hidden state sees
    a triangle of the rows above (paper §3.1, Figure 4).

    Args:
        units: int. Hidden size h; divisible by `color_channels`.
        kernel_size: int. Odd width k of both kernels. Defaults to `3`.
        color_channels: int. 3 for RGB, 1 for grayscale. Defaults to `3`.
        **kwargs: base `Layer` arguments.

    Input shape: `(B, H, W, F)`, F divisible by `color_channels`.
    Output shape: `(B, H, W, units)`.

    Example:
    >>> layer = RowLSTM(6)
    >>> layer(np.zeros((2, 4, 4, 12))).shape
    (2, 4, 4, 6)

    Reference:
     - [van den Oord et al., 2016](https://arxiv.org/abs/1601.06759), §3.1
    """

    def __init__(self, units, kernel_size=3, color_channels=3, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.kernel_size = kernel_size
        self.color_channels = color_channels
        self.input_to_state = input_to_state_conv(
            units, (1, kernel_size), color_channels, self.dtype_policy
        )

    def build(self, input_shape):
        _, height, width, _ = input_shape
        self.input_to_state.build(input_shape)
        self.cell = RowLSTMCell(
            self.units,
            width,
            self.kernel_size,
            dtype=self.dtype_policy,
            name="cell",
        )
        self.rnn = recurrence(self.cell, self.dtype_policy)
        self.rnn.build((None, height, width * 4 * self.units))

    def call(self, inputs):
        _, height, width, _ = ops.shape(inputs)
        z = self.input_to_state(inputs)  # (B, H, W, 4h)
        z = ops.reshape(z, (-1, height, width * 4 * self.units))  # rows = time
        h = self.rnn(z)  # (B, H, W·h)
        return ops.reshape(h, (-1, height, width, self.units))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "kernel_size": self.kernel_size,
                "color_channels": self.color_channels,
            }
        )
        return config
