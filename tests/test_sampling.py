import itertools

import numpy as np
import pytest
from scipy import stats

import pixelrnn_tf as prt
from pixelrnn_tf.samplers import METHODS


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


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("architecture", prt.ARCHITECTURES)
@pytest.mark.parametrize(
    "shape, levels, hidden, bias",
    [
        ((1, 2, 1), 3, 4, [1.5, -1.0, 0.0]),  # two pixels, 9 images
        ((1, 1, 3), 2, 6, [1.0, -1.0] * 3),  # R, G|R, B|R,G: 8 images
    ],
)
def test_samples_follow_the_model_distribution(
    architecture, shape, levels, hidden, bias, method
):
    # Every possible image, enumerated exactly.
    model = _model(architecture, shape=shape, levels=levels, hidden_dim=hidden)
    model.get_layer("head").logits_conv.bias.assign(bias)
    n = int(np.prod(shape))
    images = np.array(list(itertools.product(range(levels), repeat=n)))
    probs = np.exp(
        prt.log_prob(model, images.reshape(-1, *shape)), dtype="float64"
    )
    draws = prt.sample(model, 3000, seed=3, batch_size=1000, method=method)
    draws = draws.reshape(-1, n)
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


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("architecture", prt.ARCHITECTURES)
def test_complete_keeps_the_known_prefix(architecture, method):
    model = _model(architecture)
    images = np.random.default_rng(0).integers(0, 4, (3, 3, 3, 3))
    for known in (0, 4, 9):
        out = prt.complete(
            model, images, num_known_pixels=known, seed=1, method=method
        )
        flat, original = out.reshape(3, -1), images.reshape(3, -1)
        np.testing.assert_array_equal(
            flat[:, : known * 3], original[:, : known * 3]
        )
        assert out.dtype == np.int32 and out.max() < 4
    np.testing.assert_array_equal(
        prt.complete(model, images, num_known_pixels=9, method=method), images
    )


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("architecture", prt.ARCHITECTURES)
def test_completion_depends_only_on_the_prefix(architecture, method):
    model = _model(architecture)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 4, (2, 3, 3, 3))
    other = images.copy()
    other.reshape(2, -1)[:, 4 * 3 :] = rng.integers(0, 4, (2, 5 * 3))
    a = prt.complete(model, images, num_known_pixels=4, seed=5, method=method)
    b = prt.complete(model, other, num_known_pixels=4, seed=5, method=method)
    np.testing.assert_array_equal(a, b)


def _random_model(architecture, shape, **kw):
    model = _model(architecture, shape=shape, num_layers=2, **kw)
    rng = np.random.default_rng(1)
    for w in model.weights:  # sharper than the initialisation
        w.assign(rng.normal(size=w.shape) * 0.5)
    return model


SAME_IMAGE_CASES = [
    ((2, 5, 3), {}),
    ((3, 6, 1), {"use_skip_connections": True}),
]


@pytest.mark.parametrize("shape, kw", SAME_IMAGE_CASES)
@pytest.mark.parametrize("architecture", prt.ARCHITECTURES)
def test_cached_and_naive_samplers_draw_the_same_images(
    architecture, shape, kw
):
    model = _random_model(architecture, shape, **kw)
    for seed in (0, 1):
        cached = prt.sample(model, 5, seed=seed, batch_size=3)
        naive = prt.sample(model, 5, seed=seed, batch_size=3, method="naive")
        np.testing.assert_array_equal(cached, naive)
    assert len(np.unique(cached.reshape(5, -1), axis=0)) > 1


@pytest.mark.parametrize("shape, kw", SAME_IMAGE_CASES)
@pytest.mark.parametrize("architecture", prt.ARCHITECTURES)
def test_cached_and_naive_complete_the_same_images(architecture, shape, kw):
    model = _random_model(architecture, shape, **kw)
    h, w, c = shape
    images = np.random.default_rng(2).integers(0, 4, (2, *shape))
    for known in (0, 1, w + 2, h * w - 1, h * w):
        cached = prt.complete(model, images, known, seed=3)
        naive = prt.complete(model, images, known, seed=3, method="naive")
        np.testing.assert_array_equal(cached, naive)
        flat = cached.reshape(2, -1)
        np.testing.assert_array_equal(
            flat[:, : known * c], images.reshape(2, -1)[:, : known * c]
        )


def test_unknown_method_is_rejected():
    valid = r"\['cached', 'naive'\]. Received: method='fast'"
    with pytest.raises(ValueError, match=valid):
        prt.sample(_model(), 1, method="fast")
    with pytest.raises(ValueError, match="method='fast'"):
        prt.complete(_model(), np.zeros((1, 3, 3, 3)), 1, method="fast")


def test_progress_bar_only_when_verbose(capsys):
    model = _model(shape=(3, 2, 1))
    quiet = prt.sample(model, 2, seed=4)
    assert capsys.readouterr().out == ""
    loud = prt.sample(model, 2, seed=4, verbose=1)
    out = capsys.readouterr().out
    assert "3/3" in out and "row" in out
    np.testing.assert_array_equal(quiet, loud)
    with pytest.raises(ValueError, match="Received: verbose=2"):
        prt.sample(model, 1, verbose=2)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("known", [-1, 10, 2.5, True])
def test_complete_rejects_num_known_pixels_out_of_range(known, method):
    model = _model()
    with pytest.raises(ValueError, match="Received: num_known_pixels="):
        prt.complete(
            model, np.zeros((1, 3, 3, 3)), num_known_pixels=known, method=method
        )


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"temperature": 0.0}, "temperature=0.0"),
        ({"temperature": float("nan")}, "temperature=nan"),
        ({"num_images": -1}, "num_images=-1"),
        ({"seed": "a"}, "seed='a'"),
        ({"seed": 2**64}, "seed=18446744073709551616"),
        ({"batch_size": 0}, "Received: 0"),
        ({"temperature": "hot"}, "temperature='hot'"),
    ],
)
@pytest.mark.parametrize("method", METHODS)
def test_sample_rejects_bad_arguments(kwargs, match, method):
    args = {"num_images": 1, "seed": 0, "method": method}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        prt.sample(_model(), **args)


@pytest.mark.parametrize("architecture", prt.ARCHITECTURES)
def test_xla_compiled_sampling_draws_the_same_images(architecture):
    model = _random_model(architecture, (2, 5, 3))
    images = np.random.default_rng(2).integers(0, 4, (2, 2, 5, 3))
    np.testing.assert_array_equal(
        prt.sample(model, 3, seed=5, jit_compile=True),
        prt.sample(model, 3, seed=5),
    )
    np.testing.assert_array_equal(
        prt.complete(model, images, 3, seed=1, jit_compile=True),
        prt.complete(model, images, 3, seed=1),
    )


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"jit_compile": "yes"}, "jit_compile='yes'"),
    ],
)
def test_jit_compile_argument_is_checked(kwargs, match):
    with pytest.raises(ValueError, match=match):
        prt.sample(_model(), 1, **kwargs)
