import keras

from pixelrnn_tf import losses
from pixelrnn_tf import optimizers


class DensityModel:
    """Mixin: a `keras.Model` that is its own density.

    `fit(images)` trains on the images as both input and target; the model
    outputs logits (B, H, W, C, L) of every sub-pixel's conditional, so the
    exact NLL is the loss, with nats per image and bits/dim as metrics.
    """

    def compile(self, optimizer="auto", loss="auto", metrics="auto", **kwargs):
        """`keras.Model.compile` with the defaults of a density model.

        `"auto"` means Adam (learning rate 1e-3, global gradient norm clipped
        at 1), the exact NLL per sub-pixel in nats as the loss, and nats per
        image and bits/dim as metrics.
        """
        if optimizer == "auto":
            optimizer = optimizers.Adam(1e-3, global_clipnorm=1.0)
        if loss == "auto":
            loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        if metrics == "auto":
            metrics = [losses.NLLNats(), losses.BitsPerDim()]
        super().compile(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)

    def compile_from_config(self, config):
        self.compile(**keras.saving.deserialize_keras_object(config))
        if self.built:
            self.optimizer.build(self.trainable_variables)

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
