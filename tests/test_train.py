import csv
import json
import math
import os
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

import pixelrnn_tf as prt
import train
from pixelrnn_tf.config import ExperimentConfig
from train.runner import make_optimizer
from train.runner import resolve_policy

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY_MODEL = {
    "architecture": "pixel_cnn",
    "hidden_dim": 6,
    "num_layers": 1,
    "input_kernel_size": 3,
}
TINY_TRAIN = {
    "batch_size": 4,
    "epochs": 1,
    "steps_per_epoch": 2,
    "validation_steps": 1,
    "verbose": 0,
}


def _config(model=None, data=None, train_=None):
    return ExperimentConfig.from_dict(
        {
            "model": {**TINY_MODEL, **(model or {})},
            "data": data or {},
            "train": {**TINY_TRAIN, **(train_ or {})},
        }
    )


def _assert_artifacts(workdir):
    for name in ("config.json", "model.keras", "best.keras", "eval.json",
                 "log.csv"):
        assert (workdir / name).is_file(), name
    assert (workdir / "tensorboard").is_dir()
    results = json.loads((workdir / "eval.json").read_text())
    assert math.isfinite(results["model"]["nats"])
    assert math.isfinite(results["independent_baseline"]["bits_per_dim"])
    config = ExperimentConfig.from_json(workdir / "config.json")
    model = keras.saving.load_model(workdir / "model.keras")
    assert model.image_shape == config.model.image_shape
    return results


def test_run_on_digits(tmp_path):
    config = _config(model={"image_shape": (8, 8, 1), "num_levels": 17})
    history = train.run(config, tmp_path)
    assert np.isfinite(history.history["loss"]).all()
    results = _assert_artifacts(tmp_path)
    uniform = results["uniform_baseline"]["nats"]
    assert math.isclose(uniform, 64 * math.log(17), rel_tol=1e-9)


def test_run_on_npz(tmp_path):
    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        images = rng.integers(0, 256, (12, 4, 4, 3)).astype("uint8")
        np.savez(tmp_path / f"tiny_{split}.npz", images=images)
    config = _config(
        model={"image_shape": (4, 4, 3), "num_levels": 4},
        data={"source": f"npz:{tmp_path}/tiny_{{split}}.npz"},
    )
    train.run(config, tmp_path / "run")
    _assert_artifacts(tmp_path / "run")


def test_run_on_mock_tfds_mnist(tmp_path):
    config = _config(
        model={"image_shape": (28, 28, 1), "num_levels": 2},
        data={"source": "tfds:mnist"},
    )
    with tfds.testing.mock_data(num_examples=8):
        train.run(config, tmp_path)
    _assert_artifacts(tmp_path)


def _assert_one_line_error(stderr, match):
    """Our message is one `error: ...` line, the last one; no traceback.

    (TensorFlow's C++ runtime may log a few lines of its own first.)
    """
    lines = stderr.strip().splitlines()
    assert lines[-1].startswith("error: ") and match in lines[-1], stderr
    assert "Traceback" not in stderr


def _run_cli(*args, timeout=120):
    return subprocess.run(
        [sys.executable, "-m", "train", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )


@pytest.mark.parametrize(
    "override, match",
    [
        ("train.batchsize=4", "batch_size"),
        ("train.batch_size=four", "batch_size='four'"),
        ("model.architecture=gru", "architecture='gru'"),
        ("model.num_classes=10", "data.labels=False"),  # labels missing
    ],
)
def test_cli_rejects_bad_config_before_training(tmp_path, override, match):
    result = _run_cli(
        "--config", "digits",  # a packaged config, by name
        "--workdir", str(tmp_path), "--set", override,
    )
    assert result.returncode == 2
    _assert_one_line_error(result.stderr, match)
    assert not (tmp_path / "config.json").exists()  # nothing ran


def test_cli_rejects_xla_with_a_mirrored_strategy(tmp_path):
    # The binarized MNIST LSTM configs turn XLA on, which a mirrored step
    # cannot use: a one-line error naming the way out, before any work.
    result = _run_cli(
        "--config", "binarized_mnist_row_lstm", "--workdir", str(tmp_path),
        "--set", 'train.strategy="mirrored"',
    )
    assert result.returncode == 2
    _assert_one_line_error(
        result.stderr, "Received: jit_compile=True, strategy='mirrored'"
    )
    assert not (tmp_path / "config.json").exists()


@pytest.mark.parametrize(
    "data, model, match",
    [
        ({"source": "npz:/no/such/file.npz"}, {}, "not found"),
        ({"source": "digits"}, {"image_shape": (4, 4, 1)}, "Received"),
    ],
)
def test_cli_rejects_bad_data_in_one_line(tmp_path, data, model, match):
    config = _config(model={"image_shape": (8, 8, 1), "num_levels": 17,
                            **model}, data=data)
    path = tmp_path / "c.json"
    path.write_text(json.dumps(config.to_dict()))
    result = _run_cli("--config", str(path), "--workdir", str(tmp_path / "r"))
    assert result.returncode == 2
    _assert_one_line_error(result.stderr, match)


def test_cli_rejects_values_above_the_declared_range(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (8, 8, 8, 1))
    np.savez(tmp_path / "x_train.npz", images=images.astype("uint8"))
    config = _config(
        model={"image_shape": (8, 8, 1), "num_levels": 17},
        data={"source": f"npz:{tmp_path}/x_train.npz", "eval_split": "train",
              "max_level": 16},
    )
    path = tmp_path / "c.json"
    path.write_text(json.dumps(config.to_dict()))
    result = _run_cli("--config", str(path), "--workdir", str(tmp_path / "r"))
    assert result.returncode == 2
    _assert_one_line_error(result.stderr, "Received: max_level=16")


def test_configs_for_every_paper_experiment_parse():
    from pixelrnn_tf.config import PRESETS
    from train import config_files

    names = sorted(os.listdir(os.path.join(ROOT, "train", "configs")))
    assert [f"{name}.json" for name in config_files.names()] == names
    for preset in PRESETS:
        assert f"{preset}.json" in names
        config = ExperimentConfig.from_json(
            os.path.join(ROOT, "train", "configs", f"{preset}.json")
        )
        assert config.model.to_dict() == ExperimentConfig().model.replace(
            **PRESETS[preset]
        ).to_dict()
        assert config_files.load(preset) == config  # the same file, by name
    assert "digits.json" in names


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_precision_step(tmp_path, policy):
    config = _config(
        model={"image_shape": (8, 8, 1), "num_levels": 17},
        train_={"dtype_policy": policy, "steps_per_epoch": 1},
    )
    history = train.run(config, tmp_path)
    assert np.isfinite(history.history["loss"]).all()
    model = history.model
    assert model.compute_dtype == policy[6:]
    assert keras.backend.standardize_dtype(model.outputs[0].dtype) == "float32"
    is_scaled = isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    assert is_scaled == (policy == "mixed_float16")
    assert keras.config.dtype_policy().name == "float32"  # restored


def test_jit_compile_reaches_the_training_step(tmp_path):
    config = _config(
        model={"architecture": "row_lstm", "image_shape": (8, 8, 1),
               "num_levels": 17},
        train_={"jit_compile": True, "steps_per_epoch": 1},
    )
    history = train.run(config, tmp_path)
    assert history.model.jit_compile is True
    assert np.isfinite(history.history["loss"]).all()


def test_auto_policy_follows_the_gpus():
    gpus = tf.config.list_physical_devices("GPU")
    expected = "mixed_float16" if gpus else "float32"
    assert resolve_policy("auto") == expected
    assert resolve_policy("mixed_bfloat16") == "mixed_bfloat16"


@pytest.mark.parametrize(
    "optimizer, learning_rate", [("sgd", 0.5), ("adam", 1e-2)]
)
@pytest.mark.parametrize("clipnorm", [None, 1e-3])
def test_mirrored_strategy_matches_default(
    tmp_path, clipnorm, optimizer, learning_rate
):
    # Same global batches: the same first loss and the same weights after
    # two steps, also when global clipping is on (it must see the global
    # gradient, not each replica's half), and with the fused Adam, whose
    # scalars are formed once for all variables and replicas.
    models, losses = {}, {}
    for strategy in ("default", "mirrored"):
        config = _config(
            model={"image_shape": (8, 8, 1), "num_levels": 17},
            # no shuffle: both strategies take the same first global batch
            data={"shuffle_buffer": 1},
            train_={
                "strategy": strategy,
                "cpu_replicas": 2,
                "steps_per_epoch": 2,
                "batch_size": 8,
                "optimizer": optimizer,
                "learning_rate": learning_rate,
                "global_clipnorm": clipnorm,
            },
        )
        history = train.run(config, tmp_path / strategy)
        losses[strategy] = history.history["loss"][0]
        models[strategy] = history.model
    np.testing.assert_allclose(losses["mirrored"], losses["default"], rtol=1e-5)
    moved = 0.0
    initial = _config(model={"image_shape": (8, 8, 1), "num_levels": 17})
    keras.utils.set_random_seed(0)
    start = prt.build_model(initial.model)
    for a, b, w0 in zip(
        models["mirrored"].weights, models["default"].weights, start.weights
    ):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-7)
        moved = max(moved, float(np.abs(b.numpy() - w0.numpy()).max()))
    assert moved > 1e-4  # the steps did change the weights


@pytest.mark.slow
def test_killed_run_resumes_at_the_next_epoch(tmp_path):
    workdir = tmp_path / "run"
    args = [
        "--config", "train/configs/digits.json", "--workdir", str(workdir),
        "--set", "train.epochs=3", "--set", "train.steps_per_epoch=20",
        "--set", "train.validation_steps=2", "--set", "model.num_layers=1",
    ]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "train", *args], cwd=ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None:
            log = workdir / "log.csv"
            if log.is_file() and len(log.read_text().splitlines()) >= 2:
                break  # epoch 0 finished, its backup is written
            time.sleep(0.2)
        assert proc.poll() is None, "the run ended before it could be killed"
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert not (workdir / "model.keras").exists()
    result = _run_cli(*args, timeout=300)
    assert result.returncode == 0, result.stderr
    with open(workdir / "log.csv") as f:
        epochs = [int(row["epoch"]) for row in csv.DictReader(f)]
    assert epochs == [0, 1, 2]  # resumed at 1, not at 0
    _assert_artifacts(workdir)
    # The same command on a finished run re-evaluates, never retrains.
    result = _run_cli(*args, timeout=300)
    assert result.returncode == 0, result.stderr
    with open(workdir / "log.csv") as f:
        assert [int(row["epoch"]) for row in csv.DictReader(f)] == [0, 1, 2]


@pytest.mark.slow
def test_demo_pipeline_end_to_end(tmp_path):
    from train import demo

    code = demo.main(
        ["--workdir", str(tmp_path), "--set", "train.epochs=1",
         "--set", "train.steps_per_epoch=3"]
    )
    assert code == 0
    from serving import demo as serving_demo  # make demo's second half

    assert serving_demo.main(["--workdir", str(tmp_path), "--num", "2"]) == 0
    assert [p.name for p in (tmp_path / "exports" / "pixelrnn").iterdir()] == [
        "1"
    ]
    for name in ("samples.png", "completions.png", "served_samples.png"):
        png = tf.io.decode_png(tf.io.read_file(str(tmp_path / name)))
        assert png.shape[0] > 8 and png.dtype == tf.uint8
    # one row per digit: 10 rows and 10 columns of 8×8 images, 6× zoom
    png = tf.io.decode_png(tf.io.read_file(str(tmp_path / "class_samples.png")))
    assert png.shape == (6 * 91, 6 * 91, 1)


def _free_ports(n):
    import socket

    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.mark.slow
def test_multi_worker_matches_single_process(tmp_path):
    overrides = [
        "model.num_layers=1", "model.hidden_dim=8",
        "train.epochs=2", "train.steps_per_epoch=3",
        "train.validation_steps=1", "train.batch_size=8",
        "train.global_clipnorm=0.05", "data.shuffle_buffer=1",
        # SGD is linear in the gradient: Adam's first steps are about
        # lr * sign(g) and would amplify rounding differences to lr.
        "train.optimizer=sgd", "train.learning_rate=0.1",
        "train.lr_schedule=constant",
        "train.verbose=0",
    ]

    def cli(workdir, strategy):
        args = ["--config", "train/configs/digits.json", "--workdir",
                str(workdir), "--set", f"train.strategy={strategy}"]
        for item in overrides:
            args += ["--set", item]
        return [sys.executable, "-m", "train", *args]

    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    workers = []
    try:
        for index in range(2):
            tf_config = {"cluster": cluster,
                         "task": {"type": "worker", "index": index}}
            env = {**os.environ, "TF_CONFIG": json.dumps(tf_config),
                   "TF_CPP_MIN_LOG_LEVEL": "3"}
            workers.append(subprocess.Popen(
                cli(tmp_path / "cluster", "multi_worker"), cwd=ROOT, env=env,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                start_new_session=True,
            ))
        outputs = [w.communicate(timeout=240) for w in workers]
    finally:
        for w in workers:  # bounded in time, never left running
            if w.poll() is None:
                os.killpg(w.pid, signal.SIGKILL)
                w.wait()
    for w, (_, err) in zip(workers, outputs):
        assert w.returncode == 0, err[-3000:]
    prints = [
        [line.split()[-1] for line in err.splitlines()
         if "Weights fingerprint" in line]
        for _, err in outputs
    ]
    assert len(prints[0]) == 1 and prints[0] == prints[1]  # identical weights
    assert not any(p.name.startswith(".worker") for p in
                   (tmp_path / "cluster").iterdir())  # the chief alone wrote
    _assert_artifacts(tmp_path / "cluster")

    single = subprocess.run(cli(tmp_path / "single", "default"), cwd=ROOT,
                            capture_output=True, text=True, timeout=240)
    assert single.returncode == 0, single.stderr[-3000:]
    a = keras.saving.load_model(tmp_path / "cluster" / "model.keras")
    b = keras.saving.load_model(tmp_path / "single" / "model.keras")
    for wa, wb in zip(a.weights, b.weights):
        np.testing.assert_allclose(wa.numpy(), wb.numpy(), rtol=1e-4, atol=1e-6)


def test_run_with_ema_schedule_and_sample_grid(tmp_path):
    config = _config(
        model={"image_shape": (8, 8, 1), "num_levels": 17},
        train_={
            "use_ema": True,
            "optimizer": "adam",
            "lr_schedule": "exponential",
            "sample_every_epochs": 1,
        },
    )
    history = train.run(config, tmp_path)
    assert isinstance(
        history.model.optimizer.learning_rate, tf.Variable
    ) or callable(history.model.optimizer._learning_rate)
    events = list((tmp_path / "tensorboard" / "samples").glob("events.*"))
    assert events, "the sample grid was logged"
    found = False
    for event in tf.compat.v1.train.summary_iterator(str(events[0])):
        found |= any(v.tag == "samples" for v in event.summary.value)
    assert found
    _assert_artifacts(tmp_path)


def test_cosine_schedule_warms_up_linearly_from_zero():
    config = prt.config.TrainConfig(
        optimizer="adam",
        learning_rate=2e-3,
        lr_schedule="cosine",
        lr_decay_steps=100,
        lr_warmup_steps=10,
    )
    schedule = make_optimizer(config)._learning_rate
    rates = [float(schedule(step)) for step in (0, 5, 10, 60, 110)]
    np.testing.assert_allclose(rates, [0, 1e-3, 2e-3, 1e-3, 0], atol=1e-9)


def _finished_run(tmp_path):
    config = _config(model={"image_shape": (8, 8, 1), "num_levels": 17})
    train.run(config, tmp_path)
    return tmp_path


def _run_module(module, *args):
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT, capture_output=True, text=True, timeout=180,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )


def test_evaluate_and_sample_clis(tmp_path):
    run_dir = _finished_run(tmp_path / "run")
    result = _run_module("train.evaluate", "--workdir", str(run_dir))
    assert result.returncode == 0, result.stderr
    assert "independent per pixel" in result.stdout
    assert "uniform" in result.stdout
    out = tmp_path / "s.png"
    result = _run_module(
        "train.sample", "--workdir", str(run_dir), "--num", "4",
        "--out", str(out), "--scale", "1",
    )
    assert result.returncode == 0, result.stderr
    assert tf.io.decode_png(tf.io.read_file(str(out))).shape == (19, 19, 1)
    naive = tmp_path / "naive.png"
    result = _run_module(
        "train.sample", "--workdir", str(run_dir), "--num", "4",
        "--out", str(naive), "--scale", "1", "--method", "naive", "--progress",
    )
    assert result.returncode == 0, result.stderr
    assert "row" in result.stdout  # the progress bar
    assert naive.read_bytes() == out.read_bytes()  # same seed, same images
    result = _run_module(
        "train.sample", "--workdir", str(run_dir), "--num", "2",
        "--out", str(out), "--complete-from", "test", "--known-rows", "3",
        "--scale", "1",
    )
    assert result.returncode == 0, result.stderr
    assert tf.io.decode_png(tf.io.read_file(str(out))).shape == (19, 28, 1)


@pytest.mark.parametrize("module", ["train.evaluate", "train.sample"])
def test_clis_reject_a_missing_run(tmp_path, module):
    extra = ["--out", "x.png"] if module == "train.sample" else []
    result = _run_module(module, "--workdir", str(tmp_path), *extra)
    assert result.returncode == 2
    _assert_one_line_error(result.stderr, "missing")


def test_independent_baseline_matches_a_direct_count(tmp_path):
    from train import evaluation

    rng = np.random.default_rng(0)
    data = {s: rng.integers(0, 256, (10, 2, 2, 3)).astype("uint8")
            for s in ("train", "test")}
    for split, images in data.items():
        np.savez(tmp_path / f"d_{split}.npz", images=images)
    config = _config(
        model={"image_shape": (2, 2, 3), "num_levels": 4},
        data={"source": f"npz:{tmp_path}/d_{{split}}.npz"},
    )
    train_levels, test_levels = data["train"] // 64, data["test"] // 64
    counts = np.ones((2, 2, 3, 4))
    for image in train_levels:
        for index in np.ndindex(2, 2, 3):
            counts[index + (image[index],)] += 1
    p = counts / counts.sum(-1, keepdims=True)
    expected = -np.mean([
        sum(np.log(p[index + (image[index],)]) for index in np.ndindex(2, 2, 3))
        for image in test_levels
    ])
    np.testing.assert_allclose(
        evaluation.independent_baseline(config, "test"), expected, rtol=1e-9
    )


def test_ema_weights_are_the_ones_saved(tmp_path):
    # Same seed and data: the raw trajectories are identical, so with a slow
    # moving average the saved weights must stay much closer to the start.
    def run(use_ema, name):
        config = _config(
            model={"image_shape": (8, 8, 1), "num_levels": 17},
            train_={"use_ema": use_ema, "ema_momentum": 0.99,
                    "optimizer": "adam", "learning_rate": 0.01,
                    "steps_per_epoch": 3},
        )
        train.run(config, tmp_path / name)
        model = keras.saving.load_model(tmp_path / name / "model.keras")
        return config, [w.numpy() for w in model.weights]

    config, raw = run(False, "raw")
    _, ema = run(True, "ema")
    keras.utils.set_random_seed(config.train.seed)
    start = [w.numpy() for w in prt.build_model(config.model).weights]

    def distance(weights):
        return sum(float(np.abs(w - s).sum()) for w, s in zip(weights, start))

    assert distance(raw) > 0
    assert distance(ema) < 0.5 * distance(raw)


def test_class_conditional_run_evaluates_and_samples_by_label(
    tmp_path, capsys
):
    from train import evaluation
    from train import grids
    from train import sample

    config = ExperimentConfig.from_json(
        os.path.join(ROOT, "train", "configs", "digits_class_conditional.json"),
        ["train.epochs=1", "train.steps_per_epoch=2", "model.num_layers=1",
         "data.max_examples=64"],
    )
    history = train.run(config, str(tmp_path))
    assert history.evaluation["num_images"] == 64
    _, model = evaluation.load_run(str(tmp_path))
    labels = np.asarray(grids.class_labels(model.num_classes, 20))
    np.testing.assert_array_equal(labels, np.repeat(np.arange(10), 2))
    out = tmp_path / "sevens.png"
    args = ["--workdir", str(tmp_path), "--num", "4", "--out", str(out),
            "--label", "7", "--scale", "1"]
    assert sample.main(args) == 0
    png = tf.io.decode_png(tf.io.read_file(str(out)))
    assert png.shape == (19, 19, 1)  # 2×2 grid of 8×8, 1-pixel borders
    completions = tmp_path / "completions.png"
    args[5] = str(completions)
    assert sample.main(args[:6] + ["--complete-from", "test"]) == 0
    assert completions.is_file()
    # --label on an unconditional model: one line
    unconditional = ExperimentConfig.from_json(
        os.path.join(ROOT, "train", "configs", "digits.json"),
        ["train.epochs=1", "train.steps_per_epoch=1", "model.num_layers=1",
         "data.max_examples=32"],
    )
    train.run(unconditional, str(tmp_path / "plain"))
    capsys.readouterr()
    args = ["--workdir", str(tmp_path / "plain"), "--num", "2",
            "--out", str(tmp_path / "x.png"), "--label", "1"]
    assert sample.main(args) == 2
    _assert_one_line_error(
        capsys.readouterr().err, "needs a class-conditional model"
    )
