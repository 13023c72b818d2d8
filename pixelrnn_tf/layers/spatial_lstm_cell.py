import keras
from keras import ops

from pixelrnn_tf.layers.lstm_scan import conv_lines
from pixelrnn_tf.layers.lstm_scan import lstm_scan
from pixelrnn_tf.layers.lstm_scan import lstm_update
from pixelrnn_tf.layers.masked_conv2d import MaskedConv2D


def input_to_state_conv(
    units, kernel_size, color_channels, dtype, condition_dim=None
):
    """The input-to-state convolution of a spatial LSTM, for a whole map.

    Mask B, with the mask built per gate chunk (i, f, o, g) so every gate
    keeps the R|G|B grouping; the gate bias lives in the cell. With
    `condition_dim`, a projection of the condition joins all four gates.
    """
    return MaskedConv2D(
        4 * units,
        kernel_size,
        mask_type="B",
        color_channels=color_channels,
        out_chunks=4,
        condition_dim=condition_dim,
        use_bias=False,
        dtype=dtype,
        name="input_to_state",
    )


class SpatialLSTMCell(keras.layers.Layer):
    """Base cell: one LSTM step over a line of `positions` pixels (paper eq. 3).

    A step receives the precomputed input-to-state pre-activations of one line
    (an image row for the Row LSTM, a skewed column for the Diagonal LSTM),
    flattened to `(B, positions * 4 * units)`, adds the state-to-state
    convolution of the previous line's hidden state and applies the LSTM
    update. `scan` runs it over all lines at once (see `lstm_scan`).
    Subclasses place the state-to-state kernel along the line through
    `padding`: (before, after) positions, k = before + after + 1 taps.

    The gate pre-activations are laid out as [i | f | o | g], each chunk split
    into R|G|B groups, so a hidden unit and all its gates share one colour.
    The initial states are learned (paper §5.2): one `units` vector each for
    h and c, broadcast over the positions of the first step.

    Args:
        units: int. Hidden size h.
        positions: int. Pixels per line.
        recurrent_initializer: initializer of the state-to-state kernel.
            Defaults to `"orthogonal"`.
        **kwargs: base `Layer` arguments.
    """

    padding = None  # set by subclasses: (before, after), see above

    @property
    def kernel_size(self):
        return sum(self.padding) + 1

    def __init__(
        self, units, positions, recurrent_initializer="orthogonal", **kwargs
    ):
        super().__init__(**kwargs)
        if units < 1 or positions < 1:
            raise ValueError(
                "`units` and `positions` must be positive. Received: "
                f"units={units}, positions={positions}"
            )
        self.units = units
        self.positions = positions
        self.recurrent_initializer = keras.initializers.get(
            recurrent_initializer
        )
        self.state_size = [positions * units, positions * units]
        self.output_size = positions * units

    def build(self, input_shape):
        u = self.units
        self.recurrent_kernel = self.add_weight(
            name="recurrent_kernel",
            shape=(self.kernel_size, u, 4 * u),
            initializer=self.recurrent_initializer,
        )

        def unit_forget_bias(shape, dtype=None):
            zeros = ops.zeros((u,), dtype=dtype)
            return ops.concatenate([zeros, ops.ones((u,), dtype), zeros, zeros])

        self.bias = self.add_weight(
            name="bias", shape=(4 * u,), initializer=unit_forget_bias
        )
        self.initial_h = self.add_weight(
            name="initial_h", shape=(u,), initializer="zeros"
        )
        self.initial_c = self.add_weight(
            name="initial_c", shape=(u,), initializer="zeros"
        )

    def call(self, inputs, states, training=False):
        p, u = self.positions, self.units
        h_prev = ops.reshape(states[0], (-1, p, u))  # (B, P, h)
        c_prev = ops.reshape(states[1], (-1, p, u))
        z = ops.reshape(inputs, (-1, p, 4 * u))  # (B, P, 4h)
        z = z + self.state_to_state(h_prev) + self.bias
        h, c = lstm_update(z, c_prev)
        h = ops.reshape(h, (-1, p * u))  # (B, P·h)
        c = ops.reshape(c, (-1, p * u))
        return h, [h, c]

    def state_to_state(self, h):
        """(B, positions, h) -> (B, positions, 4h): the previous line's
        contribution to the gate pre-activations."""
        return conv_lines(h, self.weight(self.recurrent_kernel), self.padding)

    def scan(self, z, width=None):
        """All lines: (T, B, positions, 4h) input-to-state pre-activations,
        time-major, to the (T, B, positions, h) hidden states. `width`: the
        image width of a skewed image's columns (see `lstm_scan`)."""
        h0, c0 = (
            ops.reshape(state, (-1, self.positions, self.units))
            for state in self.get_initial_state(z.shape[1] or ops.shape(z)[1])
        )
        kernel = self.weight(self.recurrent_kernel)
        bias = self.weight(self.bias)
        return lstm_scan(z, h0, c0, kernel, bias, self.padding, width)

    def weight(self, variable):
        """A weight in the compute dtype, for use outside `call`."""
        return ops.cast(variable, self.compute_dtype)

    def get_initial_state(self, batch_size=None):
        states = []
        for v in (self.initial_h, self.initial_c):
            v = ops.tile(ops.cast(v, self.compute_dtype), (self.positions,))
            size = self.positions * self.units
            states.append(ops.broadcast_to(v[None], (batch_size, size)))
        return states

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "positions": self.positions,
                "recurrent_initializer": keras.initializers.serialize(
                    self.recurrent_initializer
                ),
            }
        )
        return config
