import tensorflow as tf
from keras import ops

from pixelrnn_tf.layers import stepping
from pixelrnn_tf.samplers.sampler import Sampler


class CachedSampler(Sampler):
    """Sampling through the model's step form (see `AutoregressiveModel`).

    The row loop carries the model's step cache; an inner loop runs over
    the columns of a row. A pixel's colours take one pass each (R, then G
    given R, then B given R and G), and the pass of colour k computes only
    colour group k of one position per layer, reusing what the cache holds
    of earlier rows, columns and passes; the drawn pixel is then recorded
    for the positions after it. Exact: the same images as `NaiveSampler`
    for the same seed.
    """

    def initial_state(self, canvas, conditions):
        return self.model.get_step_cache(ops.shape(canvas)[0], **conditions)

    def fill_row(self, row, canvas, state, choose, first):
        del first  # every position is stepped: known ones fill the cache
        height, width, channels = self.model.image_shape
        zero = ops.zeros_like(canvas[:, 0, 0, 0])

        def pixel_step(column, cache, pixels):
            drawn = []
            for k in range(channels):  # R, then G given R, then B
                pixel = ops.stack(drawn + [zero] * (channels - k), axis=-1)
                logits, cache = self.model.step(pixel, cache, column, k)
                drawn.append(choose(column * channels + k, logits))
            pixel = ops.stack(drawn, axis=-1)
            cache = self.model.record_pixel(pixel, cache, column)
            return cache, stepping.write(pixels, column, pixel)

        cache = self.model.start_row(state)
        pixels = ops.zeros_like(canvas[:, 0])  # (N, W, C)
        _, cache, pixels = tf.while_loop(
            lambda column, *_: column < width,
            lambda column, *loop: (column + 1, *pixel_step(column, *loop)),
            (ops.zeros((), "int32"), cache, pixels),
            maximum_iterations=width,
        )
        rows = ops.reshape(ops.arange(height), (1, height, 1, 1))
        canvas = ops.where(rows == row, pixels[:, None], canvas)
        return canvas, self.model.end_row(cache)
