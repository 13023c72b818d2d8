"""Where a training step's time goes: the first step against later ones,
and the op types of one traced steady step.

For one preset at batch 16 of random levels, `model.train_on_batch`
after `model.compile()`:

- each step's wall time, the process's user and system CPU time and its
  minor page faults over the step (`resource.getrusage`), and the peak of
  TensorFlow's CPU allocator after the first step: how much fresh memory
  the first step touches, which later steps reuse;
- one more step under `tf.profiler`, and the time of each op type on
  TensorFlow's inter-op threads, split into the ops inside `while` loops
  (the LSTMs' scans) and the rest. Ops on the two threads run at the same
  time, so the column adds up to about threads × wall time;
- with `--memory`, the tensors alive at the allocator's peak in that step,
  by the op that made them, the layers of a stack merged: what the step
  holds for its backward pass. It runs TensorFlow's BFC allocator on the
  CPU (`TF_CPU_ALLOCATOR_USE_BFC`), whose allocations the profiler records;
  the run's other figures are then that allocator's.

    python benchmarks/step_profile.py --preset cifar10_diagonal_bilstm
    python benchmarks/step_profile.py --preset cifar10_row_lstm --memory
"""

import argparse
import collections
import glob
import os
import re
import resource
import statistics
import sys
import tempfile
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
if "--memory" in sys.argv:  # chosen when TensorFlow starts
    os.environ.setdefault("TF_CPU_ALLOCATOR_USE_BFC", "true")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from tensorflow.tsl.profiler.protobuf import xplane_pb2  # noqa: E402

import pixelrnn_tf as prt  # noqa: E402


def timed_step(step):
    """(wall s, user s, system s, minor page faults) of one `step()`."""
    before = resource.getrusage(resource.RUSAGE_SELF)
    begin = time.perf_counter()
    step()
    wall = time.perf_counter() - begin
    after = resource.getrusage(resource.RUSAGE_SELF)
    return (
        wall,
        after.ru_utime - before.ru_utime,
        after.ru_stime - before.ru_stime,
        after.ru_minflt - before.ru_minflt,
    )


def read_space(logdir):
    """The `XSpace` of the one trace in `logdir`."""
    (path,) = glob.glob(f"{logdir}/**/*.xplane.pb", recursive=True)
    space = xplane_pb2.XSpace()
    with open(path, "rb") as f:
        space.ParseFromString(f.read())
    return space


def op_seconds(space):
    """{(op type, in a loop): [seconds, calls]} on the inter-op threads of
    the trace `space` (an `XSpace`)."""
    totals = collections.defaultdict(lambda: [0.0, 0])
    for plane in space.planes:
        if not plane.name.startswith("/host:CPU"):
            continue
        for line in plane.lines:
            if not line.name.startswith("tf_Compute"):
                continue
            for event in line.events:
                name = plane.event_metadata[event.metadata_id].name
                if ":" not in name or "/" not in name:
                    continue  # the executor's own spans, not an op
                op_type = name.rsplit(":", 1)[1].removeprefix("_Mkl")
                total = totals[op_type, "/while/" in name]
                total[0] += event.duration_ps * 1e-12
                total[1] += 1
    return totals


def merged_op_name(name):
    """An op's name with the layer and call indices of a stack dropped, and
    a loop body's ops named after their loop."""
    name = re.sub(r"(block|skip)_\d+", r"\1_*", name)
    name = re.sub(r"PartitionedCall_\d+", "PartitionedCall", name)
    return name.split("/while/")[0] + ("/while" if "/while/" in name else "")


def stat_value(stat, plane):
    """An `XStat`'s value; a string kept once per plane is named by its
    `ref_value`."""
    kind = stat.WhichOneof("value")
    if kind == "ref_value":
        return plane.stat_metadata[stat.ref_value].name
    return getattr(stat, kind) if kind else None


def live_at_peak(space):
    """(peak bytes, {merged op name: [bytes, tensors]}) of the allocations
    alive at the peak of the `MemoryAllocation` and `MemoryDeallocation`
    events on the host plane of `space` (a peak of 0 if it has none)."""
    events = []
    for plane in space.planes:
        if not plane.name.startswith("/host:CPU"):
            continue
        names = {k: m.name for k, m in plane.stat_metadata.items()}
        for line in plane.lines:
            for event in line.events:
                kind = plane.event_metadata[event.metadata_id].name
                if kind not in ("MemoryAllocation", "MemoryDeallocation"):
                    continue
                stats = {
                    names[s.metadata_id]: stat_value(s, plane)
                    for s in event.stats
                }
                time_ps = line.timestamp_ns * 1000 + event.offset_ps
                events.append((time_ps, kind == "MemoryAllocation", stats))
    live, in_use, peak, at_peak = {}, 0, 0, {}
    for _, allocation, stats in sorted(events, key=lambda e: e[:2]):
        if allocation:
            size = stats.get("requested_bytes", 0)
            live[stats.get("addr")] = (size, stats.get("tf_op") or "")
            in_use += size
            if in_use > peak:
                peak, at_peak = in_use, dict(live)
        elif stats.get("addr") in live:
            in_use -= live.pop(stats.get("addr"))[0]
    by_op = collections.defaultdict(lambda: [0, 0])
    for size, op in at_peak.values():
        total = by_op[merged_op_name(op)]
        total[0] += size
        total[1] += 1
    return peak, dict(by_op)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--preset", default="cifar10_diagonal_bilstm",
        choices=sorted(prt.PRESETS),
    )
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--top", type=int, default=20)
    parser.add_argument(
        "--memory", action="store_true",
        help="also list the tensors alive at the traced step's memory peak",
    )
    args = parser.parse_args()
    if args.steps < 1:
        parser.error(f"--steps must be at least 1. Received: {args.steps}")

    config = prt.ModelConfig.preset(args.preset)
    levels = np.random.default_rng(0).integers(
        0, config.num_levels, (16, *config.image_shape)
    ).astype("int32")
    model = prt.build_model(args.preset)
    model.compile()
    step = lambda: model.train_on_batch(levels)  # noqa: E731
    print(f"{args.preset}, batch 16, {os.cpu_count()} CPUs")
    print("| step | wall s | user s | system s | page faults |")
    print("|---|---|---|---|---|")
    rows = [timed_step(step) for _ in range(1 + args.steps)]
    for i, (wall, user, system, faults) in enumerate(rows):
        label = "first" if i == 0 else str(i)
        print(f"| {label} | {wall:.2f} | {user:.2f} | {system:.2f} "
              f"| {faults:,} |")
    try:
        peak = tf.config.experimental.get_memory_info("CPU:0")["peak"]
        print(f"CPU allocator peak: {peak / 2**30:.2f} GiB "
              f"({rows[0][3] * resource.getpagesize() / 2**30:.2f} GiB "
              "of fresh pages in the first step)")
    except ValueError:
        pass  # an allocator that keeps no statistics

    with tempfile.TemporaryDirectory() as logdir:
        tf.profiler.experimental.start(logdir)
        wall = timed_step(step)[0]
        tf.profiler.experimental.stop()
        space = read_space(logdir)
    totals = op_seconds(space)
    if args.memory:
        peak, by_op = live_at_peak(space)
    steady = statistics.median(row[0] for row in rows[1:])
    busy = sum(seconds for seconds, _ in totals.values())
    print(f"\nTraced step: {wall:.2f} s (untraced median {steady:.2f} s); "
          f"op time on the inter-op threads {busy:.2f} s")
    print("| op type | where | seconds | share | calls |")
    print("|---|---|---|---|---|")
    ranked = sorted(totals.items(), key=lambda item: -item[1][0])
    for (op_type, looped), (seconds, calls) in ranked[: args.top]:
        where = "loop" if looped else "graph"
        print(f"| {op_type} | {where} | {seconds:.3f} "
              f"| {seconds / busy:.1%} | {calls} |")

    if not args.memory:
        return
    if not peak:
        print("\nThe trace holds no allocations: TensorFlow's CPU allocator "
              "records them only with TF_CPU_ALLOCATOR_USE_BFC=true.")
        return
    print(f"\nAlive at the traced step's memory peak: {peak / 2**30:.2f} GiB")
    print("| made by (layers merged) | MiB | tensors |")
    print("|---|---|---|")
    ranked = sorted(by_op.items(), key=lambda item: -item[1][0])
    for op, (size, count) in ranked[: args.top]:
        print(f"| {op} | {size / 2**20:.1f} | {count} |")


if __name__ == "__main__":
    main()
