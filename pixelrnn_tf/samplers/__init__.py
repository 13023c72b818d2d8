"""Samplers: ancestral sampling in raster order, one loop for every method.

- `CachedSampler` (`"cached"`, the default): the model's step form, which
  reuses what earlier positions computed; one position per layer per step.
- `NaiveSampler` (`"naive"`): the reference; re-runs the whole network for
  every sub-pixel.

Both share `Sampler.fill` (the row loop, the noise and the choice of each
level), so the same seed gives the same images from either.
"""

from pixelrnn_tf.samplers.cached_sampler import CachedSampler
from pixelrnn_tf.samplers.naive_sampler import NaiveSampler
from pixelrnn_tf.samplers.sampler import Sampler

SAMPLERS = {"cached": CachedSampler, "naive": NaiveSampler}
METHODS = tuple(SAMPLERS)


def get(method):
    """The sampler class of a method name."""
    if method not in SAMPLERS:
        raise ValueError(
            f"`method` must be one of {list(METHODS)}. Received: method={method!r}"
        )
    return SAMPLERS[method]


def fill(
    model,
    method,
    canvas,
    start,
    seed,
    temperature,
    progress=None,
    jit_compile=False,
    conditions=None,
):
    """`Sampler.fill` with the sampler of `method`: the one entry point of
    `prt.sample`, `prt.complete` and the SavedModel signatures. A model
    that samples in stages (the Multi-Scale PixelRNN) runs its own
    `fill_in_stages` with that sampler."""
    sampler_cls = get(method)
    if hasattr(model, "fill_in_stages"):
        return model.fill_in_stages(
            sampler_cls, canvas, start, seed, temperature, progress, jit_compile
        )
    return sampler_cls(model).fill(
        canvas, start, seed, temperature, progress, jit_compile, conditions
    )
