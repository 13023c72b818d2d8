"""Graph-compiled helpers cached per model.

The library's eager entry points (`log_prob`, `sample`, ...) run their
per-batch work as one traced TensorFlow function per model, instead of op by
op. The cache holds the model weakly, so deleting a model frees it.
"""

import weakref

import tensorflow as tf

_CACHE = weakref.WeakKeyDictionary()


def images_spec(model):
    """A batch of any size of the model's images, as float levels."""
    return tf.TensorSpec((None, *model.image_shape), tf.float32)


def labels_spec(model):
    """[a batch of labels] for a class-conditional model, else []."""
    if getattr(model, "num_classes", None) is None:
        return []
    return [tf.TensorSpec((None,), tf.int32)]


def compiled(model, fn, input_signature):
    """`fn(model, *tensors)` as a `tf.function`, traced once per model.

    `input_signature` (TensorSpecs, batch dimension None) makes every batch
    size and argument value share one trace.
    """
    per_model = _CACHE.setdefault(model, {})
    if fn not in per_model:
        ref = weakref.ref(model)
        per_model[fn] = tf.function(
            lambda *args: fn(ref(), *args), input_signature=input_signature
        )
    return per_model[fn]
