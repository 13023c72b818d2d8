"""The spatial LSTMs' recurrence: its hand-written gradient against autodiff."""

import numpy as np
import pytest
import tensorflow as tf

from pixelrnn_tf import image_ops
from pixelrnn_tf import layers
from pixelrnn_tf.layers import lstm_scan

PADDINGS = [(1, 0), (1, 1), (2, 2), (0, 0)]  # Diagonal, Row k=3 and 5, 1×1


def _reference(z, h0, c0, kernel, bias, padding):
    """Paper eq. 3 unrolled in Python, differentiated by the tape."""
    h, c, hs = h0, c0, []
    for t in range(z.shape[0]):
        a = z[t] + lstm_scan.conv_lines(h, kernel, padding) + bias
        i, f, o, g = tf.split(a, 4, axis=-1)
        c = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g)
        h = tf.sigmoid(o) * tf.tanh(c)
        hs.append(h)
    return tf.stack(hs)


def _inputs(padding, steps=5, batch=2, positions=4, units=3, seed=0):
    rng = np.random.default_rng(seed)
    k = sum(padding) + 1
    shapes = [
        (steps, batch, positions, 4 * units),
        (batch, positions, units),
        (batch, positions, units),
        (k, units, 4 * units),
        (4 * units,),
    ]
    args = [tf.constant(rng.normal(size=s), tf.float64) for s in shapes]
    weights = tf.constant(rng.normal(size=(steps, batch, positions, units)))
    return args, weights


def _value_and_gradients(fn, args, weights, padding):
    with tf.GradientTape() as tape:
        tape.watch(args)
        hs = fn(*args, padding)
        loss = tf.reduce_sum(hs * weights)
    return hs, tape.gradient(loss, args)


@pytest.mark.parametrize("padding", PADDINGS)
@pytest.mark.parametrize("jit_compile", [False, True])
def test_values_and_all_gradients_equal_autodiff(padding, jit_compile):
    args, weights = _inputs(padding)
    expected, expected_grads = _value_and_gradients(
        _reference, args, weights, padding
    )
    scan = tf.function(
        lambda *a: lstm_scan.lstm_scan(*a[:-1], a[-1]),
        jit_compile=jit_compile,
    )
    hs, grads = _value_and_gradients(
        lambda *a: scan(*a), args, weights, padding
    )
    np.testing.assert_allclose(hs, expected, rtol=0, atol=1e-13)
    for name, grad, want in zip(
        ("z", "h0", "c0", "kernel", "bias"), grads, expected_grads
    ):
        assert grad is not None, name
        np.testing.assert_allclose(grad, want, rtol=0, atol=1e-12, err_msg=name)


def _skewed_inputs(width, positions, batch=3, units=2, seed=5):
    """A Diagonal LSTM's scan inputs: `z` zero outside the image, initial
    states the same for every batch element, and the loss's weights zero
    outside the image (the unskew's gradient)."""
    rng = np.random.default_rng(seed)
    image = rng.normal(size=(batch, positions, width, 4 * units))
    z = tf.transpose(image_ops.skew(tf.constant(image)), (2, 0, 1, 3))
    h0, c0 = (
        tf.constant(np.repeat(rng.normal(size=(1, positions, units)), batch, 0))
        for _ in range(2)
    )
    kernel = tf.constant(rng.normal(size=(2, units, 4 * units)))
    bias = tf.constant(rng.normal(size=(4 * units,)))
    weights = rng.normal(size=(batch, positions, width, units))
    weights = tf.transpose(image_ops.skew(tf.constant(weights)), (2, 0, 1, 3))
    return [z, h0, c0, kernel, bias], weights


@pytest.mark.parametrize("width, positions", [(4, 4), (5, 3), (2, 5), (1, 3)])
@pytest.mark.parametrize(
    "jit_compile, batch", [(False, 3), (True, 3), (False, None)]
)
def test_a_skewed_image_keeps_its_lines_folded_with_equal_gradients(
    width, positions, jit_compile, batch
):
    # The backward pass reads each line's gates and cells from W slots and
    # one batch element's left of the image: the gradients of all five
    # inputs are still those of autodiff, everywhere (left of the image
    # too, where the states reach the image's). Also traced for any batch.
    args, weights = _skewed_inputs(width, positions)
    expected, expected_grads = _value_and_gradients(
        _reference, args, weights, (1, 0)
    )

    def spec(tensor, batch_axis=None):
        shape = [batch if axis == batch_axis else n
                 for axis, n in enumerate(tensor.shape)]
        return tf.TensorSpec(shape, tensor.dtype)

    z, h0, c0, kernel, bias = args
    signature = [spec(z, 1), spec(h0, 0), spec(c0, 0), spec(kernel),
                 spec(bias)]
    scan = tf.function(
        lambda *a: lstm_scan.lstm_scan(*a, (1, 0), width=width),
        jit_compile=jit_compile,
        input_signature=signature,
    )
    hs, grads = _value_and_gradients(
        lambda *a: scan(*a[:-1]), args, weights, (1, 0)
    )
    np.testing.assert_allclose(hs, expected, rtol=0, atol=1e-13)
    for name, grad, want in zip(
        ("z", "h0", "c0", "kernel", "bias"), grads, expected_grads
    ):
        np.testing.assert_allclose(grad, want, rtol=0, atol=1e-12, err_msg=name)
    # What the gradient reads: W lines of the batch, T of one element.
    _, *stored = lstm_scan._forward(*args, (1, 0), width)
    steps = width + positions - 1
    assert [tuple(t.shape[:2]) for t in stored] == [
        (width, 3), (width, 3), (steps, 1), (steps + 1, 1),
    ]


def test_a_folded_scan_needs_the_lines_of_a_skewed_image():
    args, _ = _skewed_inputs(4, 3)
    with pytest.raises(ValueError, match="Received: z.shape=.*width=5"):
        lstm_scan.lstm_scan(*args, (1, 0), width=5)


@pytest.mark.parametrize("padding", PADDINGS)
def test_adjoint_kernel_gives_the_transposed_convolution(padding):
    rng = np.random.default_rng(1)
    h = tf.constant(rng.normal(size=(3, 6, 2)))
    dz = tf.constant(rng.normal(size=(3, 6, 8)))
    kernel = tf.constant(rng.normal(size=(sum(padding) + 1, 2, 8)))
    forward = tf.reduce_sum(lstm_scan.conv_lines(h, kernel, padding) * dz)
    adjoint = tf.reduce_sum(
        h * lstm_scan.conv_lines(dz, *lstm_scan.adjoint(kernel, padding))
    )
    np.testing.assert_allclose(forward, adjoint, rtol=1e-12)


@pytest.mark.parametrize(
    "padding, positions", [*((p, 5) for p in PADDINGS), ((2, 2), 2)]
)
def test_kernel_gradient_is_the_summed_per_line_gradient(padding, positions):
    # Also a line shorter than the kernel's reach: its outer taps only ever
    # read the padding.
    rng = np.random.default_rng(2)
    h = tf.constant(rng.normal(size=(4, positions, 2)))
    dz = tf.constant(rng.normal(size=(4, positions, 8)))
    kernel = tf.constant(rng.normal(size=(sum(padding) + 1, 2, 8)))
    with tf.GradientTape() as tape:
        tape.watch(kernel)
        loss = tf.reduce_sum(lstm_scan.conv_lines(h, kernel, padding) * dz)
    np.testing.assert_allclose(
        lstm_scan.kernel_gradient(h, dz, padding),
        tape.gradient(loss, kernel),
        rtol=1e-12,
        atol=1e-12,
    )


def test_layers_of_one_shape_share_one_trace():
    # The weights are arguments, so a stack of equal layers traces the
    # scan (and builds its gradient) once.
    stack = [layers.DiagonalLSTM(4, color_channels=1) for _ in range(3)]
    x = np.random.default_rng(3).normal(size=(2, 3, 5, 4)).astype("float32")
    for layer in stack:
        layer.build(x.shape)
    variables = [v for layer in stack for v in layer.trainable_variables]

    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            y = x
            for layer in stack:
                y = layer(y)
            loss = tf.reduce_sum(y**2)
        return tape.gradient(loss, variables)

    loops = (lstm_scan._forward, lstm_scan._backward)
    before = [loop.experimental_get_tracing_count() for loop in loops]
    grads = step(x)
    after = [loop.experimental_get_tracing_count() for loop in loops]
    assert after == [count + 1 for count in before]
    assert all(g is not None and np.all(np.isfinite(g)) for g in grads)


def test_the_loops_are_calls_that_hand_on_only_what_backward_reads():
    # Not inlined, so Grappler optimizes each loop's body once. The scan is
    # a function around the forward loop's call op, whose gradient is the
    # backward loop: TensorFlow differentiates the scan as a call, which
    # returns what that gradient reads (the stored gates and cells, h0 and
    # the kernel), not the pre-activations `z`, which it would hold for
    # the backward pass.
    layer = layers.DiagonalLSTM(4, color_channels=1)
    x = np.random.default_rng(4).normal(size=(2, 3, 5, 4)).astype("float32")
    layer.build(x.shape)

    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(layer(x) ** 2)
        return tape.gradient(loss, layer.trainable_variables)

    graph = step.get_concrete_function(x).graph.as_graph_def()
    library = {f.signature.name: f for f in graph.library.function}

    def named(prefix):
        return [f for name, f in library.items() if name.startswith(prefix)]

    loops = named("__inference__forward_") + named("__inference__backward_")
    assert len(loops) == 2
    assert all(f.attr["_noinline"].b for f in loops)
    (forward,) = named("__inference__forward_")
    # hs, then the gates and cells: W lines, and T of one batch element.
    assert len(forward.signature.output_arg) == 5
    (scan,) = named("__forward__scan_")
    assert [arg.name for arg in scan.signature.input_arg][0] == "z"
    returned = [scan.ret[arg.name] for arg in scan.signature.output_arg]
    stored = [f"PartitionedCall:output:{i}" for i in (1, 2, 3, 4)]
    assert returned[1:5] == stored
    assert len(returned) == 7 and "z" not in returned  # + h0, kernel
    (call,) = [node for node in scan.node_def if node.op == "PartitionedCall"]
    assert call.attr["f"].func.name == forward.signature.name
    (backward,) = named("__inference___backward__scan_")
    (call,) = [
        node for node in backward.node_def if node.op == "PartitionedCall"
    ]
    assert call.attr["f"].func.name.startswith("__inference__backward_")


def test_needs_a_static_number_of_lines():
    args, _ = _inputs((1, 0))
    spec = tf.TensorSpec((None, 2, 4, 12), tf.float64)
    scan = tf.function(lambda z: lstm_scan.lstm_scan(z, *args[1:], (1, 0)))
    with pytest.raises(ValueError, match="Received: z.shape="):
        scan.get_concrete_function(spec)


def test_a_saved_scan_loads_with_its_gradient_or_refuses_it(tmp_path):
    # SavedModel traces every registered gradient with no op; the scan's
    # needs its op, and saves one that fails when run. Loaded where the
    # scan's gradient is registered, the loaded scan gets it.
    padding = (1, 0)
    args, _ = _inputs(padding)
    module = tf.Module()
    module.scan = tf.function(
        lambda z: lstm_scan.lstm_scan(z, *args[1:], padding),
        input_signature=[tf.TensorSpec(args[0].shape, args[0].dtype)],
    )
    tf.saved_model.save(module, str(tmp_path))
    loaded = tf.saved_model.load(str(tmp_path))
    z = tf.constant(args[0])
    np.testing.assert_allclose(loaded.scan(z), module.scan(z), atol=1e-12)

    def gradient(scan):
        with tf.GradientTape() as tape:
            tape.watch(z)
            loss = tf.reduce_sum(scan(z))
        return tape.gradient(loss, z)

    np.testing.assert_allclose(
        gradient(loaded.scan), gradient(module.scan), atol=1e-12
    )
    # What the SavedModel keeps: five gradients' shapes, and an error.
    saved = tf.function(lambda: lstm_scan._unsaved_gradient(z, *args[1:]))
    assert len(saved.get_concrete_function().outputs) == 5
    with pytest.raises(tf.errors.InvalidArgumentError, match=".keras file"):
        saved()
