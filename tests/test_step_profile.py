"""benchmarks/step_profile.py reads the ops of a traced training step, and
what it reads of ours."""

import importlib.util
import pathlib

import numpy as np
import tensorflow as tf
from tensorflow.tsl.profiler.protobuf import xplane_pb2

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
    space = step_profile.read_space(str(tmp_path))
    totals = step_profile.op_seconds(space)
    looped = {
        op: calls for (op, in_loop), (_, calls) in totals.items() if in_loop
    }
    convolutions = sum(n for op, n in looped.items() if "Conv2D" in op)
    assert convolutions == 16
    assert any(not in_loop for _, in_loop in totals)  # the rest of the step
    assert all(seconds > 0 for seconds, _ in totals.values())
    assert wall > 0 and user >= 0 and system >= 0 and faults >= 0


def test_the_default_metrics_reuse_the_loss_cross_entropy(tmp_path):
    # The loss and the two default metrics all need the 256-way
    # cross-entropy of the same logits: Grappler merges them into one op
    # only if they take the levels along the same path.
    model = prt.build_model(
        dict(image_shape=(4, 4, 3), num_levels=256, hidden_dim=6,
             num_layers=1, output_dim=6, architecture="pixel_cnn")
    )
    model.compile()
    levels = np.random.default_rng(0).integers(0, 256, (2, 4, 4, 3))
    model.train_on_batch(levels)
    tf.profiler.experimental.start(str(tmp_path))
    logs = model.train_on_batch(levels, return_dict=True)
    tf.profiler.experimental.stop()
    totals = step_profile.op_seconds(step_profile.read_space(str(tmp_path)))
    calls = totals["SparseSoftmaxCrossEntropyWithLogits", False][1]
    assert calls == 1
    # ... and the metrics still report the loss's NLL.
    sub_pixels = 4 * 4 * 3
    np.testing.assert_allclose(
        logs["nll_nats"], logs["loss"] * sub_pixels, rtol=1e-5
    )
    np.testing.assert_allclose(
        logs["bits_per_dim"], logs["loss"] / np.log(2.0), rtol=1e-5
    )


def _memory_space(events):
    """An XSpace whose host plane holds `events`: (kind, time ns, addr,
    bytes, op). Every other op name is kept as the profiler keeps a
    repeated string: once in the plane, referenced by id."""
    space = xplane_pb2.XSpace()
    plane = space.planes.add(name="/host:CPU")
    for i, name in enumerate(("MemoryAllocation", "MemoryDeallocation")):
        plane.event_metadata[i].name = name
    for i, name in enumerate(("addr", "requested_bytes", "tf_op")):
        plane.stat_metadata[i].name = name
    line = plane.lines.add(name="tf_Compute", timestamp_ns=0)
    for kind, time_ns, addr, size, op in events:
        event = line.events.add(
            metadata_id=0 if kind == "alloc" else 1, offset_ps=time_ns * 1000
        )
        event.stats.add(metadata_id=0, uint64_value=addr)
        if kind == "alloc":
            event.stats.add(metadata_id=1, int64_value=size)
            if addr % 2:
                plane.stat_metadata[100 + addr].name = op
                event.stats.add(metadata_id=2, ref_value=100 + addr)
            else:
                event.stats.add(metadata_id=2, str_value=op)
    return space


def test_live_at_peak_lists_what_is_alive_at_the_peak_by_merged_op():
    scan = "m/block_{}/lstm/PartitionedCall{}/TensorListStack"
    events = [
        ("alloc", 1, 10, 100, scan.format(0, "")),
        ("alloc", 2, 11, 100, scan.format(1, "_3")),
        ("alloc", 3, 12, 50, "m/grad/while/body/_7/grad/while/mul"),
        ("free", 4, 12, 0, ""),
        ("alloc", 4, 13, 40, "m/head/Relu"),
        ("free", 5, 10, 0, ""),
    ]
    # At the same time, a free counts before an allocation: 250, not 290.
    peak, by_op = step_profile.live_at_peak(_memory_space(events))
    assert peak == 250
    assert by_op == {
        "m/block_*/lstm/PartitionedCall/TensorListStack": [200, 2],
        "m/grad/while": [50, 1],
    }
    space = _memory_space(events + [("alloc", 6, 14, 500, "m/head/Softmax")])
    peak, by_op = step_profile.live_at_peak(space)
    assert peak == 640
    assert by_op == {
        "m/block_*/lstm/PartitionedCall/TensorListStack": [100, 1],
        "m/head/Relu": [40, 1],
        "m/head/Softmax": [500, 1],
    }
    assert step_profile.live_at_peak(_memory_space([])) == (0, {})
