import itertools

import keras
import numpy as np
import pytest

import pixelrnn_tf as prt


class LearningRates(keras.callbacks.Callback):
    """Records the learning rate each batch runs at."""

    def __init__(self):
        super().__init__()
        self.values = []

    def on_train_batch_begin(self, batch, logs=None):
        lr = self.model.optimizer.learning_rate
        self.values.append(float(keras.ops.convert_to_numpy(lr)))


def tiny_model(optimizer="auto"):
    config = prt.ModelConfig(
        image_shape=(4, 4, 3), num_levels=4, hidden_dim=6, num_layers=1
    )
    model = prt.build_model(config)
    model.compile(optimizer=optimizer)
    return model


def images(n=32):
    return np.random.default_rng(0).integers(0, 4, (n, 4, 4, 3))


def ten_second_clock():
    """A clock that moves 10 s at every reading."""
    return itertools.count(0, 10).__next__


def test_stops_at_the_deadline_and_anneals_to_zero():
    budget = prt.TimeBudget(
        1, learning_rate=1.0, warmup_steps=2, clock=ten_second_clock()
    )
    rates = LearningRates()
    model = tiny_model()
    model.fit(images(), batch_size=4, callbacks=[budget, rates], verbose=0)
    # Readings: start 0; each batch reads at its beginning (10, 30, 50)
    # and its end (20, 40, 60): the budget of 60 s ends after 3 batches.
    assert budget.steps == 3
    assert budget.seconds_used == 60
    expected = [0.5 * (1 - 10 / 60), 1 - 30 / 60, 1 - 50 / 60]
    np.testing.assert_allclose(rates.values, expected, rtol=1e-6)


def test_without_a_learning_rate_it_only_stops():
    budget = prt.TimeBudget(1, clock=ten_second_clock())
    rates = LearningRates()
    model = tiny_model(prt.optimizers.Adam(3e-4))
    model.fit(images(), batch_size=4, callbacks=[budget, rates], verbose=0)
    assert budget.steps == 6  # one reading a batch, at its end: 10, ..., 60
    np.testing.assert_allclose(rates.values, [3e-4] * 6, rtol=1e-6)


def test_a_budget_longer_than_the_data_ends_with_fit():
    budget = prt.TimeBudget(60, learning_rate=1e-3)
    model = tiny_model()
    model.fit(images(8), batch_size=4, callbacks=[budget], verbose=0)
    assert budget.steps == 2
    assert not model.stop_training


def test_manual_use_for_a_custom_loop():
    budget = prt.TimeBudget(0.5, clock=ten_second_clock())
    budget.start()  # 0
    assert [budget.tick() for _ in range(3)] == [False, False, True]
    assert budget.steps == 3


def test_schedule_optimizer_is_a_clear_error():
    schedule = keras.optimizers.schedules.ExponentialDecay(1e-3, 10, 0.5)
    model = tiny_model(keras.optimizers.Adam(schedule))
    budget = prt.TimeBudget(1, learning_rate=1e-3)
    with pytest.raises(ValueError, match="not a schedule. Received"):
        model.fit(images(8), batch_size=4, callbacks=[budget], verbose=0)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(minutes=0), "minutes"),
        (dict(minutes=1, learning_rate=0.0), "learning_rate"),
        (dict(minutes=1, warmup_steps=-1), "warmup_steps"),
    ],
)
def test_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=f"Received: {name}="):
        prt.TimeBudget(**kwargs)
