"""Image grids and atomic PNG files for samples and completions."""

import os
import tempfile

import numpy as np
import tensorflow as tf


def make_grid(images, columns=None, padding=1):
    """(N, H, W, C) uint8 -> one (rows·(H+p)+p, cols·(W+p)+p, C) image."""
    images = np.asarray(images)
    n, h, w, c = images.shape
    columns = columns or max(1, int(np.ceil(np.sqrt(n))))
    rows = max(1, -(-n // columns))
    grid = np.full(
        (rows * (h + padding) + padding, columns * (w + padding) + padding, c),
        128,
        "uint8",
    )
    for k in range(n):
        r, col = divmod(k, columns)
        top, left = padding + r * (h + padding), padding + col * (w + padding)
        grid[top : top + h, left : left + w] = images[k]
    return grid


def write_png(path, image, scale=1):
    """Write an (H, W, C) uint8 image atomically (temp file, then rename)."""
    image = np.asarray(image)
    if scale > 1:
        image = image.repeat(scale, axis=0).repeat(scale, axis=1)
    data = tf.io.encode_png(image).numpy()
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, suffix=".png.tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
