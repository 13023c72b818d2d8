import contextlib

import keras

from pixelrnn_tf import losses
from pixelrnn_tf import optimizers
from pixelrnn_tf.layers.discretized_logistic_mixture_head import (
    DiscretizedLogisticMixtureHead,
)


class DensityModel:
    """Mixin: a `keras.Model` that is its own density.

    `fit(images)` trains on the images as both input and target; the model
    outputs logits (B, H, W, C, L) of every sub-pixel's conditional, so the
    exact NLL is the loss, with nats per image and bits/dim as metrics.

    A model with mixture heads (`head="logistic_mixture"`) trains on the
    mixtures' parameters instead: with the default loss, `fit` and
    `evaluate` have its heads emit them (B, H, W, C, 3K), and the loss and
    metrics score the observed levels only, O(K) per sub-pixel, never the
    (B, H, W, C, L) table that `model(images)` returns.
    """

    def compile(self, optimizer="auto", loss="auto", metrics="auto", **kwargs):
        """`keras.Model.compile` with the defaults of a density model.

        `"auto"` means Adam (learning rate 1e-3, global gradient norm clipped
        at 1), the exact NLL per sub-pixel in nats as the loss, and nats per
        image and bits/dim as metrics. For a mixture-head model, the auto
        loss, and with it the auto metrics, read the mixtures' parameters
        (see the class), unless you pass metrics of your own: they get the
        table of log-probabilities, and so does the loss.
        """
        levels = self.num_levels if self._mixture_heads() else None
        if metrics not in ("auto", None, []):
            levels = None  # your metrics read the table: so does the loss
        if optimizer == "auto":
            optimizer = optimizers.Adam(1e-3, global_clipnorm=1.0)
        if loss == "auto" and levels is None:
            loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        elif loss == "auto":
            loss = losses.DiscretizedLogisticMixtureNLL(levels)
        if metrics == "auto":  # read what the loss reads
            if not isinstance(loss, losses.DiscretizedLogisticMixtureNLL):
                levels = None
            metrics = [losses.NLLNats(num_levels=levels)]
            metrics += [losses.BitsPerDim(num_levels=levels)]
        super().compile(
            optimizer=optimizer, loss=loss, metrics=metrics, **kwargs
        )

    def compile_from_config(self, config):
        self.compile(**keras.saving.deserialize_keras_object(config))
        if self.built:
            self.optimizer.build(self.trainable_variables)

    def subpixel_nll(self, inputs, images, training=False):
        """-log p(x_i | x_<i) of every sub-pixel of `images` in nats, (B,
        H, W, C), where `inputs` are the model's inputs for them. A mixture
        head scores the observed levels only, not the whole table."""
        with self._emitting_parameters(True) as num_levels:
            outputs = self(inputs, training=training)
        return losses.nll_per_subpixel(images, outputs, num_levels)

    def make_train_function(self, force=False):
        """Builds the optimizer's variables first, eagerly.

        Without a distribution strategy Keras builds them inside the first
        trace of the training step; `tf.function` then traces the whole
        step a second time, which doubles the first step's trace time.
        """
        if self.built and self.optimizer is not None:
            if not self.optimizer.built:
                with self.distribute_strategy.scope():
                    self.optimizer.build(self.trainable_variables)
        return super().make_train_function(force)

    def train_step(self, data):
        with self._emitting_parameters(self._trains_on_parameters()):
            return super().train_step(data)

    def test_step(self, data):
        with self._emitting_parameters(self._trains_on_parameters()):
            return super().test_step(data)

    def _mixture_heads(self):
        return [
            layer
            for layer in self._flatten_layers()
            if isinstance(layer, DiscretizedLogisticMixtureHead)
        ]

    def _trains_on_parameters(self):
        """Whether the compiled loss reads mixture parameters."""
        return isinstance(
            getattr(self, "loss", None), losses.DiscretizedLogisticMixtureNLL
        )

    @contextlib.contextmanager
    def _emitting_parameters(self, enabled):
        """While tracing: the mixture heads (if `enabled`) emit parameters.
        Yields the number of levels they emit them for, or None."""
        heads = self._mixture_heads() if enabled else []
        for head in heads:
            head.emit_parameters = True
        try:
            yield self.num_levels if heads else None
        finally:
            for head in heads:
                head.emit_parameters = False

    def compute_loss(
        self, x=None, y=None, y_pred=None, sample_weight=None, training=True
    ):
        y = _target(x, y)  # a density model is its own target
        return super().compute_loss(x, y, y_pred, sample_weight, training)

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        return super().compute_metrics(x, _target(x, y), y_pred, sample_weight)


def _target(x, y):
    """The images: a density model is its own target."""
    if y is not None:
        return y
    return x["images"] if isinstance(x, dict) else x
