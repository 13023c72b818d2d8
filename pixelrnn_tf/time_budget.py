import time

import keras


class TimeBudget(keras.callbacks.Callback):
    """Train for a wall-clock budget, annealing the learning rate to it.

    `fit` stops after the first batch that ends `minutes` after training
    began (tracing and compiling count). With `learning_rate`, each batch
    runs at `learning_rate · min(1, step / warmup_steps) · (1 − t)`, where
    t is the fraction of the budget spent when the batch begins: a linear
    warm-up over steps, then a linear decay to 0 at the deadline, the
    schedule that suits a fixed budget best (Li et al. 2020, "Budgeted
    Training", arXiv:1905.04753). Without it, the optimizer's own learning
    rate is left as it is and the callback only stops `fit`.

    Args:
        minutes: float > 0. The budget.
        learning_rate: float > 0 or None. The peak learning rate. The
            optimizer's `learning_rate` must then be a plain value, not a
            schedule. Defaults to `None`.
        warmup_steps: int >= 0. Steps of linear warm-up. Defaults to `0`.
        clock: callable returning seconds. Defaults to
            `time.perf_counter`.

    Attributes:
        steps: batches trained so far.
        seconds_used: seconds from the start of training to the end of
            the last batch.

    Example:

        budget = prt.TimeBudget(15, learning_rate=2e-3, warmup_steps=200)
        model.fit(dataset, epochs=1000, callbacks=[budget])
    """

    def __init__(
        self,
        minutes,
        learning_rate=None,
        warmup_steps=0,
        clock=time.perf_counter,
    ):
        super().__init__()
        if not minutes > 0:
            raise ValueError(
                f"`minutes` must be > 0. Received: minutes={minutes}"
            )
        if learning_rate is not None and not learning_rate > 0:
            raise ValueError(
                "`learning_rate` must be > 0 or None. "
                f"Received: learning_rate={learning_rate}"
            )
        if warmup_steps < 0:
            raise ValueError(
                "`warmup_steps` must be >= 0. "
                f"Received: warmup_steps={warmup_steps}"
            )
        self.seconds = 60.0 * minutes
        self.learning_rate = learning_rate
        self.warmup_steps = warmup_steps
        self.clock = clock
        self.steps = 0
        self.seconds_used = 0.0
        self._start = None

    def start(self):
        """Start the clock (`fit` does it in `on_train_begin`)."""
        self._start = self.clock()
        self.steps = 0
        self.seconds_used = 0.0

    def current_learning_rate(self):
        """The learning rate of the next batch under the schedule."""
        spent = min(1.0, (self.clock() - self._start) / self.seconds)
        warmup = min(1.0, (self.steps + 1) / max(self.warmup_steps, 1))
        return self.learning_rate * warmup * (1.0 - spent)

    def tick(self):
        """Count a finished batch; True once the budget is spent."""
        self.steps += 1
        self.seconds_used = self.clock() - self._start
        return self.seconds_used >= self.seconds

    def on_train_begin(self, logs=None):
        if self.learning_rate is not None:
            lr = self.model.optimizer.learning_rate
            if not hasattr(lr, "assign"):
                raise ValueError(
                    "TimeBudget(learning_rate=...) sets the optimizer's "
                    "learning rate, which must be a plain value, not a "
                    f"schedule. Received: learning_rate={lr!r}"
                )
        self.start()

    def on_train_batch_begin(self, batch, logs=None):
        if self.learning_rate is not None:
            lr = self.current_learning_rate()
            self.model.optimizer.learning_rate.assign(lr)

    def on_train_batch_end(self, batch, logs=None):
        if self.tick():
            self.model.stop_training = True
