"""The serving contract: signature names, input names, dtypes, output keys.

| signature | inputs | outputs |
| --- | --- | --- |
| `sample` (also `serving_default`) | `num_images` int32 (), `seed` int64 (), `temperature` float32 () | `images` uint8 (N, H, W, C) |
| `log_prob` | `images` uint8 (B, H, W, C) | `log_prob` float32 (B,) nats, `bits_per_dim` float32 (B,) |
| `complete` | `images` uint8 (B, H, W, C), `num_known_pixels` int32 (), `seed` int64 (), `temperature` float32 () | `images` uint8 (B, H, W, C) |
| `model_info` | none | `num_levels` int32 (), `image_shape` int32 (3,) as (H, W, C), `architecture` string () |

Images hold levels in [0, num_levels), not rescaled pixels (for a 256-level
model the two coincide). Every input is validated inside the graph: a bad
request fails with INVALID_ARGUMENT and a message that says what was
received. The sampling loop runs in the graph (the cached sampler of
`pixelrnn_tf.samplers`), with stateless randomness from `seed`: the same
request gives the same images, equal to `prt.sample` for that seed.

`model_info` tells a client what it needs to read the images (the levels
and the shape) without knowing the model. It has no inputs, so it answers
over gRPC; TF Serving's REST API refuses signatures without inputs.
"""

import math

import tensorflow as tf

from pixelrnn_tf import losses
from pixelrnn_tf import samplers

SIGNATURES = ("sample", "log_prob", "complete", "model_info")
DEFAULT_SIGNATURE = "sample"

NUM_IMAGES = tf.TensorSpec((), tf.int32, name="num_images")
SEED = tf.TensorSpec((), tf.int64, name="seed")
TEMPERATURE = tf.TensorSpec((), tf.float32, name="temperature")
NUM_KNOWN_PIXELS = tf.TensorSpec((), tf.int32, name="num_known_pixels")


def images_spec(model):
    return tf.TensorSpec((None, *model.image_shape), tf.uint8, name="images")


def input_signatures(model):
    """Each signature's inputs, in order."""
    images = images_spec(model)
    return {
        "sample": [NUM_IMAGES, SEED, TEMPERATURE],
        "log_prob": [images],
        "complete": [images, NUM_KNOWN_PIXELS, SEED, TEMPERATURE],
        "model_info": [],
    }


def _assert(condition, message, *received):
    """In-graph check: fails the request with INVALID_ARGUMENT."""
    return tf.debugging.Assert(condition, [message, "Received:", *received])


def _check_images(model, images):
    top = tf.reduce_max(tf.reshape(images, [-1]))
    top = tf.cast(tf.maximum(top, 0), tf.int32)  # 0 for an empty batch
    return [
        _assert(
            top < model.num_levels,
            f"image levels must lie in [0, {model.num_levels})",
            "max level",
            top,
        )
    ]


def _check_sampling(seed, temperature):
    del seed  # any int64 is a valid seed
    return [
        _assert(
            tf.math.is_finite(temperature) & (temperature > 0),
            "temperature must be a finite number > 0",
            temperature,
        )
    ]


def _fill(model, canvas, start, seed, temperature):
    sampler = samplers.CachedSampler(model)
    seed = tf.stack([seed, tf.constant(0, tf.int64)])  # one batch: offset 0
    out = sampler.fill(canvas, start, seed, temperature)
    return tf.cast(out, tf.uint8)


def sample_fn(model, max_images):
    """`sample`: num_images, seed, temperature -> {"images"}."""

    def sample(num_images, seed, temperature):
        checks = _check_sampling(seed, temperature) + [
            _assert(
                (num_images >= 1) & (num_images <= max_images),
                f"num_images must lie in [1, {max_images}]",
                num_images,
            )
        ]
        with tf.control_dependencies(checks):
            canvas = tf.zeros(tf.concat([[num_images], model.image_shape], 0))
        return {"images": _fill(model, canvas, 0, seed, temperature)}

    return sample


def log_prob_fn(model):
    """`log_prob`: images -> {"log_prob", "bits_per_dim"}."""
    dims = math.prod(model.image_shape)

    def log_prob(images):
        with tf.control_dependencies(_check_images(model, images)):
            x = tf.cast(images, tf.float32)
        nats = losses.nll_nats(x, model(x, training=False))
        return {
            "log_prob": -nats,
            "bits_per_dim": nats / (dims * math.log(2.0)),
        }

    return log_prob


def complete_fn(model):
    """`complete`: images, num_known_pixels, seed, temperature -> {"images"}."""
    height, width, channels = model.image_shape

    def complete(images, num_known_pixels, seed, temperature):
        checks = _check_images(model, images) + _check_sampling(
            seed, temperature
        )
        checks.append(
            _assert(
                (num_known_pixels >= 0)
                & (num_known_pixels <= height * width),
                f"num_known_pixels must lie in [0, {height * width}]",
                num_known_pixels,
            )
        )
        with tf.control_dependencies(checks):
            canvas = tf.cast(images, tf.float32)
        start = num_known_pixels * channels
        return {"images": _fill(model, canvas, start, seed, temperature)}

    return complete


def model_info_fn(model):
    """`model_info`: no inputs -> {"num_levels", "image_shape",
    "architecture"}."""

    def model_info():
        return {
            "num_levels": tf.constant(model.num_levels, tf.int32),
            "image_shape": tf.constant(model.image_shape, tf.int32),
            "architecture": tf.constant(model.architecture),
        }

    return model_info
