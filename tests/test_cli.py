"""The command lines as a user meets them: `--help` without TensorFlow,
the config fields listed, configs by name, one-line errors."""

import dataclasses
import json
import os
import subprocess
import sys

import pytest

from pixelrnn_tf.config import ExperimentConfig
from train import config_files

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": ROOT}
COMMANDS = [
    ["train"],
    ["train.evaluate"],
    ["train.sample"],
    ["train.demo"],
    ["serving", "export"],
    ["serving", "serve"],
    ["serving", "sample"],
    ["serving.demo"],
]
# Runs a CLI module with argv, then names the heavy modules it imported.
RUN_AND_REPORT = """
import runpy, sys
module, sys.argv = sys.argv[1], sys.argv[1:]
try:
    runpy.run_module(module, run_name="__main__", alter_sys=True)
except SystemExit as exit:
    print("exit", exit.code)
heavy = ("tensorflow", "keras", "pixelrnn_tf", "grpc", "sklearn")
print("imported", sorted(m for m in heavy if m in sys.modules))
"""
# Runs a CLI module with one optional extra's modules missing.
WITHOUT = """
import runpy, sys

blocked = sys.argv[1]

class Missing:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] == blocked:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)

sys.meta_path.insert(0, Missing())
module, sys.argv = sys.argv[2], sys.argv[2:]
runpy.run_module(module, run_name="__main__", alter_sys=True)
"""


def _python(*args, cwd=ROOT, timeout=180):
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _one_line_error(result, *parts):
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert "Traceback" not in result.stderr, result.stderr
    assert lines[-1].startswith("error: "), result.stderr
    for part in parts:
        assert part in lines[-1], lines[-1]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_help_imports_no_tensorflow(command):
    result = _python("-c", RUN_AND_REPORT, *command, "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: python -m {' '.join(command)}")
    assert "exit 0\nimported []\n" in result.stdout


def test_train_help_lists_every_config_field_with_its_default():
    result = _python("-m", "train", "--help")
    assert result.returncode == 0, result.stderr
    defaults = ExperimentConfig().to_dict()
    for section in dataclasses.fields(ExperimentConfig):
        for name, value in defaults[section.name].items():
            assert f"  {section.name}.{name}: " in result.stdout, name
            line = result.stdout.split(f"  {section.name}.{name}: ")[1]
            assert line.splitlines()[0].endswith(f"= {json.dumps(value)}")
    for name in config_files.names():
        assert name in result.stdout


def test_unknown_config_name_fails_in_one_line_listing_the_names(tmp_path):
    result = _python(
        "-c",
        RUN_AND_REPORT,
        "train",
        "--config",
        "cifar",
        "--workdir",
        str(tmp_path / "run"),
    )
    assert "exit 2\nimported []\n" in result.stdout  # before TensorFlow
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    assert "Received: --config cifar" in lines[0]
    for name in ("digits", "cifar10_row_lstm", "binarized_mnist_pixel_cnn"):
        assert name in lines[0]
    assert not (tmp_path / "run").exists()


def test_a_file_wins_over_a_packaged_config_of_that_name(tmp_path):
    (tmp_path / "digits").write_text('{"model": {"architecture": "gru"}}')
    result = _python(
        "-m", "train", "--config", "digits", "--workdir", "run", cwd=tmp_path
    )
    _one_line_error(result, "architecture='gru'")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "--workdir", "w"], "required: --config"),
        (["train.sample", "--out", "x.png"], "--workdir --server"),
        (
            [
                "train.sample",
                "--server",
                "localhost:1",
                "--progress",
                "--out",
                "x.png",
            ],
            "--progress does not go with --server",
        ),
        (
            [
                "train.sample",
                "--workdir",
                "w",
                "--model",
                "m",
                "--out",
                "x.png",
            ],
            "--model does not go with --workdir",
        ),
        (["serving", "serve"], "required: --base"),
        (
            ["serving", "sample", "--num-levels", "17", "--out", "x.png"],
            "unrecognized arguments: --num-levels",
        ),
    ],
)
def test_usage_errors_are_one_line(args, message):
    result = _python("-m", *args)
    _one_line_error(result, message, "--help")
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "missing, command, extra",
    [
        (
            "sklearn",
            ["train", "--config", "digits", "--workdir", "run"],
            "pixelrnn_tf[demo]",
        ),
        (
            "tensorflow_serving",
            ["serving", "export", "--workdir", "run", "--base", "exports"],
            "pixelrnn_tf[serving]",
        ),
    ],
)
def test_a_missing_extra_is_named(tmp_path, missing, command, extra):
    # e.g. "No module named 'sklearn': pip install 'pixelrnn_tf[demo]'"
    result = _python("-c", WITHOUT, missing, *command, cwd=tmp_path)
    _one_line_error(result, f"pip install '{extra}'")
