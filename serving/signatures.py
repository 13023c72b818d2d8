"""The serving contract: signature names, input names, dtypes, output keys.

| signature | inputs | outputs |
| --- | --- | --- |
| `sample` (also `serving_default`) | `num_images` int32 (), `seed` int64 (), `temperature` float32 (), [`labels` int32 (N,)] | `images` uint8 (N, H, W, C) |
| `log_prob` | `images` uint8 (B, H, W, C), [`labels` int32 (B,)] | `log_prob` float32 (B,) nats, `bits_per_dim` float32 (B,) |
| `complete` | `images` uint8 (B, H, W, C), `num_known_pixels` int32 (), `seed` int64 (), `temperature` float32 (), [`labels` int32 (B,)] | `images` uint8 (B, H, W, C) |
| `model_info` | none | `num_levels` int32 (), `image_shape` int32 (3,) as (H, W, C), `architecture` string (), `num_classes` int32 (), `multi_scale_factor` int32 () |

[`labels`]: only a class-conditional model's signatures take them, the
class of every image in [0, num_classes); the others take no labels.
`model_info` says which: `num_classes` is K for a class-conditional model
and 0 for an unconditional one; `multi_scale_factor` is k for a Multi-Scale
PixelRNN and 1 for a single-scale model.

Images hold levels in [0, num_levels), not rescaled pixels (for a 256-level
model the two coincide). Every input is validated inside the graph: a bad
request fails with INVALID_ARGUMENT and a message that says what was
received. The sampling loop runs in the graph (`pixelrnn_tf.samplers.fill`
with the cached sampler, in two stages for a Multi-Scale PixelRNN), with
stateless randomness from `seed`: the same request gives the same images,
equal to `prt.sample` (`prt.complete`) for that seed and those labels.

`model_info` tells a client what it needs to read the images (the levels
and the shape) and to ask for them (the labels) without knowing the model.
It has no inputs, so it answers over gRPC; TF Serving's REST API refuses
signatures without inputs.
"""

import math

import tensorflow as tf

from pixelrnn_tf import samplers

SIGNATURES = ("sample", "log_prob", "complete", "model_info")
DEFAULT_SIGNATURE = "sample"

NUM_IMAGES = tf.TensorSpec((), tf.int32, name="num_images")
SEED = tf.TensorSpec((), tf.int64, name="seed")
TEMPERATURE = tf.TensorSpec((), tf.float32, name="temperature")
NUM_KNOWN_PIXELS = tf.TensorSpec((), tf.int32, name="num_known_pixels")
LABELS = tf.TensorSpec((None,), tf.int32, name="labels")


def images_spec(model):
    return tf.TensorSpec((None, *model.image_shape), tf.uint8, name="images")


def num_classes(model):
    """K for a class-conditional model, else 0 (as `model_info` says)."""
    return getattr(model, "num_classes", None) or 0


def input_signatures(model):
    """Each signature's inputs, in order; `labels` last where taken."""
    images = images_spec(model)
    labels = [LABELS] if num_classes(model) else []
    return {
        "sample": [NUM_IMAGES, SEED, TEMPERATURE, *labels],
        "log_prob": [images, *labels],
        "complete": [images, NUM_KNOWN_PIXELS, SEED, TEMPERATURE, *labels],
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


def _check_labels(model, labels, count):
    """Each of `labels` (none, or one tensor): one class per image (`count`
    of them), each in [0, K)."""
    k = num_classes(model)
    checks = []
    for y in labels:
        bad = tf.boolean_mask(y, (y < 0) | (y >= k))
        checks += [
            _assert(
                tf.size(y) == count,
                "labels must hold one class per image",
                tf.size(y),
                "labels for",
                count,
                "images",
            ),
            _assert(
                tf.size(bad) == 0, f"labels must lie in [0, {k})", "labels", bad
            ),
        ]
    return checks


def _after(checks, labels):
    """`labels` (a tuple), each read only once `checks` pass."""
    with tf.control_dependencies(checks):
        return tuple(tf.identity(y) for y in labels)


def _conditions(labels):
    """The sampler's `conditions`: {"labels": (N,)} or {}."""
    return {"labels": labels[0]} if labels else {}


def _fill(model, canvas, start, seed, temperature, labels):
    seed = tf.stack([seed, tf.constant(0, tf.int64)])  # one batch: offset 0
    out = samplers.fill(
        model,
        "cached",
        canvas,
        start,
        seed,
        temperature,
        conditions=_conditions(labels),
    )
    return tf.cast(out, tf.uint8)


def sample_fn(model, max_images):
    """`sample`: num_images, seed, temperature[, labels] -> {"images"}."""

    def sample(num_images, seed, temperature, *labels):
        checks = _check_sampling(seed, temperature) + [
            _assert(
                (num_images >= 1) & (num_images <= max_images),
                f"num_images must lie in [1, {max_images}]",
                num_images,
            )
        ]
        checks += _check_labels(model, labels, num_images)
        with tf.control_dependencies(checks):
            canvas = tf.zeros(tf.concat([[num_images], model.image_shape], 0))
        labels = _after(checks, labels)
        return {"images": _fill(model, canvas, 0, seed, temperature, labels)}

    return sample


def _checked(model, images, labels, more_checks=()):
    """(`images` as float32 levels, `labels`), once they and `more_checks`
    pass."""
    checks = _check_images(model, images) + list(more_checks)
    checks += _check_labels(model, labels, tf.shape(images)[0])
    with tf.control_dependencies(checks):
        x = tf.cast(images, tf.float32)
    return x, _after(checks, labels)


def log_prob_fn(model):
    """`log_prob`: images[, labels] -> {"log_prob", "bits_per_dim"}."""
    dims = math.prod(model.image_shape)

    def log_prob(images, *labels):
        x, labels = _checked(model, images, labels)
        nll = model.subpixel_nll(model.inputs_for(x, *labels), x)
        nats = tf.reduce_sum(nll, axis=[1, 2, 3])
        return {
            "log_prob": -nats,
            "bits_per_dim": nats / (dims * math.log(2.0)),
        }

    return log_prob


def complete_fn(model):
    """`complete`: images, num_known_pixels, seed, temperature[, labels] ->
    {"images"}."""
    height, width, channels = model.image_shape

    def complete(images, num_known_pixels, seed, temperature, *labels):
        checks = _check_sampling(seed, temperature)
        checks.append(
            _assert(
                (num_known_pixels >= 0)
                & (num_known_pixels <= height * width),
                f"num_known_pixels must lie in [0, {height * width}]",
                num_known_pixels,
            )
        )
        canvas, labels = _checked(model, images, labels, checks)
        start = num_known_pixels * channels
        return {
            "images": _fill(model, canvas, start, seed, temperature, labels)
        }

    return complete


def model_info_fn(model):
    """`model_info`: no inputs -> {"num_levels", "image_shape",
    "architecture", "num_classes", "multi_scale_factor"}."""

    def model_info():
        return {
            "num_levels": tf.constant(model.num_levels, tf.int32),
            "image_shape": tf.constant(model.image_shape, tf.int32),
            "architecture": tf.constant(model.architecture),
            "num_classes": tf.constant(num_classes(model), tf.int32),
            "multi_scale_factor": tf.constant(
                getattr(model, "multi_scale_factor", 1), tf.int32
            ),
        }

    return model_info
