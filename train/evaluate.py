"""Exact test NLL of a trained run, beside two baselines.

python -m train.evaluate --workdir runs/cifar [--split test]
"""

import logging
import sys

from train.argument_parser import ArgumentParser


def _parser():
    parser = ArgumentParser(
        module="train.evaluate",
        description="The exact NLL of a trained run (nats/image, bits/dim), "
        "beside the uniform and independent-per-pixel baselines.",
    )
    parser.add_argument("--workdir", required=True, help="a finished run")
    parser.add_argument("--split", help="default: the config's eval split")
    return parser


def _evaluate(args):
    from train import evaluation

    config, model = evaluation.load_run(args.workdir)
    split = args.split or config.data.eval_split
    print(
        evaluation.format_results(
            evaluation.evaluate_model(model, config, split)
        )
    )


def main(argv=None):
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    return parser.run(_evaluate, args)


if __name__ == "__main__":
    sys.exit(main())
