import keras
from keras import ops

from pixelrnn_tf import image_ops
from pixelrnn_tf.layers.spatial_lstm_cell import SpatialLSTMCell
from pixelrnn_tf.layers.spatial_lstm_cell import input_to_state_conv
from pixelrnn_tf.layers.spatial_lstm_cell import recurrence


@keras.saving.register_keras_serializable(package="pixelrnn_tf")
class DiagonalLSTMCell(SpatialLSTMCell):
    """One Diagonal LSTM step: a column of the skewed map (paper §3.2).

    The state-to-state kernel is 2×1: position r of the new column reads
    positions r - 1 and r of the previous column, i.e. the pixel above and
    the pixel to the left in the unskewed image. The column is padded above
    only, then convolved "valid" (never "same" with an even kernel, which
    would read the pixel below).

    Args:
        units: int. Hidden size h.
        positions: int. Image height H.
        **kwargs: `SpatialLSTMCell` arguments.
    """

    kernel_size = 2

    def state_to_state(self, h):
        h = ops.pad(h, ((0, 0), (1, 0), (0, 0)))  # (B, H+1, h): zero row on top
        return ops.conv(h, self.recurrent_kernel, padding="valid")  # (B, H, 4h)


@keras.saving.register_keras_serializable(package="pixelrnn_tf")
class DiagonalLSTM(keras.layers.Layer):
    """One direction of the Diagonal BiLSTM: skew, scan columns, unskew.

    The input-to-state component is a 1×1 mask-B convolution computed for the
    whole map at once, masked per gate chunk. The map is then skewed so that
    diagonals become columns, `DiagonalLSTMCell` runs over the W + H - 1
    columns, and the result is unskewed. Each hidden state sees every pixel
    above and to the left of it (paper §3.2, Figure 3).

    Args:
        units: int. Hidden size h; divisible by `color_channels`.
        color_channels: int. 3 for RGB, 1 for grayscale. Defaults to `3`.
        **kwargs: base `Layer` arguments.

    Input shape: `(B, H, W, F)`, F divisible by `color_channels`.
    Output shape: `(B, H, W, units)`.

    Reference:
     - [van den Oord et al., 2016](https://arxiv.org/abs/1601.06759), §3.2
    """

    def __init__(self, units, color_channels=3, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.color_channels = color_channels
        self.input_to_state = input_to_state_conv(
            units, 1, color_channels, self.dtype_policy
        )

    def build(self, input_shape):
        _, height, width, _ = input_shape
        self.input_to_state.build(input_shape)
        self.cell = DiagonalLSTMCell(
            self.units, height, dtype=self.dtype_policy, name="cell"
        )
        self.rnn = recurrence(self.cell, self.dtype_policy)
        self.rnn.build((None, width + height - 1, height * 4 * self.units))

    def call(self, inputs):
        _, height, width, _ = ops.shape(inputs)
        u = self.units
        z = image_ops.skew(self.input_to_state(inputs))  # (B, H, W+H-1, 4h)
        z = ops.transpose(z, (0, 2, 1, 3))  # (B, W+H-1, H, 4h): columns = time
        z = ops.reshape(z, (-1, width + height - 1, height * 4 * u))
        h = self.rnn(z)  # (B, W+H-1, H·h)
        h = ops.reshape(h, (-1, width + height - 1, height, u))
        h = ops.transpose(h, (0, 2, 1, 3))  # (B, H, W+H-1, h)
        return image_ops.unskew(h, width)  # (B, H, W, h)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        config = super().get_config()
        config.update(
            {"units": self.units, "color_channels": self.color_channels}
        )
        return config
