"""Graph-compiled helpers cached per model.

The library's eager entry points (`log_prob`, `sample`, ...) run their
per-batch work as one traced TensorFlow function per model, instead of op by
op. The cache holds the model weakly, so deleting a model frees it.
"""

import weakref

import tensorflow as tf

_CACHE = weakref.WeakKeyDictionary()


def compiled(model, fn):
    """`fn(model, *tensors)` as a `tf.function` of the tensors, per model."""
    per_model = _CACHE.setdefault(model, {})
    if fn not in per_model:
        ref = weakref.ref(model)
        per_model[fn] = tf.function(
            lambda *args: fn(ref(), *args), reduce_retracing=True
        )
    return per_model[fn]
