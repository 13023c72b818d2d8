"""The callbacks of a training run."""

import csv
import os

import keras
import tensorflow as tf

from train import grids


class SampleGridCallback(keras.callbacks.Callback):
    """Every `every` epochs, log a grid of samples to TensorBoard."""

    def __init__(self, log_dir, every, num_images=16, seed=0):
        super().__init__()
        self.every = every
        self.num_images = num_images
        self.seed = seed
        self.writer = tf.summary.create_file_writer(log_dir)

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        grid = grids.sample_grid(self.model, self.num_images, seed=self.seed)
        with self.writer.as_default():
            tf.summary.image("samples", grid[None], step=epoch + 1)
        self.writer.flush()


def best_val_loss(log_path):
    """The lowest `val_loss` logged so far, or None (a fresh run)."""
    if not os.path.isfile(log_path):
        return None
    with open(log_path, newline="") as f:
        values = [
            float(row["val_loss"])
            for row in csv.DictReader(f)
            if row.get("val_loss") not in (None, "", "nan")
        ]
    return min(values, default=None)


def make_callbacks(config, workdir):
    """BackupAndRestore, best checkpoint, TensorBoard, CSV log, NaN guard.

    The backup is double-buffered (a kill while writing it leaves the
    previous one) and kept after training, so re-running a finished or
    interrupted command resumes or only re-evaluates, never starts over.
    """
    train = config.train
    log_path = os.path.join(workdir, "log.csv")
    callbacks = [
        keras.callbacks.BackupAndRestore(
            os.path.join(workdir, "backup"),
            delete_checkpoint=False,
            double_checkpoint=True,
        ),
        keras.callbacks.TerminateOnNaN(),
        keras.callbacks.CSVLogger(log_path, append=True),
        keras.callbacks.TensorBoard(os.path.join(workdir, "tensorboard")),
    ]
    if train.use_ema:  # checkpoint and validate the EMA weights
        callbacks.append(keras.callbacks.SwapEMAWeights(swap_on_epoch=True))
    callbacks.append(
        keras.callbacks.ModelCheckpoint(
            os.path.join(workdir, "best.keras"),
            monitor="val_loss",
            save_best_only=True,
            initial_value_threshold=best_val_loss(log_path),  # on resume
        )
    )
    if train.sample_every_epochs:
        callbacks.append(
            SampleGridCallback(
                os.path.join(workdir, "tensorboard", "samples"),
                train.sample_every_epochs,
                seed=train.seed,
            )
        )
    return callbacks
