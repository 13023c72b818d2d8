import keras
from keras import ops

from pixelrnn_tf.layers import stepping
from pixelrnn_tf.layers.step_composite import StepComposite
from pixelrnn_tf.layers.masked_conv2d import MaskedConv2D


@keras.saving.register_keras_serializable(package="pixelrnn_tf")
class PixelCNNResidualBlock(StepComposite, keras.layers.Layer):
    """PixelCNN residual block (paper §3.5, Figure 5).

    2h -> ReLU -> 1×1 -> h -> ReLU -> k×k -> h -> ReLU -> 1×1 -> 2h, plus the
    input. Every convolution is mask B, so the block keeps the causal order
    of its input.

    Args:
        units: int. Bottleneck size h; at least `color_channels`.
        kernel_size: int. Odd size k of the middle convolution. Defaults to
            `3`.
        color_channels: int. 3 for RGB, 1 for grayscale. Defaults to `3`.
        use_residual: bool. Add the input to the output. Defaults to `True`.
        condition_dim: int or None. A conditioning input's size: its
            projection joins the k×k convolution's pre-activations (see
            `MaskedConv2D`). Defaults to `None`.
        **kwargs: base `Layer` arguments.

    Input shape: `(B, H, W, F)`, F at least `color_channels`.
    Output shape: `(B, H, W, F)`.

    Example:
    >>> layer = PixelCNNResidualBlock(6)
    >>> layer(np.zeros((2, 4, 4, 12))).shape
    (2, 4, 4, 12)

    Reference:
     - [van den Oord et al., 2016](https://arxiv.org/abs/1601.06759), §3.5
    """

    def __init__(
        self,
        units,
        kernel_size=3,
        color_channels=3,
        use_residual=True,
        condition_dim=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = units
        self.condition_dim = condition_dim
        self.kernel_size = kernel_size
        self.color_channels = color_channels
        self.use_residual = use_residual
        self.reduce_conv, self.hidden_conv = (
            MaskedConv2D(
                units,
                size,
                mask_type="B",
                color_channels=color_channels,
                condition_dim=condition,
                dtype=self.dtype_policy,
                name=name,
            )
            for size, name, condition in (
                (1, "reduce_conv", None),
                (kernel_size, "hidden_conv", condition_dim),
            )
        )

    def build(self, input_shape):
        hidden_shape = tuple(input_shape[:-1]) + (self.units,)
        self.reduce_conv.build(input_shape)
        self.hidden_conv.build(hidden_shape)
        self.expand_conv = MaskedConv2D(
            input_shape[-1],
            1,
            mask_type="B",
            color_channels=self.color_channels,
            dtype=self.dtype_policy,
            name="expand_conv",
        )
        self.expand_conv.build(hidden_shape)

    def call(self, inputs, condition=None):
        x = self.reduce_conv(ops.relu(inputs))  # 2h -> h
        x = self.hidden_conv(ops.relu(x), condition)  # k×k, h -> h
        x = self.expand_conv(ops.relu(x))  # h -> 2h
        return inputs + x if self.use_residual else x

    # === Step form (see `stepping`): the k×k conv caches its rows ===

    def step_kept(self):
        return {"reduce_out": self.units, "hidden_out": self.units}

    def step_parts(self):
        return (self.reduce_conv, self.hidden_conv, self.expand_conv)

    def step(self, inputs, cache, column, group=None):
        cache = dict(cache)
        x = ops.cast(inputs, self.compute_dtype)
        y = stepping.step(self.reduce_conv, ops.relu(x), cache, column, group)
        y = stepping.keep(cache, "reduce_out", y, group)
        y = stepping.step(self.hidden_conv, ops.relu(y), cache, column, group)
        y = stepping.keep(cache, "hidden_out", y, group)
        y = stepping.step(self.expand_conv, ops.relu(y), cache, column, group)
        if self.use_residual:
            features = self.expand_conv.filters
            y = y + stepping.part(x, group, self.color_channels, features)
        return y, cache

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "kernel_size": self.kernel_size,
                "color_channels": self.color_channels,
                "use_residual": self.use_residual,
                "condition_dim": self.condition_dim,
            }
        )
        return config
