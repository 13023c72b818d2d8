import keras
from keras import ops

from pixelrnn_tf import image_ops
from pixelrnn_tf.layers import stepping
from pixelrnn_tf.layers.lstm_scan import lstm_update
from pixelrnn_tf.layers.spatial_lstm_cell import SpatialLSTMCell
from pixelrnn_tf.layers.spatial_lstm_cell import input_to_state_conv


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

    padding = (1, 0)  # a zero row on top, then "valid"


@keras.saving.register_keras_serializable(package="pixelrnn_tf")
class DiagonalLSTM(keras.layers.Layer):
    """One direction of the Diagonal BiLSTM: skew, scan columns, unskew.

    The input-to-state component is a 1×1 mask-B convolution computed for the
    whole map at once, masked per gate chunk. The map is then skewed so that
    diagonals become columns, `DiagonalLSTMCell` runs over the W + H - 1
    columns, and the result is unskewed. Each hidden state sees every pixel
    above and to the left of it (paper §3.2, Figure 3).

    Args:
        units: int. Hidden size h; at least `color_channels`.
        color_channels: int. 3 for RGB, 1 for grayscale. Defaults to `3`.
        condition_dim: int or None. A conditioning input's size: its
            projection joins the input-to-state pre-activations of all
            four gates (see `MaskedConv2D`). Defaults to `None`.
        **kwargs: base `Layer` arguments.

    Input shape: `(B, H, W, F)`, F at least `color_channels`.
    Output shape: `(B, H, W, units)`.

    Step form (see `stepping`): in image coordinates the state at (r, c)
    reads (r - 1, c) through the kernel's first tap and (r, c - 1) through
    its second, so `start_row` applies the first tap to the whole previous
    row and a `step` adds the second. Left of the image, the skewed scan
    runs on zero inputs: those states depend on the weights alone and are
    computed once per cache (`_left_border_states`). No skewing at all.

    Reference:
     - [van den Oord et al., 2016](https://arxiv.org/abs/1601.06759), §3.2
    """

    def __init__(self, units, color_channels=3, condition_dim=None, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.color_channels = color_channels
        self.condition_dim = condition_dim
        self.input_to_state = input_to_state_conv(
            units, 1, color_channels, self.dtype_policy, condition_dim
        )

    def build(self, input_shape):
        _, height, width, _ = input_shape
        self._width = width  # the step form's row length
        self.input_to_state.build(input_shape)
        self.cell = DiagonalLSTMCell(
            self.units, height, dtype=self.dtype_policy, name="cell"
        )
        self.cell.build((None, height * 4 * self.units))

    def call(self, inputs, condition=None, mirrored=False):
        """`mirrored=True` scans the width-mirrored image (right to left)
        and mirrors the result back. The 1×1 input-to-state convolution
        commutes with the mirror, so it runs on `inputs` as they are: the
        gradient then needs no mirrored copy of them."""
        width = ops.shape(inputs)[2]
        z = self.input_to_state(inputs, condition)
        if mirrored:
            z = image_ops.flip_width(z)
        z = image_ops.skew(z)  # (B, H, W+H-1, 4h)
        z = ops.transpose(z, (2, 0, 1, 3))  # (W+H-1, B, H, 4h): columns = time
        # Zero left of the image, and learned initial states broadcast
        # over the batch: the scan may keep only the image's lines.
        h = self.cell.scan(z, inputs.shape[2])  # (W+H-1, B, H, h)
        h = ops.transpose(h, (1, 2, 0, 3))  # (B, H, W+H-1, h)
        h = image_ops.unskew(h, width)  # (B, H, W, h)
        return image_ops.flip_width(h) if mirrored else h

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    # === Step form ===

    def _left_border_states(self):
        """(H, h) states h and c that the skewed scan holds at (r, -1).

        Position r of skewed column r - 1 lies left of the image, where the
        input is zero, and reads only such positions (and, for column -1,
        the learned initial state): a function of the weights alone.
        """
        cell, u = self.cell, self.units
        h, c = cell.get_initial_state(1)  # (1, H·h): skewed column -1
        zeros = ops.zeros((1, cell.positions * 4 * u), cell.compute_dtype)

        def column(r, states):  # skewed column r - 1 gives row r's border
            h, c, *borders = states
            _, (h, c) = cell(zeros, [h, c])
            borders = [
                stepping.write(border, r, ops.slice(state, [0, r * u], [1, u]))
                for border, state in zip(borders, (h, c))
            ]
            return h, c, *borders

        borders = (ops.reshape(h, (1, -1, u)), ops.reshape(c, (1, -1, u)))
        states = ops.fori_loop(1, cell.positions, column, (h, c, *borders))
        return states[2][0], states[3][0]

    def get_step_cache(self, batch_size, condition=None):
        """Before row 0: a zero row above (the scan pads its top)."""
        border_h, border_c = self._left_border_states()
        width, dtype = self._width, self.cell.compute_dtype
        return {
            "input_to_state": self.input_to_state.get_step_cache(
                batch_size, condition
            ),
            "h": ops.zeros((batch_size, width, self.units), dtype),
            "row": ops.zeros((), "int32"),
            "border_h": border_h,
            "border_c": border_c,
            # The colour passes' states at the current position.
            **stepping.get_step_cache(
                (), batch_size, {"h_now": self.units, "c_now": self.units},
                dtype, self.color_channels,
            ),
        }

    def start_row(self, cache):
        row = dict(cache)
        kernel = self.cell.weight(self.cell.recurrent_kernel)
        bias = self.cell.weight(self.cell.bias)
        above = ops.matmul(cache["h"], kernel[0]) + bias  # (B, W, 4h)
        row["above"], row["left_kernel"] = above, kernel[1]
        for group in range(self.color_channels):
            key = stepping.suffix(group)
            columns = self.input_to_state.group_columns(group)
            row["above" + key] = ops.take(above, columns, axis=-1)
            row["left_kernel" + key] = ops.take(kernel[1], columns, axis=-1)
        row["input_to_state"] = self.input_to_state.start_row(
            cache["input_to_state"]
        )
        # The row's states, column c at c + 1 after the border state at 0;
        # the columns are written by the steps.
        batch = ops.shape(cache["h"])[0]
        for name in ("h", "c"):
            border = ops.take(cache[f"border_{name}"], cache["row"], axis=0)
            border = ops.broadcast_to(border, (batch, 1, self.units))
            row[f"{name}_row"] = ops.concatenate([border, cache["h"]], axis=1)
        return row

    def step(self, inputs, cache, column, group=None):
        cache, key = dict(cache), stepping.suffix(group)
        c = self.color_channels
        z = stepping.step(self.input_to_state, inputs, cache, column, group)
        h_left = stepping.read(cache["h_row"], column)
        z = z + stepping.read(cache["above" + key], column)
        z = z + ops.matmul(h_left, cache["left_kernel" + key])
        c_left = stepping.read(cache["c_row"], column)
        c_left = stepping.part(c_left, group, c, self.units)
        h, c_new = lstm_update(z, c_left)
        h_now = stepping.keep(cache, "h_now", h, group)
        c_now = stepping.keep(cache, "c_now", c_new, group)
        if stepping.is_last(group, c):
            cache["h_row"] = stepping.write(cache["h_row"], column + 1, h_now)
            cache["c_row"] = stepping.write(cache["c_row"], column + 1, c_now)
        return h, cache

    def end_row(self, cache):
        keep = ("row", "border_h", "border_c", "h_now", "c_now")
        return {
            "input_to_state": self.input_to_state.end_row(
                cache["input_to_state"]
            ),
            "h": cache["h_row"][:, 1:],
            **{key: cache[key] for key in keep},
            "row": cache["row"] + 1,
        }

    def scan_row(self, inputs, cache):
        """A whole row of inputs (B, W, F) through the step form: the cache
        after it, whose "h" is the row's hidden states (B, W, h)."""

        def body(column, cache):
            return self.step(stepping.read(inputs, column), cache, column)[1]

        cache = self.start_row(cache)
        cache = ops.fori_loop(0, ops.shape(inputs)[1], body, cache)
        return self.end_row(cache)

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
