"""Clients for a served pixelrnn_tf model: gRPC (`PixelRNNClient`) and REST.

Both speak TF Serving's protocol, so they work against
`tensorflow_model_server` and against `serving.server.serve`:

    >>> with PixelRNNClient("localhost:8500") as client:
    ...     images = client.sample(4, seed=1)          # (4, H, W, C) uint8
    ...     scores = client.log_prob(images)["bits_per_dim"]
    ...     client.model_info()["num_levels"]

A class-conditional model (`model_info()["num_classes"]` > 0) takes the
class of every image: `client.sample(4, labels=2)` (an int: all alike) or
`labels=[0, 1, 2, 3]`, and `labels=` in `log_prob` and `complete` too.
`sample_inputs`, `log_prob_inputs` and `complete_inputs` build the same
inputs for `predict` and `rest_predict`.

gRPC errors become `ServingError`s whose subclass names the status code:
`InvalidRequestError` (INVALID_ARGUMENT), `NotFoundError` (NOT_FOUND),
`DeadlineExceededError`, `UnavailableError`, `ResourceExhaustedError`.
Value ranges (levels, `num_images`, `temperature`, the labels' classes) are
checked by the server, which knows the model; the client converts arguments
to the wire dtypes and checks what it can without the model (integers, one
label per image).
"""

import json
import socket
import urllib.error
import urllib.request

import grpc
import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import get_model_metadata_pb2
from tensorflow_serving.apis import get_model_status_pb2
from tensorflow_serving.apis import model_service_pb2_grpc
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.apis import prediction_service_pb2_grpc

# REST omits the output name when a signature has a single output.
SINGLE_OUTPUTS = {
    "sample": "images",
    "serving_default": "images",
    "complete": "images",
}


class ServingError(Exception):
    """A failed call: `.code` (a `grpc.StatusCode`) and the server's message."""

    def __init__(self, code, message):
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message


class InvalidRequestError(ServingError, ValueError):
    """INVALID_ARGUMENT: the server rejected the inputs."""


class NotFoundError(ServingError, LookupError):
    """NOT_FOUND: unknown model name, version or signature."""


class DeadlineExceededError(ServingError, TimeoutError):
    """DEADLINE_EXCEEDED: no answer within the timeout."""


class UnavailableError(ServingError, ConnectionError):
    """UNAVAILABLE: no server answers at the target."""


class ResourceExhaustedError(ServingError):
    """RESOURCE_EXHAUSTED: e.g. a message over the size limit."""


ERRORS = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidRequestError,
    grpc.StatusCode.NOT_FOUND: NotFoundError,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceededError,
    grpc.StatusCode.UNAVAILABLE: UnavailableError,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhaustedError,
}

# TF Serving's REST API answers with HTTP statuses mapped from gRPC codes.
HTTP_CODES = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    404: grpc.StatusCode.NOT_FOUND,
    408: grpc.StatusCode.DEADLINE_EXCEEDED,
    429: grpc.StatusCode.RESOURCE_EXHAUSTED,
    503: grpc.StatusCode.UNAVAILABLE,
    504: grpc.StatusCode.DEADLINE_EXCEEDED,
}


def serving_error(code, message):
    """The `ServingError` subclass for `code`."""
    return ERRORS.get(code, ServingError)(code, message)


def _from_rpc_error(error):
    return serving_error(error.code(), error.details())


def make_predict_request(signature_name, inputs, model_name, version=None):
    """A `PredictRequest` with `inputs` ({name: array}) as TensorProtos.

    Values keep their NumPy dtype (`np.int32(4)`, a uint8 array); plain
    Python numbers become TF's default dtypes (int32, float32).
    """
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = signature_name
    if version is not None:
        request.model_spec.version.value = _version(version)
    for key, value in inputs.items():
        request.inputs[key].CopyFrom(tf.make_tensor_proto(value))
    return request


def parse_predict_response(response):
    """{output name: np.ndarray} from a `PredictResponse`."""
    return {key: tf.make_ndarray(t) for key, t in response.outputs.items()}


def _version(version):
    if (
        not isinstance(version, (int, np.integer))
        or isinstance(version, bool)
        or version < 1
    ):
        raise ValueError(
            "`version` must be a positive integer. "
            f"Received: version={version!r}"
        )
    return int(version)


def _int(name, value, dtype):
    info = np.iinfo(dtype)
    if (
        not isinstance(value, (int, np.integer))
        or isinstance(value, bool)
        or not info.min <= value <= info.max
    ):
        raise ValueError(
            f"`{name}` must be an integer that fits {np.dtype(dtype).name}. "
            f"Received: {name}={value!r}"
        )
    return np.asarray(value, dtype)


def _images(images):
    """uint8 levels from any integer array of values in [0, 255]."""
    images = np.asarray(images)
    if images.dtype == np.uint8:
        return images
    if not np.issubdtype(images.dtype, np.integer) or (
        images.size and (images.min() < 0 or images.max() > 255)
    ):
        raise ValueError(
            "`images` must hold integer levels in [0, 255]. Received: "
            f"dtype={images.dtype}, shape={images.shape}"
        )
    return images.astype(np.uint8)


def _sampling_inputs(seed, temperature):
    if isinstance(temperature, bool) or not isinstance(
        temperature, (int, float, np.number)
    ):
        raise ValueError(
            f"`temperature` must be a number. Received: {temperature!r}"
        )
    return {
        "seed": _int("seed", seed, np.int64),
        "temperature": np.asarray(temperature, np.float32),
    }


def _labels(labels, count):
    """{"labels": (count,) int32} from an int (every image's class) or one
    integer per image; {} for None."""
    if labels is None:
        return {}
    if isinstance(labels, (int, np.integer)) and not isinstance(labels, bool):
        labels = np.full((count,), labels)
    values = np.asarray(labels)
    if (
        values.dtype == bool
        or not np.issubdtype(values.dtype, np.integer)
        or values.shape != (count,)
    ):
        raise ValueError(
            f"`labels` must be an int or {count} integers, one class per "
            f"image. Received: labels of dtype={values.dtype}, "
            f"shape={values.shape}"
        )
    info = np.iinfo(np.int32)
    bad = values[(values < 0) | (values > info.max)]
    if bad.size:
        raise ValueError(
            f"`labels` must be classes >= 0. Received: a label of {bad[0]}"
        )
    return {"labels": values.astype(np.int32)}


def sample_inputs(num_images, seed=0, temperature=1.0, labels=None):
    """The `sample` signature's inputs, checked: {name: np.ndarray}."""
    inputs = {"num_images": _int("num_images", num_images, np.int32)}
    inputs.update(_sampling_inputs(seed, temperature))
    inputs.update(_labels(labels, max(int(inputs["num_images"]), 0)))
    return inputs


def log_prob_inputs(images, labels=None):
    """The `log_prob` signature's inputs, checked: {name: np.ndarray}."""
    images = _images(images)
    count = images.shape[0] if images.ndim else 0
    return {"images": images, **_labels(labels, count)}


def complete_inputs(
    images, num_known_pixels, seed=0, temperature=1.0, labels=None
):
    """The `complete` signature's inputs, checked: {name: np.ndarray}."""
    inputs = log_prob_inputs(images, labels)
    inputs["num_known_pixels"] = _int(
        "num_known_pixels", num_known_pixels, np.int32
    )
    inputs.update(_sampling_inputs(seed, temperature))
    return inputs


def _tensor_info(info):
    dtype = tf.dtypes.as_dtype(info.dtype).name
    if info.tensor_shape.unknown_rank:
        return dtype, None
    shape = tuple(None if d.size < 0 else d.size for d in info.tensor_shape.dim)
    return dtype, shape


class PixelRNNClient:
    """gRPC client for the signatures of `serving/signatures.py`.

    Args:
        target: "host:port" of the server.
        model: the served model name.
        version: an int to pin every call to that version; None: the latest.
        timeout: the deadline of each call, in seconds.
    """

    def __init__(
        self,
        target="localhost:8500",
        model="pixelrnn",
        version=None,
        timeout=30.0,
    ):
        if not isinstance(timeout, (int, float)) or not timeout > 0:
            raise ValueError(
                f"`timeout` must be a number > 0. Received: timeout={timeout!r}"
            )
        self.target = target
        self.model = model
        self.version = None if version is None else _version(version)
        self.timeout = timeout
        self._channel = grpc.insecure_channel(target)
        self._predict = prediction_service_pb2_grpc.PredictionServiceStub(
            self._channel
        )
        self._models = model_service_pb2_grpc.ModelServiceStub(self._channel)

    def _call(self, rpc, request):
        try:
            return rpc(request, timeout=self.timeout)
        except grpc.RpcError as e:
            raise _from_rpc_error(e) from None

    def predict_raw(self, request):
        """Sends a `PredictRequest`; returns the `PredictResponse`."""
        return self._call(self._predict.Predict, request)

    def predict(self, signature_name, inputs):
        """Calls any signature: {input name: array} -> {output: np.ndarray}."""
        request = make_predict_request(
            signature_name, inputs, self.model, self.version
        )
        return parse_predict_response(self.predict_raw(request))

    def sample(self, num_images, seed=0, temperature=1.0, labels=None):
        """`num_images` new images: (N, H, W, C) uint8 levels.

        `labels`: a class-conditional model's class of every image, an int
        or (N,) ints; None for an unconditional model.
        """
        inputs = sample_inputs(num_images, seed, temperature, labels)
        return self.predict("sample", inputs)["images"]

    def log_prob(self, images, labels=None):
        """{"log_prob": (B,) nats, "bits_per_dim": (B,)} for uint8 levels
        (given `labels`, as in `sample`)."""
        return self.predict("log_prob", log_prob_inputs(images, labels))

    def complete(
        self, images, num_known_pixels, seed=0, temperature=1.0, labels=None
    ):
        """Keeps the first `num_known_pixels` pixels (raster order), samples
        the rest (given `labels`, as in `sample`): (B, H, W, C) uint8."""
        inputs = complete_inputs(
            images, num_known_pixels, seed, temperature, labels
        )
        return self.predict("complete", inputs)["images"]

    def sample_with_info(
        self, num_images, seed=0, temperature=1.0, labels=None
    ):
        """(images, `model_info()`), both from one version.

        Asks `model_info` first and pins this client to the version that
        answered. `labels` (as in `sample`) are checked against the model's
        `num_classes` before sampling: a ValueError says what it needs.
        """
        info = self.model_info()
        self.version = info["version"]
        k = info["num_classes"]
        if k and labels is None:
            raise ValueError(
                f"The served model is class-conditional (num_classes={k}): "
                f"give a label in [0, {k}). Received: labels=None"
            )
        if not k and labels is not None:
            raise ValueError(
                "The served model is not class-conditional: it takes no "
                f"labels. Received: labels={labels!r}"
            )
        inputs = sample_inputs(num_images, seed, temperature, labels)
        if k and inputs["labels"].max(initial=0) >= k:
            raise ValueError(
                f"The served model's labels lie in [0, {k}). Received: "
                f"a label of {inputs['labels'].max()}"
            )
        return self.predict("sample", inputs)["images"], info

    def model_info(self):
        """What the served model is, from its `model_info` signature.

        Returns {"num_levels": int, "image_shape": (H, W, C),
        "architecture": str, "num_classes": int, "multi_scale_factor": int,
        "version": int}: `num_classes` is 0 for a model that takes no labels,
        `multi_scale_factor` 1 for a single-scale model, and `version` is
        the version that answered, to pin later calls to it.
        """
        request = make_predict_request(
            "model_info", {}, self.model, self.version
        )
        try:
            response = self.predict_raw(request)
        except ServingError as e:  # an unknown signature
            missing = (  # ours, and TF Serving's
                grpc.StatusCode.NOT_FOUND,
                grpc.StatusCode.FAILED_PRECONDITION,
            )
            if e.code not in missing or "model_info" not in e.message:
                raise
            raise serving_error(
                e.code,
                f"{e.message} An export older than the model_info "
                "signature: export the run again.",
            ) from None
        outputs = parse_predict_response(response)
        return {
            "num_levels": int(outputs["num_levels"]),
            "image_shape": tuple(int(d) for d in outputs["image_shape"]),
            "architecture": outputs["architecture"].item().decode(),
            # Exports older than these outputs: unconditional, one scale.
            "num_classes": int(outputs.get("num_classes", 0)),
            "multi_scale_factor": int(outputs.get("multi_scale_factor", 1)),
            "version": response.model_spec.version.value,
        }

    def metadata(self):
        """{signature: {"inputs": {name: (dtype, shape)}, "outputs": {...}}}.

        Shapes use None for unknown sizes. Internal entries such as
        `__saved_model_init_op` are left out.
        """
        request = get_model_metadata_pb2.GetModelMetadataRequest(
            metadata_field=["signature_def"]
        )
        request.model_spec.name = self.model
        if self.version is not None:
            request.model_spec.version.value = self.version
        response = self._call(self._predict.GetModelMetadata, request)
        defs = get_model_metadata_pb2.SignatureDefMap()
        response.metadata["signature_def"].Unpack(defs)
        return {
            name: {
                "inputs": {k: _tensor_info(v) for k, v in sig.inputs.items()},
                "outputs": {k: _tensor_info(v) for k, v in sig.outputs.items()},
            }
            for name, sig in defs.signature_def.items()
            if not name.startswith("__")
        }

    def status(self):
        """{version: {"state": "AVAILABLE", "error_message": ""}, ...}."""
        request = get_model_status_pb2.GetModelStatusRequest()
        request.model_spec.name = self.model
        if self.version is not None:
            request.model_spec.version.value = self.version
        response = self._call(self._models.GetModelStatus, request)
        state = get_model_status_pb2.ModelVersionStatus.State
        return {
            row.version: {
                "state": state.Name(row.state),
                "error_message": row.status.error_message,
            }
            for row in response.model_version_status
        }

    def close(self):
        self._channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


def rest_payload(signature_name, inputs):
    """TF Serving's columnar ("inputs") JSON request body, as a dict."""
    return {
        "signature_name": signature_name,
        "inputs": {key: np.asarray(v).tolist() for key, v in inputs.items()},
    }


def rest_predict(
    url_base, model, signature_name, inputs, version=None, timeout=30
):
    """POSTs to `<url_base>/v1/models/<model>[/versions/<v>]:predict`.

    Returns {output name: np.ndarray}. Errors raise `ServingError`s as for
    gRPC, with the code mapped from the HTTP status.
    """
    url = f"{url_base.rstrip('/')}/v1/models/{model}"
    if version is not None:
        url += f"/versions/{_version(version)}"
    url += ":predict"
    body = json.dumps(rest_payload(signature_name, inputs)).encode()
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            result = json.load(answer)
    except urllib.error.HTTPError as e:
        code = HTTP_CODES.get(e.code, grpc.StatusCode.UNKNOWN)
        text = e.read().decode(errors="replace")
        try:
            text = json.loads(text).get("error", text)
        except (ValueError, AttributeError):
            pass
        raise serving_error(code, f"HTTP {e.code} from {url}: {text}") from None
    except (TimeoutError, socket.timeout) as e:
        raise serving_error(
            grpc.StatusCode.DEADLINE_EXCEEDED, f"{url}: {e}"
        ) from None
    except urllib.error.URLError as e:
        if isinstance(e.reason, (TimeoutError, socket.timeout)):
            code = grpc.StatusCode.DEADLINE_EXCEEDED
        else:
            code = grpc.StatusCode.UNAVAILABLE
        raise serving_error(code, f"{url}: {e.reason}") from None
    outputs = result["outputs"]
    if not isinstance(outputs, dict):  # one output: TF Serving drops its name
        outputs = {SINGLE_OUTPUTS.get(signature_name, "outputs"): outputs}
    return {key: np.asarray(value) for key, value in outputs.items()}
