"""The spatial LSTMs' recurrence, with a hand-written backward pass.

Autodiff through a `tf.while_loop` keeps every intermediate of the body in
per-step accumulators and computes the state-to-state kernel's gradient one
line at a time: T small matmuls inside the loop. Here the forward loop keeps
only the gate activations and the cells, the backward loop (BPTT, paper
eq. 3) returns the pre-activation gradients, and the kernel's gradient is one
large matmul per tap over all lines, after the loop. Both loops have a static
trip count, so the step also compiles under XLA. A Diagonal LSTM's scan keeps
the gates and cells of the image's positions only (`width`).

The loops and their custom gradient are backend code, hence TensorFlow; the
LSTM update itself is `keras.ops`, shared with the step form.
"""

import functools

import tensorflow as tf
from keras import ops


def gate_activations(z):
    """Gate pre-activations [i|f|o|g] (..., 4h) to [σ(i)|σ(f)|σ(o)|tanh(g)]."""
    units = z.shape[-1] // 4
    return ops.concatenate(
        [ops.sigmoid(z[..., : 3 * units]), ops.tanh(z[..., 3 * units :])],
        axis=-1,
    )


def lstm_from_gates(gates, c_prev):
    """The new (h, c) of paper eq. 3 from `gate_activations` and c (..., h)."""
    i, f, o, g = ops.split(gates, 4, axis=-1)
    c = f * c_prev + i * g
    return o * ops.tanh(c), c


def lstm_update(z, c_prev):
    """The LSTM update of paper eq. 3 from gate pre-activations [i|f|o|g].

    Returns the new (h, c); `z` is (..., 4h) and `c_prev` (..., h).
    """
    return lstm_from_gates(gate_activations(z), c_prev)


def conv_lines(h, kernel, padding):
    """The state-to-state convolution: `h` (N, P, h) padded along P by
    `padding` = (before, after), then a "valid" 1-D convolution with
    `kernel` (k, h, 4h), k = before + after + 1. Returns (N, P, 4h)."""
    h = tf.pad(h, ((0, 0), padding, (0, 0)))
    return tf.nn.conv1d(h, kernel, stride=1, padding="VALID")


def adjoint(kernel, padding):
    """The (kernel, padding) whose `conv_lines` is the transpose of
    `conv_lines(·, kernel, padding)`: (N, P, 4h) -> (N, P, h).

    Output position p received tap j from input position p + j - before,
    so input p collects tap j from output p - j + before: the same
    convolution with the taps reversed, each transposed, and the padding
    swapped.
    """
    return tf.transpose(tf.reverse(kernel, [0]), (0, 2, 1)), padding[::-1]


def kernel_gradient(h, dz, padding):
    """d(loss)/d(kernel) of `conv_lines` summed over all N lines: one
    (h, N·P) × (N·P, 4h) matmul per tap. `h` (N, P, h), `dz` (N, P, 4h).

    Tap j pairs input position p + j - before with output position p. With
    the lines laid end to end, that is one offset of the flattened `h`
    against the flattened `dz` (a view, not a copy); the few pairs that
    cross from one line into the next are taken back out.
    """
    positions, units = h.shape[1:]
    flat_h = tf.reshape(h, (-1, units))
    flat_dz = tf.reshape(dz, (-1, dz.shape[-1]))
    taps = []
    for shift in range(-padding[0], padding[1] + 1):
        if abs(shift) >= positions:  # the tap only ever reads the padding
            taps.append(tf.zeros((units, dz.shape[-1]), dz.dtype))
            continue
        if shift == 0:
            taps.append(tf.matmul(flat_h, flat_dz, transpose_a=True))
            continue
        if shift > 0:  # h after the line's end is the next line's start
            pairs = (flat_h[shift:], flat_dz[:-shift])
            across = (h[1:, :shift], dz[:-1, positions - shift :])
        else:  # h before the line's start is the previous line's end
            pairs = (flat_h[:shift], flat_dz[-shift:])
            across = (h[:-1, positions + shift :], dz[1:, :-shift])
        across = (tf.reshape(across[0], (-1, units)),
                  tf.reshape(across[1], (-1, dz.shape[-1])))
        taps.append(
            tf.matmul(*pairs, transpose_a=True)
            - tf.matmul(*across, transpose_a=True)
        )
    return tf.stack(taps)


def lstm_scan(z, h0, c0, kernel, bias, padding, width=None):
    """Runs the LSTM of paper eq. 3 over T lines, time-major.

    Args:
        z: (T, B, P, 4h) input-to-state pre-activations [i|f|o|g].
        h0, c0: (B, P, h) initial states.
        kernel: (k, h, 4h) state-to-state kernel; `padding` (before, after)
            places it along the line (see `conv_lines`).
        bias: (4h,) gate bias.
        width: int or None. The image width W of a Diagonal LSTM, whose
            line t is column t of the skewed image (T = W + P - 1, §3.2):
            position p of line t lies in the image for t - W < p <= t. The
            caller guarantees that left of the image (p > t) `z` is zero
            and `h0`, `c0` are the same for every batch element, so the
            states there are too. The backward pass then keeps the gates
            and cells of W lines, not T + 1 (see `_forward`).

    Returns:
        (T, B, P, h): the hidden state of every line. Its gradient with
        respect to all five tensors is exact (`_backward`); with
        `width`, for what the image's positions are given.
    """
    if z.shape[0] is None:
        raise ValueError(
            f"The number of lines must be static. Received: z.shape={z.shape}"
        )
    if width is not None and z.shape[0] != width + z.shape[2] - 1:
        raise ValueError(
            "A skewed image of width W and P rows has W + P - 1 lines. "
            f"Received: z.shape={z.shape}, width={width}"
        )
    hs = _scan(z, h0, c0, kernel, bias, tuple(padding), width)
    # A trace may serve a less specific shape (a symbolic batch): keep the
    # caller's static shape.
    hs.set_shape(z.shape[:-1] + h0.shape[-1:])
    return hs


# The two loops are functions of their own, called, not inlined: one trace
# serves every layer of a model that shares the shapes (the weights are
# arguments, not captures), and Grappler optimizes each body once instead
# of once per layer (on the CIFAR-10 Diagonal BiLSTM's training step, in
# a third of the time). The gradient sits outside them (see `_scan`), so a
# call hands on only what the backward loop reads.
_called = functools.partial(
    tf.function,
    autograph=False,
    experimental_attributes={"_noinline": True},
)


def _folded(stored, width, positions):
    """(gates(t), cells(k)): line t's gate activations and the cells after
    line k - 1 (k = 0: the initial ones), from what `_forward` stored."""
    if width is None:
        gates, cells = stored
        return (lambda t: gates[t]), (lambda k: cells[k])
    gates, cells, left_gates, left_cells = stored
    rows = tf.range(positions)[:, None]  # broadcast over (B, P, ·)

    # Left of the image (rows p > t, in the first P - 1 lines only), the
    # one stored batch element; elsewhere the slot, whose rows right of
    # the image hold another line's values: finite, and multiplied there
    # by a gradient of exactly zero.
    def at(slots, left, t, line):
        return tf.cond(
            line < positions - 1,
            lambda: tf.where(rows > line, left[t], slots[t % width]),
            lambda: slots[t % width],
        )

    return (
        lambda t: at(gates, left_gates, t, t),
        lambda k: at(cells, left_cells, k, k - 1),
    )


def _fold(lines, size, width, first):
    """The W slots of a skewed image's lines, from the TensorArray `lines`
    of `size`, whose element n is line t = n + `first`: slot s keeps the
    image's positions of lines s, s + W, ... (see `_forward`)."""
    rows = tf.range(lines.element_shape[1])[:, None]
    slots = tf.range(width)
    folded = lines.gather(slots)
    for start in range(width, size, width):
        n = (start + slots)[:, None, None, None]
        chunk = lines.gather(tf.minimum(start + slots, size - 1))
        # Line t's own positions and those left of the image (p > t - W):
        # what a later line of the slot takes in.
        take = (rows > n + first - width) & (n < size)
        folded = tf.where(take, chunk, folded)
    return folded


def _gradient_of(padding, width):
    """The name of the registered gradient of `_scan`'s call op for
    `padding` and `width`: `_backward` of the op's inputs and outputs."""
    name = "PixelRNNLSTMScan_{}_{}_{}".format(*padding, width)
    if name in _GRADIENTS:
        return name

    def gradient(op, dhs, *unused):
        if op is None:
            return _unsaved_gradient(dhs, *unused)
        _, h0, _, kernel, _ = op.inputs
        return _backward(dhs, op.outputs[1:], h0, kernel, padding, width)

    tf.RegisterGradient(name)(gradient)
    _GRADIENTS.add(name)
    return name


_GRADIENTS = set()


def _unsaved_gradient(*inputs):
    """What a SavedModel keeps of a scan's gradient: an error if run.

    Saving traces every registered gradient with its op's inputs in place
    of the output gradients and no op; this one needs its op (the gates
    and cells it stored). Serving needs no gradient; to train, load the
    `.keras` file.
    """
    failed = tf.debugging.Assert(
        False,
        ["The gradient of a saved LSTM scan was not kept with it: "
         "differentiate the model from its .keras file instead."],
    )
    with tf.control_dependencies([failed]):
        return [tf.zeros_like(x) for x in inputs]


@_called
def _scan(z, h0, c0, kernel, bias, padding, width):
    """The forward loop's hidden states, its gradient `_backward`'s.

    The loop runs as a call op built here, whose gradient is registered
    (`_gradient_of`), rather than under `tf.custom_gradient`: TensorFlow
    differentiates a call to a function by having the call return what
    its gradient reads, and `tf.custom_gradient` would make that the
    inputs `z`, h0, c0, kernel and bias too (zero gradients for their
    identities, filled from the tensors). So a function around a scan,
    and this one, hands on only the stored gates and cells. A call op of
    `tf.function`'s own carries its own gradient, hence a raw one.
    """
    forward = _forward.get_concrete_function(
        z, h0, c0, kernel, bias, padding, width
    )
    graph = tf.compat.v1.get_default_graph()
    forward.add_to_graph(graph)
    gradient = _gradient_of(padding, width)
    with graph.gradient_override_map({"PartitionedCall": gradient}):
        outputs = tf.raw_ops.PartitionedCall(
            args=[z, h0, c0, kernel, bias],
            Tout=[output.dtype for output in forward.outputs],
            f=forward,
        )
    outputs[0].set_shape(forward.outputs[0].shape)
    return outputs[0]


@_called
def _forward(z, h0, c0, kernel, bias, padding, width=None):
    """(hs, *stored) of the forward loop: the hidden states (T, B, P, h),
    then what the backward loop reads (see `_folded`).

    Without `width`: the gate activations (T, B, P, 4h) and the cells at
    T + 1 slots, the initial one first. With it, the skewed image's, kept
    only where the backward pass reads them: in W slots, where line t goes
    to slot t mod W (its cells to (t + 1) mod W) and a row r takes lines r
    to r + W - 1, one of each slot, so that each of the image's positions
    keeps its own; and, left of the image, where the states are the same
    for every batch element, one element's T (T + 1) lines. About half the
    memory at W = P; right of the image, nothing is read.
    """
    steps = z.shape[0]
    folded = width is not None

    # The backward loop reads c_{t-1} and c_t in place, since any copy it
    # made of them would be made as soon as the forward pass ends and be
    # held, for every layer, until its turn comes. It needs no hidden
    # states: it recomputes h_t = o_t tanh(c_t).
    def step(t, h, c, hs, cs, gates, *left):
        s = gate_activations(z[t] + conv_lines(h, kernel, padding) + bias)
        h, c = lstm_from_gates(s, c)
        hs, cs, gates = hs.write(t, h), cs.write(t + 1, c), gates.write(t, s)
        if folded:  # one batch element's, left of the image
            left = (left[0].write(t, s[:1]), left[1].write(t + 1, c[:1]))
        return t + 1, h, c, hs, cs, gates, *left

    def array(size, shape):
        return tf.TensorArray(z.dtype, size=size, element_shape=shape)

    left = ()
    if folded:  # one batch element's gates and cells
        left = (
            array(steps, (1, *z.shape[2:])),
            array(steps + 1, (1, *h0.shape[1:])).write(0, c0[:1]),
        )
    _, _, _, hs, cs, gates, *left = tf.while_loop(
        lambda t, *_: t < steps,
        step,
        (
            tf.constant(0), h0, c0, array(steps, h0.shape),
            array(steps + 1, h0.shape).write(0, c0),
            array(steps, z.shape[1:]), *left,
        ),
        maximum_iterations=steps,
    )
    if not folded:
        return hs.stack(), gates.stack(), cs.stack()
    return (
        hs.stack(),
        _fold(gates, steps, width, 0),
        _fold(cs, steps + 1, width, -1),
        *(array.stack() for array in left),
    )


@_called
def _backward(dhs, stored, h0, kernel, padding, width=None):
    """BPTT through `_forward`: the gradients of its five inputs (z, h0,
    c0, kernel, bias) from that of its hidden states, `dhs`, and what it
    stored."""
    units, positions = h0.shape[-1], h0.shape[1]
    # `dhs` may come without a static shape.
    steps = stored[0].shape[0] if width is None else width + positions - 1
    gates_at, cells_at = _folded(stored, width, positions)
    transposed, swapped = adjoint(kernel, padding)

    # Line t, from the last to the first.
    def step(t, dh, dc, dzs, hidden):
        dh = dh + dhs[t]
        i, f, o, g = tf.split(gates_at(t), 4, axis=-1)
        tanh_c = tf.tanh(cells_at(t + 1))
        # h_t, line t + 1's input, for the kernel's gradient.
        hidden = hidden.write(t + 1, o * tanh_c)
        dc = dc + dh * o * (1 - tanh_c * tanh_c)
        dz = tf.concat(
            [
                dc * g * i * (1 - i),
                dc * cells_at(t) * f * (1 - f),
                dh * tanh_c * o * (1 - o),
                dc * i * (1 - g * g),
            ],
            axis=-1,
        )
        dh = conv_lines(dz, transposed, swapped)
        return t - 1, dh, dc * f, dzs.write(t, dz), hidden

    dzs = tf.TensorArray(
        dhs.dtype, size=steps, element_shape=(*h0.shape[:2], 4 * units)
    )
    hidden = tf.TensorArray(dhs.dtype, size=steps + 1, element_shape=h0.shape)
    _, dh0, dc0, dzs, hidden = tf.while_loop(
        lambda t, *_: t >= 0,
        step,
        (tf.constant(steps - 1), tf.zeros_like(h0), tf.zeros_like(h0), dzs,
         hidden.write(0, h0)),
        maximum_iterations=steps,
        # One line at a time: with more, the loop runs ahead on the gate
        # algebra of lines whose gradient has not come yet, and holds it.
        parallel_iterations=1,
    )
    dz, hidden = dzs.stack(), hidden.stack()
    dkernel = kernel_gradient(
        tf.reshape(hidden[:-1], (-1, *h0.shape[1:])),
        tf.reshape(dz, (-1, *dz.shape[2:])),
        padding,
    )
    dbias = tf.reduce_sum(dz, axis=(0, 1, 2))
    return dz, dh0, dc0, dkernel, dbias
