from keras import ops

from pixelrnn_tf.samplers.sampler import Sampler


class NaiveSampler(Sampler):
    """The reference sampler: the whole network per sub-pixel.

    Each of the H·W·C draws re-runs `model(canvas)` and reads one logit
    vector: simple and obviously right, and H·W·C times the work of a
    forward pass. `CachedSampler` must give the same images.
    """

    def initial_state(self, canvas, conditions):
        return conditions  # the model's other inputs, if any

    def fill_row(self, row, canvas, state, choose, first):
        height, width, channels = self.model.image_shape
        per_row = width * channels
        levels = self.model.num_levels
        # The flat sub-pixel index of every canvas entry, for one-hot writes
        # (`slice_update` would lower to an XLA-only op on TensorFlow).
        index = ops.reshape(
            ops.arange(height * per_row), (height, width, channels)
        )

        def step(j, canvas):
            inputs = self.model.inputs_for(canvas, **state)
            logits = self.model(inputs, training=False)  # (N, H, W, C, L)
            logits = ops.reshape(
                ops.take(logits, row, axis=1), (-1, per_row, levels)
            )
            value = choose(j, ops.take(logits, j, axis=1))  # (N,)
            hit = index == row * per_row + j
            return ops.where(hit, value[:, None, None, None], canvas)

        return ops.fori_loop(first, per_row, step, canvas), state
