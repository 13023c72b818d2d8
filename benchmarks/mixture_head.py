"""What the discretized logistic mixture head costs, beside the softmax's.

One run, CIFAR-10 shapes (32×32×3, 256 levels), random weights:
- the loss and its gradient alone, from the parameters of K-logistic
  mixtures at every sub-pixel: the whole (B, H, W, C, 256) table of
  log-probabilities (what `model(images)` returns) against the direct NLL
  of the observed levels (what `fit` and `log_prob` use);
- a compiled training step (`fit`) of the same PixelCNN with the softmax
  head, with the mixture head (direct NLL, the default), and with the
  mixture head under a user's softmax loss on the table;
- cached sampling of a batch with each head.

    python benchmarks/mixture_head.py
    python benchmarks/mixture_head.py --batch-size 16 --steps 10
"""

import argparse
import os
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import pixelrnn_tf as prt  # noqa: E402
from pixelrnn_tf import logistic_mixture  # noqa: E402

SHAPE, LEVELS = (32, 32, 3), 256


def _seconds(fn, steps):
    """Seconds per call after a first (tracing) call, and that first."""
    start = time.perf_counter()
    fn()
    first = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(steps):
        fn()
    return (time.perf_counter() - start) / steps, first


def loss_rows(batch, mixtures, steps):
    rng = np.random.default_rng(0)
    params = tf.Variable(
        rng.normal(size=(batch, *SHAPE, 3 * mixtures)).astype("float32")
    )
    images = tf.constant(rng.integers(0, LEVELS, (batch, *SHAPE)))

    def table(p):
        log_p = logistic_mixture.log_probs(p, LEVELS)
        return -tf.gather(log_p, tf.cast(images, tf.int32), batch_dims=4)

    def direct(p):
        return logistic_mixture.nll(images, p, LEVELS)

    for name, nll in (("table", table), ("direct", direct)):
        for jit in (False, True):

            @tf.function(jit_compile=jit)
            def step():
                with tf.GradientTape() as tape:
                    loss = tf.reduce_mean(nll(params))
                return tape.gradient(loss, params)

            seconds, _ = _seconds(step, steps)
            yield f"loss + gradient, {name}, xla={jit}", seconds


def model_rows(batch, hidden_dim, num_layers, mixtures, steps):
    rng = np.random.default_rng(0)
    images = rng.integers(0, LEVELS, (batch * (steps + 1), *SHAPE))
    cases = (
        ("softmax head", {}, "auto"),
        ("mixture head, direct NLL (default)", {"num_mixtures": mixtures},
         "auto"),
        ("mixture head, softmax loss on the table", {
            "num_mixtures": mixtures},
         keras.losses.SparseCategoricalCrossentropy(from_logits=True)),
    )
    for name, fields, loss in cases:
        head = "logistic_mixture" if fields else "softmax"
        config = prt.ModelConfig(
            architecture="pixel_cnn",
            image_shape=SHAPE,
            num_levels=LEVELS,
            hidden_dim=hidden_dim,
            num_layers=num_layers,
            head=head,
            **fields,
        )
        model = prt.build_model(config)
        model.compile(loss=loss, metrics=[] if loss != "auto" else "auto")
        batches = iter(np.split(images, steps + 1))
        seconds, first = _seconds(
            lambda: model.train_on_batch(next(batches)), steps
        )
        yield f"fit step, {name}", seconds, first
        if loss == "auto":  # sampling reads the table either way
            start = time.perf_counter()
            prt.sample(model, batch, seed=0)
            seconds = time.perf_counter() - start
            yield f"cached sampling of {batch} images, {head}", seconds, None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--steps", type=int, default=5, help="timed steps")
    parser.add_argument("--num-mixtures", type=int, default=5)
    parser.add_argument("--hidden-dim", type=int, default=63)
    parser.add_argument("--num-layers", type=int, default=5)
    args = parser.parse_args()
    b, k = args.batch_size, args.num_mixtures
    print(
        f"{os.cpu_count()} CPUs, TF {tf.__version__}; batch {b}, "
        f"{SHAPE}, {LEVELS} levels, K = {k}; PixelCNN h = "
        f"{args.hidden_dim}, {args.num_layers} blocks"
    )
    print(f"{'what':<52} {'s/step':>8} {'first':>8}")
    for name, seconds in loss_rows(b, k, args.steps):
        print(f"{name:<52} {seconds:>8.3f}")
    for name, seconds, first in model_rows(
        b, args.hidden_dim, args.num_layers, k, args.steps
    ):
        first = "" if first is None else f"{first:.1f}"
        print(f"{name:<52} {seconds:>8.3f} {first:>8}")


if __name__ == "__main__":
    main()
