"""Train a model from a JSON config.

    python -m train --config train/configs/cifar10_diagonal_bilstm.json \
        --workdir runs/cifar --set train.batch_size=32
"""

import argparse
import logging
import sys

import tensorflow as tf

from pixelrnn_tf.config import ExperimentConfig
from train import evaluate
from train.run import run


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m train")
    parser.add_argument("--config", required=True, help="a JSON config file")
    parser.add_argument("--workdir", required=True, help="the run's folder")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.FIELD=VALUE",
        help="override a config field (repeatable), e.g. train.epochs=3",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        config = ExperimentConfig.from_json(args.config, args.set)
        history = run(config, args.workdir)
    except (ValueError, tf.errors.InvalidArgumentError) as e:
        message = getattr(e, "message", None) or str(e)
        print(f"error: {message.splitlines()[0]}", file=sys.stderr)
        return 2
    if history.evaluation is not None:  # the chief's
        print(evaluate.format_results(history.evaluation))
    return 0


if __name__ == "__main__":
    sys.exit(main())
