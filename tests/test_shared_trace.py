"""One trace for the residual blocks that are alike (`shared_trace`)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import pixelrnn_tf as prt
from pixelrnn_tf import layers
from pixelrnn_tf.layers import shared_trace


def _model(architecture, num_classes=None):
    keras.utils.set_random_seed(0)
    config = prt.ModelConfig(
        architecture=architecture,
        image_shape=(4, 4, 3),
        num_levels=4,
        hidden_dim=6,
        num_layers=3,
        num_classes=num_classes,
    )
    return prt.build_model(config)


def _calls(graph):
    """The names of the functions that the graph's call ops call."""
    return [
        node.attr["f"].func.name
        for node in graph.as_graph_def().node
        if node.op.endswith("PartitionedCall")
    ]


def _loss_and_gradients(model):
    """A function of the inputs: a loss of the model's outputs and its
    gradients with respect to the trainable weights."""

    def loss_and_gradients(inputs):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(model(inputs) ** 2)
        return loss, tape.gradient(loss, model.trainable_variables)

    return loss_and_gradients


@pytest.mark.parametrize("num_classes", [None, 3])
@pytest.mark.parametrize("architecture", ["row_lstm", "diagonal_bilstm"])
def test_blocks_alike_share_one_trace_with_the_same_values_and_gradients(
    architecture, num_classes
):
    model = _model(architecture, num_classes)
    rng = np.random.default_rng(0)
    inputs = rng.integers(0, 4, (2, 4, 4, 3)).astype("int32")
    if num_classes:
        inputs = {"images": inputs, "labels": np.array([0, 2], "int32")}

    loss_and_gradients = _loss_and_gradients(model)
    traced = tf.function(loss_and_gradients, autograph=False)
    loss, gradients = traced(inputs)
    # Eagerly, each block runs on its own.
    eager_loss, eager_gradients = loss_and_gradients(inputs)
    np.testing.assert_allclose(loss, eager_loss, rtol=1e-6)
    assert all(g is not None for g in gradients)
    for gradient, eager in zip(gradients, eager_gradients):
        np.testing.assert_allclose(gradient, eager, rtol=1e-5, atol=1e-6)

    # One forward and one backward function, each called by the 3 blocks.
    calls = _calls(traced.get_concrete_function(inputs).graph)
    for kind in ("__forward_traced_", "__backward_traced_"):
        shared = [name for name in calls if kind in name]
        assert len(shared) == 3 and len(set(shared)) == 1, calls


def test_blocks_that_differ_do_not_share_a_trace():
    kwargs = dict(color_channels=3, dtype="float32")
    blocks = [
        layers.PixelRNNResidualBlock("row_lstm", 6, **kwargs),
        layers.PixelRNNResidualBlock("row_lstm", 6, **kwargs),
        layers.PixelRNNResidualBlock("row_lstm", 9, **kwargs),
        layers.PixelRNNResidualBlock("row_lstm", 6, use_residual=False,
                                     **kwargs),
    ]
    x = tf.zeros((2, 4, 4, 12))
    for block in blocks:
        block.build(x.shape)

    @tf.function(autograph=False)
    def outputs(x):
        return [block(x) for block in blocks]

    calls = _calls(outputs.get_concrete_function(x).graph)
    shared = [name for name in calls if "__inference_traced_" in name]
    assert len(shared) == 4 and len(set(shared)) == 3, calls
    for block, output in zip(blocks, outputs(x)):
        np.testing.assert_allclose(output, block.residual(x), atol=1e-6)


def test_unshared_traces_each_block_on_its_own():
    model = _model("row_lstm")
    spec = tf.TensorSpec((2, 4, 4, 3), tf.int32)
    with shared_trace.unshared():
        graph = tf.function(model).get_concrete_function(spec).graph
    assert not [name for name in _calls(graph) if "_traced_" in name]
    shared = tf.function(model).get_concrete_function(spec).graph
    assert len([name for name in _calls(shared) if "_traced_" in name]) == 3


def _parameters(hlo):
    """The number of parameters of an HLO module's entry computation."""
    entry = hlo[hlo.index("\nENTRY") :]
    return entry[: entry.index("\n}")].count(" parameter(")


@pytest.mark.parametrize("architecture", ["row_lstm", "diagonal_bilstm"])
def test_under_xla_each_block_is_traced_on_its_own(architecture):
    # Shared, XLA took every input of the blocks' call as a compile-time
    # constant, the images and the weights, and compiled again each step.
    model = _model(architecture)
    rng = np.random.default_rng(0)
    inputs = tf.constant(rng.integers(0, 4, (2, 4, 4, 3)), tf.int32)

    loss_and_gradients = _loss_and_gradients(model)
    compiled = tf.function(
        loss_and_gradients, autograph=False, jit_compile=True
    )
    loss, gradients = compiled(inputs)
    eager_loss, eager_gradients = loss_and_gradients(inputs)
    np.testing.assert_allclose(loss, eager_loss, rtol=1e-5)
    for gradient, eager in zip(gradients, eager_gradients):
        np.testing.assert_allclose(gradient, eager, rtol=1e-4, atol=1e-5)

    graph = compiled.get_concrete_function(inputs).graph
    assert not [name for name in _calls(graph) if "_traced_" in name]
    hlo = compiled.experimental_get_compiler_ir(inputs)(stage="hlo")
    assert _parameters(hlo) == 1 + len(model.trainable_variables)
