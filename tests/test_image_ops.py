import numpy as np
import tensorflow as tf

from pixelrnn_tf import image_ops

X = np.arange(1, 10, dtype="float32").reshape(1, 3, 3, 1)


def test_skew_golden():
    expected = [[1, 2, 3, 0, 0], [0, 4, 5, 6, 0], [0, 0, 7, 8, 9]]
    np.testing.assert_array_equal(np.asarray(image_ops.skew(X))[0, ..., 0], expected)


def test_skew_non_square_golden():
    x = np.arange(1, 7, dtype="float32").reshape(1, 2, 3, 1)
    expected = [[1, 2, 3, 0], [0, 4, 5, 6]]
    np.testing.assert_array_equal(np.asarray(image_ops.skew(x))[0, ..., 0], expected)


def test_unskew_golden_and_round_trip():
    skewed = np.asarray(image_ops.skew(X))
    np.testing.assert_array_equal(image_ops.unskew(skewed, 3), X)
    rng = np.random.default_rng(0)
    for shape in [(2, 4, 5, 3), (1, 5, 2, 2), (1, 1, 4, 1)]:
        x = rng.normal(size=shape).astype("float32")
        np.testing.assert_array_equal(
            image_ops.unskew(image_ops.skew(x), shape[2]), x
        )


def test_skew_columns_are_diagonals():
    # Skewed column t holds the pixels (r, t - r): left and above neighbours
    # of a pixel lie in the previous column, at rows r and r - 1.
    skewed = np.asarray(image_ops.skew(X))[0, ..., 0]
    np.testing.assert_array_equal(skewed[:, 2], [3, 5, 7])


def test_shift_down_golden():
    expected = [[0, 0, 0], [1, 2, 3], [4, 5, 6]]
    np.testing.assert_array_equal(
        np.asarray(image_ops.shift_down(X))[0, ..., 0], expected
    )


def test_flip_width_golden():
    expected = [[3, 2, 1], [6, 5, 4], [9, 8, 7]]
    np.testing.assert_array_equal(
        np.asarray(image_ops.flip_width(X))[0, ..., 0], expected
    )


def test_layout_ops_gradients_are_adjoints_with_a_symbolic_batch():
    # The crops are `ops.slice` with a batch size known only at run time.
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=(2, 3, 4, 2)), tf.float32)
    cases = [
        (image_ops.skew, x),
        (lambda t: image_ops.unskew(t, 4), image_ops.skew(x)),
        (image_ops.shift_down, x),
    ]
    for fn, inputs in cases:
        traced = tf.function(
            fn, input_signature=[tf.TensorSpec((None,) + inputs.shape[1:])]
        )
        weights = tf.constant(rng.normal(size=fn(inputs).shape), tf.float32)
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            outputs = traced(inputs)
            loss = tf.reduce_sum(outputs * weights)
        np.testing.assert_array_equal(outputs, fn(inputs))
        # The map is linear: <f(x), w> = <x, f^T(w)>.
        np.testing.assert_allclose(
            tf.reduce_sum(inputs * tape.gradient(loss, inputs)),
            loss,
            rtol=1e-5,
        )
