import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import pathlib  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

# Two logical CPU devices for the MirroredStrategy tests. This must happen
# before TensorFlow initialises its devices, i.e. before any test runs.
tf.config.set_logical_device_configuration(
    tf.config.list_physical_devices("CPU")[0],
    [tf.config.LogicalDeviceConfiguration()] * 2,
)

DATA_DIR = pathlib.Path(__file__).resolve().parent / "data"


@pytest.fixture(autouse=True)
def clean_keras_state():
    """Same seed, float32 policy and a fresh session for every test."""
    keras.utils.set_random_seed(0)
    yield
    keras.config.set_dtype_policy("float32")
    keras.backend.clear_session()


@pytest.fixture(scope="session")
def binarized_mnist():
    """The binarized MNIST subsets of tests/data (see its README):
    {"train": 4000, "valid": 100, "test": 1000 images}, (N, 28, 28, 1)
    uint8 in {0, 1}, the first images of each official split."""
    with np.load(DATA_DIR / "binarized_mnist_subsets.npz") as packed:
        return {
            split: np.unpackbits(packed[split], axis=1).reshape(-1, 28, 28, 1)
            for split in packed.files
        }
