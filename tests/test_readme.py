"""The README's quick start runs as written."""

import pathlib
import re

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def test_readme_quick_start_runs(tmp_path, monkeypatch):
    text = README.read_text()
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    namespace = {}
    exec(compile(code, "README.md", "exec"), namespace)
    assert (tmp_path / "model.keras").is_file()
    assert namespace["logits"].shape == (64, 8, 8, 3, 16)


def test_readme_levels_example_runs(tmp_path, monkeypatch):
    import numpy as np
    import tensorflow_datasets as tfds

    text = README.read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    code = next(block for block in blocks if "prt.to_levels" in block)
    monkeypatch.chdir(tmp_path)
    images = np.random.default_rng(0).integers(0, 256, (8, 28, 28, 1))
    np.savez(tmp_path / "x_train.npz", images=images.astype("uint8"))
    namespace = {"prt": __import__("pixelrnn_tf")}
    mnist, npz = code.split("from pixelrnn_tf.npz_image_dataset")
    with tfds.testing.mock_data(num_examples=64):  # no download
        exec(compile(mnist, "README.md", "exec"), namespace)
    npz = "from pixelrnn_tf.npz_image_dataset" + npz
    exec(compile(npz, "README.md", "exec"), namespace)
    pixels = np.asarray(namespace["pixels"])
    assert pixels.shape == (4, 28, 28, 1) and pixels.dtype == np.uint8
    assert set(np.unique(pixels)) <= {0, 85, 170, 255}
    first = next(iter(namespace["ds"]))
    np.testing.assert_array_equal(first["image"], images[0])


def test_readme_class_conditional_example_runs(tmp_path, monkeypatch):
    import numpy as np

    text = README.read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    code = next(block for block in blocks if "num_classes=10" in block)
    monkeypatch.chdir(tmp_path)
    namespace = {"prt": __import__("pixelrnn_tf"), "np": np}
    exec(compile(code, "README.md", "exec"), namespace)
    assert namespace["model"].num_classes == 10


def test_readme_multi_scale_example_runs(tmp_path, monkeypatch):
    import numpy as np

    text = README.read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    code = next(block for block in blocks if "multi_scale_factor=2" in block)
    monkeypatch.chdir(tmp_path)
    namespace = {"prt": __import__("pixelrnn_tf"), "np": np}
    exec(compile(code, "README.md", "exec"), namespace)
    assert type(namespace["model"]).__name__ == "MultiScalePixelRNN"
