"""Test bits/dim after the same wall-clock training budget, row by row.

Every row trains on the CIFAR-10 10k training subset, reshuffled each epoch
with a fixed seed, batch 16 (the same images in the same order for every
row), for `--minutes` of wall-clock time, then prints its exact bits/dim on
the first `--eval-images` test images. The budget includes each row's first
step (tracing and compiling), equally for every row. Rows:
- ours: PixelCNN and Row LSTM, each with the 256-way softmax head and with a
  discretized logistic mixture head (10 logistics), trained by `model.fit`
  with the `model.compile()` defaults (Adam, global gradient norm clipped
  at 1, exact NLL per sub-pixel as the loss) under `prt.TimeBudget`: the
  learning rate warms up linearly to 2e-3 over 200 steps, then decays
  linearly to 0 at the end of the budget;
- `tfp.distributions.PixelCNN` (the PixelCNN++ network of TensorFlow
  Probability; dropout_p=0.3 as in its examples, its default is 0.5), the
  baseline as it is usually trained: Adam at a constant 1e-3 (or, with
  `--tfp-schedule`, under the same schedule as ours), the same clipping,
  loss scale and batches, in a `tf.GradientTape` loop.
  It needs tensorflow-probability and tf-keras:
  `pip install 'pixelrnn_tf[benchmark]'`.

    python benchmarks/quality.py            # 15 min per row (about 80 min)
    python benchmarks/quality.py --quick    # 1 min per row, 100 test images
    python benchmarks/quality.py --rows pixel_cnn_softmax tfp_pixel_cnn
"""

import argparse
import math
import os
import pathlib
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import pixelrnn_tf as prt  # noqa: E402

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
IMAGE_SHAPE = (32, 32, 3)
DIMS = math.prod(IMAGE_SHAPE)
INSTALL = "pip install 'pixelrnn_tf[benchmark]'"

# Sizes for 15 minutes on 2 CPU cores at batch 16. The PixelCNN is deep
# and narrow: 15 blocks of h = 36 cost about what 10 of h = 45 or 5 of
# h = 63 do (0.2-0.25 s a step) and see 18 rows up rather than 13 or 8.
# The Row LSTM's step costs about the same: 0.32 s (softmax, 2 idle cores).
PIXEL_CNN = dict(architecture="pixel_cnn", hidden_dim=36, num_layers=15)
ROW_LSTM = dict(architecture="row_lstm", hidden_dim=54, num_layers=2)
SOFTMAX = dict(head="softmax")
MIXTURE = dict(head="logistic_mixture", num_mixtures=10)
# name: ModelConfig fields, or None for TFP's PixelCNN
ROWS = {
    "pixel_cnn_softmax": {**PIXEL_CNN, **SOFTMAX},
    "pixel_cnn_mixture": {**PIXEL_CNN, **MIXTURE},
    "row_lstm_softmax": {**ROW_LSTM, **SOFTMAX},
    "row_lstm_mixture": {**ROW_LSTM, **MIXTURE},
    "tfp_pixel_cnn": None,
}
# TFP's docstring example; its default dropout_p is 0.5
TFP_PIXEL_CNN = dict(
    num_resnet=1,
    num_hierarchies=2,
    num_filters=32,
    num_logistic_mix=5,
    dropout_p=0.3,
)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--minutes", type=float, help="training budget per row (default 15)"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="1 minute per row and 100 test images, unless given",
    )
    parser.add_argument(
        "--rows",
        nargs="+",
        choices=list(ROWS),
        default=list(ROWS),
        metavar="ROW",
        help=f"rows to run, any of {' '.join(ROWS)} (default: all)",
    )
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument(
        "--eval-images", type=int, help="first test images (default 1000)"
    )
    parser.add_argument("--eval-batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--learning-rate",
        type=float,
        default=2e-3,
        help="our rows' peak learning rate (default 2e-3)",
    )
    parser.add_argument(
        "--warmup-steps",
        type=int,
        default=200,
        help="our rows' linear warm-up (default 200 steps)",
    )
    parser.add_argument(
        "--tfp-schedule",
        action="store_true",
        help="train TFP's row under our rows' schedule too (default: "
        "constant 1e-3)",
    )
    parser.add_argument(
        "--data-dir",
        default=str(REPO_ROOT.parent / "shared" / "data"),
        help="folder with cifar10_train_10k.npz and cifar10_test.npz",
    )
    args = parser.parse_args(argv)
    if args.minutes is None:
        args.minutes = 1.0 if args.quick else 15.0
    if args.eval_images is None:
        args.eval_images = 100 if args.quick else 1000
    args.rows = [name for name in ROWS if name in args.rows]  # table order
    return args


def load_images(data_dir, filename):
    with np.load(os.path.join(data_dir, filename)) as npz:
        return npz["images"]


def train_batches(images, batch_size, seed):
    """Endless uint8 batches; each epoch is a new permutation from `seed`."""

    def batches():
        rng = np.random.default_rng(seed)
        while True:
            order = rng.permutation(len(images))
            for i in range(0, len(order) - batch_size + 1, batch_size):
                yield images[order[i : i + batch_size]]

    spec = tf.TensorSpec((batch_size, *IMAGE_SHAPE), tf.uint8)
    return tf.data.Dataset.from_generator(batches, output_signature=spec)


def run_ours(fields, train, test, args, budget):
    """(model description, params, test bits/dim) of one of our rows."""
    config = prt.ModelConfig(
        image_shape=IMAGE_SHAPE, num_levels=256, **fields
    )
    model = prt.build_model(config)
    model.compile()  # Adam, clipnorm 1; the budget sets the learning rate
    ds = train.map(lambda x: tf.cast(x, "int32")).prefetch(tf.data.AUTOTUNE)
    model.fit(ds, epochs=1, shuffle=False, callbacks=[budget], verbose=0)
    bits = prt.bits_per_dim(model, test, batch_size=args.eval_batch_size)
    head = "softmax" if config.head == "softmax" else "mixture"
    if config.num_mixtures:
        head += f" of {config.num_mixtures}"
    description = (
        f"{config.architecture} h={config.hidden_dim} "
        f"L={config.num_layers} {head}"
    )
    params = model.count_params()
    keras.backend.clear_session()
    return description, params, float(np.mean(bits))


def run_tfp(tfp, tf_keras, train, test, args, budget):
    """The same for TFP's PixelCNN: a GradientTape loop with tf_keras' Adam.

    The loss is nats per sub-pixel, as ours, so the clipping matches too.
    Its first call (variables, weight norm's data-dependent init) counts in
    the budget.
    """
    dist = tfp.distributions.PixelCNN(image_shape=IMAGE_SHAPE, **TFP_PIXEL_CNN)
    optimizer = tf_keras.optimizers.Adam(1e-3, global_clipnorm=1.0)

    @tf.function
    def train_step(images):
        with tf.GradientTape() as tape:
            log_prob = dist.log_prob(images, training=True)
            loss = -tf.reduce_mean(log_prob) / DIMS
        variables = dist.trainable_variables
        grads = tape.gradient(loss, variables)
        optimizer.apply_gradients(zip(grads, variables))

    @tf.function
    def log_prob(images):
        return dist.log_prob(images, training=False)

    ds = train.map(lambda x: tf.cast(x, "float32")).prefetch(tf.data.AUTOTUNE)
    budget.start()
    for step, images in enumerate(ds):
        if step == 0:
            dist.log_prob(images, training=True)  # create the variables
        if budget.learning_rate is not None:  # --tfp-schedule
            optimizer.learning_rate.assign(budget.current_learning_rate())
        train_step(images)
        if budget.tick():
            break
    nats = np.concatenate(
        [
            log_prob(tf.constant(test[i : i + args.eval_batch_size], "float32"))
            for i in range(0, len(test), args.eval_batch_size)
        ]
    )
    bits = -nats / (DIMS * math.log(2.0))
    params = sum(int(tf.size(v)) for v in dist.trainable_variables)
    description = (
        "TFP PixelCNN++ resnet={num_resnet} hier={num_hierarchies} "
        "f={num_filters} mix={num_logistic_mix} dropout={dropout_p}"
    ).format(**TFP_PIXEL_CNN)
    return description, params, float(np.mean(bits))


def import_tfp():
    """(tensorflow_probability, tf_keras), or None with a one-line note."""
    try:
        import tensorflow_probability as tfp
        import tf_keras
    except ImportError as error:
        print(
            f"tfp_pixel_cnn needs tensorflow-probability and tf-keras: "
            f"{INSTALL} ({error})",
            file=sys.stderr,
        )
        return None
    return tfp, tf_keras


def main(argv=None):
    args = parse_args(argv)
    tfp_modules = None
    if "tfp_pixel_cnn" in args.rows:
        tfp_modules = import_tfp()
        if tfp_modules is None and args.rows == ["tfp_pixel_cnn"]:
            return 2
    train_images = load_images(args.data_dir, "cifar10_train_10k.npz")
    test = load_images(args.data_dir, "cifar10_test.npz")[: args.eval_images]
    train = train_batches(train_images, args.batch_size, args.seed)
    versions = f"TensorFlow {tf.__version__}, Keras {keras.__version__}"
    if tfp_modules:
        versions += f", TFP {tfp_modules[0].__version__}"
    print(f"{os.cpu_count()} CPUs, {versions}")
    print(
        f"CIFAR-10 train {len(train_images):,} images (seed {args.seed}), "
        f"batch {args.batch_size}, {args.minutes:g} min per row including the "
        f"first step's tracing; exact bits/dim on test[:{len(test)}]"
    )
    print(
        f"ours: model.compile() defaults (Adam, clipnorm 1), learning rate "
        f"warmed up to {args.learning_rate:g} over {args.warmup_steps} steps, "
        "then decayed linearly to 0 at the budget (prt.TimeBudget). "
        f"tfp: Adam {'as ours' if args.tfp_schedule else '1e-3'}, "
        "clipnorm 1, loss in nats per sub-pixel, "
        "dropout_p=0.3 (TFP's examples; its default is 0.5)"
    )
    header = (
        "row", "model", "params", "steps", "img/s", "train min", "bits/dim"
    )
    line = "{:<18} {:<52} {:>9} {:>6} {:>6} {:>9} {:>8}"
    print(line.format(*header), flush=True)
    for name in args.rows:
        if ROWS[name] is None and tfp_modules is None:
            print(f"{name:<18} skipped: {INSTALL}", flush=True)
            continue
        keras.utils.set_random_seed(args.seed)
        scheduled = ROWS[name] is not None or args.tfp_schedule
        lr = args.learning_rate if scheduled else None  # TFP's: 1e-3
        budget = prt.TimeBudget(args.minutes, lr, args.warmup_steps)
        if ROWS[name] is None:
            result = run_tfp(*tfp_modules, train, test, args, budget)
        else:
            result = run_ours(ROWS[name], train, test, args, budget)
        description, params, bits = result
        print(
            line.format(
                name,
                description,
                f"{params:,}",
                budget.steps,
                f"{budget.steps * args.batch_size / budget.seconds_used:.1f}",
                f"{budget.seconds_used / 60:.2f}",
                f"{bits:.3f}",
            ),
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
