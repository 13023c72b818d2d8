"""Sample or complete images as a PNG grid: from a run, or from a server.

`--workdir` samples in this process from the run's `model.keras`;
`--server` asks a TF Serving compatible server over gRPC (the `serving`
extra), which also tells the model's levels and image shape. A completion
grid has one row per image: occluded | completed | original, as in the
paper's Figure 1. Examples: `EXAMPLES`.
"""

import argparse
import logging
import sys

from train.argument_parser import ArgumentParser

EXAMPLES = """examples:
  {prog} --workdir runs/cifar --num 64 --out samples.png
  {prog} --workdir runs/cifar --num 8 --out completions.png \\
      --complete-from test --known-rows 16 [--method naive] [--progress]
  {prog} --server localhost:8500 [--model pixelrnn] --num 16 \\
      --out samples.png
"""
WORKDIR_ONLY = ("complete_from", "known_rows", "method", "progress")
SERVER_ONLY = ("model", "timeout")


def add_server_options(parser, server, **server_kwargs):
    """--server (on `server`: the parser or a group), --model and
    --timeout; shared with `python -m serving sample`."""
    server.add_argument("--server", metavar="HOST:PORT", **server_kwargs)
    parser.add_argument("--model", help="the served model's name (pixelrnn)")
    parser.add_argument(
        "--timeout", type=float, help="seconds per request (300)"
    )


def add_image_options(parser):
    """--num, --seed, --temperature, --out and --scale."""
    parser.add_argument("--num", type=int, default=16, help="images to draw")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--out", required=True, help="a .png path")
    parser.add_argument("--scale", type=int, default=4, help="pixel zoom")
    parser.add_argument(
        "--label",
        type=int,
        help="class-conditional models: the class of every image (default:"
        " the classes in turn; for completions, the images' own)",
    )


def server_grid(args):
    """A grid of samples asked of `args.server` over gRPC; the server's
    `model_info` tells the levels and the classes, as in `--workdir`."""
    from serving.client import PixelRNNClient
    from train import grids

    model, timeout = args.model or "pixelrnn", args.timeout or 300.0
    with PixelRNNClient(args.server, model, timeout=timeout) as client:
        info = client.model_info()
        client.version = info["version"]  # both answers from one version
        num_classes = info["num_classes"] or None
        labels = grids.class_labels(num_classes, args.num, args.label)
        levels = client.sample(
            args.num, seed=args.seed, temperature=args.temperature,
            labels=labels,
        )
    return grids.grid(levels, info["num_levels"], num_classes, args.label)


def _run_grid(args):
    """A grid of samples or completions drawn in this process."""
    from train import evaluation
    from train import grids

    options = {"method": args.method or "cached", "verbose": int(args.progress)}
    config, model = evaluation.load_run(args.workdir)
    if args.complete_from:
        known = model.image_shape[0] // 2
        known = known if args.known_rows is None else args.known_rows
        originals, labels = grids.first_images(
            config, args.complete_from, args.num
        )
        if args.label is not None:  # else the images' own classes
            labels = grids.class_labels(
                model.num_classes, len(originals), args.label
            )
        if labels is not None:
            options["labels"] = labels
        return grids.completion_grid(
            model, originals, known, args.seed, args.temperature, **options
        )
    return grids.sample_grid(
        model, args.num, args.seed, args.temperature, args.label, **options
    )


def write_grid(make_grid, args):
    """Writes `make_grid(args)` to `args.out` as a PNG."""
    from pixelrnn_tf import images

    images.write_png(args.out, make_grid(args), scale=args.scale)
    print(f"wrote {args.out}")


def _parser():
    parser = ArgumentParser(
        module="train.sample",
        description="Sample (or complete) images as a PNG grid: from a "
        "trained run in this\nprocess, or from a server over gRPC (which "
        "tells the model's levels and\nimage shape).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.epilog = EXAMPLES.format(prog=parser.prog)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--workdir", metavar="RUN", help="a finished run")
    add_server_options(
        parser, source, help="a gRPC server, e.g. localhost:8500"
    )
    add_image_options(parser)
    run_only = parser.add_argument_group("with --workdir only")
    run_only.add_argument("--complete-from", metavar="SPLIT")
    run_only.add_argument("--known-rows", type=int)
    run_only.add_argument(
        "--method", help="sampler: cached (default) or naive (the reference)"
    )
    run_only.add_argument(
        "--progress", action="store_true", help="a progress bar of rows done"
    )
    return parser


def main(argv=None):
    parser = _parser()
    args = parser.parse_args(argv)
    mode, wrong = ("--workdir", SERVER_ONLY)
    if args.server:
        mode, wrong = ("--server", WORKDIR_ONLY)
    for name in wrong:
        if getattr(args, name) not in (None, False):
            parser.error(f"--{name.replace('_', '-')} does not go with {mode}")
    logging.basicConfig(level=logging.WARNING)
    grid = server_grid if args.server else _run_grid
    return parser.run(
        lambda a: write_grid(grid, a), args, (ValueError, OSError)
    )


if __name__ == "__main__":
    sys.exit(main())
