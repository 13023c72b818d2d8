import keras
from keras import ops

from pixelrnn_tf import image_ops
from pixelrnn_tf.layers import stepping
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
        units: int. Hidden size h; at least `color_channels`.
        color_channels: int. 3 for RGB, 1 for grayscale. Defaults to `3`.
        condition_dim: int or None. A conditioning input's size, for both
            directions (a spatial map is mirrored with the inputs for the
            right-to-left one). Defaults to `None`.
        **kwargs: base `Layer` arguments.

    Input shape: `(B, H, W, F)`, F at least `color_channels`.
    Output shape: `(B, H, W, units)`.

    Step form (see `stepping`): the left-to-right direction advances one
    position at a time; the right-to-left one, shifted down a row, runs
    once per finished row in `end_row`, on that row's inputs.

    Example:
    >>> layer = DiagonalBiLSTM(6)
    >>> layer(np.zeros((2, 4, 4, 12))).shape
    (2, 4, 4, 6)

    Reference:
     - [van den Oord et al., 2016](https://arxiv.org/abs/1601.06759), §3.2
    """

    def __init__(self, units, color_channels=3, condition_dim=None, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.color_channels = color_channels
        self.condition_dim = condition_dim
        self.forward_lstm, self.backward_lstm = (
            DiagonalLSTM(
                units,
                color_channels,
                condition_dim,
                dtype=self.dtype_policy,
                name=name,
            )
            for name in ("left_to_right", "right_to_left")
        )

    def build(self, input_shape):
        self._input_shape = tuple(input_shape)
        self.forward_lstm.build(input_shape)
        self.backward_lstm.build(input_shape)

    def call(self, inputs, condition=None):
        forward = self.forward_lstm(inputs, condition)
        backward = self.backward_lstm(inputs, condition, mirrored=True)
        return forward + image_ops.shift_down(backward)  # §3.2: shift down

    # === Step form ===

    def get_step_cache(self, batch_size, condition=None):
        _, _, width, features = self._input_shape
        return {
            "left_to_right": self.forward_lstm.get_step_cache(
                batch_size, condition
            ),
            "right_to_left": self.backward_lstm.get_step_cache(
                batch_size, _mirror(condition)
            ),
            "inputs": ops.zeros(  # the row's inputs, for the right-to-left
                (batch_size, width, features), self.compute_dtype
            ),
        }

    def start_row(self, cache):
        # The right-to-left map of the row above, mirrored back: zeros for
        # row 0 (the shift down).
        shifted = ops.flip(cache["right_to_left"]["h"], axis=1)
        forward = self.forward_lstm.start_row(cache["left_to_right"])
        row = {**cache, "left_to_right": forward, "shifted": shifted}
        for group in range(self.color_channels):
            start, end = stepping.group_bounds(
                self.units, self.color_channels, group
            )
            row["shifted" + stepping.suffix(group)] = shifted[..., start:end]
        return row

    def step(self, inputs, cache, column, group=None):
        cache = dict(cache)
        forward = stepping.step(self.forward_lstm, inputs, cache, column, group)
        shifted = cache["shifted" + stepping.suffix(group)]
        outputs = forward + stepping.read(shifted, column)
        if stepping.is_last(group, self.color_channels):
            x = ops.cast(inputs, self.compute_dtype)
            cache["inputs"] = stepping.write(cache["inputs"], column, x)
        return outputs, cache

    def end_row(self, cache):
        mirrored = ops.flip(cache["inputs"], axis=1)
        return {
            "left_to_right": self.forward_lstm.end_row(cache["left_to_right"]),
            "right_to_left": self.backward_lstm.scan_row(
                mirrored, cache["right_to_left"]
            ),
            "inputs": cache["inputs"],
        }

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "color_channels": self.color_channels,
                "condition_dim": self.condition_dim,
            }
        )
        return config


def _mirror(condition):
    """A spatial condition mirrored like the inputs; a global one as is."""
    if condition is None or len(condition.shape) == 2:
        return condition
    return image_ops.flip_width(condition)
