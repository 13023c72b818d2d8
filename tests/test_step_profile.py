"""benchmarks/step_profile.py reads the ops of a traced training step."""

import importlib.util
import pathlib

import numpy as np
import tensorflow as tf

import pixelrnn_tf as prt

_PATH = (
    pathlib.Path(__file__).resolve().parents[1]
    / "benchmarks"
    / "step_profile.py"
)
_SPEC = importlib.util.spec_from_file_location("step_profile", _PATH)
step_profile = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(step_profile)


def test_op_seconds_finds_the_scans_convolutions_inside_their_loops(
    tmp_path,
):
    # 2 Row LSTM layers on 4 rows: a state-to-state convolution a row,
    # forward and backward (BPTT): 16 in loops, none outside them.
    model = prt.build_model(
        dict(image_shape=(4, 4, 3), num_levels=4, hidden_dim=6,
             num_layers=2, output_dim=6, architecture="row_lstm")
    )
    model.compile()
    levels = np.random.default_rng(0).integers(0, 4, (2, 4, 4, 3))
    model.train_on_batch(levels)  # trace and optimize outside the trace
    tf.profiler.experimental.start(str(tmp_path))
    wall, user, system, faults = step_profile.timed_step(
        lambda: model.train_on_batch(levels)
    )
    tf.profiler.experimental.stop()
    totals = step_profile.op_seconds(str(tmp_path))
    looped = {
        op: calls for (op, in_loop), (_, calls) in totals.items() if in_loop
    }
    convolutions = sum(n for op, n in looped.items() if "Conv2D" in op)
    assert convolutions == 16
    assert any(not in_loop for _, in_loop in totals)  # the rest of the step
    assert all(seconds > 0 for seconds, _ in totals.values())
    assert wall > 0 and user >= 0 and system >= 0 and faults >= 0
