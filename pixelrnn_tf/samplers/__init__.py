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
