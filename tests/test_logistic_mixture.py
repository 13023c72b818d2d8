"""The discretized logistic mixture head (PixelCNN++ §2.1): exact masses,
normalisation, causality, sampling, numerical safety and the `fit` path."""

import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy import special
from scipy import stats

import pixelrnn_tf as prt
from pixelrnn_tf import logistic_mixture
from pixelrnn_tf import losses
from pixelrnn_tf.samplers import METHODS
from serving import export
from tests import helpers
from tests import test_sampling
from tests.helpers import POLICIES
from tests.test_causality import _check_model_context
from tests.test_causality import _small_model
from tests.test_likelihood import _all_images

MIXTURE = {"head": "logistic_mixture", "num_mixtures": 2}


def _model(*args, **kw):
    """A tiny model of `tests.test_sampling` with the mixture head."""
    return test_sampling._model(*args, **{**MIXTURE, **kw})


def _randomise(model, scale=0.5, seed=1):
    rng = np.random.default_rng(seed)
    for w in model.weights:  # sharper than the initialisation
        w.assign(rng.normal(size=w.shape) * scale)
    return model


def _parameters(n, k, seed=0, extreme=True):
    """(n, 3k) mixture parameters; extreme: sharp, far and flat ones."""
    rng = np.random.default_rng(seed)
    if not extreme:
        return np.concatenate(
            [rng.normal(size=(n, k)), rng.uniform(-1.2, 1.2, (n, k)),
             rng.uniform(-4, 0.5, (n, k))], axis=-1
        ).astype("float32")
    means = rng.choice([-80.0, -1.0, -0.3, 0.0, 0.7, 1.0, 90.0], (n, k))
    means += rng.normal(size=(n, k)) * 0.01
    log_scales = rng.choice([-30.0, -7.0, -3.0, 0.0, 7.0, 30.0], (n, k))
    logits = rng.normal(size=(n, k)) * 10
    return np.concatenate([logits, means, log_scales], -1).astype("float32")


# === The distribution ===


@pytest.mark.parametrize("levels", [2, 3, 4, 256])
def test_masses_sum_to_one_for_extreme_parameters(levels):
    log_p = np.asarray(logistic_mixture.log_probs(_parameters(500, 3), levels))
    assert log_p.shape == (500, levels) and np.isfinite(log_p).all()
    np.testing.assert_allclose(np.exp(log_p).sum(-1), 1.0, rtol=0, atol=1e-4)


@pytest.mark.parametrize("levels", [2, 5, 256])
def test_masses_equal_a_float64_reference(levels):
    params = _parameters(200, 3, extreme=False)
    logits, means, log_scales = np.split(params.astype("float64"), 3, -1)
    weights = special.softmax(logits, -1)[..., None]
    edges = (np.arange(1, levels) * 2.0 - 1) / (levels - 1) - 1
    cdf = special.expit(
        (edges - means[..., None]) * np.exp(-log_scales)[..., None]
    )
    cdf = np.concatenate([0 * cdf[..., :1], cdf, 1 + 0 * cdf[..., :1]], -1)
    expected = (weights * np.diff(cdf, axis=-1)).sum(-2)
    got = np.exp(np.asarray(logistic_mixture.log_probs(params, levels)))
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("levels", [2, 4, 256])
def test_direct_nll_equals_the_table(levels):
    params = np.concatenate(
        [_parameters(300, 3), _parameters(300, 3, seed=1, extreme=False)]
    )
    table = np.asarray(logistic_mixture.log_probs(params, levels))
    observed = np.random.default_rng(2).integers(0, levels, len(params))
    observed[:3] = [0, levels - 1, levels // 2]  # both edges
    nll = np.asarray(logistic_mixture.nll(observed, params, levels))
    expected = -table[np.arange(len(params)), observed]
    np.testing.assert_allclose(nll, expected, rtol=1e-5, atol=1e-4)


def test_a_sharp_logistic_puts_its_mass_on_its_level():
    # One component at level 3 of 8, one far left, one far right.
    means = np.array([3 * 2 / 7 - 1, -50.0, 50.0], "float32")[:, None]
    params = np.concatenate([np.zeros_like(means), means, means * 0 - 7], -1)
    p = np.exp(np.asarray(logistic_mixture.log_probs(params, 8)))
    np.testing.assert_allclose(p[:, [3, 0, 7]].diagonal(), 1.0, atol=1e-6)


# === The models ===


@pytest.mark.parametrize("architecture", prt.ARCHITECTURES)
@pytest.mark.parametrize(
    "shape, levels", [((2, 2, 1), 3), ((1, 2, 3), 2), ((1, 1, 3), 4)]
)
def test_probabilities_of_all_images_sum_to_one(architecture, shape, levels):
    model = _randomise(_model(architecture, shape, levels, num_layers=2))
    images = _all_images(shape, levels)
    log_p = prt.log_prob(model, images, batch_size=32)
    assert abs(np.exp(log_p).sum() - 1.0) < 1e-4
    # The direct likelihood equals the (B, H, W, C, L) table's.
    table = -np.asarray(losses.nll_nats(images, model(images)))
    np.testing.assert_allclose(log_p, table, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("emit_parameters", [False, True])
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("architecture", prt.ARCHITECTURES)
def test_model_jacobian_is_causal_and_exact(
    architecture, channels, emit_parameters
):
    # The table `model(images)` returns and the parameters `fit` reads.
    outputs = _parameters_of if emit_parameters else None
    _check_model_context(
        architecture, channels, "float32", outputs=outputs, **MIXTURE
    )


def _parameters_of(model):
    def parameters(x):
        with model._emitting_parameters(True):
            return model(x)

    return parameters


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("architecture", prt.ARCHITECTURES)
def test_model_ignores_future_perturbations(architecture, channels):
    model = _small_model(
        architecture, channels, image_shape=(3, 3, channels), **MIXTURE
    )
    helpers.future_perturbation_check(model, model.image_shape, 4)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("architecture", prt.ARCHITECTURES)
@pytest.mark.parametrize("shape, levels", [((1, 2, 1), 3), ((1, 1, 3), 2)])
def test_samples_follow_the_model_distribution(
    architecture, shape, levels, method
):
    model = _randomise(_model(architecture, shape, levels))
    n = int(np.prod(shape))
    images = np.array(list(itertools.product(range(levels), repeat=n)))
    probs = np.exp(
        prt.log_prob(model, images.reshape(-1, *shape)), dtype="float64"
    )
    assert probs.max() < 0.9  # a distribution worth testing
    draws = prt.sample(model, 3000, seed=3, batch_size=1000, method=method)
    index = draws.reshape(-1, n) @ (levels ** np.arange(n)[::-1])
    counts = np.bincount(index, minlength=len(images))
    _, p_value = stats.chisquare(counts, probs / probs.sum() * len(draws))
    assert p_value > 1e-3, (counts, probs)


@pytest.mark.parametrize("architecture", prt.ARCHITECTURES)
def test_step_form_and_samplers_agree_with_the_call(architecture):
    model = _randomise(_model(architecture, (2, 5, 3), num_layers=2))
    images = np.random.default_rng(0).integers(0, 4, (2, 2, 5, 3))
    images = tf.constant(images, tf.float32)
    full = model(images)
    for stepped in (
        helpers.step_outputs(model, images),
        helpers.colour_pass_logits(model, images),
    ):
        np.testing.assert_allclose(stepped, full, atol=1e-4, rtol=0)
    cached = prt.sample(model, 4, seed=1)
    np.testing.assert_array_equal(
        cached, prt.sample(model, 4, seed=1, method="naive")
    )


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("fill", [0, 255])
def test_loss_and_gradients_are_finite_at_the_extremes(policy, fill):
    keras.config.set_dtype_policy(policy)
    model = _model("pixel_cnn", (4, 4, 3), 256, hidden_dim=12)
    images = np.full((2, 4, 4, 3), fill, "uint8")
    for scale in (None, 3.0):  # the initialisation; saturated units
        if scale:
            _randomise(model, scale)
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(model.subpixel_nll(images, images))
        grads = tape.gradient(loss, model.trainable_weights)
        assert np.isfinite(loss.numpy())
        assert all(np.isfinite(g.numpy()).all() for g in grads)
    table = model(images)
    assert table.dtype == tf.float32 and np.isfinite(table.numpy()).all()
    model.compile(optimizer=keras.optimizers.Adam(0.1))
    history = model.fit(images, epochs=3, verbose=0).history
    assert np.isfinite(history["loss"]).all()
    assert all(np.isfinite(w.numpy()).all() for w in model.weights)


def test_fit_reads_parameters_and_scores_like_the_table():
    model = _randomise(_model("row_lstm", (3, 3, 3), 8), scale=0.3)
    images = np.random.default_rng(0).integers(0, 8, (8, 3, 3, 3))
    model.compile()
    assert isinstance(model.loss, prt.DiscretizedLogisticMixtureNLL)
    direct = model.evaluate(images, verbose=0, return_dict=True)
    log_p = prt.log_prob(model, images)
    np.testing.assert_allclose(direct["nll_nats"], -log_p.mean(), rtol=1e-5)
    np.testing.assert_allclose(direct["loss"], -log_p.mean() / 27, rtol=1e-5)
    # A user's softmax loss reads the table that `model(images)` returns.
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(True))
    table = model.evaluate(images, verbose=0, return_dict=True)
    np.testing.assert_allclose(table["loss"], direct["loss"], rtol=1e-5)
    # So do your own metrics, and then the auto loss too.
    model.compile(metrics=[prt.BitsPerDim()])
    assert not isinstance(model.loss, prt.DiscretizedLogisticMixtureNLL)
    mine = model.evaluate(images, verbose=0, return_dict=True)
    np.testing.assert_allclose(
        mine["bits_per_dim"], direct["bits_per_dim"], rtol=1e-5
    )
    model.compile(optimizer=keras.optimizers.Adam(0.01))
    before = model.evaluate(images, verbose=0)
    model.fit(images, epochs=20, batch_size=8, verbose=0)
    assert model.evaluate(images, verbose=0)[0] < before[0] - 0.1
    assert not model.get_layer("head").emit_parameters
    assert model(images).shape == (8, 3, 3, 3, 8)


def test_save_and_load_keep_the_head_and_its_loss(tmp_path):
    model = _randomise(_model("diagonal_bilstm", (3, 4, 3), num_mixtures=3))
    model.compile()
    images = np.random.default_rng(0).integers(0, 4, (2, 3, 4, 3))
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert loaded.head_type == "logistic_mixture" and loaded.num_mixtures == 3
    assert isinstance(loaded.loss, prt.DiscretizedLogisticMixtureNLL)
    np.testing.assert_array_equal(loaded(images), model(images))
    np.testing.assert_allclose(
        loaded.evaluate(images, verbose=0), model.evaluate(images, verbose=0)
    )


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_outputs_are_normalised_float32_under_mixed_precision(policy):
    keras.config.set_dtype_policy(policy)
    model = _model("row_lstm")
    out = model(np.zeros((2, 3, 3, 3)))
    assert out.dtype == tf.float32
    np.testing.assert_allclose(
        tf.reduce_logsumexp(out, axis=-1), 0.0, atol=1e-5
    )


@pytest.mark.parametrize(
    "fields, match",
    [
        ({"head": "gaussian"}, "head='gaussian'"),
        ({"num_mixtures": 5}, "num_mixtures=5"),
        ({"head": "logistic_mixture", "num_mixtures": 0}, "num_mixtures=0"),
    ],
)
def test_config_rejects_bad_heads(fields, match):
    with pytest.raises(ValueError, match="Received: .*" + match):
        prt.ModelConfig(**fields)
    with pytest.raises(ValueError, match="Received: .*" + match):
        prt.PixelCNN((2, 2, 1), num_levels=4, hidden_dim=3, **fields)


def test_conditional_and_multi_scale_models_are_normalised():
    conditional = _randomise(_model("pixel_cnn", (1, 1, 3), 4, num_classes=2))
    images = _all_images((1, 1, 3), 4)
    for label in (0, 1):
        labels = np.full(len(images), label)
        total = np.exp(prt.log_prob(conditional, images, labels=labels)).sum()
        assert abs(total - 1.0) < 1e-4
    multi = _randomise(
        _model("row_lstm", (2, 2, 1), 3, multi_scale_factor=2)
    )
    images = _all_images((2, 2, 1), 3)
    assert abs(np.exp(prt.log_prob(multi, images)).sum() - 1.0) < 1e-4
    multi.compile()  # both networks' heads emit parameters in `fit`
    assert len(multi._mixture_heads()) == 2 and multi._trains_on_parameters()
    loss = multi.evaluate(images, verbose=0)[0]
    np.testing.assert_allclose(
        loss, -prt.log_prob(multi, images).mean() / 4, rtol=1e-5
    )


def test_the_served_model_equals_the_library(tmp_path):
    model = _randomise(_model("pixel_cnn", (3, 3, 3), 4))
    path = export.export_for_serving(model, str(tmp_path), max_images=4)
    sig = tf.saved_model.load(path).signatures
    x = np.random.default_rng(0).integers(0, 4, (3, 3, 3, 3)).astype("uint8")
    np.testing.assert_allclose(
        sig["log_prob"](images=tf.constant(x))["log_prob"].numpy(),
        prt.log_prob(model, x),
        rtol=1e-5,
    )
    served = sig["sample"](
        num_images=tf.constant(3),
        seed=tf.constant(4, tf.int64),
        temperature=tf.constant(1.0),
    )["images"].numpy()
    np.testing.assert_array_equal(served, prt.sample(model, 3, seed=4))


@pytest.mark.parametrize("method", METHODS)
def test_complete_keeps_the_prefix(method):
    model = _randomise(_model("row_lstm", (2, 3, 3), 4))
    images = np.random.default_rng(0).integers(0, 4, (2, 2, 3, 3))
    done = prt.complete(model, images, 4, seed=1, method=method)
    flat = done.reshape(2, -1)
    np.testing.assert_array_equal(flat[:, :12], images.reshape(2, -1)[:, :12])
    assert done.min() >= 0 and done.max() < 4


def test_the_distributed_loop_scores_like_log_prob():
    from pixelrnn_tf.config import TrainConfig
    from train.distributed_loop import fit_distributed

    model = _randomise(_model("pixel_cnn", (3, 3, 3), 8), scale=0.3)
    model.compile(optimizer=keras.optimizers.SGD(0.0))  # weights stay
    images = np.random.default_rng(0).integers(0, 8, (8, 3, 3, 3))
    data = tf.data.Dataset.from_tensor_slices(images).batch(4)
    train = TrainConfig(
        batch_size=4, epochs=1, steps_per_epoch=2, validation_steps=2,
        verbose=0,
    )
    history = fit_distributed(
        model, tf.distribute.get_strategy(), data, data, train, []
    )
    expected = -prt.log_prob(model, images).mean() / 27
    np.testing.assert_allclose(history.history["loss"], [expected], rtol=1e-5)
    np.testing.assert_allclose(
        history.history["val_loss"], [expected], rtol=1e-5
    )


def test_the_small_cifar10_config_uses_the_mixture_head():
    from train import config_files

    config = config_files.load("cifar10_pixel_cnn_mixture_small")
    assert config.model.head == "logistic_mixture"
    model = prt.build_model(config.model)
    assert model.get_layer("head").num_mixtures == 10
    # the quality benchmark's recipe, step-based: warm-up, then decay
    # over the rest of one epoch of CIFAR-10 at batch 16
    train = config.train
    assert (train.lr_schedule, train.lr_warmup_steps) == ("cosine", 200)
    assert train.lr_warmup_steps + train.lr_decay_steps == 50_000 // 16
