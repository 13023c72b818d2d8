"""PixelCNN and PixelRNN models."""

from pixelrnn_tf.models.autoregressive_model import AutoregressiveModel
from pixelrnn_tf.models.factory import build_model
from pixelrnn_tf.models.multi_scale_pixel_rnn import MultiScalePixelRNN
from pixelrnn_tf.models.pixel_cnn import PixelCNN
from pixelrnn_tf.models.pixel_rnn import PixelRNN
