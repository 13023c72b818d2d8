import keras
import numpy as np
import tensorflow as tf
from keras import ops

from pixelrnn_tf import validation
from pixelrnn_tf.models.density_model import DensityModel


@keras.saving.register_keras_serializable(package="pixelrnn_tf")
class MultiScalePixelRNN(DensityModel, keras.Model):
    """Multi-Scale PixelRNN (paper §3.6): a small image, then the large one.

    The small image x_s is every k-th pixel of the n×n' image, x[k·i, k·j]
    (s×s' = n/k × n'/k). An unconditional network models p(x_s); a second
    network models the large image given a spatial map made from the small
    image by a 3×3 convolution (ReLU) and a transposed convolution (k×k,
    stride k) to n×n'×h, which each of its blocks adds to its
    pre-activations through a 1×1 conv. The 3×3 context lets every position
    of the large image see the small pixels around it, below and to the
    right too: that global view is the point of §3.6.

    The likelihood is exact and counts every sub-pixel once:

        log p(x) = log p(x_s) + Σ_{i not in x_s} log p(x_i | x_<i, x_s)

    The small network scores the sub-pixels at (k·i, k·j), all colours;
    the large network scores every other sub-pixel (its outputs at the
    small positions, which see x_s, are not used). `model(images)` returns
    logits (B, n, n', C, L) holding, at each sub-pixel, the conditional
    that scores it, so the NLL of those logits is -log p(x), as for the
    single-scale models: `fit`, `log_prob` and the metrics need nothing
    else. Sampling runs in two stages: the small image, then the large one
    with the small pixels clamped (`fill_in_stages`).

    Args:
        architecture: str. `"row_lstm"`, `"diagonal_bilstm"` or
            `"pixel_cnn"`, for both networks.
        image_shape: (n, n', C), both sizes divisible by the factor.
        multi_scale_factor: int k >= 2.
        **kwargs: the `ModelConfig` fields of both networks (`num_levels`,
            `hidden_dim`, `num_layers`, ...), and `keras.Model` arguments.

    Reference:
     - [van den Oord et al., 2016](https://arxiv.org/abs/1601.06759), §3.6
    """

    def __init__(
        self, architecture, image_shape, multi_scale_factor, **kwargs
    ):
        from pixelrnn_tf.models import factory  # imports this module

        model_kwargs = {
            key: kwargs.pop(key)
            for key in list(kwargs)
            if key not in ("name", "dtype", "trainable")
        }
        super().__init__(**kwargs)
        image_shape = tuple(int(d) for d in image_shape)
        k = multi_scale_factor
        height, width, channels = image_shape
        if (
            not isinstance(k, int)
            or k < 2
            or height % k
            or width % k
        ):
            raise ValueError(
                "`multi_scale_factor` must be an integer >= 2 that divides "
                f"the image's height and width. Received: multi_scale_factor"
                f"={k!r}, image_shape={image_shape}"
            )
        if model_kwargs.get("num_classes") is not None:
            raise ValueError(
                "The Multi-Scale PixelRNN is not class-conditional here. "
                f"Received: num_classes={model_kwargs['num_classes']}"
            )
        model_kwargs.pop("num_classes", None)
        dtype = kwargs.get("dtype")
        self.architecture = architecture
        self.image_shape = image_shape
        self.multi_scale_factor = k
        self.model_kwargs = model_kwargs
        self.num_levels = model_kwargs.get("num_levels", 256)
        self.num_classes = None
        hidden = model_kwargs.get("hidden_dim", 129)
        small_shape = (height // k, width // k, channels)
        self.small = factory.build_network(
            architecture, small_shape, model_kwargs, dtype=dtype, name="small"
        )
        self.large = factory.build_network(
            architecture,
            image_shape,
            dict(model_kwargs, condition_dim=hidden),
            dtype=dtype,
            name="large",
        )
        self.rescale = keras.layers.Rescaling(
            2.0 / (self.num_levels - 1), offset=-1.0, dtype=dtype
        )
        self.context = keras.layers.Conv2D(
            hidden,
            3,
            padding="same",
            activation="relu",
            dtype=dtype,
            name="small_context",
        )
        self.upsample = keras.layers.Conv2DTranspose(
            hidden, k, strides=k, dtype=dtype, name="upsample"
        )
        # (n, n') True at the small image's pixels (k·i, k·j).
        mask = np.zeros((height, width), bool)
        mask[::k, ::k] = True
        self._small_mask = mask
        self.build()

    # === The two networks ===

    def small_images(self, images):
        """x_s: every k-th pixel, (B, n/k, n'/k, C)."""
        k = self.multi_scale_factor
        return images[:, ::k, ::k]

    def condition(self, small_images):
        """The large network's spatial condition from x_s: (B, n, n', h)."""
        x = self.rescale(ops.cast(small_images, "float32"))
        return self.upsample(self.context(x))

    def place_small(self, small, large):
        """`large` (B, n, n', ...) with `small` (B, n/k, n'/k, ...) at the
        small image's pixels."""
        k = self.multi_scale_factor
        spread = ops.repeat(ops.repeat(small, k, axis=1), k, axis=2)
        mask = self._small_mask.reshape(
            (1, *self._small_mask.shape) + (1,) * (len(large.shape) - 3)
        )
        return ops.where(mask, ops.cast(spread, large.dtype), large)

    def build(self, input_shape=None):
        # The two networks are functional models, built when made.
        small_shape = (None, *self.small.image_shape)
        self.context.build(small_shape)
        self.upsample.build(self.context.compute_output_shape(small_shape))
        self.built = True

    def call(self, images, training=None):
        images = ops.cast(images, "float32")
        small = self.small_images(images)
        small_logits = self.small(small, training=training)
        inputs = {"images": images, "condition": self.condition(small)}
        large_logits = self.large(inputs, training=training)
        return self.place_small(small_logits, large_logits)

    def __call__(self, inputs, *args, **kwargs):
        if isinstance(inputs, dict):
            inputs = dict(inputs)
            if set(inputs) != {"images"}:
                raise ValueError(
                    "A Multi-Scale PixelRNN takes images only. Received: "
                    f"keys {sorted(inputs)}"
                )
            inputs = inputs["images"]
        if not (ops.is_tensor(inputs) or keras.utils.is_keras_tensor(inputs)):
            inputs = np.asarray(inputs)
        validation.check_images(inputs, self.image_shape, self.num_levels)
        return super().__call__(inputs, *args, **kwargs)

    def inputs_for(self, images, labels=None, condition=None):
        """The model's inputs: the images alone."""
        if labels is not None or condition is not None:
            raise ValueError(
                "A Multi-Scale PixelRNN takes images only. Received: "
                f"labels={labels is not None}, condition="
                f"{condition is not None}"
            )
        return images

    # === Sampling in two stages ===

    def fill_in_stages(
        self,
        sampler_cls,
        canvas,
        start,
        seed,
        temperature,
        progress=None,
        jit_compile=False,
    ):
        """Sample `canvas` from flat index `start` on: the small image
        first (its pixels inside the known prefix kept), then the large
        image with the small pixels clamped. Same arguments as
        `Sampler.fill`; stateless noise split between the stages."""
        height, width, channels = self.image_shape
        k = self.multi_scale_factor
        # The flat index in the large image of each small sub-pixel: known
        # iff before `start`; the known ones are a prefix of the small
        # raster order, since the map keeps that order.
        flat = np.arange(height * width * channels).reshape(self.image_shape)
        in_large = flat[::k, ::k].reshape(-1)
        in_large = ops.convert_to_tensor(in_large, "int32")
        small_start = ops.sum(ops.cast(in_large < start, "int32"))
        small_seed, large_seed = tf.unstack(
            tf.random.experimental.stateless_split(seed, 2)
        )
        small = sampler_cls(self.small).fill(
            self.small_images(canvas),
            small_start,
            small_seed,
            temperature,
            None,
            jit_compile,
        )
        canvas = self.place_small(small, canvas)
        return sampler_cls(self.large).fill(
            canvas,
            start,
            large_seed,
            temperature,
            progress,
            jit_compile,
            {"condition": self.condition(small)},
            known=self._small_mask,
        )

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": keras.dtype_policies.serialize(self.dtype_policy),
            "architecture": self.architecture,
            "image_shape": self.image_shape,
            "multi_scale_factor": self.multi_scale_factor,
            **self.model_kwargs,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
