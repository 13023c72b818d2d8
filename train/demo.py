"""The README's first command: train on the offline `digits` data and show it.

    python -m train.demo --workdir runs/demo [--set train.epochs=2]

Trains `train/configs/digits.json` (about 3 minutes on 2 CPU cores), prints
the exact test NLL beside the uniform and independent-per-pixel baselines,
and writes `samples.png` and `completions.png` (occluded | completed |
original) into the work dir.
"""

import argparse
import logging
import os
import sys

import tensorflow as tf

from pixelrnn_tf import images
from pixelrnn_tf.config import ExperimentConfig
from train import evaluate
from train import sample
from train.run import run

CONFIG = os.path.join(os.path.dirname(__file__), "configs", "digits.json")


def demo(workdir, overrides=()):
    config = ExperimentConfig.from_json(CONFIG, overrides)
    results = run(config, workdir).evaluation
    _, model = evaluate.load_run(workdir)
    samples = sample.sample_grid(model, 64, seed=config.train.seed)
    images.write_png(os.path.join(workdir, "samples.png"), samples, scale=6)
    originals = sample.first_images(config, config.data.eval_split, 8)
    completions = sample.completion_grid(model, originals, known_rows=4)
    images.write_png(
        os.path.join(workdir, "completions.png"), completions, scale=6
    )
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m train.demo")
    parser.add_argument("--workdir", default="runs/demo")
    parser.add_argument("--set", action="append", default=[])
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    try:
        results = demo(args.workdir, args.set)
    except (ValueError, tf.errors.InvalidArgumentError) as e:
        message = getattr(e, "message", None) or str(e)
        print(f"error: {message.splitlines()[0]}", file=sys.stderr)
        return 2
    print(evaluate.format_results(results))
    for name in ("samples.png", "completions.png"):
        print(f"wrote {os.path.join(args.workdir, name)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
