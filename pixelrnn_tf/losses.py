"""Exact negative log-likelihood of images under a per-sub-pixel softmax."""

import math

import keras
from keras import ops


def nll_per_subpixel(images, logits):
    """-log p(x_i | x_<i) for every sub-pixel: (B, H, W, C), in nats.

    `images` holds integer levels (any dtype); `logits` is (B, H, W, C, L).
    """
    labels = ops.cast(images, "int32")
    return keras.losses.sparse_categorical_crossentropy(
        labels, ops.cast(logits, "float32"), from_logits=True
    )


def nll_nats(images, logits):
    """-log p(x) per image in nats: (B,). Exact, no dequantisation."""
    return ops.sum(nll_per_subpixel(images, logits), axis=(1, 2, 3))


def bits_per_dim(images, logits):
    """-log2 p(x) / (H·W·C) per image: (B,)."""
    nll = nll_per_subpixel(images, logits)
    return ops.mean(nll, axis=(1, 2, 3)) / math.log(2.0)


@keras.saving.register_keras_serializable(package="pixelrnn_tf")
class NLLNats(keras.metrics.MeanMetricWrapper):
    """Mean negative log-likelihood per image, in nats."""

    def __init__(self, name="nll_nats", dtype=None):
        super().__init__(nll_nats, name=name, dtype=dtype)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


@keras.saving.register_keras_serializable(package="pixelrnn_tf")
class BitsPerDim(keras.metrics.MeanMetricWrapper):
    """Mean negative log2-likelihood per sub-pixel (bits/dim)."""

    def __init__(self, name="bits_per_dim", dtype=None):
        super().__init__(bits_per_dim, name=name, dtype=dtype)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}
