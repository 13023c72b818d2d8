"""The serving half of `make demo`: export, serve, request, stop.

    python -m serving.demo --workdir runs/demo

Exports the demo run's `model.keras` as `<workdir>/exports/pixelrnn/<N>/`,
starts the local gRPC server on a free port, asks it for 16 samples through
the TF Serving client, writes `<workdir>/served_samples.png` and stops the
server.
"""

import os
import sys

from train.argument_parser import ArgumentParser


def demo(workdir, num_images=16, seed=0):
    import keras

    import pixelrnn_tf as prt
    from pixelrnn_tf import images
    from serving.client import PixelRNNClient
    from serving.export import export_for_serving
    from serving.server import serve

    model = keras.saving.load_model(os.path.join(workdir, "model.keras"))
    path = export_for_serving(
        model, os.path.join(workdir, "exports", "pixelrnn")
    )
    base = os.path.dirname(path)
    with serve(base, port=0, model_name="pixelrnn") as server:
        target = f"127.0.0.1:{server.port}"
        with PixelRNNClient(target, "pixelrnn", timeout=300) as client:
            levels = client.sample(num_images, seed=seed)
    out = os.path.join(workdir, "served_samples.png")
    grid = images.make_grid(prt.to_pixels(levels, model.num_levels))
    images.write_png(out, grid, scale=6)
    return path, out


def _demo(args):
    if not os.path.isfile(os.path.join(args.workdir, "model.keras")):
        raise ValueError(
            f"No trained model in {args.workdir}: run `python -m train.demo` "
            f"first. Received: --workdir {args.workdir}"
        )
    path, out = demo(args.workdir, args.num)
    print(f"exported {path}")
    print(f"served {args.num} samples over gRPC: wrote {out}")


def main(argv=None):
    parser = ArgumentParser(
        module="serving.demo", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--workdir", default="runs/demo")
    parser.add_argument("--num", type=int, default=16)
    args = parser.parse_args(argv)
    return parser.run(_demo, args, (ValueError, OSError))


if __name__ == "__main__":
    sys.exit(main())
