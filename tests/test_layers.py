"""Basics of every layer: config round trips, shapes, training, dtypes."""

import keras
import numpy as np
import pytest

from pixelrnn_tf import layers
from tests.helpers import check_layer

CASES = [
    (layers.MaskedConv2D, {"filters": 6, "kernel_size": 3, "mask_type": "A"},
     (2, 5, 5, 3), (2, 5, 5, 6), 2),
    (layers.MaskedConv2D,
     {"filters": 4, "kernel_size": (1, 3), "mask_type": "B",
      "color_channels": 1, "use_bias": False},
     (2, 5, 5, 2), (2, 5, 5, 4), 1),
    (layers.RowLSTM, {"units": 6}, (2, 4, 4, 12), (2, 4, 4, 6), 5),
    (layers.DiagonalLSTM, {"units": 6}, (2, 4, 4, 12), (2, 4, 4, 6), 5),
    (layers.DiagonalBiLSTM, {"units": 6, "color_channels": 1},
     (2, 4, 3, 4), (2, 4, 3, 6), 10),
    (layers.PixelRNNResidualBlock, {"rnn_type": "row_lstm", "units": 6},
     (2, 4, 4, 12), (2, 4, 4, 12), 7),
    (layers.PixelRNNResidualBlock,
     {"rnn_type": "diagonal_bilstm", "units": 6, "use_residual": False},
     (2, 4, 4, 12), (2, 4, 4, 12), 12),
    (layers.PixelCNNResidualBlock, {"units": 6}, (2, 4, 4, 12), (2, 4, 4, 12),
     6),
    (layers.PerChannelSoftmaxHead, {"num_levels": 4, "hidden_dim": 6},
     (2, 4, 4, 12), (2, 4, 4, 3, 4), 4),
    (layers.DiscretizedLogisticMixtureHead,
     {"num_levels": 4, "hidden_dim": 6, "num_mixtures": 2},
     (2, 4, 4, 12), (2, 4, 4, 3, 4), 4),
]


@pytest.mark.parametrize(
    "cls, kwargs, input_shape, output_shape, num_weights",
    CASES,
    ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(CASES)],
)
def test_layer_basics(cls, kwargs, input_shape, output_shape, num_weights):
    check_layer(cls, kwargs, input_shape, output_shape, num_weights)


def test_masked_weights_get_exactly_zero_gradient():
    layer = layers.MaskedConv2D(6, 3, mask_type="A")
    x = np.random.default_rng(0).normal(size=(2, 5, 5, 3)).astype("float32")
    layer.build(x.shape)
    import tensorflow as tf

    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(x) ** 2)
    grad = tape.gradient(loss, layer.kernel).numpy()
    np.testing.assert_array_equal(grad[layer._mask == 0], 0.0)
    assert np.all(grad[layer._mask == 1] != 0)


def test_fresh_masked_conv_is_causal_without_any_update():
    # The mask is applied in the forward pass: the raw kernel is dense.
    layer = layers.MaskedConv2D(3, 3, mask_type="A")
    layer.build((1, 3, 3, 3))
    assert np.all(layer.kernel.numpy() != 0)
    x = np.zeros((1, 3, 3, 3), "float32")
    x[0, 2, 2, 2] = 1.0  # the last sub-pixel (B) influences no output
    np.testing.assert_array_equal(layer(x), layer(np.zeros_like(x)))


def test_row_lstm_learned_initial_state_is_used():
    layer = layers.RowLSTM(3, color_channels=1)
    x = np.zeros((1, 2, 3, 3), "float32")
    before = np.asarray(layer(x))
    layer.cell.initial_h.assign(np.ones(3, "float32"))
    assert not np.allclose(before[:, 0], np.asarray(layer(x))[:, 0])


def test_mirrored_diagonal_lstm_is_the_lstm_of_the_mirrored_image():
    # `mirrored=True` mirrors the input-to-state pre-activations instead of
    # the inputs (and a spatial condition): the same values and gradients.
    import tensorflow as tf

    layer = layers.DiagonalLSTM(6, condition_dim=2)
    rng = np.random.default_rng(4)
    x = tf.constant(rng.normal(size=(2, 4, 5, 12)), "float32")
    condition = tf.constant(rng.normal(size=(2, 4, 5, 2)), "float32")
    layer.build(x.shape)
    flip = lambda t: tf.reverse(t, [2])  # noqa: E731
    results = []
    for run in (
        lambda x: layer(x, condition, mirrored=True),
        lambda x: flip(layer(flip(x), flip(condition))),
    ):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = run(x)
            loss = tf.reduce_sum(y * tf.range(6, dtype=y.dtype))
        results.append(
            (y, *tape.gradient(loss, [x, *layer.trainable_variables]))
        )
    got, want = results
    np.testing.assert_array_equal(got[0], want[0])
    for g, w in zip(got[1:], want[1:]):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)


def test_cell_configs_round_trip():
    for cell in (
        layers.RowLSTMCell(6, positions=4, kernel_size=5),
        layers.DiagonalLSTMCell(6, positions=4),
    ):
        clone = type(cell).from_config(cell.get_config())
        assert clone.get_config() == cell.get_config()
        assert clone.state_size == [24, 24]


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: layers.MaskedConv2D(6, 3, mask_type="C"), "mask_type='C'"),
        (lambda: layers.MaskedConv2D(2, 3, mask_type="A"), "filters=2"),
        (lambda: layers.MaskedConv2D(6, 3, "A").build((1, 4, 4, 2)),
         "num_features=2"),
        (lambda: layers.RowLSTM(2), "filters=8, .*out_chunks=4"),
        (lambda: layers.MaskedConv2D(6, 3, "A", padding="valid"),
         "padding='valid'"),
        (lambda: layers.MaskedConv2D(6, 3, "A", strides=2), "strides"),
        (lambda: layers.MaskedConv2D(6, 2, "A").build((1, 4, 4, 3)),
         "kernel_size"),
        (lambda: layers.RowLSTMCell(6, 4, kernel_size=2), "kernel_size=2"),
        (lambda: layers.PixelRNNResidualBlock("gru", 6), "rnn_type='gru'"),
        (lambda: layers.PerChannelSoftmaxHead(1, 6), "num_levels=1"),
        (lambda: layers.DiscretizedLogisticMixtureHead(4, 6, 0),
         "num_mixtures=0"),
    ],
)
def test_layers_reject_bad_arguments(make, match):
    with pytest.raises(ValueError, match="Received: .*" + match):
        make()


def test_layers_are_registered_for_serialization():
    for name in ("MaskedConv2D", "RowLSTM", "DiagonalBiLSTM",
                 "PerChannelSoftmaxHead", "DiscretizedLogisticMixtureHead",
                 "PixelCNNResidualBlock"):
        assert keras.saving.get_registered_object(f"pixelrnn_tf>{name}")
