"""The local TF-Serving-compatible gRPC server and its clients (127.0.0.1)."""

import concurrent.futures
import http.server
import json
import os
import shutil
import socket
import threading
import time

import grpc
import keras
import numpy as np
import pytest
import tensorflow as tf

import pixelrnn_tf as prt
from serving import client as client_lib
from serving import export
from serving.server import serve

IMAGE_SHAPE = (4, 4, 3)
NUM_LEVELS = 4
EXPORT_MAX_IMAGES = 8  # the in-graph cap
MAX_IMAGES = 4  # the server's cap, below the in-graph one
MAX_BATCH = 4
MAX_MESSAGE_BYTES = 64 * 1024
INVALID = grpc.StatusCode.INVALID_ARGUMENT
NOT_FOUND = grpc.StatusCode.NOT_FOUND


def tiny_model(seed, **fields):
    keras.utils.set_random_seed(seed)
    fields = {
        "architecture": "pixel_cnn",
        "image_shape": IMAGE_SHAPE,
        "num_levels": NUM_LEVELS,
        "hidden_dim": 6,
        "num_layers": 1,
        **fields,
    }
    return prt.build_model(prt.ModelConfig(**fields))


def random_images(batch, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, NUM_LEVELS, (batch, *IMAGE_SHAPE)).astype(np.uint8)


def wait_for(condition, timeout=20.0):
    """Polls `condition` until it holds or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def start(base, **kwargs):
    kwargs = {
        "port": 0,
        "poll_seconds": 0.2,
        "max_batch": MAX_BATCH,
        "max_images": MAX_IMAGES,
        "max_message_bytes": MAX_MESSAGE_BYTES,
        **kwargs,
    }
    return serve(base, **kwargs)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """(model, base, path of version 1)."""
    model = tiny_model(0)
    base = str(tmp_path_factory.mktemp("models"))
    path = export.export_for_serving(model, base, max_images=EXPORT_MAX_IMAGES)
    return model, base, path


@pytest.fixture(scope="module")
def server(exported):
    srv = start(exported[1])
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def client(server):
    with client_lib.PixelRNNClient(f"127.0.0.1:{server.port}") as c:
        yield c


@pytest.fixture
def fresh_base(exported, tmp_path):
    """A base folder holding a copy of version 1 only."""
    base = tmp_path / "models"
    shutil.copytree(exported[2], base / "1")
    return str(base)


def saved_model_call(path, signature, **inputs):
    fn = tf.saved_model.load(path).signatures[signature]
    return {k: v.numpy() for k, v in fn(**inputs).items()}


def assert_healthy(client, model):
    images = random_images(2, seed=99)
    out = client.log_prob(images)
    np.testing.assert_allclose(
        out["log_prob"], prt.log_prob(model, images), atol=1e-5
    )


# The three signatures and the metadata.


def test_log_prob_matches_in_process(exported, client):
    model = exported[0]
    images = random_images(MAX_BATCH)
    out = client.log_prob(images)
    assert out["log_prob"].shape == (MAX_BATCH,)
    assert out["log_prob"].dtype == np.float32
    np.testing.assert_allclose(
        out["log_prob"], prt.log_prob(model, images), atol=1e-5
    )
    np.testing.assert_allclose(
        out["bits_per_dim"], prt.bits_per_dim(model, images), atol=1e-5
    )


def test_sample_matches_saved_model_and_is_reproducible(exported, client):
    path = exported[2]
    images = client.sample(3, seed=7, temperature=0.8)
    expected = saved_model_call(
        path,
        "sample",
        num_images=tf.constant(3),
        seed=tf.constant(7, tf.int64),
        temperature=tf.constant(0.8),
    )["images"]
    assert images.shape == (3, *IMAGE_SHAPE) and images.dtype == np.uint8
    assert images.max() < NUM_LEVELS
    np.testing.assert_array_equal(images, expected)
    np.testing.assert_array_equal(
        client.sample(3, seed=7, temperature=0.8), images
    )
    assert not np.array_equal(client.sample(3, seed=8, temperature=0.8), images)


def test_complete_keeps_the_known_prefix(exported, client):
    images = random_images(2, seed=1)
    known = 5
    out = client.complete(images, known, seed=3)
    assert out.shape == images.shape and out.dtype == np.uint8
    assert out.max() < NUM_LEVELS
    flat, flat_in = (x.reshape(2, -1, IMAGE_SHAPE[-1]) for x in (out, images))
    np.testing.assert_array_equal(flat[:, :known], flat_in[:, :known])
    expected = saved_model_call(
        exported[2],
        "complete",
        images=tf.constant(images),
        num_known_pixels=tf.constant(known),
        seed=tf.constant(3, tf.int64),
        temperature=tf.constant(1.0),
    )["images"]
    np.testing.assert_array_equal(out, expected)


def test_empty_signature_name_is_serving_default(client):
    inputs = {
        "num_images": np.int32(2),
        "seed": np.int64(5),
        "temperature": np.float32(1.0),
    }
    request = client_lib.make_predict_request("", inputs, "pixelrnn")
    response = client.predict_raw(request)
    assert response.model_spec.name == "pixelrnn"
    assert response.model_spec.version.value == 1
    assert response.model_spec.signature_name == "serving_default"
    images = client_lib.parse_predict_response(response)["images"]
    np.testing.assert_array_equal(images, client.sample(2, seed=5))


def test_metadata_and_status(client):
    metadata = client.metadata()
    assert set(metadata) == {
        "sample",
        "serving_default",
        "log_prob",
        "complete",
        "model_info",
    }
    images = ("uint8", (None, *IMAGE_SHAPE))
    assert metadata["log_prob"] == {
        "inputs": {"images": images},
        "outputs": {
            "log_prob": ("float32", (None,)),
            "bits_per_dim": ("float32", (None,)),
        },
    }
    assert metadata["sample"]["inputs"] == {
        "num_images": ("int32", ()),
        "seed": ("int64", ()),
        "temperature": ("float32", ()),
    }
    assert metadata["complete"]["outputs"] == {"images": images}
    assert metadata["serving_default"] == metadata["sample"]
    assert metadata["model_info"] == {
        "inputs": {},
        "outputs": {
            "num_levels": ("int32", ()),
            "image_shape": ("int32", (3,)),
            "architecture": ("string", ()),
            "num_classes": ("int32", ()),
            "multi_scale_factor": ("int32", ()),
        },
    }
    assert client.status() == {1: {"state": "AVAILABLE", "error_message": ""}}


def test_model_info_tells_levels_shape_and_version(exported, client):
    assert client.model_info() == {
        "num_levels": NUM_LEVELS,
        "image_shape": IMAGE_SHAPE,
        "architecture": "pixel_cnn",
        "num_classes": 0,
        "multi_scale_factor": 1,
        "version": 1,
    }


def test_model_info_of_older_exports(exported, tmp_path, monkeypatch):
    signatures = export.signatures
    base = str(tmp_path / "old")
    monkeypatch.setattr(export.warmup, "write_warmup_requests", lambda *a: None)
    with monkeypatch.context() as m:  # version 1: no model_info at all
        m.setattr(signatures, "SIGNATURES", signatures.SIGNATURES[:3])
        export.export_for_serving(exported[0], base)
    first_info = signatures.model_info_fn

    def first_model_info_fn(model):  # version 2: its first three outputs
        fn = first_info(model)
        keys = ("num_levels", "image_shape", "architecture")
        return lambda: {k: v for k, v in fn().items() if k in keys}

    monkeypatch.setattr(signatures, "model_info_fn", first_model_info_fn)
    with start(base) as srv:
        with client_lib.PixelRNNClient(f"127.0.0.1:{srv.port}") as c:
            with pytest.raises(client_lib.NotFoundError) as info:
                c.model_info()
            export.export_for_serving(exported[0], base)
            assert wait_for(lambda: srv.versions == [1, 2])
            outputs = c.metadata()["model_info"]["outputs"]
            assert "num_classes" not in outputs  # the defaults stand in
            assert c.model_info()["num_classes"] == 0
            assert c.model_info()["multi_scale_factor"] == 1
    assert '"model_info" not found' in info.value.message
    assert "export the run again" in info.value.message


# Bad requests: the right status code, and the server keeps serving.


def _predict(signature, **inputs):
    return lambda c: c.predict(signature, inputs)


def _oversized(c):
    batch = MAX_MESSAGE_BYTES // np.prod(IMAGE_SHAPE) + 1
    return c.predict(
        "log_prob", {"images": np.zeros((batch, *IMAGE_SHAPE), "u1")}
    )


def _other_client(**kwargs):
    def call(c):
        with client_lib.PixelRNNClient(c.target, **kwargs) as other:
            return other.log_prob(random_images(1))

    return call


SCALARS = {"seed": np.int64(0), "temperature": np.float32(1.0)}
BAD_REQUESTS = {
    "wrong_dtype": (
        _predict("log_prob", images=np.zeros((1, *IMAGE_SHAPE), np.float32)),
        INVALID,
        "Received: dtype=float32",
    ),
    "wrong_shape": (
        _predict("log_prob", images=np.zeros((1, 4, 4, 1), np.uint8)),
        INVALID,
        "shape=(1, 4, 4, 1)",
    ),
    "non_scalar_num_images": (
        _predict("sample", num_images=np.int32([2]), **SCALARS),
        INVALID,
        "shape=(1,)",
    ),
    "missing_input": (
        _predict("sample", num_images=np.int32(1)),
        INVALID,
        "missing ['seed', 'temperature']",
    ),
    "unknown_input": (
        _predict("log_prob", images=random_images(1), extra=np.int32(1)),
        INVALID,
        "unknown ['extra']",
    ),
    "level_out_of_range": (
        lambda c: c.log_prob(np.full((1, *IMAGE_SHAPE), NUM_LEVELS)),
        INVALID,
        f"image levels must lie in [0, {NUM_LEVELS})",
    ),
    "num_images_zero": (
        lambda c: c.sample(0),
        INVALID,
        "num_images must lie in",
    ),
    "num_images_negative": (
        lambda c: c.sample(-3),
        INVALID,
        "[Received:] [-3]",
    ),
    "num_images_over_cap": (
        lambda c: c.sample(MAX_IMAGES + 1),
        INVALID,
        f"at most {MAX_IMAGES}",
    ),
    "batch_over_cap": (
        lambda c: c.log_prob(random_images(MAX_BATCH + 1)),
        INVALID,
        f"batch size {MAX_BATCH + 1}",
    ),
    "temperature_zero": (
        lambda c: c.sample(1, temperature=0.0),
        INVALID,
        "temperature must be",
    ),
    "num_known_pixels_too_large": (
        lambda c: c.complete(random_images(1), 17),
        INVALID,
        "num_known_pixels must lie in [0, 16]",
    ),
    "labels_for_an_unconditional_model": (
        lambda c: c.sample(1, labels=0),
        INVALID,
        "unknown ['labels']",
    ),
    "model_info_with_an_input": (
        _predict("model_info", num_images=np.int32(1)),
        INVALID,
        "unknown ['num_images']",
    ),
    "unknown_signature": (
        _predict("nope", images=random_images(1)),
        NOT_FOUND,
        '"nope" not found',
    ),
    "unknown_model": (
        _other_client(model="other"),
        NOT_FOUND,
        "name='other'",
    ),
    "unknown_version": (
        _other_client(version=7),
        NOT_FOUND,
        "Specific(pixelrnn, 7)",
    ),
    "oversized_message": (
        _oversized,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        "larger than max",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_REQUESTS))
def test_bad_request_gets_status_and_server_stays_healthy(
    case, exported, client
):
    call, code, text = BAD_REQUESTS[case]
    with pytest.raises(client_lib.ServingError) as info:
        call(client)
    assert info.value.code == code
    assert type(info.value) is client_lib.ERRORS[code]
    assert text in info.value.message
    assert_healthy(client, exported[0])


def test_metadata_and_status_of_unknown_model_or_version(server, client):
    target = f"127.0.0.1:{server.port}"
    with client_lib.PixelRNNClient(target, model="other") as other:
        with pytest.raises(client_lib.NotFoundError):
            other.metadata()
        with pytest.raises(client_lib.NotFoundError):
            other.status()
    with client_lib.PixelRNNClient(target, version=9) as other:
        with pytest.raises(client_lib.NotFoundError):
            other.status()
    assert client.status()[1]["state"] == "AVAILABLE"


def test_deadline_and_unavailable_errors(exported, client):
    with client_lib.PixelRNNClient(client.target, timeout=1e-6) as hasty:
        with pytest.raises(client_lib.DeadlineExceededError):
            hasty.sample(MAX_IMAGES)
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    with client_lib.PixelRNNClient(f"127.0.0.1:{free}", timeout=10) as absent:
        with pytest.raises(client_lib.UnavailableError):
            absent.sample(1)
    assert_healthy(client, exported[0])


def test_client_and_serve_reject_bad_arguments(exported, client, tmp_path):
    with pytest.raises(ValueError, match="Received: num_images=1.5"):
        client.sample(1.5)
    with pytest.raises(ValueError, match=r"\[0, 255\]"):
        client.log_prob(np.full((1, *IMAGE_SHAPE), 256))
    with pytest.raises(ValueError, match="Received: base="):
        serve(str(tmp_path / "missing"), port=0)
    with pytest.raises(ValueError, match="Received: max_batch=0"):
        serve(exported[1], port=0, max_batch=0)


# A class-conditional model: labels in every call, checked on every side.

COND_SHAPE = (3, 3, 1)
COND_BATCH = 2  # below MAX_IMAGES: sample's labels count against the latter


@pytest.fixture(scope="module")
def conditional(tmp_path_factory):
    """(model, client of a server of it)."""
    model = tiny_model(
        2, architecture="row_lstm", image_shape=COND_SHAPE, num_classes=3
    )
    base = str(tmp_path_factory.mktemp("conditional"))
    export.export_for_serving(model, base, max_images=EXPORT_MAX_IMAGES)
    with start(base, max_batch=COND_BATCH) as srv:
        target = f"127.0.0.1:{srv.port}"
        with client_lib.PixelRNNClient(target) as c:
            yield model, c


def cond_images(batch, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, NUM_LEVELS, (batch, *COND_SHAPE)).astype(np.uint8)


def test_conditional_calls_equal_the_library(conditional):
    model, c = conditional
    labels = np.array([2, 0, 1, 1], np.int32)  # MAX_IMAGES > COND_BATCH
    served = c.sample(4, seed=3, temperature=0.9, labels=labels)
    expected = prt.sample(model, 4, seed=3, temperature=0.9, labels=labels)
    np.testing.assert_array_equal(served, expected)
    np.testing.assert_array_equal(
        c.sample(2, seed=3, labels=1), prt.sample(model, 2, seed=3, labels=1)
    )
    x = cond_images(COND_BATCH)
    np.testing.assert_allclose(
        c.log_prob(x, labels=[0, 2])["log_prob"],
        prt.log_prob(model, x, labels=[0, 2]),
        atol=1e-5,
    )
    np.testing.assert_array_equal(
        c.complete(x, 4, seed=1, labels=2),
        prt.complete(model, x, 4, seed=1, labels=2),
    )
    assert c.metadata()["sample"]["inputs"]["labels"] == ("int32", (None,))
    assert c.metadata()["log_prob"]["inputs"]["labels"] == ("int32", (None,))
    info = c.model_info()
    assert (info["num_classes"], info["multi_scale_factor"]) == (3, 1)


def test_sample_with_info_checks_labels_against_the_model(
    conditional, client
):
    model, c = conditional
    images, info = c.sample_with_info(2, seed=4, labels=2)
    assert info["num_classes"] == 3 and c.version == info["version"] == 1
    np.testing.assert_array_equal(
        images, prt.sample(model, 2, seed=4, labels=2)
    )
    with pytest.raises(ValueError, match=r"num_classes=3\): give a label"):
        c.sample_with_info(2)
    with pytest.raises(ValueError, match="Received: a label of 3"):
        c.sample_with_info(2, labels=[0, 3])
    with client_lib.PixelRNNClient(client.target) as own:  # gets pinned
        with pytest.raises(ValueError, match="not class-conditional"):
            own.sample_with_info(1, labels=0)
        images, info = own.sample_with_info(2, seed=5)
    assert info["num_classes"] == 0
    np.testing.assert_array_equal(images, client.sample(2, seed=5))


def _cond_predict(signature, labels, **inputs):
    defaults = {
        "sample": {"num_images": np.int32(2), **SCALARS},
        "log_prob": {"images": cond_images(2)},
        "complete": {
            "images": cond_images(2),
            "num_known_pixels": np.int32(3),
            **SCALARS,
        },
    }
    inputs = {**defaults[signature], **inputs}
    if labels is not None:
        inputs["labels"] = np.asarray(labels, np.int32)
    return lambda c: c.predict(signature, inputs)


BAD_LABELS = {
    "sample_out_of_range": (
        _cond_predict("sample", [0, 3]),
        "labels must lie in [0, 3)",
    ),
    "log_prob_negative": (_cond_predict("log_prob", [-1, 0]), "[labels] [-1]"),
    "complete_out_of_range": (
        _cond_predict("complete", [7, 0]),
        "[labels] [7]",
    ),
    "sample_too_few": (
        _cond_predict("sample", [0]),
        "one class per image] [Received:] [1] [labels for] [2]",
    ),
    "log_prob_too_many": (
        _cond_predict("log_prob", [0, 1], images=cond_images(1)),
        "[2] [labels for] [1] [images]",
    ),
    "missing": (_cond_predict("log_prob", None), "missing ['labels']"),
    "wrong_dtype": (
        lambda c: c.predict(
            "log_prob", {"images": cond_images(1), "labels": np.int64([0])}
        ),
        "Received: dtype=int64",
    ),
    "over_the_batch_cap": (
        lambda c: c.log_prob(cond_images(3), labels=0),
        f"batch size {COND_BATCH + 1}",
    ),
    "over_the_num_images_cap": (
        _cond_predict("sample", [0] * 5, num_images=np.int32(4)),
        f"at most {MAX_IMAGES} images per request",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_LABELS))
def test_bad_labels_get_invalid_argument(case, conditional):
    model, c = conditional
    call, text = BAD_LABELS[case]
    with pytest.raises(client_lib.InvalidRequestError) as info:
        call(c)
    assert info.value.code == INVALID
    assert text in info.value.message
    x = cond_images(1)
    np.testing.assert_allclose(  # still serving
        c.log_prob(x, labels=1)["log_prob"],
        prt.log_prob(model, x, labels=[1]),
        atol=1e-5,
    )


@pytest.mark.parametrize(
    "labels, text",
    [
        ([0], "Received: labels of dtype=int64, shape=(1,)"),
        (1.0, "Received: labels of dtype=float64, shape=()"),
        (True, "dtype=bool"),
        ([[0, 1]], "shape=(1, 2)"),
        (-1, "Received: a label of -1"),
        ([0, 2**31], "Received: a label of 2147483648"),
    ],
)
def test_client_rejects_bad_labels_before_sending(labels, text):
    with pytest.raises(ValueError) as info:
        client_lib.sample_inputs(2, labels=labels)
    assert text in str(info.value)


def test_client_labels_are_one_int32_class_per_image():
    with pytest.raises(ValueError, match="one class per image"):
        client_lib.log_prob_inputs(random_images(3), labels=[0, 1])
    inputs = client_lib.complete_inputs(random_images(2), 3, labels=2)
    np.testing.assert_array_equal(inputs["labels"], [2, 2])
    assert inputs["labels"].dtype == np.int32


# Load.


def test_concurrent_clients_match_serial_results(client):
    requests = [
        ("log_prob", {"images": random_images(b, seed=b)})
        for b in range(1, MAX_BATCH + 1)
    ]
    requests += [
        ("sample", {"num_images": np.int32(n), **SCALARS, "seed": np.int64(s)})
        for n, s in [(1, 0), (2, 1)]
    ]
    requests.append(
        (
            "complete",
            {
                "images": random_images(2, seed=5),
                "num_known_pixels": np.int32(6),
                **SCALARS,
            },
        )
    )
    serial = [client.predict(name, inputs) for name, inputs in requests]

    def worker(index):
        results = []
        with client_lib.PixelRNNClient(client.target) as own:
            for j in range(20):
                k = (index * 7 + j) % len(requests)
                results.append((k, own.predict(*requests[k])))
        return results

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(worker, i) for i in range(8)]
        results = [r for f in futures for r in f.result(timeout=120)]
    assert len(results) == 8 * 20
    assert len({k for k, _ in results}) == len(requests)
    for k, out in results:
        assert out.keys() == serial[k].keys()
        for key, value in out.items():
            np.testing.assert_allclose(value, serial[k][key], atol=1e-6)


# Versions.


def test_new_version_is_picked_up_while_serving(exported, fresh_base):
    model_1 = exported[0]
    model_2 = tiny_model(1)
    images = random_images(2, seed=4)
    expected_2 = prt.log_prob(model_2, images)
    assert not np.allclose(expected_2, prt.log_prob(model_1, images))
    request = client_lib.make_predict_request(
        "log_prob", {"images": images}, "pixelrnn"
    )
    with start(fresh_base) as srv:
        target = f"127.0.0.1:{srv.port}"
        with client_lib.PixelRNNClient(target) as c:
            assert c.predict_raw(request).model_spec.version.value == 1
            export.export_for_serving(model_2, fresh_base)
            assert wait_for(
                lambda: c.predict_raw(request).model_spec.version.value == 2
            ), "version 2 was not served within 20 s"
            out = client_lib.parse_predict_response(c.predict_raw(request))
            np.testing.assert_allclose(out["log_prob"], expected_2, atol=1e-5)
            assert set(c.status()) == {1, 2}
        with client_lib.PixelRNNClient(target, version=1) as pinned:
            np.testing.assert_allclose(
                pinned.log_prob(images)["log_prob"],
                prt.log_prob(model_1, images),
                atol=1e-5,
            )


def test_interrupted_export_leaves_no_version(
    exported, fresh_base, monkeypatch
):
    model = exported[0]

    def killed(*args, **kwargs):
        raise KeyboardInterrupt("killed while writing")

    with start(fresh_base) as srv:
        with client_lib.PixelRNNClient(f"127.0.0.1:{srv.port}") as c:
            # A failure before the rename: the temp folder is cleaned up.
            with monkeypatch.context() as m:
                m.setattr(export.warmup, "write_warmup_requests", killed)
                with pytest.raises(KeyboardInterrupt):
                    export.export_for_serving(model, fresh_base)
            assert os.listdir(fresh_base) == ["1"]

            # A hard kill: no cleanup runs, a `.tmp-*` folder stays behind.
            with monkeypatch.context() as m:
                m.setattr(export.os, "rename", killed)
                m.setattr(export.shutil, "rmtree", lambda *a, **k: None)
                with pytest.raises(KeyboardInterrupt):
                    export.export_for_serving(model, fresh_base)
            leftovers = sorted(set(os.listdir(fresh_base)) - {"1"})
            assert len(leftovers) == 1 and leftovers[0].startswith(".tmp-")
            assert os.path.exists(
                os.path.join(fresh_base, leftovers[0], "saved_model.pb")
            )

            # A version folder that does not load (e.g. a torn copy).
            broken = os.path.join(fresh_base, "3")
            os.makedirs(broken)
            with open(os.path.join(broken, "saved_model.pb"), "wb") as f:
                f.write(b"not a SavedModel")
            assert wait_for(lambda: 3 in c.status(), timeout=20)
            status = c.status()
            assert status[3]["state"] == "END"
            assert status[3]["error_message"]
            assert status[1]["state"] == "AVAILABLE"

            assert srv.versions == [1]
            request = client_lib.make_predict_request(
                "log_prob", {"images": random_images(1)}, "pixelrnn"
            )
            assert c.predict_raw(request).model_spec.version.value == 1
            assert_healthy(c, model)

            # Once the torn folder is complete, it is retried and served.
            shutil.rmtree(broken)
            shutil.copytree(exported[2], broken)
            assert wait_for(
                lambda: c.predict_raw(request).model_spec.version.value == 3
            ), "the repaired version 3 was not served within 20 s"
            assert c.status()[3]["state"] == "AVAILABLE"


# REST.


def test_rest_payload_round_trips_through_json():
    images = random_images(2)
    payload = client_lib.rest_payload("log_prob", {"images": images})
    decoded = json.loads(json.dumps(payload))
    assert decoded == payload
    assert decoded["signature_name"] == "log_prob"
    np.testing.assert_array_equal(
        np.asarray(decoded["inputs"]["images"], np.uint8), images
    )
    sample = client_lib.rest_payload(
        "sample",
        {"num_images": np.int32(2), "seed": np.int64(5), "temperature": 0.5},
    )
    assert json.loads(json.dumps(sample))["inputs"] == {
        "num_images": 2,
        "seed": 5,
        "temperature": 0.5,
    }
    inputs = client_lib.sample_inputs(2, seed=5, labels=1)
    payload = client_lib.rest_payload("sample", inputs)
    assert json.loads(json.dumps(payload))["inputs"]["labels"] == [1, 1]


class _StubHandler(http.server.BaseHTTPRequestHandler):
    """TF Serving's REST `:predict`, canned; records what it was sent."""

    seen = []

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.seen.append((self.path, self.headers["Content-Type"], body))
        if "nope" in self.path:
            status, answer = 404, {"error": "Servable not found"}
        elif body["signature_name"] == "log_prob":
            status, answer = 200, {
                "outputs": {
                    "log_prob": [-1.5, -2.5],
                    "bits_per_dim": [0.1, 0.2],
                }
            }
        else:  # one output: TF Serving drops its name
            status, answer = 200, {"outputs": [[[[1]]]]}
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def rest_stub():
    _StubHandler.seen = []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _StubHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", _StubHandler.seen
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=10)


def test_rest_predict_against_a_stub(rest_stub):
    url, seen = rest_stub
    images = random_images(2)
    out = client_lib.rest_predict(
        url, "pixelrnn", "log_prob", {"images": images}, version=2, timeout=10
    )
    path, content_type, body = seen[-1]
    assert path == "/v1/models/pixelrnn/versions/2:predict"
    assert content_type == "application/json"
    assert body == client_lib.rest_payload("log_prob", {"images": images})
    np.testing.assert_allclose(out["log_prob"], [-1.5, -2.5])
    np.testing.assert_allclose(out["bits_per_dim"], [0.1, 0.2])

    inputs = {"num_images": np.int32(1), **SCALARS}
    out = client_lib.rest_predict(url, "pixelrnn", "sample", inputs, timeout=10)
    assert seen[-1][0] == "/v1/models/pixelrnn:predict"
    assert out["images"].shape == (1, 1, 1, 1)
    labelled = client_lib.complete_inputs(images, 3, labels=[1, 0])
    client_lib.rest_predict(url, "pixelrnn", "complete", labelled, timeout=10)
    assert seen[-1][2]["inputs"]["labels"] == [1, 0]

    with pytest.raises(client_lib.NotFoundError, match="Servable not found"):
        client_lib.rest_predict(url, "nope", "sample", inputs, timeout=10)
