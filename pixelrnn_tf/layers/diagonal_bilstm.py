import keras

from pixelrnn_tf import image_ops
from pixelrnn_tf.layers.diagonal_lstm import DiagonalLSTM


@keras.saving.register_keras_serializable(package="pixelrnn_tf")
class DiagonalBiLSTM(keras.layers.Layer):
    """Diagonal BiLSTM: two diagonal scans, the second one mirrored.

    The left-to-right `DiagonalLSTM` sees everything above and to the left.
    The right-to-left one runs on the width-mirrored map, so it sees the pixel
    to the right; its output is mirrored back and shifted down one row before
    the two are added, so that position (i, j) only receives rows < i from it.
    Together they cover the whole causal context of their input features in
    one layer (paper §3.2).

    Args:
        units: int. Hidden size h; divisible by `color_channels`.
        color_channels: int. 3 for RGB, 1 for grayscale. Defaults to `3`.
        **kwargs: base `Layer` arguments.

    Input shape: `(B, H, W, F)`, F divisible by `color_channels`.
    Output shape: `(B, H, W, units)`.

    Example:
    >>> layer = DiagonalBiLSTM(6)
    >>> layer(np.zeros((2, 4, 4, 12))).shape
    (2, 4, 4, 6)

    Reference:
     - [van den Oord et al., 2016](https://arxiv.org/abs/1601.06759), §3.2
    """

    def __init__(self, units, color_channels=3, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.color_channels = color_channels
        self.forward_lstm, self.backward_lstm = (
            DiagonalLSTM(
                units,
                color_channels,
                dtype=self.dtype_policy,
                name=name,
            )
            for name in ("left_to_right", "right_to_left")
        )

    def build(self, input_shape):
        self.forward_lstm.build(input_shape)
        self.backward_lstm.build(input_shape)

    def call(self, inputs):
        forward = self.forward_lstm(inputs)
        mirrored = self.backward_lstm(image_ops.flip_width(inputs))
        backward = image_ops.flip_width(mirrored)
        return forward + image_ops.shift_down(backward)  # §3.2: shift down

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        config = super().get_config()
        config.update(
            {"units": self.units, "color_channels": self.color_channels}
        )
        return config
