import keras
from keras import ops

from pixelrnn_tf import masks


@keras.saving.register_keras_serializable(package="pixelrnn_tf")
class MaskedConv2D(keras.layers.Conv2D):
    """2D convolution whose kernel only sees sub-pixels earlier in raster order.

    The input and output features are split into contiguous R|G|B groups
    (paper §3.4). At the kernel centre, output group `g` sees input groups
    `< g` under mask "A" (first layer) and `<= g` under mask "B" (all later
    layers); taps right of the centre and below it are zero. The mask is
    applied in the forward pass, so a freshly built layer is already causal
    and masked weights get exactly zero gradient.

    Args:
        filters: int. Number of output features; divisible by
            `color_channels * out_chunks`.
        kernel_size: int or (int, int). Odd sizes only.
        mask_type: str. `"A"` or `"B"`.
        color_channels: int. 3 for RGB, 1 for grayscale. Defaults to `3`.
        out_chunks: int. Build the mask separately for each of this many
            equal output chunks (4 for LSTM gates). Defaults to `1`.
        **kwargs: other `keras.layers.Conv2D` arguments (`use_bias`,
            `kernel_initializer`, `activation`, `dtype`, `name`, ...).
            `padding` must be `"same"`, `strides` and `dilation_rate` 1.

    Input shape: `(B, H, W, in_features)`.
    Output shape: `(B, H, W, filters)`.

    Example:
    >>> layer = MaskedConv2D(6, 3, mask_type="A")
    >>> layer(np.zeros((2, 5, 5, 3))).shape
    (2, 5, 5, 6)

    Reference:
     - [van den Oord et al., 2016](https://arxiv.org/abs/1601.06759), §3.4
    """

    def __init__(
        self,
        filters,
        kernel_size,
        mask_type,
        color_channels=3,
        out_chunks=1,
        **kwargs,
    ):
        kwargs.setdefault("padding", "same")
        super().__init__(filters, kernel_size, **kwargs)
        if mask_type not in masks.MASK_TYPES:
            raise ValueError(
                "`mask_type` must be 'A' or 'B'. "
                f"Received: mask_type={mask_type!r}"
            )
        if color_channels not in (1, 3):
            raise ValueError(
                "`color_channels` must be 1 or 3. "
                f"Received: color_channels={color_channels}"
            )
        if filters % (color_channels * out_chunks):
            raise ValueError(
                "`filters` must be divisible by `color_channels * out_chunks`"
                " so that every chunk splits into equal R|G|B groups. "
                f"Received: filters={filters}, color_channels="
                f"{color_channels}, out_chunks={out_chunks}"
            )
        if (
            self.padding != "same"
            or self.strides != (1, 1)
            or self.dilation_rate != (1, 1)
            or self.groups != 1
            or self.data_format != "channels_last"
        ):
            raise ValueError(
                "MaskedConv2D needs padding='same', strides=1, "
                "dilation_rate=1, groups=1 and channels_last. Received: "
                f"padding={self.padding!r}, strides={self.strides}, "
                f"dilation_rate={self.dilation_rate}, groups={self.groups}, "
                f"data_format={self.data_format!r}"
            )
        self.mask_type = mask_type
        self.color_channels = color_channels
        self.out_chunks = out_chunks

    def build(self, input_shape):
        # Validates the groups and kernel before any weight is created.
        self._mask = masks.conv_mask(  # NumPy constant: not a weight
            self.kernel_size,
            input_shape[-1],
            self.filters,
            self.mask_type,
            self.color_channels,
            self.out_chunks,
        )
        super().build(input_shape)

    def convolution_op(self, inputs, kernel):
        mask = ops.cast(self._mask, kernel.dtype)
        return super().convolution_op(inputs, kernel * mask)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "mask_type": self.mask_type,
                "color_channels": self.color_channels,
                "out_chunks": self.out_chunks,
            }
        )
        return config
