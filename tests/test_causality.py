"""Proofs that no layer or model sees the future, and that none is blind.

For every sub-pixel i in raster order (row, column, then R < G < B), the
Jacobian of the outputs at i with respect to the input at every j >= i is
exactly zero; a perturbation test repeats the check without gradients. The
exact set of sub-pixels each output does see is asserted too, from the
receptive field that the paper's architecture implies.
"""

import keras
import numpy as np
import pytest

import pixelrnn_tf as prt
from pixelrnn_tf import layers
from tests import helpers
from tests.helpers import POLICIES

H = 4  # image height of the layer tests
EVERYTHING = {(dr, dc) for dr in range(-10, 1) for dc in range(-10, 11)}
UP_LEFT = {(dr, dc) for dr in range(-10, 1) for dc in range(-10, 1)}
MASK_A_3 = helpers.masked_offsets(3, 3)


def _after_mask_a(layer, channels, kernel_size=3, features=24):
    """fn(x) = layer(MaskedConv2D(A)(x)): the layer on causal features."""
    first = layers.MaskedConv2D(
        features, kernel_size, mask_type="A", color_channels=channels
    )
    return lambda x: layer(first(x))


LAYER_CASES = {
    # name: (make(channels) -> fn, spatial receptive field)
    "masked_conv_a": (
        lambda c: layers.MaskedConv2D(6, 3, "A", color_channels=c),
        MASK_A_3,
    ),
    "row_lstm": (
        lambda c: _after_mask_a(layers.RowLSTM(12, color_channels=c), c),
        helpers.minkowski_sum(MASK_A_3, helpers.row_lstm_offsets(H)),
    ),
    # Uneven R|G|B groups: 8 features split 3|3|2, 16 split 6|5|5.
    "masked_conv_a_uneven": (
        lambda c: layers.MaskedConv2D(8, 3, "A", color_channels=c),
        MASK_A_3,
    ),
    "row_lstm_uneven": (
        lambda c: _after_mask_a(
            layers.RowLSTM(8, color_channels=c), c, features=16
        ),
        helpers.minkowski_sum(MASK_A_3, helpers.row_lstm_offsets(H)),
    ),
    "diagonal_lstm": (
        lambda c: _after_mask_a(layers.DiagonalLSTM(12, color_channels=c), c),
        helpers.minkowski_sum(MASK_A_3, UP_LEFT),
    ),
    # A 7×7 first layer spans the 4-wide rows: see the corner test below.
    "diagonal_bilstm": (
        lambda c: _after_mask_a(
            layers.DiagonalBiLSTM(12, color_channels=c), c, kernel_size=7
        ),
        EVERYTHING,
    ),
    "pixel_rnn_block": (
        lambda c: _after_mask_a(
            layers.PixelRNNResidualBlock("row_lstm", 12, color_channels=c), c
        ),
        helpers.minkowski_sum(MASK_A_3, helpers.row_lstm_offsets(H)),
    ),
    "pixel_cnn_block": (
        lambda c: _after_mask_a(
            layers.PixelCNNResidualBlock(12, color_channels=c), c
        ),
        helpers.minkowski_sum(MASK_A_3, helpers.masked_offsets(3, 3)),
    ),
    "softmax_head": (
        lambda c: _after_mask_a(
            layers.PerChannelSoftmaxHead(3, 24, color_channels=c), c
        ),
        MASK_A_3,
    ),
    "mixture_head": (
        lambda c: _after_mask_a(
            layers.DiscretizedLogisticMixtureHead(5, 24, 2, color_channels=c),
            c,
        ),
        MASK_A_3,
    ),
}


def _check_exact_context(jac, image_shape, offsets, policy):
    """Causal, nothing outside the field and (in float32) all of it seen.

    bfloat16 can round a tiny gradient path to exactly zero, never a masked
    one to non-zero: under it only the two upper bounds are asserted.
    """
    helpers.assert_autoregressive(jac)
    expected = helpers.expected_context(image_shape, offsets)
    seen = jac != 0
    extra = np.argwhere(seen & ~expected)
    assert not len(extra), f"sees outside its field: {extra[:10].tolist()}"
    if policy == "float32":
        missing = np.argwhere(expected & ~seen)
        assert not len(missing), f"blind to (i, j): {missing[:10].tolist()}"


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("name", sorted(LAYER_CASES))
def test_layer_jacobian_is_causal_and_exact(name, channels, policy):
    keras.config.set_dtype_policy(policy)
    make, offsets = LAYER_CASES[name]
    shape = (H, 4, channels)
    jac = helpers.raster_jacobian(make(channels), shape, num_levels=4)
    _check_exact_context(jac, shape, offsets, policy)


def _small_model(architecture, channels, **overrides):
    config = dict(
        architecture=architecture,
        image_shape=(5, 5, channels),
        num_levels=4,
        hidden_dim=12,  # wide enough that no ReLU closes every path
        num_layers=1,
        input_kernel_size=3,
    )
    config.update(overrides)
    return prt.build_model(prt.ModelConfig(**config))


MODEL_CASES = {
    # architecture: (config overrides, spatial receptive field)
    "pixel_cnn": (
        {},
        helpers.minkowski_sum(MASK_A_3, helpers.masked_offsets(3, 3)),
    ),
    "row_lstm": (
        {},
        helpers.minkowski_sum(MASK_A_3, helpers.row_lstm_offsets(5)),
    ),
    # The paper's 7×7 first layer on rows wider than it spans: with the
    # padding column (the default), the whole causal context.
    "diagonal_bilstm": (
        {"image_shape": (3, 6, 3), "input_kernel_size": 7},
        EVERYTHING,
    ),
}


def _check_model_context(
    architecture, channels, policy, seeds=(0,), outputs=None, **extra
):
    """The model's Jacobian against its MODEL_CASES receptive field, at
    the input points of `seeds`: what it sees is their union. `outputs`:
    model -> the function to differentiate (default: the model)."""
    overrides, field = MODEL_CASES[architecture]
    if "image_shape" in overrides:
        height, width, _ = overrides["image_shape"]
        overrides = dict(overrides, image_shape=(height, width, channels))
    model = _small_model(architecture, channels, **overrides, **extra)
    shape = model.image_shape
    fn = model if outputs is None else outputs(model)
    jac = sum(
        np.abs(helpers.raster_jacobian(fn, shape, model.num_levels, seed=s))
        for s in seeds
    )
    _check_exact_context(jac, shape, field, policy)


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("architecture", prt.ARCHITECTURES)
def test_model_jacobian_is_causal_and_exact(architecture, channels, policy):
    keras.config.set_dtype_policy(policy)
    _check_model_context(architecture, channels, policy)


@pytest.mark.parametrize("architecture", prt.ARCHITECTURES)
def test_uneven_groups_model_jacobian_is_causal_and_exact(architecture):
    # h = 8 splits 3|3|2 and the blocks' 2h = 16 features 6|5|5, like the
    # paper's h = 128 (43|43|42, 2h: 86|85|85). With 2 hidden features in
    # the B group, a ReLU can close all of a path at one input point (the
    # PixelCNN's B misses G of pixel (4, 2) at seed 0): two points.
    _check_model_context(
        architecture, 3, "float32", seeds=(0, 1), hidden_dim=8
    )


@pytest.mark.parametrize("architecture", prt.ARCHITECTURES)
def test_paper_width_model_jacobian_is_causal_and_exact(architecture):
    # The paper's h = 128 (43|43|42) and 1024 output maps (342|341|341).
    _check_model_context(
        architecture, 3, "float32", hidden_dim=128, output_dim=1024
    )


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("num_layers", [1, 2])
def test_paper_literal_diagonal_bilstm_misses_one_subpixel(
    num_layers, channels
):
    # Without the padding column, the paper's stack is blind to one
    # sub-pixel on rows wider than 4, whatever the depth: the first-layer
    # features at (i-1, W-1) exclude its last colour (mask A), the
    # right-to-left map reaches (i, j) only from row i-1 and the
    # left-to-right map only from columns <= j; so every sub-pixel of
    # (i, j) with j < W-4 misses the last colour of pixel (i-1, W-1).
    shape = (3, 6, channels)
    model = _small_model(
        "diagonal_bilstm",
        channels,
        image_shape=shape,
        input_kernel_size=7,
        num_layers=num_layers,
        close_blind_spot=False,
    )
    jac = helpers.raster_jacobian(model, shape, 4)
    helpers.assert_autoregressive(jac)
    blind = np.argwhere(np.tril(jac == 0, -1))
    expected = [
        [
            np.ravel_multi_index((r, j, k), shape),
            np.ravel_multi_index((r - 1, 5, channels - 1), shape),
        ]
        for r in (1, 2)
        for j in (0, 1)
        for k in range(channels)
    ]
    assert sorted(blind.tolist()) == sorted(expected)


def test_pixel_cnn_has_its_blind_spot():
    # Paper §3.5: stacked masked convolutions never reach the pixel two to
    # the right in the row above, although it is in the past.
    model = _small_model("pixel_cnn", 1)
    jac = helpers.raster_jacobian(model, model.image_shape, 4)
    helpers.assert_autoregressive(jac)
    i, j = 2 * 5 + 1, 1 * 5 + 3  # pixel (2, 1) and pixel (1, 3)
    assert jac[i, j] == 0 and jac[i, j - 1] != 0


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize(
    "architecture, extra",
    [
        ("pixel_cnn", {}),
        ("row_lstm", {"use_skip_connections": True}),
        ("diagonal_bilstm", {"use_residual": False}),
    ],
)
def test_paper_sized_kernels_are_causal(architecture, extra, policy):
    # The 7x7 first layer and two blocks, with the RGB grouping.
    keras.config.set_dtype_policy(policy)
    model = _small_model(
        architecture, 3, input_kernel_size=7, num_layers=2, **extra
    )
    jac = helpers.raster_jacobian(model, model.image_shape, 4)
    helpers.assert_autoregressive(jac)
    if policy != "float32":
        return  # bfloat16 may round a tiny path to zero (see above)
    for i in range(jac.shape[0]):
        row, col, k = np.unravel_index(i, model.image_shape)
        if k:  # sees the earlier colours of its own pixel
            assert np.all(jac[i, i - k : i] != 0)
        if col:  # the left neighbour
            j = np.ravel_multi_index((row, col - 1, 0), model.image_shape)
            assert np.all(jac[i, j : j + 3] != 0)
        if row:  # the pixel above
            j = np.ravel_multi_index((row - 1, col, 0), model.image_shape)
            assert np.all(jac[i, j : j + 3] != 0)


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("architecture", prt.ARCHITECTURES)
def test_model_logits_ignore_future_perturbations(architecture, channels, policy):
    keras.config.set_dtype_policy(policy)
    model = _small_model(architecture, channels, image_shape=(3, 3, channels))
    helpers.future_perturbation_check(model, model.image_shape, 4)


def test_perturbation_check_catches_a_leak():
    # The checks must fail on a model that looks one sub-pixel ahead.
    inputs = keras.Input((2, 2, 1))
    leaky = keras.layers.Conv2D(4, 3, padding="same")(inputs)
    logits = keras.layers.Reshape((2, 2, 1, 4))(leaky)
    model = keras.Model(inputs, logits)
    with pytest.raises(AssertionError):
        helpers.future_perturbation_check(model, (2, 2, 1), 4)
    with pytest.raises(AssertionError):
        helpers.assert_autoregressive(
            helpers.raster_jacobian(model, (2, 2, 1), 4)
        )
