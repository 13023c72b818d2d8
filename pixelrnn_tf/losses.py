"""Exact negative log-likelihood of images, from a model's outputs.

The outputs are logits (B, H, W, C, L) of every sub-pixel's conditional,
or, where `num_levels` is given, the parameters (B, H, W, C, 3K) of
discretized logistic mixtures at that many levels (what a mixture-head
model hands `fit`; see `pixelrnn_tf.logistic_mixture`).
"""

import math

import keras
from keras import ops

from pixelrnn_tf import logistic_mixture


def nll_per_subpixel(images, logits, num_levels=None):
    """-log p(x_i | x_<i) for every sub-pixel: (B, H, W, C), in nats.

    `images` holds integer levels (any dtype); `logits` is (B, H, W, C, L),
    or mixture parameters (B, H, W, C, 3K) with `num_levels`.
    """
    if num_levels is not None:
        return logistic_mixture.nll(images, logits, num_levels)
    # The levels through float32, as Keras' loss takes them: the default
    # metrics' cross-entropy is then the loss's node, which Grappler merges
    # into one (exact: levels are small integers).
    labels = ops.cast(images, "float32")
    return keras.losses.sparse_categorical_crossentropy(
        labels, ops.cast(logits, "float32"), from_logits=True
    )


def nll_nats(images, logits, num_levels=None):
    """-log p(x) per image in nats: (B,). Exact, no dequantisation."""
    nll = nll_per_subpixel(images, logits, num_levels)
    return ops.sum(nll, axis=(1, 2, 3))


def bits_per_dim(images, logits, num_levels=None):
    """-log2 p(x) / (H·W·C) per image: (B,)."""
    nll = nll_per_subpixel(images, logits, num_levels)
    return ops.mean(nll, axis=(1, 2, 3)) / math.log(2.0)


@keras.saving.register_keras_serializable(package="pixelrnn_tf")
class DiscretizedLogisticMixtureNLL(keras.losses.Loss):
    """-log p(x_i | x_<i) per sub-pixel in nats, from the parameters of
    discretized logistic mixtures (B, H, W, C, 3K): a mixture-head model's
    loss in `fit`, O(K) per sub-pixel (`pixelrnn_tf.logistic_mixture`)."""

    def __init__(
        self,
        num_levels,
        name="discretized_logistic_mixture_nll",
        reduction="sum_over_batch_size",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.num_levels = num_levels

    def call(self, y_true, y_pred):
        return logistic_mixture.nll(y_true, y_pred, self.num_levels)

    def get_config(self):
        return {**super().get_config(), "num_levels": self.num_levels}


class _NLLMetric(keras.metrics.MeanMetricWrapper):
    def __init__(self, fn, name, dtype=None, num_levels=None):
        super().__init__(fn, name=name, dtype=dtype, num_levels=num_levels)
        self.num_levels = num_levels

    def get_config(self):
        config = {"name": self.name, "dtype": self.dtype}
        if self.num_levels is not None:
            config["num_levels"] = self.num_levels
        return config


@keras.saving.register_keras_serializable(package="pixelrnn_tf")
class NLLNats(_NLLMetric):
    """Mean negative log-likelihood per image, in nats. `num_levels`: the
    outputs are mixture parameters at that many levels (see the module)."""

    def __init__(self, name="nll_nats", dtype=None, num_levels=None):
        super().__init__(nll_nats, name, dtype, num_levels)


@keras.saving.register_keras_serializable(package="pixelrnn_tf")
class BitsPerDim(_NLLMetric):
    """Mean negative log2-likelihood per sub-pixel (bits/dim). `num_levels`:
    the outputs are mixture parameters at that many levels (see the
    module)."""

    def __init__(self, name="bits_per_dim", dtype=None, num_levels=None):
        super().__init__(bits_per_dim, name, dtype, num_levels)
