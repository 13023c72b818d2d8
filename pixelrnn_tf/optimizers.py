"""Optimizers whose global-norm clipping is exact under tf.distribute.

Keras clips `global_clipnorm` inside `apply`, on each replica's partial
gradient, *before* the optimizer sums the gradients across replicas. With N
replicas the step is then up to N times larger than on one device, and points
elsewhere. These subclasses sum the gradients first, clip the global
gradient, and hand each replica 1/N of it, so that the optimizer's own sum
gives back exactly the clipped global gradient: N replicas take the same step
as one device on the same global batch.
"""

import keras
import tensorflow as tf


class _GlobalClipping:
    def _clip_gradients(self, grads):
        context = tf.distribute.get_replica_context()
        replicas = context.num_replicas_in_sync if context else 1
        if not self.global_clipnorm or replicas == 1:
            return super()._clip_gradients(grads)
        present = [i for i, g in enumerate(grads) if g is not None]
        summed = context.all_reduce(
            tf.distribute.ReduceOp.SUM, [grads[i] for i in present]
        )
        clipped, _ = tf.clip_by_global_norm(summed, self.global_clipnorm)
        grads = list(grads)
        for i, g in zip(present, clipped):
            grads[i] = g / replicas  # the optimizer sums the replicas again
        return grads


@keras.saving.register_keras_serializable(package="pixelrnn_tf")
class RMSprop(_GlobalClipping, keras.optimizers.RMSprop):
    """`keras.optimizers.RMSprop` with replica-exact `global_clipnorm`."""


@keras.saving.register_keras_serializable(package="pixelrnn_tf")
class Adam(_GlobalClipping, keras.optimizers.Adam):
    """`keras.optimizers.Adam` with replica-exact `global_clipnorm`."""


@keras.saving.register_keras_serializable(package="pixelrnn_tf")
class SGD(_GlobalClipping, keras.optimizers.SGD):
    """`keras.optimizers.SGD` with replica-exact `global_clipnorm`."""
