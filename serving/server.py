"""A small gRPC server that speaks TF Serving's protocol, for dev and tests.

The official `tensorflow_model_server` cannot be installed here, so this
module answers the stock `PredictionServiceStub` (`Predict`,
`GetModelMetadata`) and `ModelServiceStub` (`GetModelStatus`) from
`tf.saved_model.load` of the versions in a model base folder:

    >>> with serve("/models/pixelrnn", port=0) as server:
    ...     client = PixelRNNClient(f"127.0.0.1:{server.port}")

Like TF Serving's default "latest" version policy, it serves the highest
integer folder `<base>/<version>/` and polls for newer ones. Unlike it, older
loaded versions stay available to requests that name them. Each version
replays its `assets.extra/tf_serving_warmup_requests` before it is served;
a version that fails to load or warm up is logged and skipped, and the
previous one keeps serving. Non-integer folders (`.tmp-*` from an export in
progress) are ignored.

Status codes: INVALID_ARGUMENT for a bad request (input names, dtypes,
shapes, the batch and `num_images` caps, and the in-graph checks of
`serving/signatures.py`, a class-conditional model's labels among them);
NOT_FOUND for an unknown model name, version or signature (TF Serving
itself answers FAILED_PRECONDITION for an unknown signature);
RESOURCE_EXHAUSTED from gRPC for a message over `max_message_bytes`.
"""

import concurrent.futures
import logging
import os
import threading

import grpc
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow_serving.apis import get_model_metadata_pb2
from tensorflow_serving.apis import get_model_status_pb2
from tensorflow_serving.apis import model_service_pb2_grpc
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.apis import prediction_log_pb2
from tensorflow_serving.apis import prediction_service_pb2_grpc

log = logging.getLogger(__name__)

DEFAULT_SIGNATURE = "serving_default"
WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")
MAX_WARMUP_RECORDS = 1000  # TF Serving's cap


class RequestError(Exception):
    """A request the server refuses: a gRPC status code and a message."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


def _reason(error):
    """The `tf.debugging.Assert` line of a graph error, else its message."""
    for line in error.message.splitlines():
        if line.startswith("assertion failed:"):
            return line
    return error.message


def _tree_mtime(path):
    """The newest modification time of `path` and everything under it."""
    newest = os.stat(path).st_mtime_ns
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            try:
                newest = max(
                    newest, os.stat(os.path.join(root, name)).st_mtime_ns
                )
            except OSError:  # removed while we looked
                pass
    return newest


def _describe(dtype, shape):
    shape = "unknown" if shape.rank is None else tuple(shape.as_list())
    return f"dtype={dtype.name}, shape={shape}"


class LoadedVersion:
    """One SavedModel version: its signatures, specs and SignatureDefs."""

    def __init__(self, version, path):
        self.version = version
        self.path = path
        self._module = tf.saved_model.load(path)  # keeps variables alive
        self.signatures = dict(self._module.signatures)
        self.input_specs = {
            name: fn.structured_input_signature[1]
            for name, fn in self.signatures.items()
        }
        with open(os.path.join(path, "saved_model.pb"), "rb") as f:
            saved_model = saved_model_pb2.SavedModel.FromString(f.read())
        self.signature_defs = saved_model.meta_graphs[0].signature_def

    def warm_up(self, predict):
        """Replays the export's warm-up records; returns how many ran."""
        path = os.path.join(self.path, WARMUP_FILE)
        if not os.path.exists(path):
            return 0
        count = 0
        for record in tf.data.TFRecordDataset(path).take(MAX_WARMUP_RECORDS):
            entry = prediction_log_pb2.PredictionLog.FromString(record.numpy())
            if entry.WhichOneof("log_type") == "predict_log":
                predict(self, entry.predict_log.request)
                count += 1
        return count


class ModelServer:
    """The versions of one model, their loading, and request handling."""

    def __init__(self, base, model_name, max_batch, max_images):
        self.base = base
        self.model_name = model_name
        self.max_batch = max_batch
        self.max_images = max_images
        self._lock = threading.Lock()
        self._versions = {}  # version -> LoadedVersion
        self._failed = {}  # version -> (newest mtime in it, error message)

    # Versions.

    @property
    def versions(self):
        """The loaded version numbers, sorted."""
        with self._lock:
            return sorted(self._versions)

    def _version_folders(self):
        found = {}
        for name in os.listdir(self.base):
            path = os.path.join(self.base, name)
            if name.isdigit() and int(name) > 0 and os.path.isdir(path):
                found[int(name)] = path
        return found

    def poll(self):
        """Loads the highest new version folder that loads; returns it or None.

        Only versions above the newest loaded one are candidates, tried from
        the highest down. A folder that failed is retried once a file in it
        changes (e.g. a copy that was still in progress).
        """
        with self._lock:
            latest = max(self._versions, default=0)
        candidates = sorted(
            (v, p) for v, p in self._version_folders().items() if v > latest
        )
        for version, path in reversed(candidates):
            if not os.path.exists(os.path.join(path, "saved_model.pb")):
                continue  # not written yet (or not a SavedModel)
            mtime = _tree_mtime(path)
            with self._lock:
                failed = self._failed.get(version, (None,))[0] == mtime
            if failed:
                continue
            try:
                loaded = LoadedVersion(version, path)
                warmed = loaded.warm_up(self._run)
            except Exception as e:  # noqa: BLE001 - keep the old version
                log.exception(
                    "Failed to load version %d from %s", version, path
                )
                with self._lock:
                    self._failed[version] = (mtime, f"{type(e).__name__}: {e}")
                continue
            with self._lock:
                self._versions[version] = loaded
                self._failed.pop(version, None)
            log.info(
                "Serving %s version %d from %s (%d warm-up requests)",
                self.model_name,
                version,
                path,
                warmed,
            )
            return version
        return None

    def _resolve(self, model_spec):
        """The `LoadedVersion` that `model_spec` asks for."""
        if model_spec.name != self.model_name:
            raise RequestError(
                grpc.StatusCode.NOT_FOUND,
                f"Servable not found for request: unknown model name. This "
                f"server serves {self.model_name!r}. Received: "
                f"name={model_spec.name!r}",
            )
        if model_spec.version_label:
            raise RequestError(
                grpc.StatusCode.NOT_FOUND,
                "Version labels are not supported. Received: "
                f"version_label={model_spec.version_label!r}",
            )
        with self._lock:
            if model_spec.HasField("version"):
                version = model_spec.version.value
                loaded = self._versions.get(version)
                if loaded is None:
                    raise RequestError(
                        grpc.StatusCode.NOT_FOUND,
                        f"Servable not found for request: Specific("
                        f"{self.model_name}, {version}). Loaded versions: "
                        f"{sorted(self._versions)}",
                    )
                return loaded
            if not self._versions:
                raise RequestError(
                    grpc.StatusCode.NOT_FOUND,
                    f"Servable not found for request: Latest("
                    f"{self.model_name}). No version is loaded yet.",
                )
            return self._versions[max(self._versions)]

    # Requests.

    def predict(self, request):
        loaded = self._resolve(request.model_spec)
        signature_name, outputs = self._run(loaded, request)
        response = predict_pb2.PredictResponse()
        response.model_spec.name = self.model_name
        response.model_spec.version.value = loaded.version
        response.model_spec.signature_name = signature_name
        for key, value in outputs.items():
            response.outputs[key].CopyFrom(tf.make_tensor_proto(value))
        return response

    def _run(self, loaded, request):
        """Validates `request` and calls the signature: (name, {key: array})."""
        name = request.model_spec.signature_name or DEFAULT_SIGNATURE
        fn = loaded.signatures.get(name)
        if fn is None:
            raise RequestError(
                grpc.StatusCode.NOT_FOUND,
                f'Serving signature key "{name}" not found. Available: '
                f"{sorted(loaded.signatures)}",
            )
        inputs = self._inputs(name, loaded.input_specs[name], request.inputs)
        wanted = list(request.output_filter)
        try:
            outputs = fn(**inputs)
        except tf.errors.InvalidArgumentError as e:
            raise RequestError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"Signature {name!r} rejected the request: {_reason(e)}",
            ) from e
        unknown = sorted(set(wanted) - set(outputs))
        if unknown:
            raise RequestError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"Unknown output_filter keys for signature {name!r}; "
                f"expected some of {sorted(outputs)}. Received: {unknown}",
            )
        keys = wanted or list(outputs)
        return name, {k: outputs[k].numpy() for k in keys}

    def _inputs(self, name, specs, protos):
        """Checks the input tensors against the signature: {name: tensor}."""
        missing = sorted(set(specs) - set(protos))
        unknown = sorted(set(protos) - set(specs))
        if missing or unknown:
            raise RequestError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"Signature {name!r} takes inputs {sorted(specs)}. Received: "
                f"{sorted(protos)} (missing {missing}, unknown {unknown})",
            )
        inputs = {}
        for key, spec in specs.items():
            proto = protos[key]
            try:
                dtype = tf.dtypes.as_dtype(proto.dtype)
            except TypeError:  # DT_INVALID or an unknown enum value
                dtype = None
            shape = tf.TensorShape(proto.tensor_shape)
            if (
                dtype != spec.dtype
                or not shape.is_fully_defined()
                or not spec.shape.is_compatible_with(shape)
            ):
                got = _describe(dtype, shape) if dtype else "an invalid dtype"
                raise RequestError(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"Input {key!r} of signature {name!r} must have "
                    f"{_describe(spec.dtype, spec.shape)}. Received: {got}",
                )
            # One entry per image: `sample`'s labels count num_images.
            cap = self.max_images if "num_images" in specs else self.max_batch
            if shape.rank >= 1 and shape[0] > cap:
                raise RequestError(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"Input {key!r}: at most {cap} images per request. "
                    f"Received: batch size {shape[0]}",
                )
            try:
                value = tf.make_ndarray(proto)
            except Exception as e:  # noqa: BLE001 - malformed content
                raise RequestError(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"Input {key!r} could not be decoded. Received: "
                    f"{_describe(dtype, shape)} ({e})",
                ) from e
            if key == "num_images" and value > self.max_images:
                raise RequestError(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"num_images must be at most {self.max_images}. "
                    f"Received: num_images={int(value)}",
                )
            inputs[key] = tf.constant(value, spec.dtype)
        return inputs

    def metadata(self, request):
        loaded = self._resolve(request.model_spec)
        fields = list(request.metadata_field)
        if not fields:
            raise RequestError(
                grpc.StatusCode.INVALID_ARGUMENT,
                "GetModelMetadataRequest must name at least one "
                "metadata_field. Received: []",
            )
        unsupported = [f for f in fields if f != "signature_def"]
        if unsupported:
            raise RequestError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"Only metadata_field 'signature_def' is supported. "
                f"Received: {fields}",
            )
        response = get_model_metadata_pb2.GetModelMetadataResponse()
        response.model_spec.name = self.model_name
        response.model_spec.version.value = loaded.version
        defs = get_model_metadata_pb2.SignatureDefMap()
        for key, signature_def in loaded.signature_defs.items():
            defs.signature_def[key].CopyFrom(signature_def)
        response.metadata["signature_def"].Pack(defs)
        return response

    def status(self, request):
        spec = request.model_spec
        if spec.name != self.model_name:
            self._resolve(spec)  # raises NOT_FOUND
        state = get_model_status_pb2.ModelVersionStatus.State
        with self._lock:
            rows = {v: (state.AVAILABLE, 0, "") for v in self._versions}
            for version, (_, message) in self._failed.items():
                rows.setdefault(version, (state.END, 2, message))  # UNKNOWN
        if spec.HasField("version"):
            if spec.version.value not in rows:
                raise RequestError(
                    grpc.StatusCode.NOT_FOUND,
                    f"Could not find version {spec.version.value} of model "
                    f"{self.model_name!r}. Known versions: {sorted(rows)}",
                )
            rows = {spec.version.value: rows[spec.version.value]}
        response = get_model_status_pb2.GetModelStatusResponse()
        for version in sorted(rows):
            value, code, message = rows[version]
            row = response.model_version_status.add(version=version)
            row.state = value
            row.status.error_code = code
            row.status.error_message = message
        return response


def _answer(method, request, context):
    """Calls `method`; turns `RequestError`s and crashes into gRPC statuses."""
    try:
        return method(request)
    except RequestError as e:
        log.debug("Rejected a request: %s: %s", e.code.name, e.message)
        context.abort(e.code, e.message)
    except Exception as e:  # noqa: BLE001 - keep serving
        log.exception("Internal error while serving a request")
        context.abort(grpc.StatusCode.INTERNAL, f"{type(e).__name__}: {e}")


class _PredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(self, model):
        self._model = model

    def Predict(self, request, context):
        return _answer(self._model.predict, request, context)

    def GetModelMetadata(self, request, context):
        return _answer(self._model.metadata, request, context)


class _ModelService(model_service_pb2_grpc.ModelServiceServicer):
    def __init__(self, model):
        self._model = model

    def GetModelStatus(self, request, context):
        return _answer(self._model.status, request, context)


class LocalServer:
    """A running server: `.port`, `.stop()`, `.wait()`; a context manager."""

    def __init__(self, model, grpc_server, port, poll_seconds):
        self.model = model
        self.port = port
        self._server = grpc_server
        self._poll_seconds = poll_seconds
        self._stopped = threading.Event()
        self._poller = threading.Thread(
            target=self._poll_loop, name="pixelrnn-version-poller", daemon=True
        )
        self._poller.start()

    @property
    def versions(self):
        """The loaded version numbers, sorted."""
        return self.model.versions

    def _poll_loop(self):
        while not self._stopped.wait(self._poll_seconds):
            try:
                self.model.poll()
            except Exception:  # noqa: BLE001 - e.g. the base folder vanished
                log.exception(
                    "Polling %s for new versions failed", self.model.base
                )

    def stop(self, grace=None):
        """Stops serving; in-flight requests get `grace` seconds to finish."""
        self._stopped.set()
        self._server.stop(grace).wait()
        if self._poller is not threading.current_thread():
            self._poller.join(timeout=60)
        log.info("Stopped the server on port %d", self.port)

    def wait(self, timeout=None):
        """Blocks until the server stops; True if `timeout` ran out first."""
        return self._server.wait_for_termination(timeout)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.stop()


def _positive_int(name, value):
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(
            f"`{name}` must be a positive integer. Received: {name}={value!r}"
        )


def serve(
    base,
    port=8500,
    host="127.0.0.1",
    model_name="pixelrnn",
    poll_seconds=1.0,
    max_message_bytes=4 * 1024 * 1024,
    max_batch=64,
    max_images=64,
    max_workers=8,
):
    """Starts serving `<base>/<version>/` SavedModels over gRPC.

    Returns a started `LocalServer` (non-blocking); `port=0` picks a free
    port, read back from `.port`. Loads the highest loadable version before
    returning (if there is none yet, the first one to appear is served).
    """
    base = os.fspath(base)
    if not os.path.isdir(base):
        raise ValueError(
            f"The model base folder does not exist. Received: base={base!r}"
        )
    if (
        not isinstance(port, int)
        or isinstance(port, bool)
        or not (0 <= port <= 65535)
    ):
        raise ValueError(
            f"`port` must be an integer in [0, 65535]. Received: port={port!r}"
        )
    if not isinstance(model_name, str) or not model_name:
        raise ValueError(
            f"`model_name` must be a non-empty string. Received: {model_name!r}"
        )
    if not isinstance(poll_seconds, (int, float)) or not poll_seconds > 0:
        raise ValueError(
            "`poll_seconds` must be a number > 0. Received: "
            f"poll_seconds={poll_seconds!r}"
        )
    for name, value in [
        ("max_message_bytes", max_message_bytes),
        ("max_batch", max_batch),
        ("max_images", max_images),
        ("max_workers", max_workers),
    ]:
        _positive_int(name, value)

    model = ModelServer(base, model_name, max_batch, max_images)
    if model.poll() is None:
        log.warning("No loadable version in %s yet; waiting for one", base)
    grpc_server = grpc.server(
        concurrent.futures.ThreadPoolExecutor(
            max_workers, thread_name_prefix="pixelrnn-grpc"
        ),
        options=[
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.max_send_message_length", max_message_bytes),
            ("grpc.so_reuseport", 0),  # a taken port is an error
        ],
    )
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
        _PredictionService(model), grpc_server
    )
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(
        _ModelService(model), grpc_server
    )
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        bound = grpc_server.add_insecure_port(address)
    except RuntimeError as e:
        raise OSError(f"Could not bind {address}: {e}") from e
    if bound == 0:
        raise OSError(f"Could not bind {address}")
    grpc_server.start()
    log.info(
        "Serving model %r from %s on %s:%d (versions %s)",
        model_name,
        base,
        host,
        bound,
        model.versions,
    )
    return LocalServer(model, grpc_server, bound, poll_seconds)
