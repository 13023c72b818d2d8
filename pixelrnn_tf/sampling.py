"""Ancestral sampling and image completion (paper §2, Figure 1).

`sample` and `complete` validate their arguments and run a sampler from
`pixelrnn_tf.samplers` batch by batch, each batch as one traced graph per
model: `method="cached"` (the default) steps the model with caches,
`method="naive"` re-runs the whole network per sub-pixel. Both give the
same images for the same seed and batch size.
"""

import itertools
import math

import keras
import numpy as np
import tensorflow as tf

from pixelrnn_tf import samplers
from pixelrnn_tf import validation
from pixelrnn_tf.compiled import compiled
from pixelrnn_tf.compiled import images_spec
from pixelrnn_tf.compiled import labels_spec


def sample(
    model,
    num_images,
    seed=0,
    temperature=1.0,
    batch_size=64,
    method="cached",
    verbose=0,
    jit_compile=False,
    labels=None,
):
    """Draw `num_images` images from the model: (N, H, W, C) int32 levels.

    Args:
        model: a model from `build_model` (any `AutoregressiveModel`).
        num_images: int >= 0.
        seed: int. The same seed (and `batch_size`) gives the same images,
            whatever the method.
        temperature: float > 0. Lower sharpens every conditional softmax;
            1.0 samples the model.
        batch_size: images per graph call.
        method: `"cached"` (step form with caches) or `"naive"` (the whole
            network per sub-pixel; the reference).
        verbose: 0 (silent) or 1 (a progress bar of rows done).
        jit_compile: compile each row's work with XLA: about 2× faster on
            a CPU after a compilation of seconds (once per model and batch
            size). The noise is drawn outside XLA, so the images are the
            same (but where two scores tie within rounding).
        labels: for a class-conditional model, the class of every image:
            an int, or (N,) ints. Must be None for an unconditional model.
    """
    if (
        not isinstance(num_images, (int, np.integer))
        or isinstance(num_images, bool)
        or num_images < 0
    ):
        raise ValueError(
            "`num_images` must be a non-negative integer. "
            f"Received: num_images={num_images!r}"
        )
    canvas = np.zeros((num_images, *model.image_shape), "float32")
    canvas, labels = validation.checked_inputs(
        model, canvas, _per_image(labels, num_images)
    )
    options = (method, verbose, jit_compile)
    return _fill(
        model, canvas, labels, 0, seed, temperature, batch_size, *options
    )


def complete(
    model,
    images,
    num_known_pixels,
    seed=0,
    temperature=1.0,
    batch_size=64,
    method="cached",
    verbose=0,
    jit_compile=False,
    labels=None,
):
    """Keep the first `num_known_pixels` pixels in raster order, sample the rest.

    The unknown part of `images` is cleared before sampling, so nothing of
    it can reach the result.

    Args:
        images: (N, H, W, C) levels; only the known prefix is read.
        num_known_pixels: int in [0, H·W]; e.g. `16 * W` keeps 16 rows.
        seed, temperature, batch_size, method, verbose, jit_compile,
            labels: as in `sample`.

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
    images, labels = validation.checked_inputs(
        model, images, _per_image(labels, len(images))
    )
    start = int(num_known_pixels) * channels
    canvas, options = images.astype("float32"), (method, verbose, jit_compile)
    return _fill(
        model, canvas, labels, start, seed, temperature, batch_size, *options
    )


def _per_image(labels, num_images):
    """One label for every image: an int is repeated."""
    if labels is not None and np.ndim(labels) == 0:
        return np.full((num_images,), labels)
    return labels


class _Progress:
    """The progress bar a traced sampler reports to (rows done)."""

    bar = None
    done = 0

    @classmethod
    def update(cls, rows):
        if cls.bar is not None:
            cls.bar.update(cls.done + rows)


def _batch_filler(method, verbose, jit_compile):
    progress = _Progress.update if verbose else None

    def fill(model, canvas, start, seed, temperature, *labels):
        conditions = {"labels": labels[0]} if labels else {}
        return samplers.fill(
            model,
            method,
            canvas,
            start,
            seed,
            temperature,
            progress,
            jit_compile,
            conditions,
        )

    return fill


_FILLERS = {
    options: _batch_filler(*options)
    for options in itertools.product(
        samplers.METHODS, (False, True), (False, True)
    )
}


def _check_arguments(
    seed, temperature, batch_size, method, verbose, jit_compile
):
    samplers.get(method)  # raises for an unknown method
    if verbose not in (0, 1) or isinstance(verbose, float):
        raise ValueError(
            f"`verbose` must be 0 or 1. Received: verbose={verbose!r}"
        )
    if not isinstance(jit_compile, bool):
        raise ValueError(
            "`jit_compile` must be True or False. "
            f"Received: jit_compile={jit_compile!r}"
        )

    if isinstance(temperature, bool) or not isinstance(
        temperature, (int, float, np.integer, np.floating)
    ):
        raise ValueError(
            "`temperature` must be a finite number > 0. "
            f"Received: temperature={temperature!r}"
        )
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
    if (
        not isinstance(batch_size, (int, np.integer))
        or isinstance(batch_size, bool)
        or batch_size < 1
    ):
        raise ValueError(
            f"`batch_size` must be a positive integer. Received: {batch_size!r}"
        )
    return int(seed), temperature


def _fill(
    model,
    canvas,
    labels,
    start,
    seed,
    temperature,
    batch_size,
    method,
    verbose,
    jit_compile,
):
    seed, temperature = _check_arguments(
        seed, temperature, batch_size, method, verbose, jit_compile
    )
    signature = [
        images_spec(model),
        tf.TensorSpec((), tf.int32),  # start
        tf.TensorSpec((2,), tf.int64),  # stateless seed, batch offset
        tf.TensorSpec((), tf.float32),  # temperature
        *labels_spec(model),
    ]
    fn = compiled(
        model, _FILLERS[method, bool(verbose), jit_compile], signature
    )
    height = model.image_shape[0]
    if verbose:
        batches = -(-len(canvas) // batch_size)
        _Progress.bar = keras.utils.Progbar(height * batches, unit_name="row")
    out = []
    try:
        for i in range(0, len(canvas), batch_size):
            _Progress.done = (i // batch_size) * height
            batch = fn(
                canvas[i : i + batch_size],
                start,
                [seed, i],
                temperature,
                *[y[i : i + batch_size] for y in labels],
            )
            out.append(np.asarray(batch))
    finally:
        _Progress.bar = None
    if not out:
        return np.zeros(canvas.shape, "int32")
    return np.concatenate(out).astype("int32")
