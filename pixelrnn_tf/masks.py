"""Causal masks in pure NumPy: the one R|G|B grouping convention of the package.

Every feature map is split into `color_channels` contiguous groups (paper
§3.4): feature `k` of `n` belongs to colour `k * color_channels // n`. The
groups are as even as possible, and for RGB the earlier groups get the extra
features: 129 features split 43|43|43, 128 split 43|43|42 and 127 split
43|42|42. Any width of at least `color_channels` works; the image itself is
the case `n == color_channels`, one feature per colour. Masks, LSTM gates,
the heads and the step form's colour passes all derive their grouping from
`channel_groups`, so the convention cannot drift between layers.
"""

import numpy as np

MASK_TYPES = ("A", "B")


def channel_groups(num_features, color_channels):
    """Colour group of each of `num_features` features, contiguous groups
    as even as possible (sizes differ by at most one).

    >>> channel_groups(6, 3)
    array([0, 0, 1, 1, 2, 2])
    >>> channel_groups(8, 3)
    array([0, 0, 0, 1, 1, 1, 2, 2])
    """
    if num_features < color_channels:
        raise ValueError(
            "The number of features must be at least `color_channels`, so "
            "that every colour group has a feature. Received: "
            f"num_features={num_features}, color_channels={color_channels}"
        )
    return np.arange(num_features) * color_channels // num_features


def conv_mask(
    kernel_size,
    in_features,
    out_features,
    mask_type,
    color_channels=3,
    out_chunks=1,
):
    """A (kh, kw, in, out) 0/1 mask for a convolution in raster order.

    Taps above the centre row, and left of the centre in the centre row, see
    every group. At the centre, output group `g` sees input groups `< g` under
    mask "A" (first layer) and `<= g` under mask "B" (later layers). Taps after
    the centre are zero (paper §3.4, Figure 2).

    With `out_chunks > 1` the output features are `out_chunks` equal chunks
    (the i, f, o, g gates of an LSTM), each split into its own colour groups
    (4 × 128 gate features: 43|43|42 in each gate).
    """
    kh, kw = kernel_size
    if mask_type not in MASK_TYPES:
        raise ValueError(
            f"`mask_type` must be 'A' or 'B'. Received: mask_type={mask_type!r}"
        )
    if kh % 2 == 0 or kw % 2 == 0:
        raise ValueError(
            "Masked kernels must have odd sizes, so the centre tap is the "
            f"current pixel. Received: kernel_size={kernel_size}"
        )
    if out_features % out_chunks:
        raise ValueError(
            "`out_features` must be divisible by `out_chunks`. Received: "
            f"out_features={out_features}, out_chunks={out_chunks}"
        )
    in_group = channel_groups(in_features, color_channels)
    out_group = np.tile(
        channel_groups(out_features // out_chunks, color_channels), out_chunks
    )
    if mask_type == "A":
        centre = in_group[:, None] < out_group[None, :]
    else:
        centre = in_group[:, None] <= out_group[None, :]

    mask = np.zeros((kh, kw, in_features, out_features), dtype="float32")
    ci, cj = kh // 2, kw // 2
    mask[:ci] = 1.0  # rows above
    mask[ci, :cj] = 1.0  # left of the centre, same row
    mask[ci, cj] = centre
    return mask
