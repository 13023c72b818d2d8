"""Discretized logistic mixtures over `num_levels` levels (PixelCNN++ §2.1).

Level l of L stands for x_l = 2l / (L - 1) - 1 in [-1, 1], the model's
rescaled input, with bins of width 2 / (L - 1); the edge levels take the
tails (PixelCNN++ eq. 2). A mixture's parameters, last axis `3K`, are K
logits of the weights, K means and K log-scales.

Every mass is computed in log space as a sum of terms that are all <= 0,
so no two near-equal numbers are ever subtracted, no mid-point
approximation is needed, and the masses over the levels sum to one for any
parameters in float32. With t⁻ < t⁺ the bin's edges in standard units and
δ = t⁺ - t⁻,

    σ(t⁺) - σ(t⁻) = σ(t⁺) (1 - σ(t⁻)) (1 - e^{-δ}),
    log mass = -softplus(-t⁺) - softplus(t⁻) + log(-expm1(-δ)),

the lowest level's mass is σ(t⁺) and the highest's 1 - σ(t⁻). A bin far in
a tail or under a very sharp logistic keeps its relative precision.

Reference:
 - [Salimans et al., 2017](https://arxiv.org/abs/1701.05517), §2.1
"""

import numpy as np
from keras import ops

# PixelCNN++'s floor for the log-scales; the cap keeps e^{-s} > 0 so the
# bin width in standard units, δ, stays positive in float32.
LOG_SCALE_RANGE = (-7.0, 7.0)


def split(params):
    """(..., 3K) -> log-weights (normalised), means, log-scales; (..., K)."""
    logits, means, log_scales = ops.split(ops.cast(params, "float32"), 3, -1)
    log_scales = ops.clip(log_scales, *LOG_SCALE_RANGE)
    return ops.log_softmax(logits, axis=-1), means, log_scales


def _log_bin_mass(inv_scales, num_levels):
    """log(1 - e^{-δ}) of each component, δ its bin width in standard
    units (2 / (L - 1) over the scale); δ > 0 by the log-scale cap."""
    delta = inv_scales * (2.0 / (num_levels - 1))
    return ops.log(-ops.expm1(-delta))


def log_probs(params, num_levels):
    """log p(level) of every level: (..., 3K) -> (..., num_levels).

    The whole table; O(K·L) per sub-pixel. Training and `log_prob` use
    `nll`, which evaluates the observed level only.
    """
    log_weights, means, log_scales = split(params)
    inv_scales = ops.exp(-log_scales)[..., None]  # (..., K, 1)
    # The L - 1 inner bin edges, in standard units: (..., K, L - 1).
    edges = (np.arange(1, num_levels) * 2.0 - 1.0) / (num_levels - 1) - 1.0
    edges = ops.convert_to_tensor(edges, "float32")
    t = (edges - means[..., None]) * inv_scales
    log_cdf = -ops.softplus(-t)  # log σ(t)
    log_sf = -ops.softplus(t)  # log(1 - σ(t))
    inner = (
        log_cdf[..., 1:]
        + log_sf[..., :-1]
        + _log_bin_mass(inv_scales, num_levels)
    )
    log_mass = ops.concatenate(
        [log_cdf[..., :1], inner, log_sf[..., -1:]], axis=-1
    )  # (..., K, L); see the module docstring
    return ops.logsumexp(log_weights[..., None] + log_mass, axis=-2)


def nll(levels, params, num_levels):
    """-log p(level) of the observed levels, in nats: (...,) for `levels`
    (...,) any int or float dtype and `params` (..., 3K). O(K) each."""
    log_weights, means, log_scales = split(params)
    inv_scales = ops.exp(-log_scales)
    level = ops.cast(levels, "float32")[..., None]
    half = 1.0 / (num_levels - 1)
    x = level * (2.0 * half) - 1.0
    lower = (x - half - means) * inv_scales  # t⁻
    upper = (x + half - means) * inv_scales  # t⁺
    inner = (
        _log_bin_mass(inv_scales, num_levels)
        - ops.softplus(-upper)
        - ops.softplus(lower)
    )
    log_mass = ops.where(
        level <= 0,
        -ops.softplus(-upper),
        ops.where(level >= num_levels - 1, -ops.softplus(lower), inner),
    )
    return -ops.logsumexp(log_weights + log_mass, axis=-1)
