"""Optimizers whose global-norm clipping is exact under tf.distribute.

Keras clips `global_clipnorm` inside `apply`, on each replica's partial
gradient, *before* the optimizer sums the gradients across replicas. With N
replicas the step is then up to N times larger than on one device, and points
elsewhere. These subclasses sum the gradients first, clip the global
gradient, and hand each replica 1/N of it, so that the optimizer's own sum
gives back exactly the clipped global gradient: N replicas take the same step
as one device on the same global batch. `Adam` also runs its update as one
fused op per variable.
"""

import keras
import tensorflow as tf
from keras import ops


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
    """`keras.optimizers.Adam` with replica-exact `global_clipnorm`, whose
    update is TensorFlow's fused Adam kernel (as in tf.keras 2).

    The kernel computes Keras' update, α = lr·√(1 - β2^t) / (1 - β1^t),
    m += (g - m)(1 - β1), v += (g² - v)(1 - β2), x -= α·m / (√v + ε), in
    one op per variable where Keras builds about fifteen, which the first
    training step traces and optimizes and every step dispatches; the
    kernel's scalars (β^t, the learning rate, ε) are formed once per step
    for all variables. It forms 1 - β in float32 (1 - 0.999 then comes out
    1.3e-5 of itself low), so its steps match Keras' to about 1e-5, not bit
    for bit. AMSGrad keeps Keras' update.
    """

    _step_scalars = None  # {dtype: the update's scalars} during `apply`

    def _scalars(self, dtype, learning_rate):
        """The kernel's scalar arguments: β^t, the learning rate, β, ε."""
        step = ops.cast(self.iterations + 1, dtype)
        beta_1 = ops.cast(self.beta_1, dtype)
        beta_2 = ops.cast(self.beta_2, dtype)
        return dict(
            beta1_power=ops.power(beta_1, step),
            beta2_power=ops.power(beta_2, step),
            lr=ops.cast(learning_rate, dtype),
            beta1=beta_1,
            beta2=beta_2,
            epsilon=ops.cast(self.epsilon, dtype),
        )

    def _distributed_tf_update_step(
        self, distribution, grads_and_vars, learning_rate
    ):
        if self.amsgrad:
            return super()._distributed_tf_update_step(
                distribution, grads_and_vars, learning_rate
            )
        # The scalars once per dtype, not once per variable: each would be
        # traced and optimized as many times as the model has variables.
        dtypes = {_dtype(var) for _, var in grads_and_vars}
        self._step_scalars = {
            dtype: self._scalars(dtype, learning_rate) for dtype in dtypes
        }
        try:
            super()._distributed_tf_update_step(
                distribution, grads_and_vars, learning_rate
            )
        finally:
            self._step_scalars = None

    def update_step(self, gradient, variable, learning_rate):
        if self.amsgrad:
            return super().update_step(gradient, variable, learning_rate)
        dtype = _dtype(variable)
        scalars = (self._step_scalars or {}).get(dtype)
        if scalars is None:  # `update_step` called on its own
            scalars = self._scalars(dtype, learning_rate)
        index = self._get_variable_index(variable)
        tf.raw_ops.ResourceApplyAdam(
            var=_handle(variable),
            m=_handle(self._momentums[index]),
            v=_handle(self._velocities[index]),
            grad=ops.cast(gradient, dtype),
            **scalars,
        )


@keras.saving.register_keras_serializable(package="pixelrnn_tf")
class SGD(_GlobalClipping, keras.optimizers.SGD):
    """`keras.optimizers.SGD` with replica-exact `global_clipnorm`."""


def _dtype(variable):
    return keras.backend.standardize_dtype(variable.dtype)


def _handle(variable):
    """The resource handle of a Keras or a TensorFlow variable."""
    if isinstance(variable, keras.Variable):
        variable = variable.value
    return variable.handle
