"""`python -m serving {export,serve,sample}`.

    python -m serving export --workdir runs/cifar --base exports/pixelrnn [--version N]
    python -m serving serve --base exports/pixelrnn --port 8500
    python -m serving sample --server localhost:8500 --model pixelrnn --num 16 --out samples.png

Also installed as the console scripts `pixelrnn-export` and `pixelrnn-serve`
(`pixelrnn-sample --server` samples). TensorFlow loads once the arguments
parse.
"""

import logging
import os
import sys

from train import sample
from train.argument_parser import ArgumentParser

EXPECTED = (ValueError, OSError)  # and a server's refusal: one line


def _export(args):
    import keras

    from serving.export import export_for_serving

    path = os.path.join(args.workdir, "model.keras")
    if not os.path.isfile(path):
        raise ValueError(
            f"No trained model: {path} is missing. Received: --workdir "
            f"{args.workdir}"
        )
    model = keras.saving.load_model(path)
    print(export_for_serving(model, args.base, args.version, args.max_images))


def _serve(args):
    from serving.server import serve

    server = serve(
        args.base,
        port=args.port,
        host=args.host,
        model_name=args.model,
        max_images=args.max_images,
        max_batch=args.max_batch,
    )
    print(f"serving {args.base} as {args.model!r} on {args.host}:{server.port}")
    sys.stdout.flush()
    try:
        server.wait()
    except KeyboardInterrupt:
        server.stop()


def _sample(args):
    sample.write_grid(sample.server_grid, args)


def _export_options(parser):
    parser.add_argument("--workdir", required=True, help="a finished run")
    parser.add_argument("--base", required=True, help="e.g. exports/pixelrnn")
    parser.add_argument("--version", type=int, help="default: next integer")
    parser.add_argument("--max-images", type=int, default=64)
    parser.set_defaults(run=_export)


def _serve_options(parser):
    parser.add_argument("--base", required=True, help="the versions' folder")
    parser.add_argument("--port", type=int, default=8500)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--model", default="pixelrnn")
    parser.add_argument("--max-images", type=int, default=64)
    parser.add_argument("--max-batch", type=int, default=64)
    parser.set_defaults(run=_serve)


def _sample_options(parser):
    sample.add_server_options(
        parser, parser, default="localhost:8500", help="default: localhost:8500"
    )
    sample.add_image_options(parser)
    parser.set_defaults(run=_sample)


COMMANDS = {
    "export": ("a run -> a SavedModel version", _export_options),
    "serve": ("the local gRPC server", _serve_options),
    "sample": ("ask a server for samples (PNG)", _sample_options),
}


def _main(parser, argv):
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    return parser.run(args.run, args, EXPECTED)


def main(argv=None):
    """`python -m serving COMMAND ...`."""
    parser = ArgumentParser(module="serving")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, (help_text, add_options) in COMMANDS.items():
        add_options(commands.add_parser(name, help=help_text))
    return _main(parser, argv)


def _command_main(name, argv):
    help_text, add_options = COMMANDS[name]
    parser = ArgumentParser(module=f"serving {name}", description=help_text)
    add_options(parser)
    return _main(parser, argv)


def export_main(argv=None):
    """`pixelrnn-export`: `python -m serving export`."""
    return _command_main("export", argv)


def serve_main(argv=None):
    """`pixelrnn-serve`: `python -m serving serve`."""
    return _command_main("serve", argv)


if __name__ == "__main__":
    sys.exit(main())
