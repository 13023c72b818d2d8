import keras
import numpy as np
import pytest
import tensorflow as tf

import pixelrnn_tf as prt


def _run(optimizer, steps=5, jit_compile=False):
    """Variables after `steps` updates by `optimizer` on fixed gradients."""
    rng = np.random.default_rng(0)
    variables = [
        keras.Variable(rng.normal(size=shape).astype("float32"))
        for shape in ((3, 4), (4,), (2, 3, 5))
    ]
    grads = [
        [rng.normal(size=v.shape).astype("float32") for v in variables]
        for _ in range(steps)
    ]
    optimizer.build(variables)
    apply = tf.function(
        lambda g: optimizer.apply(g, variables), jit_compile=jit_compile
    )
    for step in grads:
        apply([tf.constant(g) for g in step])
    return [v.numpy() for v in variables]


@pytest.mark.parametrize("jit_compile", [False, True])
@pytest.mark.parametrize(
    "kwargs",
    [
        dict(learning_rate=1e-2),
        dict(learning_rate=3e-3, beta_1=0.5, beta_2=0.9, epsilon=1e-3),
        dict(learning_rate=1e-2, global_clipnorm=1.0),
        dict(
            learning_rate=keras.optimizers.schedules.ExponentialDecay(
                1e-2, 2, 0.5
            )
        ),
    ],
)
def test_fused_adam_takes_keras_adams_steps(kwargs, jit_compile):
    ours = _run(prt.optimizers.Adam(**kwargs), jit_compile=jit_compile)
    theirs = _run(keras.optimizers.Adam(**kwargs), jit_compile=jit_compile)
    start = _run(keras.optimizers.SGD(0.0))
    for a, b, s in zip(ours, theirs, start):
        # 1 - beta in float32: the steps agree to about 1e-5 of their size.
        np.testing.assert_allclose(a - s, b - s, rtol=1e-4, atol=1e-7)
        assert np.abs(a - s).min() > 1e-4  # the variables moved


def test_fused_adam_is_one_op_per_variable():
    variables = [keras.Variable(np.ones(shape, "float32"))
                 for shape in ((3, 4), (4,), (2, 3, 5))]
    optimizer = prt.optimizers.Adam(1e-2)
    optimizer.build(variables)
    apply = tf.function(lambda g: optimizer.apply(g, variables))
    specs = [tf.TensorSpec(v.shape) for v in variables]
    graph = apply.get_concrete_function(specs).graph
    ops = [op.type for op in graph.get_operations()]
    assert ops.count("ResourceApplyAdam") == 3
    assert "AssignSubVariableOp" not in ops  # Keras' unfused update
    assert ops.count("Pow") == 2  # β1^t and β2^t, once for all variables


def test_amsgrad_keeps_keras_update():
    ours = _run(prt.optimizers.Adam(1e-2, amsgrad=True))
    theirs = _run(keras.optimizers.Adam(1e-2, amsgrad=True))
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(a, b)
