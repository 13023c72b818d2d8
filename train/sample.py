"""Sample or complete images with a trained run, as a PNG grid.

    python -m train.sample --workdir runs/cifar --num 64 --out samples.png
    python -m train.sample --workdir runs/cifar --num 8 --out completions.png \
        --complete-from test --known-rows 16 [--method naive] [--progress]

A completion grid has one row per image: occluded | completed | original,
as in the paper's Figure 1.
"""

import argparse
import sys

import numpy as np

import pixelrnn_tf as prt
from pixelrnn_tf import images
from pixelrnn_tf.samplers import METHODS
from train import evaluate


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
    batches, out = evaluate.eval_batches(config, split), []
    for batch in batches:
        out.append(batch)
        if sum(len(b) for b in out) >= num:
            break
    return np.concatenate(out)[:num]


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m train.sample")
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--num", type=int, default=16)
    parser.add_argument("--out", required=True, help="a .png path")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--scale", type=int, default=4, help="pixel zoom")
    parser.add_argument("--complete-from", metavar="SPLIT")
    parser.add_argument("--known-rows", type=int)
    parser.add_argument("--method", default="cached", choices=METHODS,
                        help="sampler (naive: the slow reference)")
    parser.add_argument("--progress", action="store_true",
                        help="show a progress bar of rows done")
    args = parser.parse_args(argv)
    options = {"method": args.method, "verbose": int(args.progress)}
    try:
        config, model = evaluate.load_run(args.workdir)
        if args.complete_from:
            known = model.image_shape[0] // 2
            known = known if args.known_rows is None else args.known_rows
            originals = first_images(config, args.complete_from, args.num)
            grid = completion_grid(
                model, originals, known, args.seed, args.temperature, **options
            )
        else:
            grid = sample_grid(
                model, args.num, args.seed, args.temperature, **options
            )
        images.write_png(args.out, grid, scale=args.scale)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
