from pixelrnn_tf.config import ModelConfig
from pixelrnn_tf.models.multi_scale_pixel_rnn import MultiScalePixelRNN
from pixelrnn_tf.models.pixel_cnn import PixelCNN
from pixelrnn_tf.models.pixel_rnn import PixelRNN


def build_model(config, **kwargs):
    """Build the keras.Model that a `ModelConfig` (or a preset name) describes.

    Args:
        config: a `ModelConfig`, a dict of its fields, or a preset name.
        **kwargs: further `keras.Model` arguments (`name`, `dtype`).
    """
    if isinstance(config, str):
        config = ModelConfig.preset(config)
    elif isinstance(config, dict):
        config = ModelConfig.from_dict(config)
    elif not isinstance(config, ModelConfig):
        raise ValueError(
            "`config` must be a ModelConfig, a dict or a preset name. "
            f"Received: config={config!r}"
        )
    fields = config.to_dict()
    architecture = fields.pop("architecture")
    image_shape = fields.pop("image_shape")
    factor = fields.pop("multi_scale_factor")
    if factor is not None:
        return MultiScalePixelRNN(
            architecture, image_shape, factor, **fields, **kwargs
        )
    return build_network(architecture, image_shape, fields, **kwargs)


def build_network(architecture, image_shape, fields, **kwargs):
    """One single-scale network: `PixelCNN` or `PixelRNN` from the other
    `ModelConfig` fields (a dict) and `keras.Model` arguments."""
    fields = dict(fields)
    if architecture == "pixel_cnn":
        fields.pop("close_blind_spot", None)  # None or False: nothing to close
        return PixelCNN(image_shape, **fields, **kwargs)
    return PixelRNN(architecture, image_shape, **fields, **kwargs)
