"""Grids of samples and completions of a trained model, for PNG files.

A completion grid has one row per image: occluded | completed | original,
as in the paper's Figure 1.
"""

import numpy as np

import pixelrnn_tf as prt
from pixelrnn_tf import images
from train import evaluation


def class_labels(num_classes, num, label=None):
    """The labels of `num` images of a model with `num_classes` classes
    (None: not class-conditional): `label` for all, or by default every
    class in order, in runs as even as can be (one grid row per class when
    K divides `num`; see `grid`); None for other models."""
    if num_classes is None:
        if label is not None:
            raise ValueError(
                "--label needs a class-conditional model (num_classes). "
                f"Received: label={label}"
            )
        return None
    if label is None:
        return np.arange(num) * num_classes // max(num, 1)
    if not 0 <= label < num_classes:
        raise ValueError(
            f"--label must be a class in [0, {num_classes}). Received: a "
            f"label of {label}"
        )
    return np.full((num,), label)


def grid(levels, num_levels, num_classes=None, label=None):
    """Levels as one picture; samples of every class in order (no
    `label`) get one row per class when K divides their number."""
    columns = None
    if num_classes and label is None and len(levels) % num_classes == 0:
        columns = len(levels) // num_classes
    return images.make_grid(prt.to_pixels(levels, num_levels), columns)


def sample_grid(model, num, seed=0, temperature=1.0, label=None, **kwargs):
    """A grid of `num` samples; a class-conditional model draws every
    class in order, one row each (or `label` for all)."""
    num_classes = getattr(model, "num_classes", None)
    labels = class_labels(num_classes, num, label)
    levels = prt.sample(
        model, num, seed=seed, temperature=temperature, labels=labels,
        **kwargs,
    )
    return grid(levels, model.num_levels, num_classes, label)


def completion_grid(
    model, originals, known_rows, seed=0, temperature=1.0, **kwargs
):
    """Rows of occluded | completed | original (paper Figure 1); `labels`
    among `kwargs` for a class-conditional model."""
    height, width, _ = model.image_shape
    if not 0 <= known_rows <= height:
        raise ValueError(
            f"--known-rows must be in [0, {height}]. Received: {known_rows}"
        )
    completed = prt.complete(
        model,
        originals,
        num_known_pixels=known_rows * width,
        seed=seed,
        temperature=temperature,
        **kwargs,
    )
    occluded = np.array(originals)
    occluded[:, known_rows:] = (model.num_levels - 1) // 2  # grey mask
    triples = np.stack([occluded, completed, originals], axis=1)
    triples = triples.reshape(-1, *model.image_shape)
    return images.make_grid(prt.to_pixels(triples, model.num_levels), 3)


def first_images(config, split, num):
    """The first `num` images of a split and their labels (or None)."""
    batches, out, labels = evaluation.eval_batches(config, split), [], []
    for batch in batches:
        levels, batch_labels = evaluation.images_and_labels(batch)
        out.append(levels)
        labels.append(batch_labels)
        if sum(len(b) for b in out) >= num:
            break
    if labels[0] is None:
        return np.concatenate(out)[:num], None
    return np.concatenate(out)[:num], np.concatenate(labels)[:num]
