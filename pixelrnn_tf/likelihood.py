"""Exact log-likelihood of images under a model, in nats and bits/dim."""

import math

import numpy as np

from pixelrnn_tf import losses
from pixelrnn_tf import validation
from pixelrnn_tf.compiled import compiled
from pixelrnn_tf.compiled import images_spec


def _log_prob_batch(model, images):
    return -losses.nll_nats(images, model(images, training=False))


def log_prob(model, images, batch_size=64):
    """Exact log p(x) in nats for each image: (B,) float32 NumPy array.

    Args:
        model: a model from `build_model` (or any `AutoregressiveModel`).
        images: (B, H, W, C) integer levels in [0, num_levels), any int or
            float dtype.
        batch_size: images per forward pass.
    """
    values = _checked(model, images)
    fn = compiled(model, _log_prob_batch, [images_spec(model)])
    out = [
        np.asarray(fn(values[i : i + batch_size].astype("float32")))
        for i in range(0, len(values), batch_size)
    ]
    return np.concatenate(out) if out else np.zeros((0,), "float32")


def bits_per_dim(model, images, batch_size=64):
    """-log2 p(x) / (H·W·C) for each image: (B,) NumPy array."""
    dims = math.prod(model.image_shape)
    return -log_prob(model, images, batch_size) / (dims * math.log(2.0))


def _checked(model, images):
    images = np.asarray(images)
    validation.check_images(
        images, model.image_shape, model.num_levels, integers=True
    )
    return images
