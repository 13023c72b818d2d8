import keras
import numpy as np
from keras import ops

from pixelrnn_tf import losses
from pixelrnn_tf import optimizers
from pixelrnn_tf import validation
from pixelrnn_tf.layers import stepping
from pixelrnn_tf.layers.class_condition import ClassCondition
from pixelrnn_tf.layers.masked_conv2d import MaskedConv2D
from pixelrnn_tf.layers.per_channel_softmax_head import PerChannelSoftmaxHead


class AutoregressiveModel(keras.Model):
    """Base of PixelCNN and PixelRNN: p(x) = Π p(x_i | x_<i) in raster order.

    A functional model: input levels -> rescale to [-1, 1] -> 7×7 mask-A conv
    to 2h features (paper §3.4) -> `num_layers` residual blocks made by
    `block_factory` -> optional learnable skip connections (§3.3) -> the
    per-channel softmax head, logits `(B, H, W, C, num_levels)` in float32.
    Inside a pixel the order is R, then G given R, then B given R and G.

    The model is its own density: `fit(images)` trains on the images as both
    input and target, with the exact NLL as loss, and nats per image and
    bits/dim as metrics.

    Class-conditional (`num_classes=K`): the model models p(x | y). Its
    inputs are a dict `{"images": (B, H, W, C), "labels": (B,)}`, and every
    block adds a learned projection of the one-hot label to its
    input-to-state pre-activations (the LSTMs' four gates, the PixelCNN
    block's k×k conv; Gated PixelCNN eq. 4). `fit` takes such dicts, or
    `(images, labels)` pairs (TFDS's `as_supervised=True`): the label is
    the condition and the images are their own target.

    Beside `model(images)`, the model has a step form that computes the
    logits of one pixel from a cache of what came before (cached sampling):

        cache = model.get_step_cache(batch_size)
        for row in range(H):
            cache = model.start_row(cache)
            for column in range(W):
                logits, cache = model.step(pixel, cache, column)
            cache = model.end_row(cache)

    `pixel` is (B, C), the levels at (row, column); `logits` (B, C, L) equal
    `model(images)[:, row, column]`. The logits of colour k only read the
    pixel's colours < k, so a sampler steps a position once per colour,
    `step(pixel, cache, column, channel=k)`, which computes only colour
    group k in every layer (R, then G, then B: together the work of one
    position); `record_pixel` then stores the whole pixel, with its last
    colour, for the positions after it (nothing else in the cache depends
    on that colour: mask A).

    Args:
        block_factory: callable. Makes one residual block, 2h features in
            and out, from `units`, `kernel_size`, `color_channels`,
            `use_residual`, `dtype` and `name`. Set by the subclass.
        image_shape: (H, W, C) with C 1 or 3.
        num_levels: int. Levels per sub-pixel (256 for 8-bit data, 2 for
            binarized).
        hidden_dim: int. h in the paper; divisible by C.
        num_layers: int. Number of residual blocks.
        input_kernel_size: int. Odd size of the first, mask-A convolution.
        hidden_kernel_size: int. Odd size of the blocks' convolutions.
        output_dim: int or None. Hidden width of the output stack; None
            means 2 * hidden_dim.
        use_residual: bool. Residual connections around each block.
        use_skip_connections: bool. Learnable 1×1 skip connections from
            every block to the output stack.
        num_classes: int or None. Make the model class-conditional with
            this many classes.
        pad_right: bool. Run the network on the input with one constant
            column (the middle level) on its right, and crop it from the
            output stack's input. Set by `PixelRNN` to close the Diagonal
            BiLSTM's blind spot; costs 1/W more compute, adds no weights.
        **kwargs: `keras.Model` arguments (`name`, `dtype`, ...).
    """

    def __init__(
        self,
        block_factory,
        image_shape,
        num_levels=256,
        hidden_dim=129,
        num_layers=12,
        input_kernel_size=7,
        hidden_kernel_size=3,
        output_dim=None,
        use_residual=True,
        use_skip_connections=False,
        num_classes=None,
        pad_right=False,
        **kwargs,
    ):
        image_shape = tuple(int(d) for d in image_shape)
        _check_arguments(image_shape, num_levels, hidden_dim, output_dim)
        if num_classes is not None and (
            not isinstance(num_classes, int) or num_classes < 1
        ):
            raise ValueError(
                "`num_classes` must be None or a positive integer. "
                f"Received: num_classes={num_classes!r}"
            )
        c = image_shape[-1]
        features = 2 * hidden_dim
        dtype = kwargs.get("dtype")

        # === Layers ===
        rescale = keras.layers.Rescaling(
            2.0 / (num_levels - 1), offset=-1.0, dtype=dtype, name="rescale"
        )
        input_conv = MaskedConv2D(
            features,
            input_kernel_size,
            mask_type="A",
            color_channels=c,
            dtype=dtype,
            name="input_conv",
        )
        blocks = [
            block_factory(
                units=hidden_dim,
                kernel_size=hidden_kernel_size,
                color_channels=c,
                use_residual=use_residual,
                condition_dim=num_classes,
                dtype=dtype,
                name=f"block_{i}",
            )
            for i in range(num_layers)
        ]
        skips = [
            MaskedConv2D(
                features,
                1,
                mask_type="B",
                color_channels=c,
                dtype=dtype,
                name=f"skip_{i}",
            )
            for i in range(num_layers if use_skip_connections else 0)
        ]
        head = PerChannelSoftmaxHead(
            num_levels,
            output_dim or features,
            color_channels=c,
            dtype="float32",  # logits and loss in float32 (mixed precision)
            name="head",
        )

        # === Functional model ===
        name = "pixels" if num_classes is None else "images"
        pixels = keras.Input(shape=image_shape, name=name)
        inputs, condition = pixels, None
        if num_classes is not None:
            labels = keras.Input(shape=(), dtype="int32", name="labels")
            inputs = {"images": pixels, "labels": labels}
            condition = ClassCondition(
                num_classes, dtype=dtype, name="class_condition"
            )(labels)
        x = rescale(pixels)
        if pad_right:  # 0 after the rescale: the middle level
            x = keras.layers.ZeroPadding2D(
                ((0, 0), (0, 1)), dtype=dtype, name="pad_right"
            )(x)
        x = input_conv(x)
        outputs = []
        for block in blocks:
            x = block(x) if condition is None else block(x, condition)
            outputs.append(x)
        if skips:  # §3.3: every layer feeds the output stack
            x = skips[0](outputs[0])
            for skip, output in zip(skips[1:], outputs[1:]):
                x = x + skip(output)
        if pad_right:  # the head is 1×1: crop before it
            x = keras.layers.Cropping2D(
                ((0, 0), (0, 1)), dtype=dtype, name="crop_right"
            )(x)
        logits = head(x)
        super().__init__(inputs=inputs, outputs=logits, **kwargs)

        # === Config ===
        self.image_shape = image_shape
        self.num_levels = num_levels
        self.hidden_dim = hidden_dim
        self.num_layers = num_layers
        self.input_kernel_size = input_kernel_size
        self.hidden_kernel_size = hidden_kernel_size
        self.output_dim = output_dim
        self.use_residual = use_residual
        self.use_skip_connections = use_skip_connections
        self.num_classes = num_classes
        self.pad_right = pad_right

    def __call__(self, inputs, *args, **kwargs):
        if isinstance(inputs, dict):
            inputs = self.inputs_for(**_split_inputs(inputs))
            images = inputs["images"]
            if any(map(_is_tensor, inputs.values())):  # Keras: not mixed
                inputs = {
                    key: value if _is_tensor(value) else ops.convert_to_tensor(
                        value
                    )
                    for key, value in inputs.items()
                }
        else:
            images = inputs = _as_tensor(inputs)
            if self.num_classes is not None:
                self.inputs_for(images)  # raises: the labels are missing
        validation.check_images(images, self.image_shape, self.num_levels)
        return super().__call__(inputs, *args, **kwargs)

    def inputs_for(self, images, labels=None):
        """What the model takes: `images`, or for a class-conditional model
        `{"images": images, "labels": labels}`, with the labels checked."""
        images = _as_tensor(images)
        labels = self._checked_labels(labels, images.shape[0])
        if labels is None:
            return images
        return {"images": images, "labels": labels}

    def _checked_labels(self, labels, batch_size=None):
        """`labels`, checked: None for an unconditional model, (B,) classes
        in [0, num_classes) for a class-conditional one."""
        if self.num_classes is None:
            if labels is not None:
                raise ValueError(
                    "This model is not class-conditional (num_classes=None)."
                    f" Received: labels={_describe(labels)}"
                )
            return None
        if labels is None:
            raise ValueError(
                f"This model is class-conditional (num_classes="
                f"{self.num_classes}): pass the labels. Received: labels=None"
            )
        labels = _as_tensor(labels)
        validation.check_labels(labels, self.num_classes, batch_size)
        return labels

    def _density_data(self, data):
        """(images, labels) pairs as the conditional model's inputs: the
        label is the condition, the images are their own target."""
        x, y, weight = keras.utils.unpack_x_y_sample_weight(data)
        if self.num_classes is not None and not isinstance(x, dict):
            if y is not None:
                x, y = {"images": x, "labels": y}, None
        return keras.utils.pack_x_y_sample_weight(x, y, weight)

    def train_step(self, data):
        return super().train_step(self._density_data(data))

    def test_step(self, data):
        return super().test_step(self._density_data(data))

    # === Step form ===

    def _causal_layers(self):
        """The layers in order, as the functional graph applies them."""
        names = ["input_conv"]
        names += [f"block_{i}" for i in range(self.num_layers)]
        if self.use_skip_connections:
            names += [f"skip_{i}" for i in range(self.num_layers)]
        return [self.get_layer(name) for name in names + ["head"]]

    def get_step_cache(self, batch_size, labels=None):
        """The cache before row 0, for a batch of `batch_size` images (and
        their `labels`, (batch_size,), for a class-conditional model)."""
        layers = self._causal_layers()
        # The colour passes' full-width outputs of every layer but the head.
        features = 2 * self.hidden_dim
        kept = {f"{layer.name}_out": features for layer in layers[:-1]}
        dtype, colours = layers[0].compute_dtype, self.image_shape[-1]
        condition = None
        labels = self._checked_labels(labels)
        if labels is not None:
            condition = self.get_layer("class_condition")(labels)
        return stepping.get_step_cache(
            layers, batch_size, kept, dtype, colours, condition
        )

    def start_row(self, cache):
        """Begin the next row: the work that depends on earlier rows only."""
        return stepping.start_row(self._causal_layers(), cache)

    def step(self, pixel, cache, column, channel=None):
        """The logits at (row, `column`) given the pixel there.

        Args:
            pixel: (B, C) levels at the position; colours not yet drawn may
                hold anything (the masks never read them).
            cache: from `start_row` or the previous `step` of this row.
            column: Python int or int32 scalar.
            channel: None for the logits of every colour, (B, C, L); or
                the colour pass k (see `pixelrnn_tf.layers.stepping`): the
                logits of colour k only, (B, L), computing only colour
                group k in every layer. Passes go k = 0, 1, ... at a
                position, each with the pixel's colours < k drawn.

        Returns:
            (logits, cache).
        """
        x = self.get_layer("rescale")(ops.cast(pixel, "float32"))
        return self._step_features(x, cache, column, channel)

    def _step_features(self, x, cache, column, channel, head=True):
        """`step` from the first layer's inputs (the rescaled pixel)."""
        cache = dict(cache)

        def run(layer, x, keep=True):
            y = stepping.step(layer, x, cache, column, channel)
            if keep:
                return stepping.keep(cache, f"{layer.name}_out", y, channel)
            return y

        x = run(self.get_layer("input_conv"), x)
        outputs = []
        for i in range(self.num_layers):
            x = run(self.get_layer(f"block_{i}"), x)
            outputs.append(x)
        if self.use_skip_connections:  # §3.3
            skips = [
                run(self.get_layer(f"skip_{i}"), out, keep=False)
                for i, out in enumerate(outputs)
            ]
            x = skips[0]
            for skip in skips[1:]:
                x = x + skip
            x = stepping.keep(cache, "skip_0_out", x, channel)
        if not head:
            return None, cache
        return run(self.get_layer("head"), x, keep=False), cache

    def record_pixel(self, pixel, cache, column):
        """The cache that a step on the whole `pixel` would leave: only the
        first layer's input changes. Cheap: computes no layer."""
        x = self.get_layer("rescale")(ops.cast(pixel, "float32"))
        conv = self.get_layer("input_conv")
        return {**cache, conv.name: conv.record(x, cache[conv.name], column)}

    def end_row(self, cache):
        """Finish the row: keep what later rows need."""
        if self.pad_right:  # step the constant column, which has no logits
            ref = cache["input_conv_out"][0]
            x = ops.zeros((ops.shape(ref)[0], self.image_shape[-1]), ref.dtype)
            _, cache = self._step_features(
                x, cache, self.image_shape[1], None, head=False
            )
        return stepping.end_row(self._causal_layers(), cache)

    def compile(self, optimizer="auto", loss="auto", metrics="auto", **kwargs):
        """`keras.Model.compile` with the defaults of a density model.

        `"auto"` means Adam (learning rate 1e-3, global gradient norm clipped
        at 1), the exact NLL per sub-pixel in nats as the loss, and nats per
        image and bits/dim as metrics.
        """
        if optimizer == "auto":
            optimizer = optimizers.Adam(1e-3, global_clipnorm=1.0)
        if loss == "auto":
            loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        if metrics == "auto":
            metrics = [losses.NLLNats(), losses.BitsPerDim()]
        super().compile(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)

    def compile_from_config(self, config):
        self.compile(**keras.saving.deserialize_keras_object(config))
        if self.built:
            self.optimizer.build(self.trainable_variables)

    def compute_loss(
        self, x=None, y=None, y_pred=None, sample_weight=None, training=True
    ):
        y = _target(x, y)  # a density model is its own target
        return super().compute_loss(x, y, y_pred, sample_weight, training)

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        return super().compute_metrics(x, _target(x, y), y_pred, sample_weight)

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": keras.dtype_policies.serialize(self.dtype_policy),
            "image_shape": self.image_shape,
            "num_levels": self.num_levels,
            "hidden_dim": self.hidden_dim,
            "num_layers": self.num_layers,
            "input_kernel_size": self.input_kernel_size,
            "hidden_kernel_size": self.hidden_kernel_size,
            "output_dim": self.output_dim,
            "use_residual": self.use_residual,
            "use_skip_connections": self.use_skip_connections,
            "num_classes": self.num_classes,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _target(x, y):
    """The images: a density model is its own target."""
    if y is not None:
        return y
    return x["images"] if isinstance(x, dict) else x


def _is_tensor(values):
    return ops.is_tensor(values) or keras.utils.is_keras_tensor(values)


def _as_tensor(values):
    return values if _is_tensor(values) else np.asarray(values)


def _describe(values):
    shape = getattr(values, "shape", None)
    return f"an array of shape {tuple(shape)}" if shape is not None else (
        repr(values)
    )


def _split_inputs(inputs):
    """{"images": ..., "labels": ...} -> keyword arguments, or a ValueError
    naming the keys received."""
    unknown = sorted(set(inputs) - {"images", "labels"})
    if unknown or "images" not in inputs:
        raise ValueError(
            "Model inputs are images, or a dict with 'images' and (for a "
            f"class-conditional model) 'labels'. Received: keys "
            f"{sorted(inputs)}"
        )
    return inputs


def _check_arguments(image_shape, num_levels, hidden_dim, output_dim):
    if len(image_shape) != 3 or min(image_shape) < 1:
        raise ValueError(
            "`image_shape` must be (height, width, channels) of positive "
            f"sizes. Received: image_shape={image_shape}"
        )
    if image_shape[-1] not in (1, 3):
        raise ValueError(
            "Images must have 1 (grayscale) or 3 (RGB) channels. "
            f"Received: image_shape={image_shape}"
        )
    if num_levels < 2:
        raise ValueError(
            f"`num_levels` must be at least 2. Received: num_levels={num_levels}"
        )
    c = image_shape[-1]
    for name, value in (("hidden_dim", hidden_dim), ("output_dim", output_dim)):
        if value is not None and (value < 1 or value % c):
            raise ValueError(
                f"`{name}` must be a positive multiple of the number of "
                f"channels ({c}), so the features split into equal R|G|B "
                f"groups (paper §3.4). Received: {name}={value}"
            )
