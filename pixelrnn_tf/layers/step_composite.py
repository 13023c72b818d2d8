from pixelrnn_tf.layers import stepping


class StepComposite:
    """Mixin: the row-level step methods of a layer made of causal parts.

    The layer defines `step_parts()`, its sub-layers in order, and
    `step_kept()`, the {key: width} outputs its colour passes keep (see
    `stepping.keep`); it writes `step` itself. Needs `color_channels`.
    """

    def get_step_cache(self, batch_size, condition=None):
        return stepping.get_step_cache(
            self.step_parts(),
            batch_size,
            self.step_kept(),
            self.compute_dtype,
            self.color_channels,
            condition,
        )

    def start_row(self, cache):
        return stepping.start_row(self.step_parts(), cache)

    def end_row(self, cache):
        return stepping.end_row(self.step_parts(), cache)
