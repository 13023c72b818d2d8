"""One trace for the layers of a model that are alike.

A model's residual blocks differ in their weights only, yet a training
step's trace traces each of them, with its gradient, and Grappler then
optimizes every copy: at the CIFAR-10 Diagonal BiLSTM preset, about 0.25 s
of tracing and 0.2 s of the first call per layer. `call` runs a layer's
forward pass through one `tf.function` for all layers alike (class,
config, weight and argument shapes) in the graph being traced, with the
layer's weights as arguments, not inlined: they share one trace, one
gradient function and one optimization of each.

A function call's gradient reads what the call returns for it, so the
layers inside must not route big tensors through `tf.custom_gradient`
(see `lstm_scan._scan`).

Under XLA (`jit_compile=True`) each layer is traced on its own: XLA needs
some of what the call returns for its gradient (a padding, a slice's
bounds) as compile-time constants, and so makes every input of the call
one, the weights and the images included. It would then compile the
training step again at every step (the binarized MNIST Row LSTM's step
took 4.1 s instead of 0.1 s). XLA inlines and fuses the layers anyway.
"""

import contextlib
import json
import weakref

import keras
import tensorflow as tf

# What `tf.function` itself asks to know whether it is traced for XLA; no
# public API tells.
from tensorflow.python.ops import control_flow_util

_TRACES = weakref.WeakKeyDictionary()  # graph: {what is alike: function}
_UNSHARED = []  # `unshared` scopes entered


@contextlib.contextmanager
def unshared():
    """Traces each layer on its own inside the scope: for tools that do
    not look into functions, such as TensorFlow's graph profiler."""
    _UNSHARED.append(True)
    try:
        yield
    finally:
        _UNSHARED.pop()


@tf.autograph.experimental.do_not_convert
def call(layer, method, *args):
    """`layer.method(*args)` (`method` a name), traced once for the layers
    alike in the graph being built. Eagerly, `unshared` or under XLA, it
    just runs."""
    if tf.executing_eagerly() or _UNSHARED or _compiled_by_xla():
        return getattr(layer, method)(*args)
    traces = _TRACES.setdefault(tf.compat.v1.get_default_graph(), {})
    key = _alike(layer, method, args)
    if key not in traces:
        traces[key] = _trace(layer, method)
    return traces[key]([variable.value for variable in layer.variables], *args)


def _compiled_by_xla():
    """Whether the graph being built is (inside) a `jit_compile` function."""
    return control_flow_util.GraphOrParentsInXlaContext(
        tf.compat.v1.get_default_graph()
    )


def _alike(layer, method, args):
    config = {k: v for k, v in layer.get_config().items() if k != "name"}
    return (
        type(layer),
        method,
        json.dumps(config, sort_keys=True, default=repr),
        tuple((tuple(v.shape), v.dtype) for v in layer.variables),
        tuple(
            None if arg is None else (tuple(arg.shape), arg.dtype.name)
            for arg in args
        ),
    )


def _trace(template, method):
    """The function of `template`'s kind: its weights in, the values."""
    variables = template.variables

    def traced(values, *args):
        with keras.StatelessScope(state_mapping=zip(variables, values)):
            return getattr(template, method)(*args)

    return tf.function(
        traced, autograph=False, experimental_attributes={"_noinline": True}
    )
