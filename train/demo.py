"""The README's first command: train on the offline `digits` data and show it.

    python -m train.demo --workdir runs/demo [--set train.epochs=2]

Trains the packaged `digits` config (about 3 minutes on 2 CPU cores),
prints the exact test NLL beside the uniform and independent-per-pixel
baselines, and writes `samples.png` and `completions.png` (occluded |
completed | original) into the work dir. Then trains the class-conditional
`digits_class_conditional` config (in `<workdir>/class_conditional`) and
writes `class_samples.png`: one row per digit, 0 to 9.
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
    originals, _ = grids.first_images(config, config.data.eval_split, 8)
    completions = grids.completion_grid(model, originals, known_rows=4)
    images.write_png(
        os.path.join(workdir, "completions.png"), completions, scale=6
    )
    # p(x | digit): ten samples of each digit, one row each.
    class_config = config_files.load("digits_class_conditional", overrides)
    class_dir = os.path.join(workdir, "class_conditional")
    class_results = run(class_config, class_dir).evaluation
    _, class_model = evaluation.load_run(class_dir)
    classes = grids.sample_grid(class_model, 100, seed=config.train.seed)
    images.write_png(
        os.path.join(workdir, "class_samples.png"), classes, scale=6
    )
    return results, class_results


def _demo(args):
    from train import evaluation

    results, class_results = demo(args.workdir, args.set)
    print(evaluation.format_results(results))
    print("class-conditional model, given each image's digit:")
    print(evaluation.format_results(class_results))
    for name in ("samples.png", "completions.png", "class_samples.png"):
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
