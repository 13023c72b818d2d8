import keras

from pixelrnn_tf.layers.pixel_cnn_residual_block import PixelCNNResidualBlock
from pixelrnn_tf.models.autoregressive_model import AutoregressiveModel


@keras.saving.register_keras_serializable(package="pixelrnn_tf")
class PixelCNN(AutoregressiveModel):
    """PixelCNN (paper §3.5): a stack of masked convolutions, no recurrence.

    7×7 mask-A conv -> `num_layers` PixelCNN residual blocks (Figure 5,
    3×3 mask-B convolutions) -> output stack -> per-channel softmax. Its
    receptive field grows with depth and has the blind spot of masked
    convolutions; training is fully parallel.

    Takes the arguments of `AutoregressiveModel`.

    Example:
    >>> model = PixelCNN(image_shape=(8, 8, 3), num_levels=4, hidden_dim=6,
    ...                  num_layers=2)
    >>> model(np.zeros((2, 8, 8, 3))).shape
    (2, 8, 8, 3, 4)

    Reference:
     - [van den Oord et al., 2016](https://arxiv.org/abs/1601.06759), §3.5
    """

    architecture = "pixel_cnn"

    def __init__(self, image_shape, **kwargs):
        super().__init__(PixelCNNResidualBlock, image_shape, **kwargs)
