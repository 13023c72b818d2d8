"""The step form of layers built from causal sub-layers.

Every causal layer has, beside its full-map `call`, a step form that runs one
position at a time in raster order, for cached sampling:

    cache = layer.get_step_cache(batch_size)   # before row 0
    for each row:
        cache = layer.start_row(cache)         # work shared by the whole row
        for column in range(W):                # left to right; a position may
            y, cache = layer.step(x, cache, column)  # be stepped again
        cache = layer.end_row(cache)           # keep what later rows need

Colour passes. A pixel's colours are drawn one after the other, and the
masks let the outputs of colour group g read only the groups <= g of the
same position. So `step(..., group=g)` computes only the outputs of group
g (B, F_g) from the inputs of groups <= g (B, F_0 + ... + F_g; any later
groups are ignored); the caller steps g = 0, 1, 2 in order at a position,
and each layer keeps the groups it computed in earlier passes in its
cache. Over a pixel's passes that is the work of one full position.
`group=None` computes every group at once (teacher forcing) and returns
(B, F).

Every entry of a cache is a fixed-shape tensor, so a cache can be the loop
variable of a `tf.while_loop` over rows (`get_step_cache`, `end_row`) or
over the columns of a row (`start_row`, `step`; the latter adds per-row
entries). `column` is a Python int or an int32 scalar tensor. A layer made
of sub-layers keeps one entry per sub-layer, keyed by name; the helpers
below map the row-level calls over them.
"""

import numpy as np
from keras import ops

from pixelrnn_tf import masks


def get_step_cache(
    layers, batch_size, kept=None, dtype=None, colours=1, condition=None
):
    """One entry per sub-layer, and for each of the `kept` {key: width}
    outputs one zero (B, F_g) piece per colour group (see `keep`).
    `condition` goes to every sub-layer; those without a conditioning
    input ignore it."""
    cache = {
        layer.name: layer.get_step_cache(batch_size, condition)
        for layer in layers
    }
    for key, width in (kept or {}).items():
        cache[key] = tuple(
            ops.zeros((batch_size, end - start), dtype)
            for start, end in (
                group_bounds(width, colours, group) for group in range(colours)
            )
        )
    return cache


def start_row(layers, cache):
    """The sub-layers' `start_row`; other entries are kept."""
    rows = {layer.name: layer.start_row(cache[layer.name]) for layer in layers}
    return {**cache, **rows}


def end_row(layers, cache):
    """The sub-layers' `end_row`; other entries are kept."""
    rows = {layer.name: layer.end_row(cache[layer.name]) for layer in layers}
    return {**cache, **rows}


def step(layer, inputs, cache, column, group=None):
    """`layer.step` on the layer's entry of a composite cache (keyed by its
    name), updating the cache in place; returns the outputs."""
    name = layer.name
    outputs, cache[name] = layer.step(inputs, cache[name], column, group)
    return outputs


def suffix(group):
    """The cache key suffix of a colour pass's per-row entries."""
    return "" if group is None else f"_{group}"


def is_last(group, color_channels):
    """Whether a position's inputs are complete after this pass."""
    return group is None or group == color_channels - 1


def group_bounds(num_features, color_channels, group):
    """(start, end) of colour group `group` among `num_features` features."""
    where = np.flatnonzero(
        masks.channel_groups(num_features, color_channels) == group
    )
    return int(where[0]), int(where[-1]) + 1


def part(x, group, color_channels, num_features):
    """Colour group `group` of x, whose leading features are the groups
    of `num_features` features (all of x for None)."""
    if group is None:
        return x
    start, end = group_bounds(num_features, color_channels, group)
    return x[:, start:end]


def keep(cache, key, outputs, group):
    """The features of groups <= `group` at this position: this pass's
    outputs after those kept in cache[key] by the position's earlier
    passes, where they are kept in turn (one piece per group)."""
    if group is None:
        return outputs
    pieces = list(cache[key])
    pieces[group] = outputs
    cache[key] = tuple(pieces)
    return outputs if group == 0 else ops.concatenate(pieces[: group + 1], -1)


def read(buffer, index):
    """buffer[:, index] for a (B, N, ...) buffer and a scalar index."""
    return ops.take(buffer, index, axis=1)


def read_window(buffer, start, size):
    """buffer[:, start : start + size], flattened: (B, size * F)."""
    f = buffer.shape[-1]
    window = ops.slice(buffer, [0, start, 0], [-1, size, f])
    return ops.reshape(window, (-1, size * f))


def write(buffer, index, values):
    """buffer with buffer[:, index] = values, for a (B, N, F) buffer.

    A scatter (no XLA-only op): it copies at most the buffer, not the
    (N, ...) one-hot mask a `where` would build.
    """
    batch = ops.shape(values)[0]
    indices = ops.stack(
        [
            ops.arange(batch, dtype="int32"),
            ops.full((batch,), index, dtype="int32"),
        ],
        axis=1,
    )
    return ops.scatter_update(buffer, indices, values)
