"""Exact test NLL of a trained run, beside two baselines.

The library half of `python -m train.evaluate`.
"""

import math
import os

import keras
import numpy as np

import pixelrnn_tf as prt
from pixelrnn_tf import data
from pixelrnn_tf.config import ExperimentConfig


def eval_batches(config, split):
    """Unshuffled batches of a split as NumPy arrays of levels (with
    `data.labels`, dicts of them and their labels)."""
    model = config.model
    return data.make_dataset(
        config.data,
        split,
        image_shape=model.image_shape,
        num_levels=model.num_levels,
        batch_size=max(config.train.batch_size, 64),
        training=False,
    ).as_numpy_iterator()


def independent_baseline(config, split):
    """NLL (nats/image) of independent per-sub-pixel categoricals.

    One categorical per (row, column, channel), fitted with add-one
    smoothing on the training split and scored on `split`.
    """
    levels = config.model.num_levels
    dims = math.prod(config.model.image_shape)
    offsets = np.arange(dims) * levels  # one block of L counts per sub-pixel
    counts = np.ones(dims * levels)  # add-one smoothing
    for batch in eval_batches(config, config.data.train_split):
        batch = images_and_labels(batch)[0]
        flat = batch.reshape(len(batch), dims).astype("int64") + offsets
        counts += np.bincount(flat.ravel(), minlength=dims * levels)
    counts = counts.reshape(*config.model.image_shape, levels)
    log_p = np.log(counts / counts.sum(axis=-1, keepdims=True))
    total, n = 0.0, 0
    for batch in eval_batches(config, split):
        batch = images_and_labels(batch)[0]
        picked = np.take_along_axis(
            log_p[None], batch.astype("int64")[..., None], axis=-1
        )
        total -= picked.sum()
        n += len(batch)
    return total / n


def evaluate_model(model, config, split):
    """Exact NLL of `split` in nats/image and bits/dim, with baselines."""
    dims = math.prod(config.model.image_shape)
    log_probs = []
    for batch in eval_batches(config, split):
        levels, labels = images_and_labels(batch)
        log_probs.append(prt.log_prob(model, levels, labels=labels))
    log_probs = np.concatenate(log_probs)
    nats = float(-log_probs.mean())
    uniform = dims * math.log(config.model.num_levels)
    independent = float(independent_baseline(config, split))

    def row(value):
        return {"nats": value, "bits_per_dim": value / (dims * math.log(2))}

    return {
        "split": split,
        "num_images": int(len(log_probs)),
        "model": row(nats),
        "independent_baseline": row(independent),
        "uniform_baseline": row(uniform),
    }


def images_and_labels(batch):
    """(images, labels or None) of a batch of `eval_batches`."""
    if isinstance(batch, dict):
        return batch["images"], batch["labels"]
    return batch, None


def format_results(results):
    lines = [
        f"{results['split']} split, {results['num_images']} images",
        f"{'':24s}{'nats/image':>12s}{'bits/dim':>10s}",
    ]
    for key, label in (
        ("model", "model"),
        ("independent_baseline", "independent per pixel"),
        ("uniform_baseline", "uniform"),
    ):
        r = results[key]
        lines.append(f"{label:24s}{r['nats']:12.2f}{r['bits_per_dim']:10.4f}")
    return "\n".join(lines)


def load_run(workdir):
    """The resolved config and the saved model of a finished run."""
    config_path = os.path.join(workdir, "config.json")
    model_path = os.path.join(workdir, "model.keras")
    for path in (config_path, model_path):
        if not os.path.isfile(path):
            raise ValueError(
                f"No finished run in this work dir: {path} is missing. "
                f"Received: --workdir {workdir}"
            )
    config = ExperimentConfig.from_json(config_path)
    return config, keras.saving.load_model(model_path)
