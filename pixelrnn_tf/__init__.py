"""pixelrnn_tf: Pixel Recurrent Neural Networks in Keras 3 / TensorFlow.

van den Oord, Kalchbrenner and Kavukcuoglu, "Pixel Recurrent Neural
Networks", ICML 2016 (arXiv:1601.06759).

>>> import pixelrnn_tf as prt
>>> model = prt.build_model(prt.ModelConfig(architecture="row_lstm",
...     image_shape=(32, 32, 3), num_levels=256, hidden_dim=128, num_layers=12))
"""

from pixelrnn_tf import layers
from pixelrnn_tf import models
from pixelrnn_tf.config import ARCHITECTURES
from pixelrnn_tf.config import PRESETS
from pixelrnn_tf.config import ModelConfig
from pixelrnn_tf.likelihood import bits_per_dim
from pixelrnn_tf.likelihood import log_prob
from pixelrnn_tf.losses import BitsPerDim
from pixelrnn_tf.losses import NLLNats
from pixelrnn_tf.models import PixelCNN
from pixelrnn_tf.models import PixelRNN
from pixelrnn_tf.models import build_model
from pixelrnn_tf.sampling import complete
from pixelrnn_tf.sampling import sample

__version__ = "0.1.0"
