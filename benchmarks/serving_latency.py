"""Request latency of the local gRPC server beside in-process calls.

Exports a model (`<workdir>/model.keras` of a finished training run, or a
fresh digits-shaped Row LSTM), serves it on a free 127.0.0.1 port, and
prints the median and p90 latency over `--requests` calls of `log_prob`
(a batch of 16) and `sample` (1 and 16 images) for three paths: the gRPC
server through `PixelRNNClient`, the exported SavedModel signature called
in-process, and the Keras model through `pixelrnn_tf`.

    python benchmarks/serving_latency.py --workdir runs/demo --requests 20
"""

import argparse
import logging
import os
import pathlib
import sys
import tempfile
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # `serving` is not an installed package

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import pixelrnn_tf as prt  # noqa: E402
from serving import client as client_lib  # noqa: E402
from serving import export  # noqa: E402
from serving import server as server_lib  # noqa: E402

BATCH = 16
DIGITS = prt.ModelConfig(
    architecture="row_lstm",
    image_shape=(8, 8, 1),
    num_levels=17,
    hidden_dim=32,
    num_layers=3,
)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--workdir", help="a training run with model.keras (default: none)"
    )
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args(argv)
    if args.requests < 1:
        parser.error(f"--requests must be >= 1. Received: {args.requests}")
    return args


def load_model(workdir):
    if workdir is None:
        keras.utils.set_random_seed(0)
        return prt.build_model(DIGITS), "fresh digits-shaped row_lstm"
    path = os.path.join(workdir, "model.keras")
    if not os.path.exists(path):
        raise ValueError(
            f"No model.keras in the workdir. Received: workdir={workdir!r}"
        )
    return keras.saving.load_model(path), path


def latency(fn, requests):
    """(median, p90) in ms over `requests` calls, after one warm-up call."""
    fn()
    times = []
    for _ in range(requests):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return np.median(times), np.percentile(times, 90)


def main(argv=None):
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    model, source = load_model(args.workdir)
    rng = np.random.default_rng(0)
    images = rng.integers(0, model.num_levels, (BATCH, *model.image_shape))
    images = images.astype(np.uint8)

    with tempfile.TemporaryDirectory() as base:
        path = export.export_for_serving(model, base, max_images=BATCH)
        signatures = tf.saved_model.load(path).signatures

        def saved_model_sample(n):
            return signatures["sample"](
                num_images=tf.constant(n),
                seed=tf.constant(0, tf.int64),
                temperature=tf.constant(1.0),
            )

        with server_lib.serve(base, port=0, max_images=BATCH) as server:
            with client_lib.PixelRNNClient(
                f"127.0.0.1:{server.port}", timeout=600
            ) as client:
                calls = {
                    f"log_prob (batch {BATCH})": (
                        lambda: client.log_prob(images),
                        lambda: signatures["log_prob"](
                            images=tf.constant(images)
                        ),
                        lambda: prt.log_prob(model, images),
                    ),
                    "sample (1 image)": (
                        lambda: client.sample(1),
                        lambda: saved_model_sample(1),
                        lambda: prt.sample(model, 1),
                    ),
                    f"sample ({BATCH} images)": (
                        lambda: client.sample(BATCH),
                        lambda: saved_model_sample(BATCH),
                        lambda: prt.sample(model, BATCH),
                    ),
                }
                rows = [
                    (name, *(latency(fn, args.requests) for fn in fns))
                    for name, fns in calls.items()
                ]

    h, w, c = model.image_shape
    print(
        f"Model: {source} ({type(model).__name__}, {h}x{w}x{c}, "
        f"{model.num_levels} levels, {model.count_params():,} parameters)"
    )
    print(f"Latency in ms over {args.requests} requests, median / p90:\n")
    header = ("call", "gRPC server", "SavedModel", "in-process")
    print(f"{header[0]:<22}" + "".join(f"{h:>18}" for h in header[1:]))
    for name, *cells in rows:
        text = "".join(f"{f'{m:.1f} / {p:.1f}':>18}" for m, p in cells)
        print(f"{name:<22}{text}")
    print(
        "\ngRPC server: PixelRNNClient -> serving.server on 127.0.0.1; "
        "SavedModel: its signature called in this process; in-process: "
        "prt.log_prob / prt.sample on the Keras model."
    )


if __name__ == "__main__":
    main()
