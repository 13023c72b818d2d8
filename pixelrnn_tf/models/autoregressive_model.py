import keras
import numpy as np
from keras import ops

from pixelrnn_tf import validation
from pixelrnn_tf.layers import stepping
from pixelrnn_tf.layers.class_condition import ClassCondition
from pixelrnn_tf.layers.discretized_logistic_mixture_head import (
    DiscretizedLogisticMixtureHead,
)
from pixelrnn_tf.layers.masked_conv2d import MaskedConv2D
from pixelrnn_tf.layers.per_channel_softmax_head import PerChannelSoftmaxHead
from pixelrnn_tf.models.density_model import DensityModel


class AutoregressiveModel(DensityModel, keras.Model):
    """Base of PixelCNN and PixelRNN: p(x) = Π p(x_i | x_<i) in raster order.

    A functional model: input levels -> rescale to [-1, 1] -> 7×7 mask-A conv
    to 2h features (paper §3.4) -> `num_layers` residual blocks made by
    `block_factory` -> optional learnable skip connections (§3.3) -> the
    per-channel softmax head, logits `(B, H, W, C, num_levels)` in float32.
    Inside a pixel the order is R, then G given R, then B given R and G.
    With `head="logistic_mixture"` each sub-pixel's conditional is a
    discretized mixture of logistics instead (PixelCNN++ §2.1), through the
    same masked R|G|B groups; the model's outputs are then the levels'
    normalised log-probabilities, which serve as logits everywhere.

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
        hidden_dim: int. h in the paper; at least C. The features of
            every layer split into C contiguous R|G|B groups as even as
            possible (`masks.channel_groups`; h = 128: 43|43|42).
        num_layers: int. Number of residual blocks.
        input_kernel_size: int. Odd size of the first, mask-A convolution.
        hidden_kernel_size: int. Odd size of the blocks' convolutions.
        output_dim: int or None. Hidden width of the output stack; None
            means 2 * hidden_dim.
        use_residual: bool. Residual connections around each block.
        use_skip_connections: bool. Learnable 1×1 skip connections from
            every block to the output stack.
        head: str. `"softmax"`: a `num_levels`-way softmax per sub-pixel
            (the paper's). `"logistic_mixture"`: a discretized mixture of
            `num_mixtures` logistics per sub-pixel (PixelCNN++ §2.1),
            which learns colour images much faster.
        num_mixtures: int or None. Logistics per sub-pixel of the mixture
            head; None means 5. Must be None with the softmax head.
        num_classes: int or None. Make the model class-conditional with
            this many classes.
        condition_dim: int or None. Condition the model on a spatial map
            `{"images": ..., "condition": (B, H, W, condition_dim)}`, which
            every block adds to its pre-activations through a 1×1 conv (the
            large network of the Multi-Scale PixelRNN, §3.6). Not with
            `num_classes`.
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
        head="softmax",
        num_mixtures=None,
        num_classes=None,
        condition_dim=None,
        pad_right=False,
        **kwargs,
    ):
        image_shape = tuple(int(d) for d in image_shape)
        _check_arguments(image_shape, num_levels, hidden_dim, output_dim)
        _check_head(head, num_mixtures)
        if num_classes is not None and (
            not isinstance(num_classes, int) or num_classes < 1
        ):
            raise ValueError(
                "`num_classes` must be None or a positive integer. "
                f"Received: num_classes={num_classes!r}"
            )
        if condition_dim is not None and (
            num_classes is not None
            or not isinstance(condition_dim, int)
            or condition_dim < 1
        ):
            raise ValueError(
                "`condition_dim` must be None or a positive integer, and "
                "cannot go with `num_classes`. Received: condition_dim="
                f"{condition_dim!r}, num_classes={num_classes!r}"
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
                condition_dim=num_classes or condition_dim,
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
        head_kwargs = dict(
            color_channels=c,
            dtype="float32",  # logits and loss in float32 (mixed precision)
            name="head",
        )
        head_type = head
        if head_type == "logistic_mixture":
            head_kwargs["num_mixtures"] = num_mixtures or 5
        head = HEADS[head_type](
            num_levels, output_dim or features, **head_kwargs
        )

        # === Functional model ===
        conditional = num_classes is not None or condition_dim is not None
        name = "images" if conditional else "pixels"
        pixels = keras.Input(shape=image_shape, name=name)
        inputs, condition = pixels, None
        if num_classes is not None:
            labels = keras.Input(shape=(), dtype="int32", name="labels")
            inputs = {"images": pixels, "labels": labels}
            condition = ClassCondition(
                num_classes, dtype=dtype, name="class_condition"
            )(labels)
        elif condition_dim is not None:
            condition = keras.Input(
                shape=(*image_shape[:2], condition_dim), name="condition"
            )
            inputs = {"images": pixels, "condition": condition}
            if pad_right:  # the map runs beside the padded images
                condition = keras.layers.ZeroPadding2D(
                    ((0, 0), (0, 1)), dtype=dtype, name="pad_condition"
                )(condition)
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
        self.head_type = head_type
        self.num_mixtures = num_mixtures
        self.num_classes = num_classes
        self.condition_dim = condition_dim
        self.pad_right = pad_right

    def __call__(self, inputs, *args, **kwargs):
        if isinstance(inputs, dict):
            inputs = self.inputs_for(**_split_inputs(inputs))
            images = inputs["images"]
            if any(map(_is_tensor, inputs.values())):  # Keras: not mixed
                inputs = {k: _to_tensor(v) for k, v in inputs.items()}
        else:
            images = inputs = _as_tensor(inputs)
            self.inputs_for(images)  # raises if a condition is missing
        validation.check_images(images, self.image_shape, self.num_levels)
        return super().__call__(inputs, *args, **kwargs)

    def inputs_for(self, images, labels=None, condition=None):
        """What the model takes: `images`, or `{"images": images, "labels":
        labels}` (class-conditional) or `{"images": images, "condition":
        condition}` (a spatial condition), with the condition checked."""
        images = _as_tensor(images)
        labels = self._checked_labels(labels, images.shape[0])
        condition = self._checked_condition(condition, images.shape[0])
        if labels is not None:
            return {"images": images, "labels": labels}
        if condition is not None:
            return {"images": images, "condition": condition}
        return images

    def _checked_condition(self, condition, batch_size=None):
        """A spatial condition (B, H, W, condition_dim), checked."""
        if self.condition_dim is None:
            if condition is not None:
                raise ValueError(
                    "This model takes no spatial condition (condition_dim="
                    f"None). Received: condition={_describe(condition)}"
                )
            return None
        expected = (batch_size, *self.image_shape[:2], self.condition_dim)
        shape = None if condition is None else tuple(condition.shape)
        if shape is None or len(shape) != 4 or any(
            a is not None and b is not None and a != b
            for a, b in zip(shape, expected)
        ):
            raise ValueError(
                f"This model needs a spatial condition of shape {expected}. "
                f"Received: condition={_describe(condition)}"
            )
        return _as_tensor(condition)

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

    def get_step_cache(self, batch_size, labels=None, condition=None):
        """The cache before row 0, for a batch of `batch_size` images (and
        their `labels`, (batch_size,), for a class-conditional model, or
        their spatial `condition` (batch_size, H, W, condition_dim))."""
        layers = self._causal_layers()
        # The colour passes' full-width outputs of every layer but the head.
        features = 2 * self.hidden_dim
        kept = {f"{layer.name}_out": features for layer in layers[:-1]}
        dtype, colours = layers[0].compute_dtype, self.image_shape[-1]
        labels = self._checked_labels(labels)
        if labels is not None:
            condition = self.get_layer("class_condition")(labels)
        else:
            condition = self._checked_condition(condition)
            if condition is not None and self.pad_right:
                condition = ops.pad(condition, ((0, 0), (0, 0), (0, 1), (0, 0)))
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
            "head": self.head_type,
            "num_mixtures": self.num_mixtures,
            "num_classes": self.num_classes,
            "condition_dim": self.condition_dim,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _is_tensor(values):
    return ops.is_tensor(values) or keras.utils.is_keras_tensor(values)


def _as_tensor(values):
    return values if _is_tensor(values) else np.asarray(values)


def _to_tensor(values):
    return values if _is_tensor(values) else ops.convert_to_tensor(values)


def _describe(values):
    shape = getattr(values, "shape", None)
    if shape is None:
        return repr(values)
    return f"an array of shape {tuple(shape)}"


def _split_inputs(inputs):
    """{"images": ..., "labels": ...} -> keyword arguments, or a ValueError
    naming the keys received."""
    unknown = sorted(set(inputs) - {"images", "labels", "condition"})
    if unknown or "images" not in inputs:
        raise ValueError(
            "Model inputs are images, or a dict with 'images' and 'labels' "
            "(class-conditional) or 'condition' (a spatial condition). "
            "Received: keys "
            f"{sorted(inputs)}"
        )
    return inputs


HEADS = {
    "softmax": PerChannelSoftmaxHead,
    "logistic_mixture": DiscretizedLogisticMixtureHead,
}


def _check_head(head, num_mixtures):
    if head not in HEADS:
        raise ValueError(
            f"`head` must be one of {list(HEADS)}. Received: head={head!r}"
        )
    if num_mixtures is not None and (
        head != "logistic_mixture"
        or not isinstance(num_mixtures, int)
        or num_mixtures < 1
    ):
        raise ValueError(
            "`num_mixtures` must be None, or a positive integer with "
            "head='logistic_mixture'. Received: "
            f"head={head!r}, num_mixtures={num_mixtures!r}"
        )


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
        if value is not None and value < c:
            raise ValueError(
                f"`{name}` must be at least the number of channels ({c}), "
                "so that every R|G|B group has a feature (paper §3.4). "
                f"Received: {name}={value}"
            )
