"""benchmarks/train_step.py on small models: the analytic FLOP count, and a
row's figures with the ceiling that held while it ran."""

import importlib.util
import pathlib

import pixelrnn_tf as prt

_PATH = (
    pathlib.Path(__file__).resolve().parents[1] / "benchmarks" / "train_step.py"
)
_SPEC = importlib.util.spec_from_file_location("train_step", _PATH)
train_step = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(train_step)

# B = 2 images of H × W × C = 3 × 4 × 3, h = 3 (2h = 6), one block,
# 4 levels, a 6-map output stack: 2·B·H·W = 48 FLOPs per MAC of a kernel.
TINY = dict(
    image_shape=(3, 4, 3),
    num_levels=4,
    hidden_dim=3,
    num_layers=1,
    output_dim=6,
)
BATCH = 2


def _forward(model):
    return sum(f * n for _, f, n in train_step.forward_flops(model, BATCH))


def test_pixel_cnn_count_equals_the_profilers():
    # No loop: TF's profiler counts every Conv2D once, 2 · MACs, as run.
    model = prt.build_model(dict(TINY, architecture="pixel_cnn"))
    assert _forward(model) == train_step.profiler_flops(model, BATCH)


def test_row_lstm_count_by_hand():
    model = prt.build_model(dict(TINY, architecture="row_lstm"))
    input_conv = 2 * (2 * 3 * 4) * (7 * 7 * 3 * 6)  # 7×7, C -> 2h: 42,336
    input_to_state = 2 * (2 * 3 * 4) * (1 * 3 * 6 * 12)  # 1×3, 2h -> 4h
    # k = 3 taps h -> 4h along a row of W = 4, once for each of H = 3 rows.
    state_to_state = 2 * (2 * 4) * (3 * 3 * 12) * 3  # 5,184
    output_conv = 2 * (2 * 3 * 4) * (3 * 6)  # 1×1, h -> 2h: 864
    head = 2 * (2 * 3 * 4) * (6 * 6 + 6 * 3 * 4)  # 2h -> 6 -> C·L: 5,184
    expected = input_conv + input_to_state + state_to_state + output_conv
    assert expected + head == 63_936 == _forward(model)
    assert train_step.training_flops(model, BATCH) == 3 * 63_936


def test_diagonal_bilstm_count_by_hand():
    # Blind spot closed (the default): W + 1 = 5 columns up to the head.
    model = prt.build_model(dict(TINY, architecture="diagonal_bilstm"))
    positions = 2 * 3 * 5
    input_conv = 2 * positions * (7 * 7 * 3 * 6)  # 52,920
    input_to_state = 2 * positions * (6 * 12)  # 1×1, before the skew
    # 2 taps h -> 4h down a skewed column of H = 3, for each of the
    # W + 1 + H - 1 = 7 columns.
    state_to_state = 2 * (2 * 3) * (2 * 3 * 12) * 7  # 6,048
    directions = 2 * (input_to_state + state_to_state)  # 20,736
    output_conv = 2 * positions * (3 * 6)  # 1,080
    head = 2 * (2 * 3 * 4) * (6 * 6 + 6 * 3 * 4)  # cropped to W = 4
    expected = input_conv + directions + output_conv + head
    assert expected == 79_920 == _forward(model)


def test_profiler_counts_what_runs_outside_the_lstm_scans():
    # Why the benchmark's cross-check of the LSTMs needs a second number:
    # TF's profiler does not look into the scans' functions, where every
    # state-to-state convolution runs (once a row or skewed column).
    for architecture in ("row_lstm", "diagonal_bilstm"):
        model = prt.build_model(dict(TINY, architecture=architecture))
        rows = train_step.forward_flops(model, BATCH)
        outside = sum(f for _, f, calls in rows if calls == 1)
        profiled = train_step.profiler_flops(model, BATCH)
        assert profiled == outside < _forward(model)


def test_a_row_carries_the_best_ceiling_measured_around_its_steps(
    monkeypatch,
):
    rates = iter([(2e9, 1e9), (3e9, 1e9)])  # before the steps, after them
    calls = []

    def ceiling(dtype, n, rounds):
        calls.append((dtype, n, rounds))
        return next(rates)

    monkeypatch.setattr(train_step, "matmul_flops_per_second", ceiling)
    (row,) = train_step.train_rows(
        ["binarized_mnist_pixel_cnn"], ["float32"], [False], 2, 1,
        matmul_size=64,
    )
    *row_name, result = row
    assert row_name == ["binarized_mnist_pixel_cnn", "float32", False]
    first, seconds, timed, flops, beside = result
    assert first > 0 and seconds > 0 and timed == 1
    assert flops == train_step.training_flops(
        prt.build_model("binarized_mnist_pixel_cnn"), 2
    )
    assert beside == 3e9  # the better side
    assert calls == [("float32", 64, 3)] * 2


def test_intra_op_threads_decide_how_many_matmuls_fill_the_cpus(monkeypatch):
    threading = train_step.tf.config.threading
    monkeypatch.setattr(train_step.os, "cpu_count", lambda: 4)
    monkeypatch.delenv("TF_NUM_INTRAOP_THREADS", raising=False)
    monkeypatch.setattr(
        threading, "get_intra_op_parallelism_threads", lambda: 0
    )
    assert train_step.side_by_side() == 1  # TensorFlow's default: all
    monkeypatch.setenv("TF_NUM_INTRAOP_THREADS", "2")
    assert train_step.side_by_side() == 2
    monkeypatch.setattr(
        threading, "get_intra_op_parallelism_threads", lambda: 1
    )
    assert train_step.side_by_side() == 4  # set in the process: it wins


def test_a_ceiling_with_fewer_threads_also_runs_matmuls_side_by_side(
    monkeypatch,
):
    # With one intra-op thread of two CPUs, a round also times a function
    # of two matmuls on distinct operands, counted as two.
    eager = []
    matmul = train_step.tf.matmul

    def counted(a, b):
        eager.append(train_step.tf.executing_eagerly())
        return matmul(a, b)

    monkeypatch.setattr(train_step.tf, "matmul", counted)
    monkeypatch.setattr(train_step, "side_by_side", lambda: 2)
    best, worst = train_step.matmul_flops_per_second(
        "float32", 32, calls=1, rounds=2, warmup=1
    )
    assert best >= worst > 0
    # Eagerly: 1 warm-up and 2 rounds; traced once: two matmuls.
    assert eager.count(True) == 3 and eager.count(False) == 2
