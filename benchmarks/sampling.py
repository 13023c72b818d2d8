"""Images/s of the cached and the naive sampler, side by side in one run.

For each architecture at the binarized MNIST presets (28×28×1) and the
CIFAR-10 presets (32×32×3), at batch 1 and batch 16 (random weights; the
cost does not depend on them):
- cached: `prt.sample(..., method="cached")` of a whole batch, timed after
  a first call that traces the graph (its time is printed too), without
  and with `jit_compile=True` (XLA per row);
- naive: `prt.complete(..., method="naive")` with all but the last
  `--naive-steps` sub-pixels known, so only those are drawn. Its cost per
  sub-pixel is constant by construction (one whole forward pass each), so
  the time per sub-pixel times H·W·C is a whole image. Rows marked "est."
  are such estimates; `--full-naive` samples whole images instead.

    python benchmarks/sampling.py            # every row (about 20 min)
    python benchmarks/sampling.py --presets binarized_mnist_pixel_cnn
"""

import argparse
import math
import os
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

import pixelrnn_tf as prt  # noqa: E402

PRESETS = (
    "binarized_mnist_pixel_cnn",
    "binarized_mnist_row_lstm",
    "binarized_mnist_diagonal_bilstm",
    "cifar10_pixel_cnn",
    "cifar10_row_lstm",
    "cifar10_diagonal_bilstm",
)


def _timed(fn):
    begin = time.perf_counter()
    fn()
    return time.perf_counter() - begin


def cached_seconds(model, batch, jit_compile=False):
    """(trace + first call, steady call) seconds for one batch."""

    def run():
        prt.sample(
            model, batch, seed=0, batch_size=batch, jit_compile=jit_compile
        )

    return _timed(run), _timed(run)


def naive_seconds(model, batch, steps, full):
    """Seconds for one batch of whole images, and whether estimated."""
    h, w, c = model.image_shape
    if full:
        run = lambda: prt.sample(  # noqa: E731
            model, batch, seed=0, batch_size=batch, method="naive"
        )
        run()  # trace
        return _timed(run), False
    unknown_pixels = math.ceil(steps / c)
    images = np.zeros((batch, h, w, c), "int32")

    def run():
        prt.complete(
            model,
            images,
            h * w - unknown_pixels,
            seed=0,
            batch_size=batch,
            method="naive",
        )

    prt.complete(
        model, images, h * w - 1, seed=0, batch_size=batch, method="naive"
    )  # trace (the same graph: start is an input)
    per_subpixel = _timed(run) / (unknown_pixels * c)
    return per_subpixel * h * w * c, True


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--presets", nargs="+", default=PRESETS, choices=sorted(prt.PRESETS)
    )
    parser.add_argument("--batches", nargs="+", type=int, default=(1, 16))
    parser.add_argument(
        "--naive-steps",
        type=int,
        default=64,
        help="sub-pixels the naive sampler draws and times",
    )
    parser.add_argument(
        "--full-naive",
        action="store_true",
        help="time whole naive images (hours at CIFAR size)",
    )
    args = parser.parse_args()

    print(
        "| preset | batch | cached: first call s | cached s | cached img/s "
        "| cached + XLA s | naive s | naive img/s | naive / cached "
        "| naive / (cached + XLA) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name in args.presets:
        model = prt.build_model(name)
        for batch in args.batches:
            # The first call of a model traces and optimises the graph; a
            # batch size needs no new trace.
            first, cached = cached_seconds(model, batch)
            _, xla = cached_seconds(model, batch, jit_compile=True)
            naive, estimated = naive_seconds(
                model, batch, args.naive_steps, args.full_naive
            )
            mark = " (est.)" if estimated else ""
            print(
                f"| {name} | {batch} | {first:.1f} | {cached:.2f} "
                f"| {batch / cached:.3g} | {xla:.2f} | {naive:,.1f}{mark} "
                f"| {batch / naive:.3g} | {naive / cached:,.0f}× "
                f"| {naive / xla:,.0f}× |",
                flush=True,
            )
    if not args.full_naive:
        print(
            f"\nnaive (est.): {args.naive_steps} sub-pixels (rounded up to"
            " whole pixels) drawn and timed, times H·W·C / their number: each"
            " is one whole forward pass. s = seconds per batch of images."
        )


if __name__ == "__main__":
    main()
