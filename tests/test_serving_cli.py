"""`python -m serving export | serve | sample`, end to end on 127.0.0.1."""

import os
import signal
import socket
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

import pixelrnn_tf as prt
from pixelrnn_tf import images

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONUNBUFFERED": "1"}


def _cli(*args, timeout=120, module="serving"):
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=timeout,
    )


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_export_serve_and_sample_through_the_cli(tmp_path):
    model = prt.build_model(  # 17 levels, as the digits demo
        prt.ModelConfig(architecture="pixel_cnn", image_shape=(4, 4, 1),
                        num_levels=17, hidden_dim=4, num_layers=1)
    )
    model.save(tmp_path / "model.keras")
    base = tmp_path / "exports" / "pixelrnn"
    result = _cli("export", "--workdir", str(tmp_path), "--base", str(base))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith(os.path.join("pixelrnn", "1"))

    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "serving", "serve", "--base", str(base),
         "--port", str(port)],
        cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        text=True, start_new_session=True,
    )
    try:
        line = server.stdout.readline()  # printed once it is ready
        assert f"127.0.0.1:{port}" in line, line
        out = tmp_path / "served.png"
        result = _cli("sample", "--server", f"127.0.0.1:{port}", "--num", "4",
                      "--scale", "1", "--out", str(out))
        assert result.returncode == 0, result.stderr
        png = tf.io.decode_png(tf.io.read_file(str(out))).numpy()
        # The server told the client its 17 levels: level 16 is white, not
        # the near-black 16/255 of a 256-level reading.
        levels = prt.sample(model, 4, seed=0)  # what the server samples
        expected = images.make_grid(prt.to_pixels(levels, 17))
        np.testing.assert_array_equal(png, expected)
        assert png.shape == (11, 11, 1) and png.max() == 255
        result = _cli("--server", f"127.0.0.1:{port}", "--model", "nope",
                      "--out", str(out), module="train.sample")
        assert result.returncode == 2
        last = result.stderr.strip().splitlines()[-1]
        assert last.startswith("error: NOT_FOUND: ") and "'nope'" in last
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


@pytest.mark.slow
def test_sample_cli_labels_of_a_class_conditional_model(tmp_path):
    from serving.export import export_for_serving
    from serving.server import serve

    model = prt.build_model(
        prt.ModelConfig(architecture="pixel_cnn", image_shape=(3, 3, 1),
                        num_levels=4, hidden_dim=4, num_layers=1,
                        num_classes=3)
    )
    export_for_serving(model, str(tmp_path / "pixelrnn"))
    out, rows = tmp_path / "class_2.png", tmp_path / "rows.png"
    with serve(str(tmp_path / "pixelrnn"), port=0) as server:
        target = f"127.0.0.1:{server.port}"
        result = _cli("sample", "--server", target, "--num", "2",
                      "--label", "2", "--scale", "1", "--out", str(out))
        assert result.returncode == 0, result.stderr
        every = _cli("--server", target, "--num", "3", "--scale", "1",
                     "--out", str(rows), module="train.sample")
        assert every.returncode == 0, every.stderr
        wrong = _cli("sample", "--server", target, "--label", "3",
                     "--out", str(out))
    png = tf.io.decode_png(tf.io.read_file(str(out))).numpy()
    levels = prt.sample(model, 2, seed=0, labels=2)
    expected = images.make_grid(prt.to_pixels(levels, 4))
    np.testing.assert_array_equal(png, expected)
    # without --label: every class in order, one row each
    png = tf.io.decode_png(tf.io.read_file(str(rows))).numpy()
    levels = prt.sample(model, 3, seed=0, labels=[0, 1, 2])
    expected = images.make_grid(prt.to_pixels(levels, 4), columns=1)
    np.testing.assert_array_equal(png, expected)
    assert wrong.returncode == 2
    lines = wrong.stderr.strip().splitlines()
    assert lines[-1].startswith("error: ")
    assert "Received: a label of 3" in lines[-1]
    assert not any("Traceback" in line for line in lines)


def test_export_cli_rejects_a_missing_run(tmp_path):
    result = _cli("export", "--workdir", str(tmp_path), "--base",
                  str(tmp_path / "e"))
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and "Received: --workdir" in last
    assert not (tmp_path / "e").exists()
