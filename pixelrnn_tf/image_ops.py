"""Pure `keras.ops` layout helpers for the Diagonal BiLSTM (paper §3.2).

No weights and no Python loops over rows: skewing is one pad and two reshapes.
Crops are `ops.slice`, not indexing: TensorFlow differentiates a slice with
one pad, and a strided slice with a far slower general kernel.
"""

from keras import ops


def skew(x):
    """Shift row `i` right by `i`: (B, H, W, F) -> (B, H, W + H - 1, F).

    Columns of the skewed map are the diagonals of the image, so one step of a
    column-wise recurrence sees the pixel to the left and the pixel above.
    Positions outside the image are zero.
    """
    b, h, w, f = ops.shape(x)
    x = ops.pad(x, ((0, 0), (0, 0), (0, h), (0, 0)))  # (B, H, W+H, F)
    x = ops.reshape(x, (-1, h * (w + h), f))  # rows laid end to end
    x = ops.slice(x, (0, 0, 0), (b, h * (w + h - 1), f))
    return ops.reshape(x, (-1, h, w + h - 1, f))  # row i starts at column i


def unskew(x, width):
    """Inverse of `skew`: (B, H, width + H - 1, F) -> (B, H, width, F)."""
    b, h, skewed_width, f = ops.shape(x)
    x = ops.reshape(x, (-1, h * skewed_width, f))
    x = ops.pad(x, ((0, 0), (0, h), (0, 0)))  # (B, H*(W+H), F)
    x = ops.reshape(x, (-1, h, skewed_width + 1, f))  # row i starts at col i
    return ops.slice(x, (0, 0, 0, 0), (b, h, width, f))


def shift_down(x):
    """Move every row down by one, zeros on top: row i sees row i - 1 only."""
    shape = ops.shape(x)
    x = ops.pad(x, ((0, 0), (1, 0), (0, 0), (0, 0)))
    return ops.slice(x, (0, 0, 0, 0), shape)


def flip_width(x):
    """Mirror the image left to right."""
    return ops.flip(x, axis=2)
