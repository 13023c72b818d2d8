import json

import keras
import numpy as np
import pytest

import pixelrnn_tf as prt
from tests.conftest import DATA_DIR

TINY = dict(image_shape=(4, 4, 3), num_levels=4, hidden_dim=6, num_layers=2)


def _images(n=4, shape=(4, 4, 3), levels=4, seed=0):
    return np.random.default_rng(seed).integers(0, levels, (n, *shape))


@pytest.mark.parametrize("architecture", prt.ARCHITECTURES)
def test_logits_shape_and_dtype_for_any_input_dtype(architecture):
    model = prt.build_model(prt.ModelConfig(architecture=architecture, **TINY))
    x = _images()
    reference = np.asarray(model(x.astype("float32")))
    assert reference.shape == (4, 4, 4, 3, 4)
    for dtype in ("uint8", "int32", "int64", "float16", "float64"):
        logits = model(x.astype(dtype))
        assert keras.backend.standardize_dtype(logits.dtype) == "float32"
        np.testing.assert_allclose(np.asarray(logits), reference, atol=1e-6)


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_logits_are_float32_under_mixed_precision(policy):
    keras.config.set_dtype_policy(policy)
    model = prt.build_model(prt.ModelConfig(architecture="row_lstm", **TINY))
    logits = model(_images())
    assert keras.backend.standardize_dtype(logits.dtype) == "float32"
    assert model.get_layer("block_0").compute_dtype == policy[6:]
    assert model.get_layer("head").compute_dtype == "float32"


@pytest.mark.parametrize("architecture", prt.ARCHITECTURES)
def test_save_and_load_give_identical_logits(architecture, tmp_path):
    model = prt.build_model(
        prt.ModelConfig(
            architecture=architecture, use_skip_connections=True, **TINY
        )
    )
    model.compile()
    model.fit(_images(8), epochs=1, verbose=0)
    path = tmp_path / "m.keras"
    model.save(path)
    restored = keras.saving.load_model(path)  # no custom_objects
    assert type(restored) is type(model)
    x = _images(seed=1)
    np.testing.assert_array_equal(np.asarray(model(x)), np.asarray(restored(x)))
    assert restored.optimizer is not None  # compiled from the saved config
    restored.fit(_images(8), epochs=1, verbose=0)


@pytest.mark.parametrize("architecture", prt.ARCHITECTURES)
def test_model_config_round_trip(architecture):
    config = prt.ModelConfig(architecture=architecture, **TINY)
    model = prt.build_model(config)
    model_config = model.get_config()
    for key, value in config.to_dict().items():
        if key == "architecture":
            assert model.architecture == value
        elif key == "multi_scale_factor":  # a MultiScalePixelRNN's
            assert value is None and key not in model_config
        elif key == "close_blind_spot":  # None: on for the Diagonal BiLSTM
            closed = architecture == "diagonal_bilstm"
            assert model_config.get(key, False) == closed
        else:
            assert model_config[key] == value, key
    clone = type(model).from_config(json.loads(json.dumps(model_config)))
    assert clone.count_params() == model.count_params()


def test_close_blind_spot_adds_no_weights_and_round_trips(tmp_path):
    shape = (3, 6, 3)
    config = prt.ModelConfig(
        architecture="diagonal_bilstm", **dict(TINY, image_shape=shape)
    )
    closed = prt.build_model(config)
    literal = prt.build_model(config.replace(close_blind_spot=False))
    literal.set_weights(closed.get_weights())  # the same weights
    x = _images(shape=shape)
    diff = np.abs(np.asarray(closed(x)) - np.asarray(literal(x)))
    assert diff[:, 0].max() == 0  # row 0 never sees the previous row
    assert diff[:, 1:].max() > 0
    path = tmp_path / "literal.keras"
    literal.save(path)
    restored = keras.saving.load_model(path)
    assert restored.close_blind_spot is False
    np.testing.assert_array_equal(np.asarray(restored(x)), literal(x))
    # A model saved before the option existed is the paper-literal stack.
    legacy = literal.get_config()
    del legacy["close_blind_spot"]
    assert type(literal).from_config(legacy).close_blind_spot is False
    with pytest.raises(ValueError, match="Diagonal BiLSTM only"):
        prt.PixelRNN("row_lstm", shape, close_blind_spot=True)


def test_fit_trains_on_images_alone_with_nll_metrics():
    model = prt.build_model(prt.ModelConfig(architecture="pixel_cnn", **TINY))
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    x = np.tile(_images(1), (16, 1, 1, 1))  # one image: easy to memorise
    history = model.fit(x, epochs=5, batch_size=8, verbose=0).history
    assert set(history) == {"loss", "nll_nats", "bits_per_dim"}
    assert history["loss"][-1] < history["loss"][0]
    dims = 4 * 4 * 3
    np.testing.assert_allclose(
        history["nll_nats"][-1] / dims, history["bits_per_dim"][-1] * np.log(2),
        rtol=1e-3,
    )
    evaluated = model.evaluate(x, verbose=0, return_dict=True)
    np.testing.assert_allclose(
        evaluated["nll_nats"], -prt.log_prob(model, x).mean(), rtol=1e-4
    )


def test_first_training_step_traces_once():
    # Keras would build Adam's slots inside the first trace, and tf.function
    # would then trace the whole step again: twice the first step's cost.
    model = prt.build_model(prt.ModelConfig(architecture="row_lstm", **TINY))
    model.compile()
    traces = []
    train_step = model.train_step
    model.train_step = lambda data: traces.append(1) or train_step(data)
    model.train_on_batch(_images(2))
    model.train_on_batch(_images(2, seed=1))
    assert len(traces) == 1
    assert int(model.optimizer.iterations) == 2
    assert len(model.optimizer.variables) > len(model.trainable_weights)


@pytest.mark.parametrize("jit_compile", [True, False])
@pytest.mark.parametrize("architecture", prt.ARCHITECTURES)
def test_fit_step_with_and_without_xla(architecture, jit_compile):
    model = prt.build_model(
        prt.ModelConfig(architecture=architecture, **TINY)
    )
    model.compile(jit_compile=jit_compile)
    before = [w.numpy().copy() for w in model.trainable_weights]
    history = model.fit(_images(4), epochs=1, batch_size=4, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    changed = [
        not np.array_equal(b, w.numpy())
        for b, w in zip(before, model.trainable_weights)
    ]
    assert all(changed), "every weight receives a gradient"


def test_every_preset_builds_with_the_paper_size():
    from pixelrnn_tf.config import PAPER_HIDDEN_DIM

    sizes = {  # (layers, paper h), paper §5.2 and Tables 3-5
        "binarized_mnist_diagonal_bilstm": (7, 16),
        "cifar10_row_lstm": (12, 128),
        "cifar10_diagonal_bilstm": (12, 128),
        "cifar10_pixel_cnn": (15, 128),
        "imagenet32_row_lstm": (12, 384),
        "imagenet64_row_lstm": (4, 512),
    }
    parameters = {  # as the README's preset table gives them
        "binarized_mnist_diagonal_bilstm": 65_218,
        "binarized_mnist_row_lstm": 71_714,
        "binarized_mnist_pixel_cnn": 26_466,
        "cifar10_diagonal_bilstm": 8_583_936,
        "cifar10_row_lstm": 9_361_152,
        "cifar10_pixel_cnn": 4_290_816,
        "imagenet32_row_lstm": 76_052_224,
        "imagenet64_row_lstm": 41_850_624,
    }
    assert set(PAPER_HIDDEN_DIM) == set(prt.PRESETS) == set(parameters)
    for name in prt.PRESETS:
        config = prt.ModelConfig.preset(name)
        paper_h = PAPER_HIDDEN_DIM[name]
        if name in sizes:
            assert (config.num_layers, paper_h) == sizes[name]
            assert config.hidden_dim == paper_h  # uneven R|G|B groups
        # the output stack: 32 maps for MNIST, 1024 otherwise (§4)
        assert config.output_dim == (32 if "mnist" in name else 1024)
        model = prt.build_model(name)
        assert model.image_shape == config.image_shape
        assert model.count_params() == parameters[name]
        keras.backend.clear_session()
    assert not prt.ModelConfig.preset("imagenet64_row_lstm").use_residual


def test_summary_cli_prints_parameter_counts(capsys):
    from pixelrnn_tf import summary

    assert summary.main(["binarized_mnist_pixel_cnn"]) == 0
    out = capsys.readouterr().out
    model = prt.build_model("binarized_mnist_pixel_cnn")
    assert f"{model.count_params():,d} parameters" in out
    with pytest.raises(SystemExit):
        summary.main(["no_such_preset"])


@pytest.mark.parametrize("architecture", prt.ARCHITECTURES)
def test_softmax_models_saved_before_the_mixture_head_load_bit_for_bit(
    architecture,
):
    # Tiny models saved by the release before `head` existed (see
    # tests/data/README.md): the softmax head's logits are unchanged.
    folder = DATA_DIR / "saved_models"
    expected = np.load(folder / "logits.npz")
    model = keras.saving.load_model(folder / f"{architecture}.keras")
    assert model.head_type == "softmax" and model.num_mixtures is None
    np.testing.assert_array_equal(
        np.asarray(model(expected["images"])), expected[architecture]
    )
