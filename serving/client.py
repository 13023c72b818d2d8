"""Clients for a served pixelrnn_tf model: gRPC (`PixelRNNClient`) and REST.

Both speak TF Serving's protocol, so they work against
`tensorflow_model_server` and against `serving.server.serve`:

    >>> with PixelRNNClient("localhost:8500") as client:
    ...     images = client.sample(4, seed=1)          # (4, H, W, C) uint8
    ...     scores = client.log_prob(images)["bits_per_dim"]
    ...     client.model_info()["num_levels"]

gRPC errors become `ServingError`s whose subclass names the status code:
`InvalidRequestError` (INVALID_ARGUMENT), `NotFoundError` (NOT_FOUND),
`DeadlineExceededError`, `UnavailableError`, `ResourceExhaustedError`.
Value ranges (levels, `num_images`, `temperature`) are checked by the server,
which knows the model; the client only converts arguments to the wire dtypes.
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

    def sample(self, num_images, seed=0, temperature=1.0):
        """`num_images` new images: (N, H, W, C) uint8 levels."""
        inputs = {"num_images": _int("num_images", num_images, np.int32)}
        inputs.update(_sampling_inputs(seed, temperature))
        return self.predict("sample", inputs)["images"]

    def log_prob(self, images):
        """{"log_prob": (B,) nats, "bits_per_dim": (B,)} for uint8 levels."""
        return self.predict("log_prob", {"images": _images(images)})

    def complete(self, images, num_known_pixels, seed=0, temperature=1.0):
        """Keeps the first `num_known_pixels` pixels (raster order), samples
        the rest: (B, H, W, C) uint8."""
        inputs = {
            "images": _images(images),
            "num_known_pixels": _int(
                "num_known_pixels", num_known_pixels, np.int32
            ),
        }
        inputs.update(_sampling_inputs(seed, temperature))
        return self.predict("complete", inputs)["images"]

    def model_info(self):
        """What the served model is, from its `model_info` signature.

        Returns {"num_levels": int, "image_shape": (H, W, C),
        "architecture": str, "version": int}; `version` is the version that
        answered, to pin later calls to it.
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
