import itertools

import numpy as np
import pytest
from scipy import stats

import pixelrnn_tf as prt


def _model(architecture="pixel_cnn", shape=(3, 3, 3), levels=4, **kw):
    config = dict(
        architecture=architecture,
        image_shape=shape,
        num_levels=levels,
        hidden_dim=6,
        num_layers=1,
    )
    config.update(kw)
    return prt.build_model(prt.ModelConfig(**config))


@pytest.mark.parametrize("architecture", prt.ARCHITECTURES)
@pytest.mark.parametrize(
    "shape, levels, hidden, bias",
    [
        ((1, 2, 1), 3, 4, [1.5, -1.0, 0.0]),  # two pixels, 9 images
        ((1, 1, 3), 2, 6, [1.0, -1.0] * 3),  # R, G|R, B|R,G: 8 images
    ],
)
def test_samples_follow_the_model_distribution(
    architecture, shape, levels, hidden, bias
):
    # Every possible image, enumerated exactly.
    model = _model(architecture, shape=shape, levels=levels, hidden_dim=hidden)
    model.get_layer("head").logits_conv.bias.assign(bias)
    n = int(np.prod(shape))
    images = np.array(list(itertools.product(range(levels), repeat=n)))
    probs = np.exp(
        prt.log_prob(model, images.reshape(-1, *shape)), dtype="float64"
    )
    draws = prt.sample(model, 3000, seed=3, batch_size=1000).reshape(-1, n)
    index = draws @ (levels ** np.arange(n)[::-1])  # the enumeration order
    counts = np.bincount(index, minlength=len(images))
    _, p_value = stats.chisquare(counts, probs / probs.sum() * len(draws))
    assert p_value > 1e-3, (counts, probs)


def test_temperature_sharpens_and_flattens():
    model = _model(shape=(1, 1, 1), levels=3, hidden_dim=4)
    model.get_layer("head").logits_conv.bias.assign([1.0, 0.0, -1.0])
    image = np.zeros((1, 1, 1, 1))
    p0 = np.exp(prt.log_prob(model, image))[0]

    def frequency(t):
        return (prt.sample(model, 4000, seed=1, temperature=t) == 0).mean()

    assert frequency(0.05) > 0.99
    assert abs(frequency(1.0) - p0) < 0.03
    assert abs(frequency(100.0) - 1 / 3) < 0.03


@pytest.mark.parametrize("architecture", prt.ARCHITECTURES)
def test_same_seed_same_samples_and_different_seeds_differ(architecture):
    model = _model(architecture)
    a = prt.sample(model, 4, seed=7)
    assert a.shape == (4, 3, 3, 3) and a.dtype == np.int32
    assert a.min() >= 0 and a.max() < 4
    np.testing.assert_array_equal(a, prt.sample(model, 4, seed=7))
    assert not np.array_equal(a, prt.sample(model, 4, seed=8))


def test_degenerate_model_samples_its_only_level():
    model = _model()
    head = model.get_layer("head").logits_conv
    head.kernel.assign(np.zeros(head.kernel.shape))
    head.bias.assign(np.tile([-50.0, -50.0, 50.0, -50.0], 3))
    np.testing.assert_array_equal(prt.sample(model, 2, seed=0), 2)


@pytest.mark.parametrize("architecture", prt.ARCHITECTURES)
def test_complete_keeps_the_known_prefix(architecture):
    model = _model(architecture)
    images = np.random.default_rng(0).integers(0, 4, (3, 3, 3, 3))
    for known in (0, 4, 9):
        out = prt.complete(model, images, num_known_pixels=known, seed=1)
        flat, original = out.reshape(3, -1), images.reshape(3, -1)
        np.testing.assert_array_equal(flat[:, : known * 3], original[:, : known * 3])
        assert out.dtype == np.int32 and out.max() < 4
    np.testing.assert_array_equal(
        prt.complete(model, images, num_known_pixels=9), images
    )


def test_completion_depends_only_on_the_prefix():
    model = _model("row_lstm")
    rng = np.random.default_rng(0)
    images = rng.integers(0, 4, (2, 3, 3, 3))
    other = images.copy()
    other[:, 2] = rng.integers(0, 4, (2, 3, 3))  # change the unknown last row
    a = prt.complete(model, images, num_known_pixels=6, seed=5)
    b = prt.complete(model, other, num_known_pixels=6, seed=5)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("known", [-1, 10, 2.5, True])
def test_complete_rejects_num_known_pixels_out_of_range(known):
    model = _model()
    with pytest.raises(ValueError, match="Received: num_known_pixels="):
        prt.complete(model, np.zeros((1, 3, 3, 3)), num_known_pixels=known)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"temperature": 0.0}, "temperature=0.0"),
        ({"temperature": float("nan")}, "temperature=nan"),
        ({"num_images": -1}, "num_images=-1"),
        ({"seed": "a"}, "seed='a'"),
        ({"seed": 2**64}, "seed=18446744073709551616"),
        ({"batch_size": 0}, "Received: 0"),
    ],
)
def test_sample_rejects_bad_arguments(kwargs, match):
    args = {"num_images": 1, "seed": 0}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        prt.sample(_model(), **args)
