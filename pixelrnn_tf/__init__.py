"""pixelrnn_tf: Pixel Recurrent Neural Networks in Keras 3 / TensorFlow.

van den Oord, Kalchbrenner and Kavukcuoglu, "Pixel Recurrent Neural
Networks", ICML 2016 (arXiv:1601.06759).

>>> import pixelrnn_tf as prt
>>> model = prt.build_model(prt.ModelConfig(architecture="row_lstm",
...     image_shape=(32, 32, 3), num_levels=256, hidden_dim=128, num_layers=12))
"""

import os


def _require_tensorflow_backend():
    """Fail at import, in one line, unless Keras runs on TensorFlow."""
    backend = os.environ.get("KERAS_BACKEND")
    if backend is None:
        try:
            import keras

            backend = keras.backend.backend()
        except ImportError as error:  # e.g. a backend whose package is missing
            raise ImportError(
                "pixelrnn_tf needs Keras on the TensorFlow backend: set "
                f"KERAS_BACKEND=tensorflow. Received: {error}"
            ) from error
    if backend != "tensorflow":
        raise ImportError(
            "pixelrnn_tf needs Keras on the TensorFlow backend: set "
            f"KERAS_BACKEND=tensorflow. Received: KERAS_BACKEND={backend!r}"
        )


_require_tensorflow_backend()

from pixelrnn_tf import layers  # noqa: E402
from pixelrnn_tf import logistic_mixture  # noqa: E402
from pixelrnn_tf import models  # noqa: E402
from pixelrnn_tf.config import ARCHITECTURES  # noqa: E402
from pixelrnn_tf.config import HEADS  # noqa: E402
from pixelrnn_tf.config import PRESETS  # noqa: E402
from pixelrnn_tf.config import ModelConfig  # noqa: E402
from pixelrnn_tf.levels import to_levels  # noqa: E402
from pixelrnn_tf.levels import to_pixels  # noqa: E402
from pixelrnn_tf.likelihood import bits_per_dim  # noqa: E402
from pixelrnn_tf.likelihood import log_prob  # noqa: E402
from pixelrnn_tf.losses import BitsPerDim  # noqa: E402
from pixelrnn_tf.losses import DiscretizedLogisticMixtureNLL  # noqa: E402
from pixelrnn_tf.losses import NLLNats  # noqa: E402
from pixelrnn_tf.models import MultiScalePixelRNN  # noqa: E402
from pixelrnn_tf.models import PixelCNN  # noqa: E402
from pixelrnn_tf.models import PixelRNN  # noqa: E402
from pixelrnn_tf.models import build_model  # noqa: E402
from pixelrnn_tf.sampling import complete  # noqa: E402
from pixelrnn_tf.sampling import sample  # noqa: E402
from pixelrnn_tf.time_budget import TimeBudget  # noqa: E402

__version__ = "0.1.0"
