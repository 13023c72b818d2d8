"""The package as a user meets it: the import itself."""

import os
import subprocess
import sys


def test_import_under_another_keras_backend_fails_in_one_line():
    env = {**os.environ, "KERAS_BACKEND": "numpy", "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(
        [sys.executable, "-c", "import pixelrnn_tf"],
        capture_output=True, text=True, timeout=120, env=env,
    )
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last == (
        "ImportError: pixelrnn_tf needs Keras on the TensorFlow backend: set "
        "KERAS_BACKEND=tensorflow. Received: KERAS_BACKEND='numpy'"
    )
