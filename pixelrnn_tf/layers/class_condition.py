import keras
import tensorflow as tf
from keras import ops


@keras.saving.register_keras_serializable(package="pixelrnn_tf")
class ClassCondition(keras.layers.Layer):
    """Class labels -> the one-hot vectors that condition every block.

    Each conditional layer learns its own projection of the one-hot vector
    (a per-layer class embedding, as the V·h of Gated PixelCNN eq. 4).
    Labels outside [0, num_classes) fail with InvalidArgumentError, in
    eager and graph mode alike, instead of becoming an all-zero vector.

    Args:
        num_classes: int. K.
        **kwargs: base `Layer` arguments.

    Input shape: `(B,)` integer labels. Output shape: `(B, num_classes)`.
    """

    def __init__(self, num_classes, **kwargs):
        super().__init__(**kwargs)
        self.num_classes = num_classes

    def call(self, labels):
        labels = ops.cast(labels, "int32")
        check = tf.debugging.Assert(
            tf.reduce_all((labels >= 0) & (labels < self.num_classes)),
            [
                f"labels must lie in [0, {self.num_classes}). Received:",
                labels,
            ],
        )
        with tf.control_dependencies([check]):
            return ops.one_hot(tf.identity(labels), self.num_classes)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.num_classes,)

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes}
