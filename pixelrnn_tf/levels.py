"""Pixel values <-> the model's levels.

A model sees `num_levels` levels per sub-pixel (256 for 8-bit images, 2 for
binarized ones). `to_levels` splits [0, max_level] into `num_levels` equal
bins; `to_pixels` maps each level back to a pixel value inside its bin,
spread over the whole range (level 0 is black, the top level white), so
that `to_levels(to_pixels(levels, n), n)` gives the levels back.

>>> prt.to_levels(np.array([0, 63, 64, 255]), num_levels=4).numpy()
array([0, 0, 1, 3], dtype=int32)
>>> prt.to_pixels(np.array([0, 1, 2, 3]), num_levels=4).numpy()
array([  0,  85, 170, 255], dtype=uint8)
"""

import numpy as np
import tensorflow as tf


def to_levels(pixels, num_levels, max_level=255):
    """Pixel values in [0, `max_level`] -> int32 levels in [0, num_levels).

    Level k holds the values v with floor(v · num_levels / (max_level + 1))
    = k: the identity for 256 levels of 8-bit data, v // 64 for 4 levels.
    Works on any shape, eagerly or in a `tf.data` map. Values outside
    [0, max_level] raise a `ValueError` (eagerly) or fail the graph.

    Args:
        pixels: integer or whole-valued pixel values, any shape.
        num_levels: int in [2, max_level + 1].
        max_level: int. The top pixel value: 255 for 8-bit data.
    """
    _check(num_levels, max_level)
    x = _in_range(pixels, max_level, "Pixel values")
    return tf.cast(x * num_levels // (max_level + 1), tf.int32)


def to_pixels(levels, num_levels, max_level=255):
    """Levels in [0, num_levels) -> pixel values in [0, `max_level`].

    Level k goes to round(k · max_level / (num_levels - 1)), moved into
    k's bin of `to_levels` where rounding would leave it: the whole range
    is used, and `to_levels` inverts it exactly.

    Args:
        levels: integer levels, any shape.
        num_levels: int in [2, max_level + 1].
        max_level: int. The top pixel value: 255 gives uint8 pixels.

    Levels outside [0, num_levels) raise a `ValueError` (eagerly) or fail
    the graph.

    Returns:
        A tensor of uint8 (max_level <= 255) or int32 pixel values.
    """
    _check(num_levels, max_level)
    k = _in_range(levels, num_levels - 1, "Levels")
    top, n = max_level, num_levels
    spread = (2 * k * top + n - 1) // (2 * (n - 1))  # rounded
    low = (k * (top + 1) + n - 1) // n  # the bin of k, as to_levels cuts
    high = ((k + 1) * (top + 1) + n - 1) // n - 1
    pixels = tf.clip_by_value(spread, low, high)
    return tf.cast(pixels, tf.uint8 if max_level <= 255 else tf.int32)


def _check(num_levels, max_level):
    for name, value in (("num_levels", num_levels), ("max_level", max_level)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
            raise ValueError(
                f"`{name}` must be an int. Received: {name}={value!r}"
            )
    if not 2 <= num_levels <= max_level + 1:
        raise ValueError(
            f"Pixels in [0, {max_level}] split into 2 to {max_level + 1} "
            f"levels. Received: num_levels={num_levels}, "
            f"max_level={max_level}"
        )


def _in_range(values, top, what):
    """`values` as int64, checked to lie in [0, top]: at once when they are
    known (eagerly), else by an assertion in the graph."""
    x = tf.cast(values, tf.int64)
    known = tf.get_static_value(x)
    if known is not None:
        known = np.asarray(known)
        if known.size and (known.min() < 0 or known.max() > top):
            raise ValueError(
                f"{what} must lie in [0, {top}]. Received: values in "
                f"[{known.min()}, {known.max()}]"
            )
        return x
    checks = [
        tf.debugging.assert_non_negative(x, message=f"{what} below 0"),
        tf.debugging.assert_less_equal(
            x, tf.constant(top, tf.int64), message=f"{what} above {top}"
        ),
    ]
    with tf.control_dependencies(checks):
        return tf.identity(x)
