"""Shared test machinery: layer checks and the raster-order Jacobian."""

import json

import keras
import numpy as np
import tensorflow as tf

from pixelrnn_tf import layers
from pixelrnn_tf import masks

POLICIES = ("float32", "mixed_bfloat16")


def check_layer(
    layer_cls,
    init_kwargs,
    input_shape,
    expected_output_shape,
    expected_num_trainable_weights=None,
):
    """A function-style `run_layer_test`: config, build, shapes, fit, dtypes."""
    layer = layer_cls(**init_kwargs)
    config = layer.get_config()
    clone = layer_cls.from_config(config)
    assert json.dumps(clone.get_config(), sort_keys=True) == json.dumps(
        config, sort_keys=True
    )
    restored = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(layer)
    )
    assert type(restored) is layer_cls
    assert restored.get_config() == config

    layer.build(input_shape)
    if expected_num_trainable_weights is not None:
        assert len(layer.trainable_weights) == expected_num_trainable_weights
    assert layer.non_trainable_weights == []

    symbolic = layer_cls(**init_kwargs)(keras.Input(input_shape[1:]))
    assert tuple(symbolic.shape) == (None,) + tuple(expected_output_shape[1:])

    x = np.random.default_rng(0).normal(size=input_shape).astype("float32")
    y = layer(x)
    assert tuple(y.shape) == tuple(expected_output_shape)
    assert keras.backend.standardize_dtype(y.dtype) == "float32"

    inputs = keras.Input(input_shape[1:])
    model = keras.Model(inputs, layer_cls(**init_kwargs)(inputs))
    model.compile("sgd", "mse")
    before = [w.numpy().copy() for w in model.trainable_weights]
    model.fit(x, np.zeros(expected_output_shape), epochs=1, verbose=0)
    changed = [
        not np.array_equal(b, w.numpy())
        for b, w in zip(before, model.trainable_weights)
    ]
    assert any(changed)

    for policy in ("mixed_float16", "mixed_bfloat16"):
        keras.config.set_dtype_policy(policy)
        try:
            mixed = layer_cls(**init_kwargs)
            out = mixed(x)
        finally:
            keras.config.set_dtype_policy("float32")
        float32_head = issubclass(layer_cls, layers.PerChannelSoftmaxHead)
        expected = "float32" if float32_head else policy[6:]
        assert keras.backend.standardize_dtype(out.dtype) == expected
        assert all(w.dtype == "float32" for w in mixed.weights)


def raster_jacobian(fn, image_shape, num_levels, num_features=None, seed=0):
    """J[i, j] = d out_i / d in_j, both raster-indexed (row, col, channel).

    `fn` maps a (2, H, W, C) float batch to logits (2, H, W, C, L) or, for
    a layer, to features (2, H, W, F): those are reduced to one value per
    sub-pixel by a random projection of each contiguous R|G|B group. Also
    asserts that no output depends on another image of the batch.
    """
    h, w, c = image_shape
    rng = np.random.default_rng(seed)
    x = tf.constant(rng.uniform(0, num_levels - 1, (2, h, w, c)), tf.float32)
    fn(x)  # build the weights eagerly, outside the traced function
    proj = None

    def per_subpixel(x):
        nonlocal proj
        y = tf.cast(fn(x), tf.float32)
        if y.shape.rank == 5:  # logits (2, H, W, C, L)
            if proj is None:
                proj = tf.constant(rng.normal(size=y.shape[-1]), tf.float32)
            return tf.reduce_sum(y * proj, axis=-1)
        # features (2, H, W, F) in C contiguous groups -> (2, H, W, C)
        if proj is None:
            groups = masks.channel_groups(y.shape[-1], c)
            weights = rng.normal(size=y.shape[-1])[:, None] * np.eye(c)[groups]
            proj = tf.constant(weights, tf.float32)  # (F, C)
        return tf.einsum("bhwf,fc->bhwc", y, proj)

    @tf.function
    def jacobian(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = per_subpixel(x)
        return tape.jacobian(
            y,
            x,
            experimental_use_pfor=False,
            unconnected_gradients=tf.UnconnectedGradients.ZERO,
        )

    jac = jacobian(x)
    n = h * w * c
    jac = tf.reshape(jac, (2, n, 2, n)).numpy()  # (batch_out, i, batch_in, j)
    np.testing.assert_array_equal(jac[0, :, 1, :], 0.0)  # no cross-batch leak
    np.testing.assert_array_equal(jac[1, :, 0, :], 0.0)
    return jac[0, :, 0, :] + jac[1, :, 1, :]


def assert_autoregressive(jac):
    """Strictly lower-triangular: sub-pixel i never sees j >= i. Exactly."""
    np.testing.assert_array_equal(np.triu(jac), 0.0)


def expected_context(image_shape, offsets):
    """The context each sub-pixel must see, from a spatial receptive field.

    `offsets` is the set of (d_row, d_col) the network reaches, (0, 0)
    included. Sub-pixel (r, c, k) then sees every channel of the pixels
    (r + dr, c + dc) that come strictly earlier, and the channels < k of its
    own pixel. Returns a boolean (n, n) matrix in raster order.
    """
    h, w, ch = image_shape
    n = h * w * ch
    seen = np.zeros((n, n), bool)
    for r in range(h):
        for c in range(w):
            for k in range(ch):
                i = (r * w + c) * ch + k
                for dr, dc in offsets:
                    rr, cc = r + dr, c + dc
                    if not (0 <= rr < h and 0 <= cc < w):
                        continue
                    if (rr, cc) == (r, c):
                        seen[i, i - k : i] = True
                    elif (rr, cc) < (r, c):
                        j = (rr * w + cc) * ch
                        seen[i, j : j + ch] = True
    return seen


def minkowski_sum(*offset_sets):
    """{a + b + ...}: the receptive field of stacked layers."""
    total = {(0, 0)}
    for offsets in offset_sets:
        total = {(a + c, b + d) for a, b in total for c, d in offsets}
    return total


def masked_offsets(kh, kw):
    """Spatial taps of a masked kh×kw kernel, centre included."""
    return {
        (dr, dc)
        for dr in range(-(kh // 2), 1)
        for dc in range(-(kw // 2), kw // 2 + 1)
        if dr < 0 or dc <= 0
    }


def row_lstm_offsets(height, k=3):
    """Row LSTM: masked 1×k input-to-state, k-wide state-to-state (§3.1)."""
    r = k // 2
    return {
        (-d, dc)
        for d in range(height)
        for dc in range(-r * (d + 1), r * d + 1)
    }


def future_perturbation_check(model, image_shape, num_levels, seed=0):
    """Logits at i are bit-identical when every sub-pixel j >= i changes.

    Image i of the batch pairs a random image with a copy whose sub-pixels
    j >= i all take other levels; only the logits at i are compared.
    Catches leaks the gradient cannot see (casts, rounding, stop_gradient).
    """
    h, w, c = image_shape
    n = h * w * c
    rng = np.random.default_rng(seed)
    base = rng.integers(0, num_levels, (n, n))
    other = rng.integers(0, num_levels, (n, n))
    future = np.arange(n)[None, :] >= np.arange(n)[:, None]  # row i: j >= i
    perturbed = np.where(future, (num_levels - 1) - base, base)
    perturbed = np.where(future & (perturbed == base), other, perturbed)
    shape = (n, h, w, c)
    logits = np.asarray(model(base.reshape(shape).astype("float32")))
    logits_p = np.asarray(model(perturbed.reshape(shape).astype("float32")))
    flat = logits.reshape(n, n, -1)[np.arange(n), np.arange(n)]
    flat_p = logits_p.reshape(n, n, -1)[np.arange(n), np.arange(n)]
    np.testing.assert_array_equal(flat, flat_p)


def _raster_steps(layer, inputs, step_at, condition=None):
    """The step form over a map in raster order: `step_at(x, cache, c)` at
    each position; the outputs stacked like the full-map call's. A
    `condition` (a model's labels) goes to `get_step_cache`."""
    _, height, width, _ = inputs.shape
    extra = () if condition is None else (condition,)
    cache = layer.get_step_cache(tf.shape(inputs)[0], *extra)
    rows = []
    for r in range(height):
        cache = layer.start_row(cache)
        columns = []
        for c in range(width):
            y, cache = step_at(inputs[:, r, c], cache, c)
            columns.append(y)
        cache = layer.end_row(cache)
        rows.append(tf.stack(columns, axis=1))
    return tf.stack(rows, axis=1)


def step_outputs(layer, inputs, condition=None):
    """A layer's (or model's) step form, teacher-forced over a whole map
    (B, H, W, F): `get_step_cache`, then `start_row`, `step` and `end_row`
    in raster order. Graph-friendly (Python loops over static sizes)."""
    return _raster_steps(layer, inputs, layer.step, condition)


def colour_pass_outputs(layer, inputs, color_channels, seed=0, condition=None):
    """A layer's step form in colour passes, teacher-forced over a map.

    At each position, pass g gets the inputs with every group > g replaced
    by noise (a pass must never read them) and returns group g's outputs;
    the groups are put side by side like the full-map call's features.
    """
    rng = np.random.default_rng(seed)
    groups = masks.channel_groups(inputs.shape[-1], color_channels)

    def passes(x, cache, c):
        parts = []
        for g in range(color_channels):
            noise = tf.constant(rng.normal(size=x.shape) * 9, x.dtype)
            later = groups[None] > g
            y, cache = layer.step(tf.where(later, noise, x), cache, c, g)
            parts.append(y)
        return tf.concat(parts, axis=-1), cache

    return _raster_steps(layer, inputs, passes, condition)


def colour_pass_logits(model, images, seed=0, labels=None):
    """The model's step form as a sampler runs it: pass k of a pixel gets
    the colours >= k as other levels (never read), then `record_pixel`."""
    rng = np.random.default_rng(seed)
    channels = images.shape[-1]

    def passes(pixel, cache, c):
        logits = []
        for k in range(channels):
            other = tf.constant(rng.integers(0, model.num_levels, pixel.shape))
            later = np.arange(channels)[None] >= k
            x = tf.where(later, tf.cast(other, pixel.dtype), pixel)
            y, cache = model.step(x, cache, c, k)
            logits.append(y)
        return tf.stack(logits, axis=1), model.record_pixel(pixel, cache, c)

    return _raster_steps(model, images, passes, labels)
