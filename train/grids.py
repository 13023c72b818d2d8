"""Grids of samples and completions of a trained model, for PNG files.

A completion grid has one row per image: occluded | completed | original,
as in the paper's Figure 1.
"""

import numpy as np

import pixelrnn_tf as prt
from pixelrnn_tf import images
from train import evaluation


def sample_grid(model, num, seed=0, temperature=1.0, **kwargs):
    levels = prt.sample(
        model, num, seed=seed, temperature=temperature, **kwargs
    )
    return images.make_grid(images.to_uint8(levels, model.num_levels))


def completion_grid(
    model, originals, known_rows, seed=0, temperature=1.0, **kwargs
):
    """Rows of occluded | completed | original (paper Figure 1)."""
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
    return images.make_grid(images.to_uint8(triples, model.num_levels), 3)


def first_images(config, split, num):
    batches, out = evaluation.eval_batches(config, split), []
    for batch in batches:
        out.append(batch)
        if sum(len(b) for b in out) >= num:
            break
    return np.concatenate(out)[:num]
