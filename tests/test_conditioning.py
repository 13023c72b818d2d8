"""Conditioning: class-conditional models and the conditioning path of
every layer (a global vector or a spatial map added to the input-to-state
pre-activations).

The condition depends on nothing of the image modelled, so it must open no
path: the exact Jacobians of conditional layers and models have the same
non-zero pattern as the unconditional ones. The step form reproduces the
full map with a condition; the likelihood normalises for every class; the
samplers draw from p(x | y).
"""

import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

import pixelrnn_tf as prt
from pixelrnn_tf import layers
from tests import helpers

CONDITION_DIM = 5


def _conditions(batch, height, width):
    rng = np.random.default_rng(7)
    return {
        "global": tf.constant(rng.normal(size=(batch, CONDITION_DIM)) * 2),
        "spatial": tf.constant(
            rng.normal(size=(batch, height, width, CONDITION_DIM)) * 2
        ),
    }


LAYERS = {
    "masked_conv_b": lambda c, dim: layers.MaskedConv2D(
        6, 3, "B", condition_dim=dim
    ),
    "row_lstm": lambda c, dim: layers.RowLSTM(6, condition_dim=dim),
    "diagonal_lstm": lambda c, dim: layers.DiagonalLSTM(6, condition_dim=dim),
    "diagonal_bilstm": lambda c, dim: layers.DiagonalBiLSTM(
        6, condition_dim=dim
    ),
    "pixel_cnn_block": lambda c, dim: layers.PixelCNNResidualBlock(
        6, condition_dim=dim
    ),
    "pixel_rnn_block": lambda c, dim: layers.PixelRNNResidualBlock(
        "diagonal_bilstm", 6, condition_dim=dim
    ),
}


def _randomise(weights, seed=1):
    rng = np.random.default_rng(seed)
    for w in weights:  # the class projections strong: the classes differ
        scale = 3.0 if "condition_kernel" in w.path else 0.5
        w.assign(rng.normal(size=w.shape) * scale)


@pytest.mark.parametrize("kind", ["global", "spatial"])
@pytest.mark.parametrize("name", sorted(LAYERS))
def test_conditional_layer_step_form_reproduces_the_call(name, kind):
    x = tf.constant(np.random.default_rng(0).normal(size=(2, 3, 5, 12)))
    x = tf.cast(x, "float32")
    condition = tf.cast(_conditions(2, 3, 5)[kind], "float32")
    layer = LAYERS[name](3, CONDITION_DIM)
    layer(x, condition)
    _randomise(layer.weights)
    full = layer(x, condition).numpy()
    unconditioned = layer(x, tf.zeros_like(condition)).numpy()
    assert np.abs(full - unconditioned).max() > 0.1  # the condition counts
    stepped = helpers.step_outputs(layer, x, condition).numpy()
    np.testing.assert_allclose(stepped, full, atol=1e-4, rtol=0)
    passes = helpers.colour_pass_outputs(layer, x, 3, condition=condition)
    np.testing.assert_allclose(passes.numpy(), full, atol=1e-4, rtol=0)


@pytest.mark.parametrize("kind", ["global", "spatial"])
@pytest.mark.parametrize("name", sorted(LAYERS))
def test_conditioning_opens_no_path_in_a_layer(name, kind):
    shape = (3, 5, 3)

    def jacobian(dim):
        first = layers.MaskedConv2D(24, 3, "A", color_channels=3)
        layer = LAYERS[name](3, dim)
        condition = tf.cast(_conditions(2, 3, 5)[kind], "float32")
        args = () if dim is None else (condition,)
        return helpers.raster_jacobian(
            lambda x: layer(first(x), *args), shape, num_levels=4
        )

    conditional = jacobian(CONDITION_DIM)
    helpers.assert_autoregressive(conditional)
    np.testing.assert_array_equal(conditional != 0, jacobian(None) != 0)


def test_conditional_layers_check_their_condition():
    layer = layers.MaskedConv2D(6, 3, "B", condition_dim=4)
    x = np.zeros((2, 3, 3, 3), "float32")
    with pytest.raises(ValueError, match="pass `condition`. Received: None"):
        layer(x)
    with pytest.raises(ValueError, match="Received: condition of shape"):
        layer(x, np.zeros((2, 5), "float32"))
    with pytest.raises(ValueError, match="Received: condition of shape"):
        layer(x, np.zeros((2, 3, 4, 4), "float32"))  # not the inputs' W
    with pytest.raises(ValueError, match="no conditioning input"):
        layers.MaskedConv2D(6, 3, "B")(x, np.zeros((2, 4), "float32"))


def _model(architecture, shape, num_classes=3, **overrides):
    config = dict(
        architecture=architecture,
        image_shape=shape,
        num_levels=4,
        hidden_dim=12,
        num_layers=1,
        input_kernel_size=3,
        num_classes=num_classes,
    )
    config.update(overrides)
    return prt.build_model(prt.ModelConfig(**config))


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("architecture", prt.ARCHITECTURES)
def test_class_conditional_model_is_causal_and_sees_the_same(
    architecture, channels
):
    shape = (3, 6, channels)
    labels = tf.constant([2, 0])

    def jacobian(num_classes):
        model = _model(architecture, shape, num_classes)
        if num_classes is None:
            return helpers.raster_jacobian(model, shape, 4)
        model.get_layer("block_0")  # random conditioning weights
        return helpers.raster_jacobian(
            lambda x: model({"images": x, "labels": labels}), shape, 4
        )

    conditional = jacobian(3)
    helpers.assert_autoregressive(conditional)
    np.testing.assert_array_equal(conditional != 0, jacobian(None) != 0)


@pytest.mark.parametrize("architecture", prt.ARCHITECTURES)
def test_class_conditional_step_form_reproduces_the_logits(architecture):
    shape = (3, 6, 3)
    model = _model(architecture, shape, hidden_dim=6, num_layers=2)
    _randomise(model.weights)
    rng = np.random.default_rng(0)
    images = tf.constant(rng.integers(0, 4, (3, *shape)), tf.float32)
    labels = tf.constant([0, 2, 1])
    full = model({"images": images, "labels": labels}).numpy()
    other = model({"images": images, "labels": labels * 0 + 1}).numpy()
    assert np.abs(full - other).max() > 0.1
    stepped = helpers.step_outputs(model, images, labels).numpy()
    np.testing.assert_allclose(stepped, full, atol=1e-4, rtol=0)
    passes = helpers.colour_pass_logits(model, images, labels=labels)
    np.testing.assert_allclose(passes.numpy(), full, atol=1e-4, rtol=0)


def _all_images(shape, levels):
    n = int(np.prod(shape))
    grid = np.array(list(itertools.product(range(levels), repeat=n)))
    return grid.reshape(-1, *shape)


@pytest.mark.parametrize("architecture", prt.ARCHITECTURES)
def test_probabilities_sum_to_one_for_every_class(architecture):
    shape = (2, 2, 1)
    model = _model(architecture, shape, num_levels=3, hidden_dim=6)
    _randomise(model.weights)
    images = _all_images(shape, 3)  # 81 images
    totals, per_class = [], []
    for label in range(3):
        labels = np.full(len(images), label)
        p = np.exp(prt.log_prob(model, images, labels=labels).astype("f8"))
        totals.append(p.sum())
        per_class.append(p)
    np.testing.assert_allclose(totals, 1.0, atol=1e-4)
    assert np.abs(per_class[0] - per_class[1]).max() > 1e-3


@pytest.mark.parametrize("method", prt.samplers.METHODS)
@pytest.mark.parametrize("architecture", prt.ARCHITECTURES)
def test_samples_follow_the_class_conditional_distribution(
    architecture, method
):
    shape, levels = (1, 2, 1), 3
    model = _model(architecture, shape, 2, num_levels=levels, hidden_dim=6)
    _randomise(model.weights, seed=4)
    images = _all_images(shape, levels)  # 9 images
    index_of = levels ** np.arange(2)[::-1]
    probs = []
    for label in (0, 1):
        labels = np.full(len(images), label)
        p = np.exp(prt.log_prob(model, images, labels=labels), dtype="f8")
        draws = prt.sample(
            model, 2000, seed=label, batch_size=1000, method=method,
            labels=label,
        )
        counts = np.bincount(
            draws.reshape(-1, 2) @ index_of, minlength=len(images)
        )
        _, p_value = stats.chisquare(counts, p / p.sum() * len(draws))
        assert p_value > 1e-3, (label, counts, p)
        probs.append(p)
    assert np.abs(probs[0] - probs[1]).max() > 0.05  # the classes differ


def test_cached_and_naive_samplers_agree_with_labels():
    model = _model("diagonal_bilstm", (3, 6, 3), hidden_dim=6)
    labels = np.array([0, 1, 2, 1])
    cached = prt.sample(model, 4, seed=5, labels=labels)
    naive = prt.sample(model, 4, seed=5, labels=labels, method="naive")
    np.testing.assert_array_equal(cached, naive)
    completed = prt.complete(model, cached, 7, seed=1, labels=labels)
    np.testing.assert_array_equal(completed.reshape(4, -1)[:, :21],
                                  cached.reshape(4, -1)[:, :21])


def test_bad_labels_are_rejected():
    model = _model("pixel_cnn", (2, 2, 1), 3)
    images = np.zeros((2, 2, 2, 1))
    cases = [
        (dict(), "pass the labels. Received: labels=None"),
        (dict(labels=[0, 3]), "Received: a label of 3"),
        (dict(labels=[0, -1]), "Received: a label of -1"),
        (dict(labels=[0, 0.5]), "Received: a label of 0.5"),
        (dict(labels=[0]), "Received: labels of shape \\(1,\\)"),
    ]
    for kwargs, match in cases:
        with pytest.raises(ValueError, match=match):
            prt.log_prob(model, images, **kwargs)
        with pytest.raises(ValueError, match=match):
            prt.complete(model, images, 1, **kwargs)
    with pytest.raises(ValueError, match="Received: a label of 3"):
        prt.sample(model, 2, labels=3)
    with pytest.raises(ValueError, match="Received: a label of 3"):
        model({"images": images, "labels": np.array([3, 0])})
    with pytest.raises(ValueError, match="Received: keys \\['image'"):
        model({"image": images, "labels": np.array([1, 0])})
    with pytest.raises(ValueError, match="pass the labels"):
        model(images)
    unconditional = _model("pixel_cnn", (2, 2, 1), None)
    with pytest.raises(ValueError, match="not class-conditional"):
        prt.sample(unconditional, 2, labels=[0, 1])
    # In a graph the labels are checked when it runs.
    fn = tf.function(lambda y: model({"images": images, "labels": y}))
    with pytest.raises(tf.errors.InvalidArgumentError, match="labels must"):
        fn(tf.constant([0, 7]))


def test_fit_on_dicts_and_pairs_and_round_trip(tmp_path):
    model = _model("row_lstm", (3, 4, 1), 3, hidden_dim=6)
    model.compile()
    rng = np.random.default_rng(0)
    images = rng.integers(0, 4, (16, 3, 4, 1))
    labels = rng.integers(0, 3, 16)
    history = model.fit(
        {"images": images, "labels": labels}, epochs=2, batch_size=8,
        verbose=0,
    ).history
    assert set(history) == {"loss", "nll_nats", "bits_per_dim"}
    pairs = tf.data.Dataset.from_tensor_slices((images, labels)).batch(8)
    model.fit(pairs, epochs=1, verbose=0)  # TFDS's as_supervised form
    result = model.evaluate(pairs, verbose=0, return_dict=True)
    expected = -prt.log_prob(model, images, labels=labels).mean()
    np.testing.assert_allclose(result["nll_nats"], expected, rtol=1e-4)
    path = tmp_path / "conditional.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    assert restored.num_classes == 3
    inputs = {"images": images, "labels": labels}
    np.testing.assert_array_equal(restored(inputs), model(inputs))


@pytest.mark.slow
def test_class_conditioning_matters_on_digits():
    # A short fit on the digits with their labels: the true label explains
    # a test image better than a wrong one, and samples of class k look
    # like the digit k to a nearest-centroid classifier of training digits.
    from pixelrnn_tf import data
    from pixelrnn_tf.config import DataConfig

    config = DataConfig(source="digits", labels=True)
    train = data.make_dataset(config, "train", (8, 8, 1), 17, 32, True)
    model = prt.build_model(
        prt.ModelConfig(
            architecture="pixel_cnn",
            image_shape=(8, 8, 1),
            num_levels=17,
            hidden_dim=32,
            num_layers=3,
            input_kernel_size=3,
            num_classes=10,
        )
    )
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    model.fit(train, epochs=8, verbose=0)

    def split(name):
        ds = data.make_dataset(config, name, (8, 8, 1), 17, 4096, False)
        batch = next(iter(ds))
        return batch["images"].numpy(), batch["labels"].numpy()

    images, labels = split("test")
    true = -prt.log_prob(model, images, labels=labels).mean()
    wrong = -prt.log_prob(model, images, labels=(labels + 1) % 10).mean()
    assert true < wrong - 5.0, (true, wrong)  # nats per image

    train_images, train_labels = split("train")
    centroids = np.stack(
        [train_images[train_labels == k].mean(0) for k in range(10)]
    )
    wanted = np.repeat(np.arange(10), 10)
    samples = prt.sample(model, 100, seed=0, labels=wanted)
    distances = ((samples[:, None] - centroids[None]) ** 2).sum((2, 3, 4))
    accuracy = (distances.argmin(1) == wanted).mean()
    assert accuracy > 0.35, accuracy  # chance: 0.1
