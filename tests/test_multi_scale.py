"""The Multi-Scale PixelRNN (paper §3.6): exact likelihood, causality in its
order (the small image first, then the rest in raster order), two-stage
sampling that follows the model, completion, round trips."""

import itertools

import keras
import numpy as np
import pytest
from scipy import stats

import pixelrnn_tf as prt
from tests import helpers


def _model(architecture, shape, levels=2, factor=2, **overrides):
    config = dict(
        architecture=architecture,
        image_shape=shape,
        num_levels=levels,
        hidden_dim=6 if shape[-1] == 3 else 4,
        num_layers=1,
        input_kernel_size=3,
        multi_scale_factor=factor,
    )
    config.update(overrides)
    model = prt.build_model(prt.ModelConfig(**config))
    rng = np.random.default_rng(0)
    for w in model.weights:  # away from the initialisers' zeros and ones
        w.assign(rng.normal(size=w.shape) * 0.7)
    return model


def _all_images(shape, levels):
    n = int(np.prod(shape))
    grid = np.array(list(itertools.product(range(levels), repeat=n)))
    return grid.reshape(-1, *shape)


@pytest.mark.parametrize("architecture", prt.ARCHITECTURES)
@pytest.mark.parametrize("shape", [(4, 2, 1), (2, 2, 3)])
def test_probabilities_of_all_images_sum_to_one(architecture, shape):
    model = _model(architecture, shape)
    images = _all_images(shape, 2)  # 256 or 4096 images
    total = np.exp(prt.log_prob(model, images, batch_size=512).astype("f8"))
    assert abs(total.sum() - 1.0) < 1e-4


def test_each_network_scores_its_own_subpixels():
    model = _model("row_lstm", (4, 4, 3), levels=4)
    images = np.random.default_rng(1).integers(0, 4, (2, 4, 4, 3))
    small = images[:, ::2, ::2]
    logits = np.asarray(model(images))
    np.testing.assert_array_equal(logits[:, ::2, ::2], model.small(small))
    condition = model.condition(small)
    large = np.asarray(model.large({"images": images, "condition": condition}))
    mask = np.zeros((4, 4), bool)
    mask[::2, ::2] = True
    np.testing.assert_array_equal(logits[:, ~mask], large[:, ~mask])
    # log p(x) = log p(x_s) + the large network's other sub-pixels
    expected = prt.log_prob(model.small, small) + (
        -prt.losses.nll_per_subpixel(images, large).numpy()[:, ~mask].sum(
            axis=(1, 2)
        )
    )
    np.testing.assert_allclose(prt.log_prob(model, images), expected, rtol=1e-5)


def _order(shape, factor):
    """Flat sub-pixel indices in the model's order: the small image's, in
    its raster order, then every other, in raster order."""
    flat = np.arange(int(np.prod(shape))).reshape(shape)
    small = flat[::factor, ::factor].reshape(-1)
    rest = np.setdiff1d(flat.reshape(-1), small)
    return np.concatenate([small, rest])


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("architecture", prt.ARCHITECTURES)
def test_causal_in_the_multi_scale_order(architecture, channels):
    shape = (4, 4, channels)
    model = _model(architecture, shape, levels=4)
    jac = helpers.raster_jacobian(model, shape, 4)
    order = _order(shape, 2)
    permuted = jac[order][:, order]
    helpers.assert_autoregressive(permuted)
    # and in raster order too, but for the small pixels given to the rest
    small = set(order[: 4 * channels].tolist())
    later = np.argwhere(np.triu(jac != 0))
    assert all(j in small and i not in small for i, j in later)
    assert len(later)  # the large network does read the small image


@pytest.mark.parametrize("method", prt.samplers.METHODS)
@pytest.mark.parametrize("architecture", prt.ARCHITECTURES)
def test_samples_follow_the_model(architecture, method):
    shape, levels = (2, 2, 1), 3  # a 1×1 small image, 81 images
    model = _model(architecture, shape, levels=levels)
    images = _all_images(shape, levels)
    probs = np.exp(prt.log_prob(model, images), dtype="f8")
    draws = prt.sample(model, 3000, seed=2, batch_size=1000, method=method)
    index = draws.reshape(-1, 4) @ (levels ** np.arange(4)[::-1])
    counts = np.bincount(index, minlength=len(images))
    _, p_value = stats.chisquare(counts, probs / probs.sum() * len(draws))
    assert p_value > 1e-3, (counts, probs)


@pytest.mark.parametrize("architecture", prt.ARCHITECTURES)
def test_complete_keeps_the_prefix_and_reads_nothing_else(architecture):
    shape = (4, 4, 3)
    model = _model(architecture, shape, levels=4)
    rng = np.random.default_rng(3)
    images = rng.integers(0, 4, (3, *shape))
    known = 6  # pixels: row 0 and half of row 1 (two small pixels)
    cached = prt.complete(model, images, known, seed=4)
    naive = prt.complete(model, images, known, seed=4, method="naive")
    np.testing.assert_array_equal(cached, naive)
    flat = cached.reshape(3, -1)
    np.testing.assert_array_equal(flat[:, : known * 3],
                                  images.reshape(3, -1)[:, : known * 3])
    other = images.copy().reshape(3, -1)
    other[:, known * 3 :] = rng.integers(0, 4, other[:, known * 3 :].shape)
    again = prt.complete(model, other.reshape(images.shape), known, seed=4)
    np.testing.assert_array_equal(again, cached)
    assert not np.array_equal(prt.complete(model, images, known, seed=5),
                              cached)


def test_fit_save_and_load(tmp_path):
    model = _model("diagonal_bilstm", (4, 4, 1), levels=4)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    images = np.tile(
        np.random.default_rng(0).integers(0, 4, (1, 4, 4, 1)), (16, 1, 1, 1)
    )
    history = model.fit(images, epochs=4, batch_size=8, verbose=0).history
    assert history["loss"][-1] < history["loss"][0]
    np.testing.assert_allclose(
        history["nll_nats"][-1] / 16, history["loss"][-1], rtol=1e-3
    )
    path = tmp_path / "multi_scale.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    assert type(restored) is prt.MultiScalePixelRNN
    np.testing.assert_array_equal(restored(images), model(images))
    np.testing.assert_array_equal(
        prt.sample(restored, 2, seed=1), prt.sample(model, 2, seed=1)
    )


@pytest.mark.parametrize(
    "overrides, match",
    [
        ({"multi_scale_factor": 3}, "Received: multi_scale_factor=3"),
        ({"multi_scale_factor": 1}, "Received: multi_scale_factor=1"),
        ({"multi_scale_factor": 2, "num_classes": 3}, "num_classes=3"),
    ],
)
def test_bad_multi_scale_configs(overrides, match):
    with pytest.raises(ValueError, match=match):
        prt.ModelConfig(image_shape=(4, 4, 1), **overrides)


def test_multi_scale_takes_images_only():
    model = _model("pixel_cnn", (2, 2, 1))
    with pytest.raises(ValueError, match="images only"):
        prt.sample(model, 2, labels=[0, 1])
    with pytest.raises(ValueError, match="images only"):
        model({"images": np.zeros((1, 2, 2, 1)), "labels": np.zeros(1)})


def test_the_large_network_checks_its_condition():
    model = _model("row_lstm", (4, 4, 1))
    images = np.zeros((2, 4, 4, 1))
    with pytest.raises(ValueError, match="needs a spatial condition"):
        model.large(images)
    with pytest.raises(ValueError, match="of shape \\(2, 2, 2, 4\\)"):
        model.large({"images": images, "condition": np.zeros((2, 2, 2, 4))})
    with pytest.raises(ValueError, match="takes no spatial condition"):
        model.small({"images": images[:, ::2, ::2],
                     "condition": np.zeros((2, 2, 2, 4))})
