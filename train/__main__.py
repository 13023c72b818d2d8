"""Train a model from a JSON config.

    python -m train --config cifar10_diagonal_bilstm --workdir runs/cifar \
        --set train.batch_size=32

`--config` is a JSON file or the name of a packaged config (`digits`, the
paper's experiments: see `--help`). TensorFlow loads once the arguments
parse.
"""

import argparse
import logging
import sys

from train import config_fields
from train import config_files
from train.argument_parser import ArgumentParser


def _parser():
    parser = ArgumentParser(
        module="train",
        description="Train a model from a JSON config; resumes a stopped run.",
        epilog=config_fields.describe,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--config",
        required=True,
        help="a JSON file, or a packaged config: "
        + ", ".join(config_files.names()),
    )
    parser.add_argument("--workdir", required=True, help="the run's folder")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.FIELD=VALUE",
        help="override a config field (repeatable), e.g. train.epochs=3",
    )
    return parser


def _train(args):
    config_files.locate(args.config)  # a bad name fails before TensorFlow
    from train import evaluation
    from train.runner import run

    config = config_files.load(args.config, args.set)
    history = run(config, args.workdir)
    if history.evaluation is not None:  # the chief's
        print(evaluation.format_results(history.evaluation))


def main(argv=None):
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    return parser.run(_train, args)


if __name__ == "__main__":
    sys.exit(main())
