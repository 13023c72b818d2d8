"""`model.fit` for strategies it cannot run: a loop over `strategy.run`.

Keras 3's `fit` fails under `MultiWorkerMirroredStrategy`
(keras-team/keras#20585). This loop trains the same model on the same
pipelines with the same loss, optimizer, callbacks, logs and checkpoint
format (`BackupAndRestore`), so a run can move between strategies and
resume either way. When Keras fixes `fit`, `run.py` switches back in one line.
"""

import math

import keras
import tensorflow as tf


def _steps(dataset, steps, name):
    if steps is not None:
        return steps
    cardinality = int(dataset.cardinality())
    if cardinality < 0:
        raise ValueError(
            f"The data set's length is unknown: set train.{name}. "
            f"Received: {name}=None"
        )
    return cardinality


def fit_distributed(model, strategy, train_ds, eval_ds, train, callbacks):
    """Train like `model.fit(...)`; returns the `History`."""
    steps = _steps(train_ds, train.steps_per_epoch, "steps_per_epoch")
    eval_steps = _steps(eval_ds, train.validation_steps, "validation_steps")
    dims = math.prod(model.image_shape)
    # Each global batch is split across the workers (in-memory sources have
    # no files to shard): step k trains on global batch k, as in one process.
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.DATA
    )
    dist_train = strategy.experimental_distribute_dataset(
        train_ds.with_options(options)
    )
    dist_eval = strategy.experimental_distribute_dataset(
        eval_ds.with_options(options)
    )

    def replica_train_step(images):
        with tf.GradientTape() as tape:
            # (b, H, W, C); a mixture head scores the observed levels only
            nll = model.subpixel_nll(images, images, training=True)
            per_image = tf.reduce_mean(nll, axis=[1, 2, 3])
            loss = tf.nn.compute_average_loss(
                per_image, global_batch_size=train.batch_size
            )
            scaled = model.optimizer.scale_loss(loss)  # mixed_float16
        grads = tape.gradient(scaled, model.trainable_variables)
        model.optimizer.apply(grads, model.trainable_variables)
        return loss

    @tf.function
    def train_step(iterator):
        loss = strategy.run(replica_train_step, args=(next(iterator),))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, loss, axis=None)

    def replica_eval_step(images):
        nll = model.subpixel_nll(images, images)
        per_image = tf.reduce_mean(nll, axis=[1, 2, 3])
        return tf.reduce_sum(per_image), tf.cast(tf.size(per_image), "float32")

    @tf.function
    def eval_step(iterator):
        total, count = strategy.run(replica_eval_step, args=(next(iterator),))
        reduce = tf.distribute.ReduceOp.SUM
        return (
            strategy.reduce(reduce, total, axis=None),
            strategy.reduce(reduce, count, axis=None),
        )

    def metrics(loss, prefix=""):
        return {
            f"{prefix}loss": loss,
            f"{prefix}nll_nats": loss * dims,
            f"{prefix}bits_per_dim": loss / math.log(2.0),
        }

    callbacks = keras.callbacks.CallbackList(
        callbacks,
        add_history=True,
        add_progbar=bool(train.verbose),
        model=model,
        verbose=train.verbose,
        epochs=train.epochs,
        steps=steps,
    )
    # As in `fit` (keras EpochIterator): an epoch of `steps_per_epoch` steps
    # continues the data where the last one stopped; when the data runs out
    # the epoch ends early and the next one starts a new pass.
    cardinality = int(train_ds.cardinality())
    iterator, used = None, 0
    model.stop_training = False
    logs = {}
    callbacks.on_train_begin()  # BackupAndRestore restores here
    for epoch in range(model._initial_epoch or 0, train.epochs):
        callbacks.on_epoch_begin(epoch)
        total, done = 0.0, 0
        if iterator is None or used == cardinality:
            iterator, used = iter(dist_train), 0
        for step in range(steps):
            if used == cardinality:
                break
            callbacks.on_train_batch_begin(step)
            loss = float(train_step(iterator))
            used, done = used + 1, done + 1
            total += loss
            callbacks.on_train_batch_end(step, metrics(loss))
            if model.stop_training:
                break
        logs = metrics(total / max(done, 1))
        callbacks.on_test_begin()  # SwapEMAWeights validates the EMA
        eval_iterator, nll, count = iter(dist_eval), 0.0, 0.0
        for _ in range(eval_steps):
            batch_nll, batch_count = eval_step(eval_iterator)
            nll, count = nll + float(batch_nll), count + float(batch_count)
        val = metrics(nll / max(count, 1.0), prefix="val_")
        callbacks.on_test_end(val)
        logs.update(val)
        callbacks.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    callbacks.on_train_end(logs)
    # As `fit` does: with `use_ema`, the model keeps the averaged weights.
    model.optimizer.finalize_variable_values(model.trainable_variables)
    return model.history
