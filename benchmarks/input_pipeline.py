"""Input pipeline throughput beside the training step it feeds.

For binarized MNIST and the CIFAR-10 test set (offline .npz copies), prints
the images/s of `pixelrnn_tf.data.make_dataset` alone (iterating batches)
and of training a small PixelCNN on it (`model.fit`, the second epoch timed),
and their ratio. A ratio well above 1 means the pipeline keeps up.

    python benchmarks/input_pipeline.py --steps 50 --batch-size 16
"""

import argparse
import os
import pathlib
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402

import pixelrnn_tf as prt  # noqa: E402
from pixelrnn_tf import data  # noqa: E402
from pixelrnn_tf.config import DataConfig  # noqa: E402

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]

# name, .npz file (relative to --data-dir), image shape, levels, binarize
CASES = (
    (
        "binarized_mnist",
        "binarized_mnist_{split}.npz",
        (28, 28, 1),
        2,
        "static",
    ),
    ("cifar10_test", "cifar10_test.npz", (32, 32, 3), 256, "none"),
)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=50, help="timed batches")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument(
        "--data-dir",
        default=str(REPO_ROOT.parent / "shared" / "data"),
        help="folder with the offline .npz files (default: ../shared/data "
        "relative to the repository root)",
    )
    parser.add_argument("--hidden-dim", type=int, default=24)
    parser.add_argument("--num-layers", type=int, default=2)
    return parser.parse_args(argv)


def pipeline_images_per_second(ds, steps, batch_size):
    """Iterate `steps` batches after a few warm-up ones (shuffle buffer)."""
    iterator = iter(ds.repeat())
    for _ in range(min(steps, 10)):  # fill the shuffle buffer and prefetch
        next(iterator)
    start = time.perf_counter()
    for _ in range(steps):
        next(iterator)
    return steps * batch_size / (time.perf_counter() - start)


class EpochTimer(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds = time.perf_counter() - self.start


def train_images_per_second(ds, image_shape, num_levels, args):
    """`fit` for two epochs of `args.steps` steps; time the second one."""
    model = prt.build_model(
        prt.ModelConfig(
            architecture="pixel_cnn",
            image_shape=image_shape,
            num_levels=num_levels,
            hidden_dim=args.hidden_dim,
            num_layers=args.num_layers,
        )
    )
    model.compile()
    timer = EpochTimer()
    model.fit(
        ds.repeat(),
        steps_per_epoch=args.steps,
        epochs=2,  # the first epoch traces and compiles
        shuffle=False,
        callbacks=[timer],
        verbose=0,
    )
    return args.steps * args.batch_size / timer.seconds


def main(argv=None):
    args = parse_args(argv)
    rows = []
    for name, filename, image_shape, num_levels, binarize in CASES:
        config = DataConfig(
            source=f"npz:{os.path.join(args.data_dir, filename)}",
            binarize=binarize,
        )
        ds = data.make_dataset(
            config, "train", image_shape, num_levels, args.batch_size, True
        )
        pipeline = pipeline_images_per_second(ds, args.steps, args.batch_size)
        train = train_images_per_second(ds, image_shape, num_levels, args)
        rows.append((name, num_levels, pipeline, train, pipeline / train))
        keras.backend.clear_session()
    header = ("data set", "levels", "pipeline img/s", "train img/s", "ratio")
    print(
        f"batch {args.batch_size}, {args.steps} steps, pixel_cnn "
        f"hidden_dim={args.hidden_dim} num_layers={args.num_layers}, "
        f"keras {keras.__version__}"
    )
    print("{:<16} {:>6} {:>15} {:>12} {:>8}".format(*header))
    for row in rows:
        print("{:<16} {:>6} {:>15,.0f} {:>12,.0f} {:>7.1f}x".format(*row))


if __name__ == "__main__":
    main()
