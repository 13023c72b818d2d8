"""The SavedModel contract: names, dtypes, results, no XLA, atomic versions."""

import os

import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import prediction_log_pb2

import pixelrnn_tf as prt
from serving import export
from serving import signatures

SHAPE = (4, 4, 3)
CONTRACT = {
    "sample": (
        {"num_images": tf.int32, "seed": tf.int64, "temperature": tf.float32},
        {"images": tf.uint8},
    ),
    "log_prob": (
        {"images": tf.uint8},
        {"log_prob": tf.float32, "bits_per_dim": tf.float32},
    ),
    "complete": (
        {
            "images": tf.uint8,
            "num_known_pixels": tf.int32,
            "seed": tf.int64,
            "temperature": tf.float32,
        },
        {"images": tf.uint8},
    ),
    "model_info": (
        {},
        {
            "num_levels": tf.int32,
            "image_shape": tf.int32,
            "architecture": tf.string,
            "num_classes": tf.int32,
            "multi_scale_factor": tf.int32,
        },
    ),
}
TINY = {"num_levels": 4, "hidden_dim": 6, "num_layers": 1}


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    model = prt.build_model(
        prt.ModelConfig(
            architecture="row_lstm",
            image_shape=SHAPE,
            num_levels=4,
            hidden_dim=6,
            num_layers=1,
        )
    )
    base = tmp_path_factory.mktemp("exports") / "pixelrnn"
    path = export.export_for_serving(model, str(base), max_images=8)
    return model, base, path


def _images(n=3, seed=0):
    return np.random.default_rng(seed).integers(0, 4, (n, *SHAPE)).astype("uint8")


def _sample(loaded, n=2, seed=1):
    return loaded.signatures["sample"](
        num_images=tf.constant(n),
        seed=tf.constant(seed, tf.int64),
        temperature=tf.constant(1.0),
    )["images"].numpy()


def test_version_folder_and_warmup(exported):
    _, base, path = exported
    assert path == os.path.join(str(base), "1")
    assert sorted(os.listdir(base)) == ["1"]  # no temporary leftovers
    records = tf.data.TFRecordDataset(
        os.path.join(path, "assets.extra", "tf_serving_warmup_requests")
    )
    names = []
    for record in records:
        log = prediction_log_pb2.PredictionLog.FromString(record.numpy())
        names.append(log.predict_log.request.model_spec.signature_name)
    assert sorted(names) == sorted(signatures.SIGNATURES)


def test_signature_names_and_dtypes_are_the_contract(exported):
    loaded = tf.saved_model.load(exported[2])
    assert set(loaded.signatures) == set(CONTRACT) | {"serving_default"}
    for name, (inputs, outputs) in CONTRACT.items():
        fn = loaded.signatures[name]
        args, kwargs = fn.structured_input_signature
        assert not args
        assert {k: v.dtype for k, v in kwargs.items()} == inputs
        assert {k: v.dtype for k, v in fn.structured_outputs.items()} == outputs
    default = loaded.signatures["serving_default"]
    assert set(default.structured_input_signature[1]) == set(CONTRACT["sample"][0])


def test_model_info_describes_the_model(exported):
    model, _, path = exported
    out = tf.saved_model.load(path).signatures["model_info"]()
    assert out["num_levels"].numpy() == model.num_levels == 4
    assert tuple(out["image_shape"].numpy()) == model.image_shape == SHAPE
    assert out["architecture"].numpy() == b"row_lstm"
    assert out["num_classes"].numpy() == 0  # takes no labels
    assert out["multi_scale_factor"].numpy() == 1


def test_log_prob_matches_keras(exported):
    model, _, path = exported
    loaded = tf.saved_model.load(path)
    for n in (1, 3):  # any batch size
        x = _images(n)
        out = loaded.signatures["log_prob"](images=tf.constant(x))
        np.testing.assert_allclose(
            out["log_prob"].numpy(), prt.log_prob(model, x), rtol=1e-5
        )
        np.testing.assert_allclose(
            out["bits_per_dim"].numpy(), prt.bits_per_dim(model, x), rtol=1e-5
        )


def test_sample_is_reproducible_across_calls_and_loads(exported):
    path = exported[2]
    first, second = tf.saved_model.load(path), tf.saved_model.load(path)
    a = _sample(first)
    assert a.shape == (2, *SHAPE) and a.dtype == np.uint8 and a.max() < 4
    np.testing.assert_array_equal(a, _sample(first))
    np.testing.assert_array_equal(a, _sample(second))
    assert not np.array_equal(a, _sample(first, seed=2))


@pytest.mark.parametrize("method", ["cached", "naive"])
def test_sample_signature_equals_prt_sample(exported, method):
    # The signature runs the cached sampler; both methods draw the same
    # images for a seed, so the served images equal the library's.
    model, _, path = exported
    served = _sample(tf.saved_model.load(path), n=3, seed=11)
    np.testing.assert_array_equal(
        served, prt.sample(model, 3, seed=11, method=method)
    )


def test_complete_signature_equals_prt_complete(exported):
    model, _, path = exported
    x = _images(2, seed=3)
    out = tf.saved_model.load(path).signatures["complete"](
        images=tf.constant(x),
        num_known_pixels=tf.constant(5),
        seed=tf.constant(4, tf.int64),
        temperature=tf.constant(0.7),
    )["images"].numpy()
    expected = prt.complete(model, x, 5, seed=4, temperature=0.7)
    np.testing.assert_array_equal(out, expected)


def test_complete_keeps_the_known_prefix(exported):
    loaded = tf.saved_model.load(exported[2])
    x = _images(2)
    out = loaded.signatures["complete"](
        images=tf.constant(x),
        num_known_pixels=tf.constant(6),
        seed=tf.constant(0, tf.int64),
        temperature=tf.constant(1.0),
    )["images"].numpy()
    np.testing.assert_array_equal(out.reshape(2, -1)[:, :18], x.reshape(2, -1)[:, :18])


@pytest.mark.parametrize(
    "name, kwargs, match",
    [
        ("sample", {"num_images": 0}, "num_images must lie in \\[1, 8\\]"),
        ("sample", {"num_images": 9}, "Received:\\] \\[9\\]"),
        ("sample", {"temperature": 0.0}, "temperature"),
        ("log_prob", {"images": 9}, "max level\\] \\[9\\]"),
        ("complete", {"num_known_pixels": 17}, "num_known_pixels"),
        ("complete", {"num_known_pixels": -1}, "num_known_pixels"),
    ],
)
def test_bad_inputs_fail_inside_the_graph(exported, name, kwargs, match):
    loaded = tf.saved_model.load(exported[2])
    values = {
        "num_images": tf.constant(1),
        "seed": tf.constant(0, tf.int64),
        "temperature": tf.constant(1.0),
        "images": tf.constant(_images(1)),
        "num_known_pixels": tf.constant(4),
    }
    for key, value in kwargs.items():
        if key == "images":
            values[key] = tf.constant(np.full((1, *SHAPE), value, np.uint8))
        else:
            values[key] = tf.constant(value, values[key].dtype)
    inputs = {k: values[k] for k in CONTRACT[name][0]}
    with pytest.raises(tf.errors.InvalidArgumentError, match=match):
        loaded.signatures[name](**inputs)


def test_no_op_needs_xla(exported):
    loaded = tf.saved_model.load(exported[2])
    ops = set()
    for fn in loaded.signatures.values():
        graph_def = fn.graph.as_graph_def()
        ops |= {node.op for node in graph_def.node}
        for function in graph_def.library.function:
            ops |= {node.op for node in function.node_def}
    assert "While" in ops or "StatelessWhile" in ops  # the sampling loop
    assert not [op for op in ops if op.startswith("Xla")], ops


def test_versions_are_integers_and_never_overwritten(exported, tmp_path):
    model = exported[0]
    base = str(tmp_path / "m")
    assert export.export_for_serving(model, base).endswith(os.sep + "1")
    assert export.export_for_serving(model, base).endswith(os.sep + "2")
    with pytest.raises(ValueError, match="Received: version=2"):
        export.export_for_serving(model, base, version=2)
    with pytest.raises(ValueError, match="Received: version=0"):
        export.export_for_serving(model, base, version=0)


def test_interrupted_export_leaves_no_version(exported, tmp_path, monkeypatch):
    model = exported[0]
    base = tmp_path / "m"
    export.export_for_serving(model, str(base))

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("killed before the rename")

    monkeypatch.setattr(export.os, "rename", crash)
    with pytest.raises(KeyboardInterrupt):
        export.export_for_serving(model, str(base))
    assert sorted(os.listdir(base)) == ["1"]


# A class-conditional model: every signature but model_info takes labels.

COND_SHAPE = (3, 3, 1)
LABELS = np.array([2, 0, 1], np.int32)


def _export_tiny(tmp_path_factory, name, **fields):
    """(model, loaded SavedModel, path) of a tiny Row LSTM `fields` model."""
    config = prt.ModelConfig(architecture="row_lstm", **TINY, **fields)
    model = prt.build_model(config)
    base = tmp_path_factory.mktemp(name)
    path = export.export_for_serving(model, str(base), max_images=8)
    return model, tf.saved_model.load(path), path


@pytest.fixture(scope="module")
def conditional(tmp_path_factory):
    return _export_tiny(
        tmp_path_factory, "conditional", image_shape=COND_SHAPE, num_classes=3
    )


def _cond_images(n=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 4, (n, *COND_SHAPE)).astype("uint8")


def _cond_inputs(name, **changes):
    values = {
        "num_images": tf.constant(3),
        "seed": tf.constant(5, tf.int64),
        "temperature": tf.constant(0.8),
        "images": tf.constant(_cond_images()),
        "num_known_pixels": tf.constant(4),
        "labels": tf.constant(LABELS),
    }
    for key, value in changes.items():
        values[key] = tf.constant(value, values[key].dtype)
    return {k: values[k] for k in [*CONTRACT[name][0], "labels"]}


def test_conditional_signatures_take_labels(conditional):
    model, loaded, path = conditional
    for name, (inputs, outputs) in CONTRACT.items():
        fn = loaded.signatures[name]
        specs = fn.structured_input_signature[1]
        expected = dict(inputs)
        if name != "model_info":
            expected["labels"] = tf.int32
            assert specs["labels"].shape.as_list() == [None]
        assert {k: v.dtype for k, v in specs.items()} == expected
    info = loaded.signatures["model_info"]()
    assert info["num_classes"].numpy() == model.num_classes == 3
    assert info["multi_scale_factor"].numpy() == 1
    records = tf.data.TFRecordDataset(
        os.path.join(path, "assets.extra", "tf_serving_warmup_requests")
    )
    for record in records:  # the warm-up requests carry labels too
        log = prediction_log_pb2.PredictionLog.FromString(record.numpy())
        request = log.predict_log.request
        taken = request.model_spec.signature_name != "model_info"
        assert ("labels" in request.inputs) == taken


def test_conditional_signatures_equal_the_library(conditional):
    model, loaded, _ = conditional
    sig = loaded.signatures
    x = _cond_images()
    served = sig["sample"](**_cond_inputs("sample"))["images"].numpy()
    expected = prt.sample(model, 3, seed=5, temperature=0.8, labels=LABELS)
    np.testing.assert_array_equal(served, expected)
    other = sig["sample"](**_cond_inputs("sample", labels=[0, 0, 0]))
    assert not np.array_equal(other["images"].numpy(), served)
    out = sig["log_prob"](**_cond_inputs("log_prob"))
    np.testing.assert_allclose(
        out["log_prob"].numpy(),
        prt.log_prob(model, x, labels=LABELS),
        rtol=1e-5,
    )
    np.testing.assert_allclose(
        out["bits_per_dim"].numpy(),
        prt.bits_per_dim(model, x, labels=LABELS),
        rtol=1e-5,
    )
    served = sig["complete"](**_cond_inputs("complete"))["images"].numpy()
    expected = prt.complete(
        model, x, 4, seed=5, temperature=0.8, labels=LABELS
    )
    np.testing.assert_array_equal(served, expected)


@pytest.mark.parametrize(
    "name, labels, match",
    [
        ("sample", [0, 3, 1], r"labels must lie in \[0, 3\).*\[labels\] \[3\]"),
        ("log_prob", [0, -1, 1], r"\[0, 3\).*\[labels\] \[-1\]"),
        ("complete", [5, 0, 1], r"\[0, 3\).*\[labels\] \[5\]"),
        ("sample", [0, 1], r"one class per image.*\[2\] \[labels for\] \[3\]"),
        ("log_prob", [0, 1, 2, 0], r"\[4\] \[labels for\] \[3\] \[images\]"),
        ("complete", [], r"\[0\] \[labels for\] \[3\]"),
    ],
)
def test_bad_labels_fail_inside_the_graph(conditional, name, labels, match):
    fn = conditional[1].signatures[name]
    with pytest.raises(tf.errors.InvalidArgumentError, match=match):
        fn(**_cond_inputs(name, labels=labels))


# A Multi-Scale PixelRNN: two-stage sampling inside the graph.


@pytest.fixture(scope="module")
def multi_scale(tmp_path_factory):
    return _export_tiny(
        tmp_path_factory, "multi_scale", image_shape=SHAPE, multi_scale_factor=2
    )


def test_multi_scale_signatures_equal_the_library(multi_scale):
    model, loaded, _ = multi_scale
    sig = loaded.signatures
    info = sig["model_info"]()
    assert info["multi_scale_factor"].numpy() == 2
    assert info["num_classes"].numpy() == 0
    assert "labels" not in sig["sample"].structured_input_signature[1]
    np.testing.assert_array_equal(
        _sample(loaded, n=3, seed=6), prt.sample(model, 3, seed=6)
    )
    x = _images(2, seed=5)
    np.testing.assert_allclose(
        sig["log_prob"](images=tf.constant(x))["log_prob"].numpy(),
        prt.log_prob(model, x),
        rtol=1e-5,
    )
    served = sig["complete"](
        images=tf.constant(x),
        num_known_pixels=tf.constant(6),
        seed=tf.constant(2, tf.int64),
        temperature=tf.constant(1.0),
    )["images"].numpy()
    expected = prt.complete(model, x, 6, seed=2)
    np.testing.assert_array_equal(served, expected)
    flat, known = served.reshape(2, -1), x.reshape(2, -1)
    np.testing.assert_array_equal(flat[:, :18], known[:, :18])
