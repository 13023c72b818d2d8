"""`python -m serving {export,serve,sample}`.

    python -m serving export --workdir runs/cifar --base exports/pixelrnn [--version N]
    python -m serving serve --base exports/pixelrnn --port 8500
    python -m serving sample --server localhost:8500 --model pixelrnn --num 16 --out samples.png
"""

import argparse
import logging
import os
import sys


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
    from pixelrnn_tf import images
    from serving.client import PixelRNNClient

    with PixelRNNClient(args.server, args.model, timeout=args.timeout) as c:
        levels = c.sample(args.num, seed=args.seed, temperature=args.temperature)
    grid = images.make_grid(images.to_uint8(levels, args.num_levels))
    images.write_png(args.out, grid, scale=args.scale)
    print(f"wrote {args.out}")


def _parser():
    parser = argparse.ArgumentParser(prog="python -m serving")
    commands = parser.add_subparsers(dest="command", required=True)

    export = commands.add_parser("export", help="a run -> a SavedModel version")
    export.add_argument("--workdir", required=True)
    export.add_argument("--base", required=True, help="e.g. exports/pixelrnn")
    export.add_argument("--version", type=int, help="default: next integer")
    export.add_argument("--max-images", type=int, default=64)
    export.set_defaults(run=_export)

    serve = commands.add_parser("serve", help="the local gRPC server")
    serve.add_argument("--base", required=True)
    serve.add_argument("--port", type=int, default=8500)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--model", default="pixelrnn")
    serve.add_argument("--max-images", type=int, default=64)
    serve.add_argument("--max-batch", type=int, default=64)
    serve.set_defaults(run=_serve)

    sample = commands.add_parser("sample", help="ask a server for samples")
    sample.add_argument("--server", default="localhost:8500")
    sample.add_argument("--model", default="pixelrnn")
    sample.add_argument("--num", type=int, default=16)
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument("--temperature", type=float, default=1.0)
    sample.add_argument(
        "--num-levels", type=int, default=256, help="the model's levels"
    )
    sample.add_argument("--out", required=True, help="a .png path")
    sample.add_argument("--scale", type=int, default=4)
    sample.add_argument("--timeout", type=float, default=300.0)
    sample.set_defaults(run=_sample)
    return parser


def main(argv=None):
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    try:
        args.run(args)
    except Exception as e:  # noqa: BLE001 - one line for the user
        from serving.client import ServingError

        if not isinstance(e, (ValueError, ServingError, OSError)):
            raise
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
