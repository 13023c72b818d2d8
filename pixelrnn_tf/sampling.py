"""Ancestral sampling and image completion (paper §2, Figure 1).

Sub-pixels are drawn one at a time in raster order (row, column, then
R < G < B), each from its softmax given everything drawn before. All the
randomness is drawn up front as Gumbel noise, one (N, H·W·C, L) tensor, so
the loop body is deterministic: argmax(logits / temperature + noise) is an
exact sample of softmax(logits / temperature) (the Gumbel-max trick).
"""

import math

import numpy as np
import tensorflow as tf
from keras import ops

from pixelrnn_tf import validation
from pixelrnn_tf.compiled import compiled
from pixelrnn_tf.compiled import images_spec


def gumbel_noise(shape, seed):
    """Standard Gumbel noise -log(-log U) of `shape`.

    `seed` is a (2,) integer tensor: the draw is stateless (a pure function
    of the seed), so it can be a SavedModel input and reproduces exactly.
    """
    tiny = np.finfo("float32").tiny
    u = tf.random.stateless_uniform(shape, seed, minval=tiny, maxval=1.0)
    return -ops.log(-ops.log(u))


def autoregressive_fill(model, canvas, start, gumbel, temperature):
    """Sample every sub-pixel of `canvas` from flat index `start` on.

    Graph-friendly `keras.ops` only (usable inside a SavedModel signature):
    a `fori_loop` over the remaining sub-pixels, one forward pass each.

    Args:
        model: an `AutoregressiveModel`.
        canvas: (N, H, W, C) float levels; sub-pixels before `start` are kept.
        start: int scalar, the first flat index (row * W + col) * C + channel
            to sample.
        gumbel: (N, H·W·C, L) Gumbel noise.
        temperature: float scalar > 0.

    Returns:
        (N, H, W, C) float levels.
    """
    h, w, c = model.image_shape
    n = h * w * c
    positions = ops.arange(n)  # flat raster indices

    def step(i, canvas):
        logits = model(canvas, training=False)  # (N, H, W, C, L) float32
        logits = ops.reshape(logits, (-1, n, model.num_levels))
        scores = ops.take(logits, i, axis=1) / temperature
        scores = scores + ops.take(gumbel, i, axis=1)  # (N, L)
        value = ops.cast(ops.argmax(scores, axis=-1), canvas.dtype)  # (N,)
        flat = ops.reshape(canvas, (-1, n))
        # One-hot write: `slice_update` lowers to an XLA-only op on TF.
        flat = ops.where(positions[None] == i, value[:, None], flat)
        return ops.reshape(flat, (-1, h, w, c))

    return ops.fori_loop(start, n, step, canvas)


def sample(model, num_images, seed=0, temperature=1.0, batch_size=64):
    """Draw `num_images` images from the model: (N, H, W, C) int32 levels.

    The same `seed` (and `batch_size`) gives the same images. Lower
    `temperature` sharpens every conditional softmax; 1.0 samples the model.
    """
    if not isinstance(num_images, (int, np.integer)) or num_images < 0:
        raise ValueError(
            "`num_images` must be a non-negative integer. "
            f"Received: num_images={num_images!r}"
        )
    canvas = np.zeros((num_images, *model.image_shape), "float32")
    return _fill(model, canvas, 0, seed, temperature, batch_size)


def complete(
    model, images, num_known_pixels, seed=0, temperature=1.0, batch_size=64
):
    """Keep the first `num_known_pixels` pixels in raster order, sample the rest.

    Args:
        images: (N, H, W, C) levels; only the known prefix is read.
        num_known_pixels: int in [0, H·W]; e.g. `16 * W` keeps 16 rows.

    Returns:
        (N, H, W, C) int32 levels whose known prefix equals `images`.
    """
    height, width, channels = model.image_shape
    if (
        not isinstance(num_known_pixels, (int, np.integer))
        or isinstance(num_known_pixels, bool)
        or not 0 <= num_known_pixels <= height * width
    ):
        raise ValueError(
            "`num_known_pixels` must be an integer in [0, H·W] = "
            f"[0, {height * width}]. Received: num_known_pixels="
            f"{num_known_pixels!r}"
        )
    images = np.asarray(images)
    validation.check_images(
        images, model.image_shape, model.num_levels, integers=True
    )
    start = int(num_known_pixels) * channels
    return _fill(model, images.astype("float32"), start, seed, temperature,
                 batch_size)


def _fill_batch(model, canvas, start, seed, temperature):
    n = math.prod(model.image_shape)
    shape = (ops.shape(canvas)[0], n, model.num_levels)
    gumbel = gumbel_noise(shape, seed)
    return autoregressive_fill(model, canvas, start, gumbel, temperature)


def _fill(model, canvas, start, seed, temperature, batch_size):
    temperature = float(temperature)
    if not (math.isfinite(temperature) and temperature > 0):
        raise ValueError(
            "`temperature` must be a finite number > 0. "
            f"Received: temperature={temperature}"
        )
    if (
        not isinstance(seed, (int, np.integer))
        or isinstance(seed, bool)
        or not -(2**63) <= seed < 2**63
    ):
        raise ValueError(
            f"`seed` must be a 64-bit integer. Received: seed={seed!r}"
        )
    seed = int(seed)
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(
            f"`batch_size` must be a positive integer. Received: {batch_size!r}"
        )
    signature = [
        images_spec(model),
        tf.TensorSpec((), tf.int32),  # start
        tf.TensorSpec((2,), tf.int64),  # stateless seed
        tf.TensorSpec((), tf.float32),  # temperature
    ]
    fn = compiled(model, _fill_batch, signature)
    out = [
        np.asarray(fn(canvas[i : i + batch_size], start, [seed, i], temperature))
        for i in range(0, len(canvas), batch_size)
    ]
    if not out:
        return np.zeros(canvas.shape, "int32")
    return np.concatenate(out).astype("int32")
