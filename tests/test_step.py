"""The step form (cached sampling) reproduces the full-map call exactly.

Each causal layer and model, stepped position by position in raster order
over an image, gives the outputs of `layer(image)` at every position
(teacher forcing). The step form is proven causal like the full map: its
Jacobian is exactly lower-triangular and sees exactly what the full map
sees.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

import pixelrnn_tf as prt
from pixelrnn_tf import layers
from tests import helpers


def _randomise(weights, seed=1, scale=0.5):
    # Away from the initialisers' zeros and ones (biases, initial states),
    # so that every path of the step form carries a value.
    rng = np.random.default_rng(seed)
    for w in weights:
        w.assign(rng.normal(size=w.shape) * scale)


def _model(architecture, shape, **overrides):
    config = dict(
        architecture=architecture,
        image_shape=shape,
        num_levels=4,
        hidden_dim=6,
        num_layers=2,
    )
    config.update(overrides)
    model = prt.build_model(prt.ModelConfig(**config))
    _randomise(model.weights)
    return model


MODEL_CASES = [
    # shape, overrides: C=1 and C=3, wider than 4 (the 7×7 window and the
    # Diagonal BiLSTM's borders), skip connections, no residual.
    ((3, 6, 3), {}),
    ((4, 5, 1), {"use_skip_connections": True}),
    ((2, 7, 3), {"use_skip_connections": True, "use_residual": False}),
    ((5, 2, 1), {"input_kernel_size": 3, "hidden_kernel_size": 5}),
    # Uneven R|G|B groups: h = 8 splits 3|3|2, 2h = 16 6|5|5, the output
    # stack's 10 maps 4|3|3.
    ((2, 5, 3), {"hidden_dim": 8, "output_dim": 10}),
]


@pytest.mark.parametrize("shape, overrides", MODEL_CASES)
@pytest.mark.parametrize("architecture", prt.ARCHITECTURES)
def test_model_step_form_reproduces_the_logits(architecture, shape, overrides):
    _check_step_form(_model(architecture, shape, **overrides), shape)


def test_paper_literal_diagonal_bilstm_step_form():
    # The default steps a padding column at the end of each row; without it
    # the rows end at W.
    shape = (3, 6, 3)
    _check_step_form(
        _model("diagonal_bilstm", shape, close_blind_spot=False), shape
    )


def _check_step_form(model, shape):
    images = np.random.default_rng(0).integers(0, 4, (3, *shape))
    images = tf.constant(images, tf.float32)
    full = model(images).numpy()
    stepped = helpers.step_outputs(model, images).numpy()
    assert stepped.shape == full.shape
    assert np.abs(full).max() > 1.0  # not a trivially small comparison
    np.testing.assert_allclose(stepped, full, atol=1e-4, rtol=0)
    # As the cached sampler runs it: colour k's pass computes only colour
    # group k, must not read colours >= k, and gives colour k's logits.
    passes = helpers.colour_pass_logits(model, images).numpy()
    np.testing.assert_allclose(passes, full, atol=1e-4, rtol=0)


def _rgb(n):
    return np.random.default_rng(0).normal(size=(2, 4, 6, n)).astype("float32")


LAYER_CASES = {
    "masked_conv_a_7x7": lambda: layers.MaskedConv2D(6, 7, "A"),
    "masked_conv_b_3x5": lambda: layers.MaskedConv2D(
        6, (3, 5), "B", activation="relu"
    ),
    "masked_conv_b_1x1": lambda: layers.MaskedConv2D(9, 1, "B"),
    "row_lstm": lambda: layers.RowLSTM(6),
    # uneven R|G|B groups: 16 inputs 6|5|5, 8 units 3|3|2 per gate
    "row_lstm_uneven": lambda: layers.RowLSTM(8),
    "row_lstm_k5": lambda: layers.RowLSTM(6, kernel_size=5),
    "diagonal_lstm": lambda: layers.DiagonalLSTM(6),
    "diagonal_bilstm": lambda: layers.DiagonalBiLSTM(6),
    "pixel_cnn_block": lambda: layers.PixelCNNResidualBlock(6),
    "pixel_rnn_block": lambda: layers.PixelRNNResidualBlock(
        "diagonal_bilstm", 6
    ),
    "softmax_head": lambda: layers.PerChannelSoftmaxHead(5, 6),
    "mixture_head": lambda: layers.DiscretizedLogisticMixtureHead(5, 6, 2),
}
INPUT_FEATURES = {"row_lstm_uneven": 16}  # the others: 12 (4|4|4)


def _layer_inputs(name):
    return tf.constant(_rgb(INPUT_FEATURES.get(name, 12)))


@pytest.mark.parametrize("name", sorted(LAYER_CASES))
def test_layer_step_form_reproduces_the_call(name):
    layer = LAYER_CASES[name]()
    x = _layer_inputs(name)
    layer(x)  # build
    _randomise(layer.weights)
    full = layer(x).numpy()
    np.testing.assert_allclose(
        helpers.step_outputs(layer, x).numpy(), full, atol=1e-4, rtol=0
    )


@pytest.mark.parametrize(
    "name", sorted(set(LAYER_CASES) - {"softmax_head", "mixture_head"})
)
def test_layer_colour_passes_reproduce_the_call(name):
    layer = LAYER_CASES[name]()
    x = _layer_inputs(name)
    layer(x)
    _randomise(layer.weights)
    np.testing.assert_allclose(
        helpers.colour_pass_outputs(layer, x, 3).numpy(),
        layer(x).numpy(),
        atol=1e-4,
        rtol=0,
    )


def test_step_form_runs_under_mixed_precision():
    keras.config.set_dtype_policy("mixed_bfloat16")
    model = _model("diagonal_bilstm", (2, 5, 3))
    images = tf.constant(np.random.default_rng(0).integers(0, 4, (2, 2, 5, 3)))
    images = tf.cast(images, tf.float32)
    stepped = helpers.step_outputs(model, images)
    assert stepped.dtype == tf.float32  # the head stays float32
    np.testing.assert_allclose(stepped, model(images), atol=0.25, rtol=0.05)
    passes = helpers.colour_pass_logits(model, images)
    np.testing.assert_allclose(passes, model(images), atol=0.25, rtol=0.05)
    drawn = prt.sample(model, 3, seed=0)
    assert drawn.shape == (3, 2, 5, 3) and 0 <= drawn.min() <= drawn.max() < 4


@pytest.mark.slow
@pytest.mark.parametrize(
    "architecture, channels",
    [(a, 3) for a in prt.ARCHITECTURES] + [("diagonal_bilstm", 1)],
)
def test_step_form_jacobian_is_causal_and_equals_the_full_maps(
    architecture, channels
):
    # The sampler's path: colour passes, later colours as other levels.
    height = 3 if channels == 1 else 2  # wider than 4: the borders
    model = _model(architecture, (height, 5, channels), hidden_dim=12)
    shape = model.image_shape

    def stepped(x):
        return helpers.colour_pass_logits(model, x)

    jac = helpers.raster_jacobian(stepped, shape, model.num_levels)
    helpers.assert_autoregressive(jac)
    full = helpers.raster_jacobian(model, shape, model.num_levels)
    np.testing.assert_array_equal(jac != 0, full != 0)
    np.testing.assert_allclose(jac, full, atol=1e-4)


def test_record_pixel_stores_the_last_colour():
    # After the colour passes, `record_pixel` leaves the cache a step on the
    # whole pixel would leave: the next position's logits agree.
    model = _model("pixel_cnn", (1, 3, 3))
    pixel = tf.constant([[1.0, 2.0, 3.0]])
    cache = model.start_row(model.get_step_cache(1))
    _, stepped = model.step(pixel, cache, 0)
    partial = tf.constant([[1.0, 2.0, 0.0]])  # B not drawn yet
    _, recorded = model.step(partial, cache, 0)
    recorded = model.record_pixel(pixel, recorded, 0)
    after_step, _ = model.step(pixel, stepped, 1)
    after_record, _ = model.step(pixel, recorded, 1)
    np.testing.assert_array_equal(after_record, after_step)
    _, unrecorded = model.step(partial, cache, 0)
    wrong, _ = model.step(pixel, unrecorded, 1)
    assert not np.allclose(wrong, after_step)
