import itertools
import math

import numpy as np
import pytest

import pixelrnn_tf as prt


def _all_images(shape, levels):
    n = math.prod(shape)
    grid = np.array(list(itertools.product(range(levels), repeat=n)))
    return grid.reshape(-1, *shape)


@pytest.mark.parametrize("architecture", prt.ARCHITECTURES)
@pytest.mark.parametrize(
    "shape, levels, hidden_dim",
    [
        ((2, 2, 1), 3, 6),
        ((1, 2, 3), 2, 6),
        ((1, 2, 3), 2, 8),  # uneven R|G|B groups: 3|3|2, 2h: 6|5|5
    ],
)
def test_probabilities_of_all_images_sum_to_one(
    architecture, shape, levels, hidden_dim
):
    model = prt.build_model(
        prt.ModelConfig(
            architecture=architecture,
            image_shape=shape,
            num_levels=levels,
            hidden_dim=hidden_dim,
            num_layers=2,
        )
    )
    images = _all_images(shape, levels)  # 81 or 64 images
    total = np.exp(prt.log_prob(model, images, batch_size=32)).sum()
    assert abs(total - 1.0) < 1e-4


def test_log_prob_of_uniform_logits_is_log_levels():
    from pixelrnn_tf import losses

    images = np.zeros((2, 3, 3, 3))
    logits = np.zeros((2, 3, 3, 3, 256), "float32")
    np.testing.assert_allclose(
        losses.nll_nats(images, logits), 27 * math.log(256), rtol=1e-6
    )
    np.testing.assert_allclose(losses.bits_per_dim(images, logits), 8.0)


def test_bits_per_dim_matches_log_prob_and_batching():
    model = prt.build_model(
        prt.ModelConfig(
            architecture="pixel_cnn",
            image_shape=(3, 3, 3),
            num_levels=8,
            hidden_dim=6,
            num_layers=1,
        )
    )
    images = np.random.default_rng(0).integers(0, 8, (5, 3, 3, 3))
    lp = prt.log_prob(model, images)
    assert lp.shape == (5,) and np.all(lp < 0)
    np.testing.assert_allclose(prt.log_prob(model, images, batch_size=2), lp,
                               rtol=1e-6)
    np.testing.assert_allclose(
        prt.bits_per_dim(model, images), -lp / (27 * math.log(2)), rtol=1e-6
    )
    assert prt.log_prob(model, images[:0]).shape == (0,)
