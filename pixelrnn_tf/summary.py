"""Print the layers and parameter count of a paper preset.

    python -m pixelrnn_tf.summary cifar10_row_lstm
    python -m pixelrnn_tf.summary --all
"""

import argparse
import sys

from pixelrnn_tf.config import PAPER_HIDDEN_DIM
from pixelrnn_tf.config import PRESETS
from pixelrnn_tf.config import ModelConfig
from pixelrnn_tf.models.factory import build_model


def describe(name):
    """One line: preset, architecture, size and parameter count."""
    config = ModelConfig.preset(name)
    model = build_model(config, name=name)
    h, w, c = config.image_shape
    return (
        f"{name:32s} {config.architecture:16s} {h}x{w}x{c:<3d} "
        f"{config.num_layers:3d} layers  h={config.hidden_dim:<4d} "
        f"(paper h={PAPER_HIDDEN_DIM[name] or '-':<3}) "
        f"{model.count_params():>12,d} parameters"
    )


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m pixelrnn_tf.summary", description=__doc__.split("\n")[0]
    )
    parser.add_argument("preset", nargs="?", choices=sorted(PRESETS))
    parser.add_argument("--all", action="store_true", help="every preset")
    parser.add_argument(
        "--layers", action="store_true", help="also print model.summary()"
    )
    args = parser.parse_args(argv)
    if not args.all and args.preset is None:
        parser.error("give a PRESET or --all")
    for name in sorted(PRESETS) if args.all else [args.preset]:
        if args.layers:
            build_model(name, name=name).summary()
        print(describe(name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
