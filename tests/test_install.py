"""`pip install .` as a user does it: console scripts from any folder.

The package is built from a copy of this checkout and installed (not
editable) into a fresh virtualenv. Its dependencies come from the
environment running the tests, through a `.pth` line naming that
environment's site-packages: downloading TensorFlow would take minutes.
That line adds the folder only, so the checkout's own editable install
(a finder that a `.pth` file in there registers) stays invisible.
"""

import os
import pathlib
import shutil
import subprocess
import sys
import sysconfig

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
SOURCES = ("setup.cfg", "pyproject.toml", "README.md")
PACKAGES = ("pixelrnn_tf", "train", "serving")
SCRIPTS = {  # console script -> what its --help must mention
    "pixelrnn-train": (
        "model.architecture",
        "data.source",
        "train.epochs",
        "cifar10_row_lstm",
    ),
    "pixelrnn-evaluate": ("--workdir", "--split"),
    "pixelrnn-sample": ("--workdir RUN", "--server HOST:PORT"),
    "pixelrnn-export": ("--workdir", "--base"),
    "pixelrnn-serve": ("--base", "--port"),
}
TINY = [  # a 1-layer model, 2 steps
    "model.num_layers=1",
    "model.hidden_dim=4",
    "train.epochs=1",
    "train.steps_per_epoch=2",
    "train.validation_steps=1",
    "train.batch_size=4",
    "train.verbose=0",
]


def _copy_of_the_checkout(folder):
    folder.mkdir()
    for name in SOURCES:
        shutil.copy(ROOT / name, folder / name)
    for name in PACKAGES:
        shutil.copytree(
            ROOT / name,
            folder / name,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        )
    return folder


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    """A fresh virtualenv with the package installed from a copy."""
    tmp = tmp_path_factory.mktemp("install")
    source = _copy_of_the_checkout(tmp / "clone")
    env_dir = tmp / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(env_dir)],
        check=True,
    )
    python = env_dir / "bin" / "python"
    site = subprocess.run(
        [
            python,
            "-c",
            "import sysconfig; print(sysconfig.get_path('purelib'))",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    deps = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    pathlib.Path(site, "_dependencies.pth").write_text("\n".join(deps) + "\n")
    result = subprocess.run(
        [
            python,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--no-index",
            "--no-build-isolation",
            "--ignore-installed",
            "--quiet",
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=_env(),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return env_dir


def _env():
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return {**env, "TF_CPP_MIN_LOG_LEVEL": "3"}


def _run(venv, script, *args, cwd):
    return subprocess.run(
        [venv / "bin" / script, *args],
        cwd=cwd,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_packages_come_from_the_new_environment(venv, tmp_path):
    code = (
        "import importlib.resources, importlib.util\n"
        "for name in ('pixelrnn_tf', 'train', 'serving'):\n"
        "    print(importlib.util.find_spec(name).origin)\n"
        "print(importlib.resources.files('train') / 'configs' / 'digits.json')"
    )
    result = _run(venv, "python", "-c", code, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    paths = result.stdout.split()
    assert len(paths) == 4
    for path in paths:
        assert path.startswith(str(venv)), path  # not the checkout
    assert os.path.isfile(paths[-1])


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_console_script_help(venv, tmp_path, script):
    result = _run(venv, script, "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: {script} ")
    for text in SCRIPTS[script]:
        assert text in result.stdout, text


@pytest.mark.slow
def test_train_export_sample_round_trip(venv, tmp_path):
    run = tmp_path / "run"
    overrides = [arg for item in TINY for arg in ("--set", item)]
    result = _run(
        venv,
        "pixelrnn-train",
        "--config",
        "digits",
        "--workdir",
        "run",
        *overrides,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "independent per pixel" in result.stdout
    assert (run / "model.keras").is_file()

    result = _run(
        venv,
        "pixelrnn-export",
        "--workdir",
        "run",
        "--base",
        "exports/pixelrnn",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert (
        tmp_path / "exports" / "pixelrnn" / "1" / "saved_model.pb"
    ).is_file()

    result = _run(
        venv,
        "pixelrnn-sample",
        "--workdir",
        "run",
        "--num",
        "4",
        "--scale",
        "1",
        "--out",
        "samples.png",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    png = (tmp_path / "samples.png").read_bytes()
    assert png.startswith(b"\x89PNG")
