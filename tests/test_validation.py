"""Bad input gets a ValueError that says what was received."""

import numpy as np
import pytest

import pixelrnn_tf as prt
from pixelrnn_tf.models import PixelRNN


@pytest.fixture(scope="module")
def model():
    return prt.build_model(
        prt.ModelConfig(
            architecture="pixel_cnn",
            image_shape=(4, 4, 3),
            num_levels=4,
            hidden_dim=6,
            num_layers=1,
        )
    )


BAD = [
    (np.zeros((4, 4, 3)), "rank 4.*Received: shape=\\(4, 4, 3\\)"),
    (np.zeros((2, 4, 4, 1)), "3 channel.*Received: .*\\(2, 4, 4, 1\\)"),
    (np.zeros((2, 5, 4, 3)), "4x4 images.*Received: .*\\(2, 5, 4, 3\\)"),
    (np.full((2, 4, 4, 3), 4), "\\[0, 4\\).*Received: levels in \\[4, 4\\]"),
    (np.full((2, 4, 4, 3), -1.0), "Received: levels in \\[-1.0, -1.0\\]"),
    (np.full((2, 4, 4, 3), np.nan), "Received: levels in"),
    (np.array([["a"]]), "rank 4"),
]


@pytest.mark.parametrize("images, match", BAD)
def test_model_call_rejects_bad_images(model, images, match):
    with pytest.raises(ValueError, match=match):
        model(images)


@pytest.mark.parametrize("images, match", BAD)
def test_log_prob_and_complete_reject_bad_images(model, images, match):
    with pytest.raises(ValueError, match=match):
        prt.log_prob(model, images)
    with pytest.raises(ValueError, match=match):
        prt.complete(model, images, num_known_pixels=1)


def test_likelihood_and_completion_need_whole_levels(model):
    images = np.full((1, 4, 4, 3), 0.5)
    model(images)  # the network itself is defined between levels
    with pytest.raises(ValueError, match="Received: a level of 0.5"):
        prt.log_prob(model, images)
    with pytest.raises(ValueError, match="Received: a level of 0.5"):
        prt.complete(model, images, num_known_pixels=1)
    assert prt.log_prob(model, np.ones((1, 4, 4, 3), "float32")).shape == (1,)


def test_string_levels_are_rejected(model):
    with pytest.raises(ValueError, match="Received: dtype="):
        model(np.full((1, 4, 4, 3), "1"))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"rnn_type": "lstm"}, "rnn_type='lstm'"),
        ({"hidden_dim": 2}, "hidden_dim=2"),
        ({"image_shape": (4, 4, 2)}, "image_shape=\\(4, 4, 2\\)"),
        ({"num_levels": 1}, "num_levels=1"),
    ],
)
def test_model_constructors_reject_bad_arguments(kwargs, match):
    args = {"rnn_type": "row_lstm", "image_shape": (4, 4, 3), "hidden_dim": 6}
    args.update(kwargs)
    with pytest.raises(ValueError, match="Received: " + match):
        PixelRNN(**args)
