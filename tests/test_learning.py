"""The models learn real data: binarized MNIST, a couple of minutes each."""

import keras
import numpy as np
import pytest

import pixelrnn_tf as prt


def _bernoulli_baseline_nats(train, test):
    """Test NLL of independent per-pixel Bernoullis fitted on `train`."""
    p = (train.mean(axis=0) * len(train) + 1) / (len(train) + 2)  # Laplace
    nll = -(test * np.log(p) + (1 - test) * np.log(1 - p))
    return nll.sum(axis=(1, 2, 3)).mean()


@pytest.mark.slow
@pytest.mark.parametrize(
    "architecture, num_train, num_layers, epochs",
    [("pixel_cnn", 4000, 4, 3), ("row_lstm", 3000, 2, 2)],
)
def test_fit_beats_uniform_and_independent_baselines(
    binarized_mnist, architecture, num_train, num_layers, epochs
):
    train = binarized_mnist["train"][:num_train]
    test = binarized_mnist["test"][:1000]
    model = prt.build_model(
        prt.ModelConfig(
            architecture=architecture,
            image_shape=(28, 28, 1),
            num_levels=2,
            hidden_dim=16,
            num_layers=num_layers,
        )
    )
    model.compile(optimizer=keras.optimizers.Adam(3e-3, global_clipnorm=1.0))
    model.fit(train, epochs=epochs, batch_size=32, verbose=0)

    test_nll = -prt.log_prob(model, test, batch_size=250).mean()
    baseline = _bernoulli_baseline_nats(train, test)
    uniform = 784 * np.log(2)
    print(
        f"{architecture}: test NLL {test_nll:.1f} nats, independent "
        f"Bernoulli {baseline:.1f}, uniform {uniform:.1f}"
    )
    assert test_nll < 200 < uniform
    assert test_nll < baseline - 50
