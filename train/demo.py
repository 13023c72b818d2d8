"""The README's first command: train on the offline `digits` data and show it.

    python -m train.demo --workdir runs/demo [--set train.epochs=2]

Trains the packaged `digits` config (about 3 minutes on 2 CPU cores),
prints the exact test NLL beside the uniform and independent-per-pixel
baselines, and writes `samples.png` and `completions.png` (occluded |
completed | original) into the work dir.
"""

import logging
import os
import sys

from train import config_files
from train.argument_parser import ArgumentParser


def demo(workdir, overrides=()):
    from pixelrnn_tf import images
    from train import evaluation
    from train import grids
    from train.runner import run

    config = config_files.load("digits", overrides)
    results = run(config, workdir).evaluation
    _, model = evaluation.load_run(workdir)
    samples = grids.sample_grid(model, 64, seed=config.train.seed)
    images.write_png(os.path.join(workdir, "samples.png"), samples, scale=6)
    originals = grids.first_images(config, config.data.eval_split, 8)
    completions = grids.completion_grid(model, originals, known_rows=4)
    images.write_png(
        os.path.join(workdir, "completions.png"), completions, scale=6
    )
    return results


def _demo(args):
    from train import evaluation

    results = demo(args.workdir, args.set)
    print(evaluation.format_results(results))
    for name in ("samples.png", "completions.png"):
        print(f"wrote {os.path.join(args.workdir, name)}")


def main(argv=None):
    parser = ArgumentParser(
        module="train.demo", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--workdir", default="runs/demo")
    parser.add_argument("--set", action="append", default=[])
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    return parser.run(_demo, args)


if __name__ == "__main__":
    sys.exit(main())
