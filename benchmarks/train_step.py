"""Training throughput against the machine's matmul ceiling, in one run.

- The ceiling: FLOP/s of an n×n `tf.matmul` (n = 2048, 2·n³ FLOPs a
  call; 3 warm-up calls, then the best of 5 rounds of 5) in float32 and
  in bfloat16, and in float16 on a GPU. With `--intra-op-threads N`
  below the CPUs, one matmul cannot fill them: each round also times
  CPUs / N matmuls side by side and keeps the better.
- For each architecture at the CIFAR-10 and the binarized MNIST presets,
  batch 16 of random levels: `model.train_on_batch` after
  `model.compile(jit_compile=...)` (the default Adam and exact NLL), in
  float32 and mixed_bfloat16 (and mixed_float16 on a GPU), without and
  with XLA: the first step (trace + compile + step, wall time) and the
  median of `--steps` steady steps after one warm-up (fewer where they
  would take over `--row-budget` seconds); as images/s, and as
  model FLOP/s (the analytic FLOPs of a training step over its time)
  against the ceiling of the rows' compute dtype, and against the row's
  own ceiling, measured again right before and right after its steps
  (the best of 3 rounds each side): the machine's peak drifts within a
  run, and this is the one that held while the row ran. A row whose
  compile or step fails shows the error's class (its message follows the
  table).
- The analytic count, `forward_flops`, against TensorFlow's graph
  profiler on tiny models (`--no-check-flops` skips it).

The analytic count is 2 · the multiply-adds of every convolution as
TensorFlow executes it, from the layers' kernel shapes: masked kernels
count as dense, and a Diagonal BiLSTM with its blind spot closed runs on
W + 1 columns up to the head. A training step counts 3 × the forward
pass: the backward pass computes the gradients of both the inputs and
the weights of each op, as much again each (the first layer's input
gradient, not needed, is counted too). Elementwise work (masks, biases,
gates, activations, the softmax and loss, the optimizer) is not counted.

    python benchmarks/train_step.py              # every row (long)
    python benchmarks/train_step.py --quick      # MNIST presets, 2 steps
    python benchmarks/train_step.py --presets cifar10_pixel_cnn --jit on
    python benchmarks/train_step.py --presets cifar10_diagonal_bilstm \
        --dtypes float32 --jit off --intra-op-threads 1
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import pixelrnn_tf as prt  # noqa: E402
from pixelrnn_tf.layers import MaskedConv2D  # noqa: E402
from pixelrnn_tf.layers import PerChannelSoftmaxHead  # noqa: E402
from pixelrnn_tf.layers import PixelCNNResidualBlock  # noqa: E402
from pixelrnn_tf.layers import PixelRNNResidualBlock  # noqa: E402
from pixelrnn_tf.layers import shared_trace  # noqa: E402

MNIST = tuple(f"binarized_mnist_{a}" for a in prt.ARCHITECTURES)
PRESETS = tuple(f"cifar10_{a}" for a in prt.ARCHITECTURES) + MNIST
# The dtype of the matmuls under each policy: the ceiling of its rows.
COMPUTE_DTYPES = {
    "float32": "float32",
    "mixed_bfloat16": "bfloat16",
    "mixed_float16": "float16",
}
# The profiler's cross-check: one block of each kind, skips, tiny shapes.
CHECK_MODEL = dict(
    image_shape=(4, 5, 3),
    num_levels=4,
    hidden_dim=3,
    num_layers=2,
    output_dim=6,
    use_skip_connections=True,
)


# === Analytic FLOPs ===


def conv_flops(positions, kernel):
    """2 · multiply-adds of a dense convolution (or matmul) of `kernel`,
    (taps..., in, out), at `positions` outputs (batch included)."""
    return 2 * positions * int(np.prod(kernel.shape))


def forward_flops(model, batch_size):
    """The convolutions of a forward pass: [(name, FLOPs a call, calls)].

    `calls` > 1 for a recurrence's state-to-state convolution, run once a
    step of its loop (a row of the Row LSTM, a skewed column of the
    Diagonal LSTM). Unconditional single-scale models only.
    """
    if not hasattr(model, "_causal_layers") or (
        model.num_classes or model.condition_dim
    ):
        raise ValueError(
            "Counts unconditional PixelCNN and PixelRNN models only. "
            f"Received: {type(model).__name__}"
        )
    height, width, _ = model.image_shape
    head_positions = batch_size * height * width
    if model.pad_right:  # §3.2's blind spot closed: one more column
        width += 1
    positions = batch_size * height * width  # every layer before the head
    rows = []

    def conv(name, kernel, where=positions, calls=1):
        rows.append((name, conv_flops(where, kernel), calls))

    for layer in model._causal_layers():
        name = layer.name
        if isinstance(layer, MaskedConv2D):  # input conv (7×7), skips (1×1)
            conv(name, layer.kernel)
        elif isinstance(layer, PixelCNNResidualBlock):  # §3.5, Figure 5
            for part in (layer.reduce_conv, layer.hidden_conv,
                         layer.expand_conv):
                conv(f"{name}/{part.name}", part.kernel)
        elif isinstance(layer, PixelRNNResidualBlock):  # §3.3
            if layer.rnn_type == "row_lstm":  # §3.1: a row a step
                directions = [(layer.lstm, height)]
            else:  # §3.2: two directions, a skewed column a step
                directions = [
                    (lstm, width + height - 1)
                    for lstm in (layer.lstm.forward_lstm,
                                 layer.lstm.backward_lstm)
                ]
            for lstm, steps in directions:
                # Input-to-state: 1×k (Row) or 1×1 (Diagonal, before the
                # skew) over the whole map; state-to-state: k taps along a
                # row of W, or 2 down a skewed column of H, once a step.
                path = f"{name}/{lstm.name}"
                conv(f"{path}/input_to_state", lstm.input_to_state.kernel)
                cell = lstm.cell
                conv(
                    f"{path}/state_to_state",
                    cell.recurrent_kernel,
                    batch_size * cell.positions,
                    steps,
                )
            conv(f"{name}/output_conv", layer.output_conv.kernel)
        elif isinstance(layer, PerChannelSoftmaxHead):  # cropped: W columns
            for part in (layer.hidden_conv, layer.logits_conv):
                conv(f"{name}/{part.name}", part.kernel, head_positions)
        else:
            raise ValueError(f"No FLOP count for layer {name!r}")
    return rows


def training_flops(model, batch_size):
    """Analytic FLOPs of one training step: 3 × the forward pass."""
    rows = forward_flops(model, batch_size)
    return 3 * sum(f * calls for _, f, calls in rows)


def profiler_flops(model, batch_size, op_types=("Conv2D", "MatMul")):
    """FLOPs of a forward pass by TensorFlow's graph profiler (2 · MACs of
    each Conv2D and MatMul node; None: every op it has a count for).

    It counts each node of the traced graph once, and does not look into
    functions: the LSTMs' scans (a `tf.function` around a
    `tf.while_loop`) are not counted; the residual blocks, which share a
    function, are traced each on its own here.
    """
    spec = tf.TensorSpec((batch_size, *model.image_shape), tf.int32)
    forward = tf.function(lambda x: model(x), autograph=False)
    with shared_trace.unshared():
        graph = forward.get_concrete_function(spec).graph
    builder = tf.compat.v1.profiler.ProfileOptionBuilder
    options = builder(builder.float_operation()).with_empty_output()
    if op_types:
        options = options.with_accounted_types(list(op_types))
    level = tf.get_logger().level
    tf.get_logger().setLevel("ERROR")  # the v1 profiler's deprecations
    try:
        profile = tf.compat.v1.profiler.profile(graph, options=options.build())
    finally:
        tf.get_logger().setLevel(level)
    return profile.total_float_ops


def check_flops(batch_size=2):
    """Print the analytic count beside the profiler's on tiny models."""
    print(
        f"\nFLOPs of a forward pass, batch {batch_size}, {CHECK_MODEL}:\n"
        "| model | analytic | profiler (Conv2D, MatMul) "
        "| analytic / profiler | analytic, outside the scans "
        "| profiler / that | profiler (every op) |\n"
        "|---|---|---|---|---|---|---|"
    )
    for architecture in prt.ARCHITECTURES:
        model = prt.build_model(dict(CHECK_MODEL, architecture=architecture))
        rows = forward_flops(model, batch_size)
        analytic = sum(f * calls for _, f, calls in rows)
        outside = sum(f for _, f, calls in rows if calls == 1)
        profiled = profiler_flops(model, batch_size)
        every_op = profiler_flops(model, batch_size, op_types=None)
        print(
            f"| {architecture} | {analytic:,} | {profiled:,} "
            f"| {analytic / profiled:.4f} | {outside:,} "
            f"| {profiled / outside:.4f} | {every_op:,} |"
        )
    print(
        "The profiler counts each node of the traced graph once and does not"
        " look into functions: it sees none of the LSTMs'\nstate-to-state "
        "convolutions, which run in the scans' loops (one a row of the Row "
        "LSTM, one a skewed column of the\nDiagonal BiLSTM). Its every-op "
        "count adds elementwise work (masks, biases, skews)."
    )


# === Timing ===


def _sync(tensor):
    return tensor[0, 0].numpy()  # the device's queue drains first


CEILING_ROUNDS = 5  # the ceiling is the best of these rounds of matmuls


def matmul_flops_per_second(
    dtype, n=2048, calls=5, rounds=CEILING_ROUNDS, warmup=3
):
    """FLOP/s of an n×n `tf.matmul` in `dtype`: the machine's ceiling.

    The best of `rounds` rounds of `calls` calls, after `warmup` calls:
    what the machine can do, not what a noisy moment gave. Returns
    (best, worst) over the rounds. With fewer intra-op threads than CPUs
    (`--intra-op-threads`), one matmul cannot use them all: each call is
    then `side_by_side()` independent matmuls, which the inter-op threads
    run at once, and the better of the two ways a round.
    """
    count = side_by_side()
    a, b, *others = (
        tf.cast(tf.random.normal((n, n), seed=s), dtype)
        for s in range(1, count + 2)
    )
    # Distinct operands, or Grappler would merge the matmuls into one.
    ways = [(1, lambda: tf.matmul(a, b))]
    if count > 1:
        together = tf.function(
            lambda *xs: [tf.matmul(x, b) for x in xs], autograph=False
        )
        ways.append((count, lambda: together(a, *others)[-1]))
    rates = []
    for matmuls, matmul in ways:
        for _ in range(warmup):
            _sync(matmul())
        way = []
        for _ in range(rounds):
            begin = time.perf_counter()
            for _ in range(calls):
                c = matmul()
            _sync(c)
            seconds = time.perf_counter() - begin
            way.append(matmuls * calls * 2 * n**3 / seconds)
        rates = [max(pair) for pair in zip(rates, way)] if rates else way
    return max(rates), min(rates)


def side_by_side():
    """How many matmuls fill the CPUs: CPUs over intra-op threads, set
    here or by `TF_NUM_INTRAOP_THREADS` (1 with TensorFlow's default, all
    of them)."""
    threads = tf.config.threading.get_intra_op_parallelism_threads() or int(
        os.environ.get("TF_NUM_INTRAOP_THREADS") or 0
    )
    return max(1, (os.cpu_count() or 1) // threads) if threads > 0 else 1


def _timed(fn):
    begin = time.perf_counter()
    fn()
    return time.perf_counter() - begin


def step_seconds(model, batch, steps, budget=None):
    """(first step, median steady step, steps timed) of `train_on_batch`,
    seconds. Its returned losses are host floats: each step has finished.

    With a `budget` in seconds, a row whose warm-up step says the timed
    steps would take longer times fewer of them (at least one).
    """
    step = lambda: model.train_on_batch(batch)  # noqa: E731
    first = _timed(step)
    warm = _timed(step)
    if budget is not None and warm * steps > budget:
        steps = max(1, int(budget // warm))
    times = [_timed(step) for _ in range(steps)]
    return first, statistics.median(times), steps


def train_rows(
    presets, policies, jits, batch_size, steps, budget=None, matmul_size=2048
):
    """Yield (preset, policy, jit, result): the timings and the FLOPs of a
    step and the row's ceiling, or the exception of a row that failed.

    The row's ceiling is the best matmul rate of the compute dtype in 3
    rounds right before the row's steps and 3 right after them: what the
    machine could do while the row ran.
    """
    rng = np.random.default_rng(0)
    for name in presets:
        config = prt.ModelConfig.preset(name)
        batch = rng.integers(
            0, config.num_levels, (batch_size, *config.image_shape)
        ).astype("int32")
        for policy in policies:
            for jit in jits:
                keras.backend.clear_session()  # also resets the policy
                keras.config.set_dtype_policy(policy)
                try:
                    model = prt.build_model(name)
                    flops = training_flops(model, batch_size)
                    model.compile(jit_compile=jit)
                    dtype = COMPUTE_DTYPES[policy]
                    before, _ = matmul_flops_per_second(
                        dtype, matmul_size, rounds=3
                    )
                    first, seconds, timed = step_seconds(
                        model, batch, steps, budget
                    )
                    after, _ = matmul_flops_per_second(
                        dtype, matmul_size, rounds=3
                    )
                    beside = max(before, after)
                except Exception as error:  # e.g. XLA cannot compile it
                    yield name, policy, jit, error
                    continue
                finally:
                    keras.config.set_dtype_policy("float32")
                yield name, policy, jit, (first, seconds, timed, flops, beside)


def _device():
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return "CPU", False
    details = tf.config.experimental.get_device_details(gpus[0])
    tf32 = tf.config.experimental.is_tensor_float_32_execution_enabled()
    name = details.get("device_name", gpus[0].name)
    return f"{name} (TF32 matmuls {'on' if tf32 else 'off'})", True


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--presets", nargs="+", choices=sorted(prt.PRESETS),
        help="default: the CIFAR-10 and MNIST ones (MNIST with --quick)",
    )
    parser.add_argument(
        "--steps", type=int, help="timed steps (5; 2 with --quick)"
    )
    parser.add_argument(
        "--row-budget", type=float, default=120.0,
        help="seconds of timed steps a row may take; a slower row times "
        "fewer steps (at least one)",
    )
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument(
        "--dtypes", nargs="+", choices=sorted(COMPUTE_DTYPES),
        help="policies (float32 mixed_bfloat16, and mixed_float16 on a GPU)",
    )
    parser.add_argument(
        "--jit", nargs="+", choices=("off", "on"), default=("off", "on")
    )
    parser.add_argument(
        "--matmul-size", type=int, default=2048, help="n of the ceiling"
    )
    parser.add_argument(
        "--quick", action="store_true", help="MNIST presets, 2 steps"
    )
    parser.add_argument(
        "--intra-op-threads", type=int,
        help="TensorFlow's threads within an op (default: all CPUs); the "
        "ceiling then also runs CPUs/threads matmuls side by side",
    )
    parser.add_argument(
        "--check-flops", action=argparse.BooleanOptionalAction, default=True,
        help="the analytic count against TF's profiler, tiny models",
    )
    args = parser.parse_args()
    if args.intra_op_threads is not None:
        if args.intra_op_threads < 1:
            parser.error(
                "--intra-op-threads must be at least 1. "
                f"Received: {args.intra_op_threads}"
            )
        tf.config.threading.set_intra_op_parallelism_threads(
            args.intra_op_threads
        )
    device, gpu = _device()
    threads = os.environ.get("TF_NUM_INTRAOP_THREADS")
    presets = args.presets or (MNIST if args.quick else PRESETS)
    steps = args.steps or (2 if args.quick else 5)
    policies = args.dtypes or (
        ["float32", "mixed_bfloat16"] + ["mixed_float16"] * gpu
    )
    jits = [flag == "on" for flag in args.jit]
    print(
        f"{os.cpu_count()} CPUs, TF {tf.__version__}, Keras "
        f"{keras.__version__}; device: {device}; batch {args.batch_size}, "
        f"median of {steps} steps; intra-op threads: "
        f"{args.intra_op_threads or threads or 'default'} (the ceiling: "
        f"up to {side_by_side()} matmuls side by side)"
    )
    peaks = {}
    for policy in policies:
        dtype = COMPUTE_DTYPES[policy]
        if dtype not in peaks:
            peaks[dtype], worst = matmul_flops_per_second(
                dtype, args.matmul_size
            )
            print(
                f"matmul ceiling, {dtype}, {args.matmul_size}²: "
                f"{peaks[dtype] / 1e9:,.1f} GFLOP/s (best of "
                f"{CEILING_ROUNDS} rounds; the worst: {worst / 1e9:,.1f})"
            )
    print(
        "\n| preset | dtype | jit | first step s | step s | steps | images/s "
        "| GFLOP/step | model GFLOP/s | % of matmul peak "
        "| row's ceiling GFLOP/s | % of it |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|"
    )
    errors = []
    for name, policy, jit, result in train_rows(
        presets, policies, jits, args.batch_size, steps, args.row_budget,
        args.matmul_size,
    ):
        jit = "on" if jit else "off"
        if isinstance(result, Exception):
            message = (str(result).strip() or "-").splitlines()[0]
            errors.append(
                f"{name}, {policy}, jit {jit}: {type(result).__name__}: "
                f"{message}"[:300]
            )
            print(f"| {name} | {policy} | {jit} | {type(result).__name__} "
                  "| | | | | | | | |", flush=True)
            continue
        first, seconds, timed, flops, beside = result
        rate = flops / seconds
        peak = peaks[COMPUTE_DTYPES[policy]]
        print(
            f"| {name} | {policy} | {jit} | {first:.1f} | {seconds:.3f} "
            f"| {timed} | {args.batch_size / seconds:,.1f} "
            f"| {flops / 1e9:,.2f} "
            f"| {rate / 1e9:,.1f} | {100 * rate / peak:.1f}% "
            f"| {beside / 1e9:,.1f} | {100 * rate / beside:.1f}% |",
            flush=True,
        )
    for line in errors:
        print(line)
    for dtype, peak in peaks.items():  # the machine may drift in a run
        after, _ = matmul_flops_per_second(dtype, args.matmul_size)
        print(
            f"matmul ceiling, {dtype}, after the rows: "
            f"{after / 1e9:,.1f} GFLOP/s ({100 * after / peak:.0f} % of "
            "the one the table uses)"
        )
    print(
        "\nGFLOP/step: 2 · multiply-adds of every convolution as run "
        "(masked kernels dense), 3 × the forward pass; elementwise ops "
        "not\ncounted. % of matmul peak: model GFLOP/s over the matmul "
        "ceiling of the rows' compute dtype (mixed: the head is float32);\n"
        "row's ceiling: that matmul again right before and after the row's "
        "steps (best of 3 + 3 rounds), and the model's share of it."
    )
    if args.check_flops:
        check_flops()


if __name__ == "__main__":
    main()
