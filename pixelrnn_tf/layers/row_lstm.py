import keras
from keras import ops

from pixelrnn_tf.layers import stepping
from pixelrnn_tf.layers.lstm_scan import lstm_update
from pixelrnn_tf.layers.spatial_lstm_cell import SpatialLSTMCell
from pixelrnn_tf.layers.spatial_lstm_cell import input_to_state_conv


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
        self.padding = (kernel_size // 2, kernel_size // 2)  # "same"

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
        units: int. Hidden size h; at least `color_channels`.
        kernel_size: int. Odd width k of both kernels. Defaults to `3`.
        color_channels: int. 3 for RGB, 1 for grayscale. Defaults to `3`.
        condition_dim: int or None. A conditioning input's size: its
            projection joins the input-to-state pre-activations of all
            four gates (see `MaskedConv2D`). Defaults to `None`.
        **kwargs: base `Layer` arguments.

    Input shape: `(B, H, W, F)`, F at least `color_channels`.
    Output shape: `(B, H, W, units)`.

    Step form (see `stepping`): the state-to-state part of row r depends
    only on row r - 1, so `start_row` computes it for the whole row; a
    `step` adds the input-to-state taps at (r, c - k//2 ... c) and applies
    the gates of one position.

    Example:
    >>> layer = RowLSTM(6)
    >>> layer(np.zeros((2, 4, 4, 12))).shape
    (2, 4, 4, 6)

    Reference:
     - [van den Oord et al., 2016](https://arxiv.org/abs/1601.06759), §3.1
    """

    def __init__(
        self,
        units,
        kernel_size=3,
        color_channels=3,
        condition_dim=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = units
        self.kernel_size = kernel_size
        self.color_channels = color_channels
        self.condition_dim = condition_dim
        self.input_to_state = input_to_state_conv(
            units,
            (1, kernel_size),
            color_channels,
            self.dtype_policy,
            condition_dim,
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
        self.cell.build((None, width * 4 * self.units))

    def call(self, inputs, condition=None):
        z = self.input_to_state(inputs, condition)  # (B, H, W, 4h)
        z = ops.transpose(z, (1, 0, 2, 3))  # (H, B, W, 4h): rows = time
        h = self.cell.scan(z)  # (H, B, W, h)
        return ops.transpose(h, (1, 0, 2, 3))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    # === Step form ===

    def get_step_cache(self, batch_size, condition=None):
        """Before row 0: the learned initial state stands for row -1."""
        shape = (batch_size, self.cell.positions, self.units)
        h, c = self.cell.get_initial_state(batch_size)
        return {
            "input_to_state": self.input_to_state.get_step_cache(
                batch_size, condition
            ),
            "h": ops.reshape(h, shape),  # the row above; then this row
            "c": ops.reshape(c, shape),
            # The colour passes' states at the current position.
            **stepping.get_step_cache(
                (), batch_size, {"h_now": self.units, "c_now": self.units},
                self.compute_dtype, self.color_channels,
            ),
        }

    def start_row(self, cache):
        row = dict(cache)
        row["input_to_state"] = self.input_to_state.start_row(
            cache["input_to_state"]
        )
        bias = self.cell.weight(self.cell.bias)
        recurrent = self.cell.state_to_state(cache["h"]) + bias  # (B, W, 4h)
        row["recurrent"], row["c_above"] = recurrent, cache["c"]
        for group in range(self.color_channels):
            key = stepping.suffix(group)
            columns = self.input_to_state.group_columns(group)
            row["recurrent" + key] = ops.take(recurrent, columns, axis=-1)
            start, end = stepping.group_bounds(
                self.units, self.color_channels, group
            )
            row["c_above" + key] = cache["c"][..., start:end]
        return row

    def step(self, inputs, cache, column, group=None):
        cache, key = dict(cache), stepping.suffix(group)
        z = stepping.step(self.input_to_state, inputs, cache, column, group)
        z = z + stepping.read(cache["recurrent" + key], column)
        h, c = lstm_update(z, stepping.read(cache["c_above" + key], column))
        h_now = stepping.keep(cache, "h_now", h, group)
        c_now = stepping.keep(cache, "c_now", c, group)
        if stepping.is_last(group, self.color_channels):
            cache["h"] = stepping.write(cache["h"], column, h_now)
            cache["c"] = stepping.write(cache["c"], column, c_now)
        return h, cache

    def end_row(self, cache):
        keep = ("h", "c", "h_now", "c_now")
        return {
            "input_to_state": self.input_to_state.end_row(
                cache["input_to_state"]
            ),
            **{key: cache[key] for key in keep},
        }

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "kernel_size": self.kernel_size,
                "color_channels": self.color_channels,
                "condition_dim": self.condition_dim,
            }
        )
        return config
