import keras
import numpy as np
from keras import ops

from pixelrnn_tf import masks
from pixelrnn_tf.layers import stepping


@keras.saving.register_keras_serializable(package="pixelrnn_tf")
class MaskedConv2D(keras.layers.Conv2D):
    """2D convolution whose kernel only sees sub-pixels earlier in raster order.

    The input and output features are split into contiguous R|G|B groups
    as even as possible (paper §3.4; `masks.channel_groups`). At the
    kernel centre, output group `g` sees input groups `< g` under mask "A"
    (first layer) and `<= g` under mask "B" (all later layers); taps right
    of the centre and below it are zero. The mask is applied in the forward
    pass, so a freshly built layer is already causal and masked weights get
    exactly zero gradient.

    Args:
        filters: int. Number of output features: `out_chunks` equal
            chunks of at least `color_channels` features each.
        kernel_size: int or (int, int). Odd sizes only.
        mask_type: str. `"A"` or `"B"`.
        color_channels: int. 3 for RGB, 1 for grayscale. Defaults to `3`.
        out_chunks: int. Build the mask separately for each of this many
            equal output chunks (4 for LSTM gates). Defaults to `1`.
        condition_dim: int or None. With it, `call(inputs, condition)`
            adds a learned projection of `condition` to the outputs before
            the activation: a global (B, condition_dim) vector broadcast
            over the positions (a class embedding; Gated PixelCNN eq. 4),
            or a spatial (B, H, W, condition_dim) map through an unmasked
            1×1 convolution (the Multi-Scale PixelRNN, paper §3.6). It
            depends on nothing of the image modelled, so it opens no path.
            Defaults to `None`.
        **kwargs: other `keras.layers.Conv2D` arguments (`use_bias`,
            `kernel_initializer`, `activation`, `dtype`, `name`, ...).
            `padding` must be `"same"`, `strides` and `dilation_rate` 1.

    Input shape: `(B, H, W, in_features)`.
    Output shape: `(B, H, W, filters)`.

    Step form (for cached sampling; see `get_step_cache`): the rows above
    the current one are convolved once per row in `start_row`, and `step`
    adds the taps of the current row, left of and at the new position.

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
        condition_dim=None,
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
        if filters % out_chunks or filters // out_chunks < color_channels:
            raise ValueError(
                "`filters` must be `out_chunks` equal chunks of at least "
                "`color_channels` features, so that every chunk has a "
                "feature of each colour. Received: "
                f"filters={filters}, color_channels={color_channels}, "
                f"out_chunks={out_chunks}"
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
        if condition_dim is not None and condition_dim < 1:
            raise ValueError(
                "`condition_dim` must be None or positive. "
                f"Received: condition_dim={condition_dim}"
            )
        self.mask_type = mask_type
        self.color_channels = color_channels
        self.out_chunks = out_chunks
        self.condition_dim = condition_dim

    def build(self, input_shape):
        self._width = input_shape[2]  # the step form's row length
        self._in_features = input_shape[-1]
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
        if self.condition_dim:
            self.condition_kernel = self.add_weight(
                name="condition_kernel",
                shape=(self.condition_dim, self.filters),
                initializer=self.kernel_initializer,
            )

    def call(self, inputs, condition=None):
        if condition is None and not self.condition_dim:
            return super().call(inputs)
        outputs = self.convolution_op(inputs, self.kernel)
        if self.use_bias:
            outputs = outputs + self.bias
        outputs = outputs + self.condition_term(condition, inputs.shape)
        if self.activation is not None:
            outputs = self.activation(outputs)
        return outputs

    def condition_term(self, condition, input_shape=None):
        """The projection of `condition` added to the outputs: (B, 1, 1, F)
        for a global vector, (B, H, W, F) for a spatial map."""
        if not self.condition_dim:
            raise ValueError(
                f"Layer {self.name!r} has no conditioning input "
                "(condition_dim=None). Received: a condition of shape "
                f"{tuple(condition.shape)}"
            )
        if condition is None:
            raise ValueError(
                f"Layer {self.name!r} is conditional (condition_dim="
                f"{self.condition_dim}): pass `condition`. Received: None"
            )
        shape = tuple(condition.shape)
        spatial = input_shape is not None and tuple(input_shape[1:3])
        if (
            shape[-1] != self.condition_dim
            or len(shape) not in (2, 4)
            or (len(shape) == 4 and spatial and shape[1:3] != spatial)
        ):
            raise ValueError(
                f"`condition` must be (B, {self.condition_dim}) or (B, H, W, "
                f"{self.condition_dim}) with the inputs' H and W. Received: "
                f"condition of shape {shape}, inputs of shape "
                f"{None if input_shape is None else tuple(input_shape)}"
            )
        kernel = ops.cast(self.condition_kernel, self.compute_dtype)
        term = ops.matmul(ops.cast(condition, self.compute_dtype), kernel)
        return term[:, None, None, :] if len(shape) == 2 else term

    def save_own_variables(self, store):
        if not self.condition_dim:
            return super().save_own_variables(store)
        # `Conv2D` saves only its kernel and bias: every weight, in order.
        keras.layers.Layer.save_own_variables(self, store)

    def load_own_variables(self, store):
        if not self.condition_dim:
            return super().load_own_variables(store)
        keras.layers.Layer.load_own_variables(self, store)

    def convolution_op(self, inputs, kernel):
        mask = ops.cast(self._mask, kernel.dtype)
        return super().convolution_op(inputs, kernel * mask)

    # === Step form: one position at a time, in raster order ===

    def get_step_cache(self, batch_size, condition=None):
        """The empty cache before row 0.

        "above": the `kh // 2` input rows above, zero-padded left and right
        (rows above the image are zeros, as under "same" padding);
        "inputs": the current row's inputs, `kw // 2` zero columns first;
        "condition": the projected condition, (B, F) or (B, H, W, F), with
        the "row" it is at.
        """
        kh, kw = self.kernel_size
        cache = {}
        if self.condition_dim:
            term = self.condition_term(condition)
            if len(condition.shape) == 2:  # global: (B, F)
                term = term[:, 0, 0]
            cache["condition"] = term
            cache["row"] = ops.zeros((), "int32")
        if kh > 1:
            cache["above"] = ops.zeros(
                (batch_size, kh // 2, self._width + kw - 1, self._in_features),
                self.compute_dtype,
            )
        if kh > 1 or kw > 1:
            cache["inputs"] = ops.zeros(
                (batch_size, self._width + kw // 2, self._in_features),
                self.compute_dtype,
            )
        return cache

    def group_columns(self, group):
        """Indices of the output features of colour group `group`, in
        order (with `out_chunks`, group `group` of each chunk in turn)."""
        size = self.filters // self.out_chunks
        groups = masks.channel_groups(size, self.color_channels)
        return np.flatnonzero(np.tile(groups, self.out_chunks) == group)

    def _centre_inputs(self, group):
        """How many leading input features the centre tap of group reads."""
        groups = masks.channel_groups(self._in_features, self.color_channels)
        limit = group if self.mask_type == "A" else group + 1
        return int(np.sum(groups < limit))

    def start_row(self, cache):
        """Per-row work: the rows above, convolved for the whole row, and
        the kernel's taps split by colour group for the colour passes."""
        kh, kw = self.kernel_size
        p, f = kw // 2, self._in_features
        kernel = ops.cast(self.kernel, self.compute_dtype)
        kernel = kernel * ops.cast(self._mask, kernel.dtype)
        taps = ops.reshape(kernel[kh // 2, : p + 1], (-1, self.filters))
        pieces = {"centre_taps": taps[p * f :]}
        if p:
            pieces["left_taps"] = taps[: p * f]  # columns c - p ... c - 1
        bias = ops.cast(self.bias, self.compute_dtype) if self.use_bias else 0
        if kh > 1:  # (B, W, filters), with the bias
            above = ops.conv(cache["above"], kernel[: kh // 2], padding="valid")
            pieces["context"] = above[:, 0] + bias
        elif self.use_bias:
            pieces["bias"] = bias
        if "condition" in cache:  # (B, F), or this row's (B, W, F)
            term = cache["condition"]
            if len(term.shape) == 4:
                term = ops.take(term, cache["row"], axis=1)
            pieces["condition_term"] = term
        row = {**cache, **pieces}
        for group in range(self.color_channels):
            columns = self.group_columns(group)
            for key, value in pieces.items():
                if key == "centre_taps":
                    value = value[: self._centre_inputs(group)]
                row[key + stepping.suffix(group)] = ops.take(
                    value, columns, axis=-1
                )
        return row

    def step(self, inputs, cache, column, group=None):
        """Outputs at (row, `column`) from the inputs there.

        Args:
            inputs: (B, in_features), the layer's input at the position;
                in a colour pass, at least the features of groups <= group.
            cache: from `start_row` or the previous `step` of this row.
            column: Python int or int32 scalar. The steps of a row go left
                to right; a position may be stepped again: the last step
                wins.
            group: None, or the colour pass (see `stepping`): then only
                that group's outputs are computed and returned.

        Returns:
            (outputs (B, filters) or (B, filters of the group), cache).
        """
        p = self.kernel_size[1] // 2
        key = stepping.suffix(group)
        x = ops.cast(inputs, self.compute_dtype)
        centre = x
        if group is not None and x.shape[-1] != self._centre_inputs(group):
            centre = x[:, : self._centre_inputs(group)]
        y = ops.matmul(centre, cache["centre_taps" + key])
        if p:
            left = stepping.read_window(cache["inputs"], column, p)
            y = y + ops.matmul(left, cache["left_taps" + key])
        if "context" in cache:
            y = y + stepping.read(cache["context" + key], column)
        elif self.use_bias:
            y = y + cache["bias" + key]
        if "condition_term" in cache:
            term = cache["condition_term" + key]
            if len(term.shape) == 3:  # a spatial condition: this row's
                term = stepping.read(term, column)
            y = y + term
        if self.activation is not None:
            y = self.activation(y)
        if stepping.is_last(group, self.color_channels):
            cache = self.record(x, cache, column)
        return y, cache

    def record(self, inputs, cache, column):
        """Keep `inputs` as the input at `column`, computing nothing."""
        if "inputs" not in cache:
            return cache
        x = ops.cast(inputs, self.compute_dtype)
        column = column + self.kernel_size[1] // 2
        return {**cache, "inputs": stepping.write(cache["inputs"], column, x)}

    def end_row(self, cache):
        """Keep the finished row among the rows above; drop per-row work."""
        kh, kw = self.kernel_size
        kept = {}
        if "condition" in cache:
            kept = {"condition": cache["condition"], "row": cache["row"] + 1}
        if kh == 1:
            return {**kept, **{k: cache[k] for k in ("inputs",) if k in cache}}
        p = kw // 2
        row = ops.pad(cache["inputs"][:, p:], ((0, 0), (p, p), (0, 0)))
        above = ops.concatenate([cache["above"][:, 1:], row[:, None]], axis=1)
        return {**kept, "above": above, "inputs": cache["inputs"]}

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "mask_type": self.mask_type,
                "color_channels": self.color_channels,
                "out_chunks": self.out_chunks,
                "condition_dim": self.condition_dim,
            }
        )
        return config
