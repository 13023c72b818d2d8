"""`assets.extra/tf_serving_warmup_requests`: one small request per signature.

TF Serving replays these records when it loads a version, so the first real
request does not pay for graph warm-up.
"""

import os

import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import model_pb2
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.apis import prediction_log_pb2

from serving import signatures

WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")


def warmup_requests(model, model_name="pixelrnn"):
    """A 1-image `PredictRequest` per signature (class 0 where labels are
    taken)."""
    height, width = model.image_shape[:2]
    image = np.zeros((1, *model.image_shape), np.uint8)
    conditional = signatures.num_classes(model)
    labels = {"labels": np.zeros((1,), np.int32)} if conditional else {}
    inputs = {
        "sample": {
            "num_images": np.int32(1),
            "seed": np.int64(0),
            "temperature": np.float32(1.0),
            **labels,
        },
        "log_prob": {"images": image, **labels},
        "complete": {
            "images": image,
            "num_known_pixels": np.int32(height * width),
            "seed": np.int64(0),
            "temperature": np.float32(1.0),
            **labels,
        },
        "model_info": {},
    }
    for name, values in inputs.items():
        request = predict_pb2.PredictRequest(
            model_spec=model_pb2.ModelSpec(name=model_name, signature_name=name)
        )
        for key, value in values.items():
            request.inputs[key].CopyFrom(tf.make_tensor_proto(value))
        yield request


def write_warmup_requests(export_dir, model, model_name="pixelrnn"):
    path = os.path.join(export_dir, WARMUP_FILE)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tf.io.TFRecordWriter(path) as writer:
        for request in warmup_requests(model, model_name):
            log = prediction_log_pb2.PredictionLog(
                predict_log=prediction_log_pb2.PredictLog(request=request)
            )
            writer.write(log.SerializeToString())
    return path
