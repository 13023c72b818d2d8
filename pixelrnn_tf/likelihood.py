"""Exact log-likelihood of images under a model, in nats and bits/dim."""

import math

import numpy as np
from keras import ops

from pixelrnn_tf import validation
from pixelrnn_tf.compiled import compiled
from pixelrnn_tf.compiled import images_spec
from pixelrnn_tf.compiled import labels_spec


def _log_prob_batch(model, images, *labels):
    inputs = model.inputs_for(images, *labels)
    nll = model.subpixel_nll(inputs, images)  # mixture: no (…, L) table
    return -ops.sum(nll, axis=(1, 2, 3))


def log_prob(model, images, batch_size=64, labels=None):
    """Exact log p(x) in nats for each image: (B,) float32 NumPy array.

    Args:
        model: a model from `build_model` (or any `AutoregressiveModel`).
        images: (B, H, W, C) integer levels in [0, num_levels), any int or
            float dtype.
        batch_size: images per forward pass.
        labels: (B,) integer classes of a class-conditional model: then
            log p(x | y). Must be None for an unconditional model.
    """
    values, labels = validation.checked_inputs(model, images, labels)
    signature = [images_spec(model), *labels_spec(model)]
    fn = compiled(model, _log_prob_batch, signature)
    out = [
        np.asarray(
            fn(
                values[i : i + batch_size].astype("float32"),
                *[y[i : i + batch_size] for y in labels],
            )
        )
        for i in range(0, len(values), batch_size)
    ]
    return np.concatenate(out) if out else np.zeros((0,), "float32")


def bits_per_dim(model, images, batch_size=64, labels=None):
    """-log2 p(x) / (H·W·C) (given `labels`, as in `log_prob`): (B,)."""
    dims = math.prod(model.image_shape)
    nats = log_prob(model, images, batch_size, labels)
    return -nats / (dims * math.log(2.0))

