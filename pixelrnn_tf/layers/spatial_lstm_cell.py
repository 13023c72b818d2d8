import keras
from keras import ops

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


def recurrence(cell, dtype):
    """`keras.layers.RNN` over the cell's lines: a `tf.while_loop` with a
    static trip count on TF, so its gradient also compiles under XLA."""
    return keras.layers.RNN(
        cell, return_sequences=True, dtype=dtype, name="rnn"
    )


def lstm_update(z, c_prev):
    """The LSTM update of paper eq. 3 from gate pre-activations [i|f|o|g].

    Returns the new (h, c); `z` is (..., 4h) and `c_prev` (..., h).
    """
    i, f, o, g = ops.split(z, 4, axis=-1)
    c = ops.sigmoid(f) * c_prev + ops.sigmoid(i) * ops.tanh(g)
    return ops.sigmoid(o) * ops.tanh(c), c


class SpatialLSTMCell(keras.layers.Layer):
    """Base cell: one LSTM step over a line of `positions` pixels (paper eq. 3).

    A step receives the precomputed input-to-state pre-activations of one line
    (an image row for the Row LSTM, a skewed column for the Diagonal LSTM),
    flattened to `(B, positions * 4 * units)`, adds the state-to-state
    convolution of the previous line's hidden state and applies the LSTM
    update. Subclasses set `kernel_size` and define that convolution as
    `state_to_state(h)`: (B, positions, h) -> (B, positions, 4h).

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

    kernel_size = None  # set by subclasses: the state-to-state kernel length

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

    def weight(self, variable):
        """A weight in the compute dtype, for use outside `call`."""
        return ops.cast(variable, self.compute_dtype)

    def get_initial_state(self, batch_size=None):
        states = []
        for v in (self.initial_h, self.initial_c):
            v = ops.tile(ops.cast(v, self.compute_dtype), (self.positions,))
            states.append(ops.broadcast_to(v[None], (batch_size, ops.size(v))))
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
