import abc

import numpy as np
import tensorflow as tf
from keras import ops


class Sampler(abc.ABC):
    """Fills canvases in raster order: the loop shared by every method.

    Sub-pixels are drawn one at a time (row, column, then R < G < B), each
    from its softmax given everything drawn before, by the Gumbel-max trick:
    argmax(logits / temperature + g) with g standard Gumbel noise is an exact
    sample of softmax(logits / temperature). The noise of each row is drawn
    statelessly from (seed, row), so memory does not grow with the image and
    every method sees the same noise: the same seed gives the same images.

    A `tf.while_loop` runs over the rows, inside one graph and with no
    XLA-only op, so `fill` can live in a SavedModel signature. Subclasses
    say how a row is filled: `initial_state(canvas, conditions)` and
    `fill_row(row, canvas, state, choose, first)`.

    Args:
        model: an `AutoregressiveModel`.
    """

    def __init__(self, model):
        self.model = model

    def initial_state(self, canvas, conditions):
        """What the loop carries from row to row beside the canvas."""
        return ()

    @abc.abstractmethod
    def fill_row(self, row, canvas, state, choose, first):
        """Draw the sub-pixels of `row` from row index `first` on.

        `choose(j, logits)` gives the levels (N,) of sub-pixel j of the row
        (j = column * C + channel) from its logits (N, L): the known level
        before the start of sampling, a draw after it. Returns the new
        (canvas, state).
        """

    def fill(
        self,
        canvas,
        start,
        seed,
        temperature,
        progress=None,
        jit_compile=False,
        conditions=None,
        known=None,
    ):
        """Sample every sub-pixel of `canvas` from flat index `start` on.

        Args:
            canvas: (N, H, W, C) float32 levels; sub-pixels before `start`
                are kept, the rest is cleared before anything reads it.
            start: int32 scalar, the first flat index (row * W + column) *
                C + channel to sample.
            seed: (2,) integer tensor: the user's seed and the batch offset.
            temperature: float32 scalar > 0.
            progress: optional Python callable, called with the number of
                rows done after each row (eager use only, not exportable).
            jit_compile: compile each row's work with XLA (the noise and
                the row loop stay outside it, so the images are the same).
            conditions: a dict of the model's other inputs: {"labels":
                (N,)} for a class-conditional model, {"condition": (N, H,
                W, D)} for a spatial condition; None or {} for none.
            known: optional (H, W) bool: pixels kept from `canvas` wherever
                they are (the Multi-Scale PixelRNN's small image), beside
                the prefix before `start`.

        Returns:
            (N, H, W, C) float32 levels.
        """
        height, width, channels = self.model.image_shape
        per_row = width * channels
        start = ops.cast(start, "int32")
        index = np.arange(height * per_row).reshape(height, width, channels)
        kept = index < start
        if known is not None:
            known = ops.reshape(ops.cast(known, "bool"), (height, width, 1))
            kept = kept | known
        canvas = ops.where(kept, canvas, ops.zeros_like(canvas))
        kept_rows = ops.reshape(kept, (height, per_row))
        fill_row = self.fill_row
        if jit_compile:
            fill_row = tf.function(fill_row, jit_compile=True, autograph=False)

        def body(row, canvas, state):
            noise = _row_noise(
                seed, row, ops.shape(canvas)[0], per_row, self.model.num_levels
            )
            given = ops.reshape(ops.take(canvas, row, axis=1), (-1, per_row))
            keep = ops.take(kept_rows, row, axis=0)  # (W·C,)

            def choose(j, logits):
                scores = logits / temperature + _take(noise, j)
                drawn = ops.cast(ops.argmax(scores, axis=-1), canvas.dtype)
                return ops.where(_take(keep[None], j), _take(given, j), drawn)

            first = ops.clip(start - row * per_row, 0, per_row)
            canvas, state = fill_row(row, canvas, state, choose, first)
            row = row + 1
            if progress is not None:
                row = tf.py_function(
                    lambda r: (progress(int(r)), r)[1], [row], tf.int32
                )
                row.set_shape(())
            return row, canvas, state

        _, canvas, _ = tf.while_loop(
            lambda row, *_: row < height,
            body,
            (
                ops.zeros((), "int32"),
                canvas,
                self.initial_state(canvas, conditions or {}),
            ),
            maximum_iterations=height,
        )
        return canvas


def _take(x, j):
    """x[:, j] for a Python int or a scalar tensor j."""
    return x[:, j] if isinstance(j, int) else ops.take(x, j, axis=1)


def _row_noise(seed, row, batch, per_row, num_levels):
    """Standard Gumbel noise (N, W·C, L) for one row, a pure function of
    (seed, row): `tf.random` stateless ops, since SavedModels keep no RNG
    state. Never inside XLA, whose stateless streams differ."""
    seed = tf.random.experimental.stateless_fold_in(seed, row)
    tiny = np.finfo("float32").tiny
    u = tf.random.stateless_uniform(
        tf.stack([batch, per_row, num_levels]), seed, minval=tiny, maxval=1.0
    )
    return -ops.log(-ops.log(u))
