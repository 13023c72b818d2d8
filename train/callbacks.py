"""The callbacks of a training run."""

import os

import keras
import tensorflow as tf

import pixelrnn_tf as prt
from pixelrnn_tf import images


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
        levels = prt.sample(self.model, self.num_images, seed=self.seed)
        grid = images.make_grid(images.to_uint8(levels, self.model.num_levels))
        with self.writer.as_default():
            tf.summary.image("samples", grid[None], step=epoch + 1)
        self.writer.flush()


def make_callbacks(config, workdir):
    """BackupAndRestore, best checkpoint, TensorBoard, CSV log, NaN guard."""
    train = config.train
    callbacks = [
        keras.callbacks.BackupAndRestore(os.path.join(workdir, "backup")),
        keras.callbacks.TerminateOnNaN(),
        keras.callbacks.CSVLogger(
            os.path.join(workdir, "log.csv"), append=True
        ),
        keras.callbacks.TensorBoard(os.path.join(workdir, "tensorboard")),
    ]
    if train.use_ema:  # checkpoint and validate the EMA weights
        callbacks.append(keras.callbacks.SwapEMAWeights(swap_on_epoch=True))
    callbacks.append(
        keras.callbacks.ModelCheckpoint(
            os.path.join(workdir, "best.keras"),
            monitor="val_loss",
            save_best_only=True,
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
