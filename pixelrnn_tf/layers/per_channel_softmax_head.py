import keras
from keras import ops

from pixelrnn_tf.layers import stepping
from pixelrnn_tf.layers.step_composite import StepComposite
from pixelrnn_tf.layers.masked_conv2d import MaskedConv2D


@keras.saving.register_keras_serializable(package="pixelrnn_tf")
class PerChannelSoftmaxHead(StepComposite, keras.layers.Layer):
    """Output stack and per-channel softmax logits (paper §2.2, Table 1).

    ReLU -> 1×1 mask-B conv (`hidden_dim`) -> ReLU -> 1×1 mask-B conv
    (`C * num_levels`), reshaped to `(B, H, W, C, num_levels)`. The last
    convolution's features are contiguous R|G|B groups of `num_levels`, so
    the reshape lines up with the mask: the R logits see only earlier
    pixels, G also sees R, and B sees R and G of the same pixel.

    The head computes in float32 whatever the global dtype policy, so the
    logits and the loss stay in float32 under mixed precision.

    Args:
        num_levels: int. Softmax classes per sub-pixel, at least 2 (256 for
            8-bit images, 2 for binarized data).
        hidden_dim: int. Width of the hidden 1×1 layer; at least
            `color_channels` (its R|G|B groups may be uneven).
        color_channels: int. 3 for RGB, 1 for grayscale. Defaults to `3`.
        **kwargs: base `Layer` arguments; `dtype` defaults to `"float32"`.

    Input shape: `(B, H, W, F)`, F at least `color_channels`.
    Output shape: `(B, H, W, color_channels, num_levels)`.

    Example:
    >>> head = PerChannelSoftmaxHead(num_levels=4, hidden_dim=6)
    >>> head(np.zeros((2, 5, 5, 12))).shape
    (2, 5, 5, 3, 4)

    Reference:
     - [van den Oord et al., 2016](https://arxiv.org/abs/1601.06759), §2.2
    """

    def __init__(self, num_levels, hidden_dim, color_channels=3, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        if num_levels < 2:
            raise ValueError(
                f"`num_levels` must be at least 2. Received: num_levels={num_levels}"
            )
        self.num_levels = num_levels
        self.hidden_dim = hidden_dim
        self.color_channels = color_channels
        self.hidden_conv, self.logits_conv = (
            MaskedConv2D(
                filters,
                1,
                mask_type="B",
                color_channels=color_channels,
                dtype=self.dtype_policy,
                name=name,
            )
            for filters, name in (
                (hidden_dim, "hidden_conv"),
                (color_channels * self.outputs_per_color, "logits_conv"),
            )
        )

    @property
    def outputs_per_color(self):
        """Outputs of the last convolution per colour: the levels' logits."""
        return self.num_levels

    def level_logits(self, outputs):
        """The levels' logits from the last convolution's outputs per
        colour (..., outputs_per_color): here they are the logits."""
        return outputs

    def build(self, input_shape):
        self.hidden_conv.build(input_shape)
        self.logits_conv.build(tuple(input_shape[:-1]) + (self.hidden_dim,))

    def call(self, inputs):
        x = self.hidden_conv(ops.relu(inputs))
        x = self.logits_conv(ops.relu(x))  # (B, H, W, C·P), C-major groups
        _, h, w, _ = ops.shape(x)
        shape = (-1, h, w, self.color_channels, self.outputs_per_color)
        return self.level_logits(ops.reshape(x, shape))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.color_channels, self.num_levels)

    # === Step form (see `stepping`): 1×1 convolutions, no cache ===

    def step_kept(self):
        return {"hidden_out": self.hidden_dim}

    def step_parts(self):
        return (self.hidden_conv, self.logits_conv)

    def step(self, inputs, cache, column, group=None):
        """Logits at one position: (B, color_channels, num_levels), or
        (B, num_levels) of colour `group` in a colour pass."""
        cache = dict(cache)
        x = ops.cast(inputs, self.compute_dtype)
        x = stepping.step(self.hidden_conv, ops.relu(x), cache, column, group)
        x = stepping.keep(cache, "hidden_out", x, group)
        x = stepping.step(self.logits_conv, ops.relu(x), cache, column, group)
        if group is None:
            shape = (-1, self.color_channels, self.outputs_per_color)
            x = ops.reshape(x, shape)
        return self.level_logits(x), cache

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_levels": self.num_levels,
                "hidden_dim": self.hidden_dim,
                "color_channels": self.color_channels,
            }
        )
        return config
