"""The input pipelines of `pixelrnn_tf.data` and the NpzImageDataset builder.

Offline only: TFDS through `tfds.testing.mock_data`, npz files and image
folders written to `tmp_path`, and the real-data subsets in `tests/data/`.
"""

import hashlib
import textwrap
import time

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

import pixelrnn_tf as prt
from pixelrnn_tf import data
from pixelrnn_tf.config import DataConfig
from pixelrnn_tf.npz_image_dataset import NpzImageDataset


def _write_npz(path, images, labels=None):
    arrays = {"images": images}
    if labels is not None:
        arrays["labels"] = labels
    np.savez(path, **arrays)
    return path


def _random_images(shape, seed=0, high=256):
    return np.random.default_rng(seed).integers(0, high, shape, np.uint8)


def _batches(ds):
    return [batch for batch in ds.as_numpy_iterator()]


def _as_set(images):
    return sorted(image.tobytes() for image in images.astype(np.uint8))


@pytest.fixture
def npz_pair(tmp_path):
    """train/test npz files of 4x5 RGB images with labels."""
    train = _random_images((10, 4, 5, 3), seed=1)
    test = _random_images((3, 4, 5, 3), seed=2)
    _write_npz(tmp_path / "tiny_train.npz", train, np.arange(10) % 4)
    _write_npz(tmp_path / "tiny_test.npz", test, np.arange(3))
    return tmp_path, train, test


# === Sources ===


def test_digits_source_shapes_levels_and_splits():
    config = DataConfig(source="digits")
    train, max_level = data.load_split(config, "train")
    test, _ = data.load_split(config, "test")
    assert max_level == 16
    assert train.element_spec == tf.TensorSpec((8, 8, 1), tf.uint8)
    train_images = np.stack(list(train.as_numpy_iterator()))
    assert len(train_images) == 1500 and train.cardinality() == 1500
    assert test.cardinality() == 1797 - 1500
    assert train_images.max() == 16
    validation = np.stack(list(data.load_split(config, "validation")[0]))
    np.testing.assert_array_equal(validation, np.stack(list(test)))
    with pytest.raises(ValueError, match="Valid splits.*Received: split="):
        data.load_split(config, "dev")


def test_npz_source_batches_and_levels(npz_pair):
    folder, train, test = npz_pair
    config = DataConfig(source=f"npz:{folder}/tiny_train.npz")
    ds = data.make_dataset(config, "train", (4, 5, 3), 4, 4, training=True)
    assert ds.element_spec == tf.TensorSpec((4, 4, 5, 3), tf.int32)
    batches = _batches(ds)
    assert len(batches) == 2  # 10 images, drop_remainder
    values = np.concatenate(batches)
    assert values.min() >= 0 and values.max() == 3
    # Evaluation keeps the remainder and the order; the test split is the
    # sibling file with "train" replaced.
    ds = data.make_dataset(config, "test", (4, 5, 3), 4, 2, training=False)
    batches = _batches(ds)
    assert [len(b) for b in batches] == [2, 1]
    np.testing.assert_array_equal(np.concatenate(batches), test // 64)


def test_npz_split_pattern_and_max_examples(npz_pair):
    folder, train, _ = npz_pair
    config = DataConfig(
        source=f"npz:{folder}/tiny_{{split}}.npz", max_examples=7
    )
    ds, max_level = data.load_split(config, "train")
    assert max_level == 255
    np.testing.assert_array_equal(np.stack(list(ds)), train[:7])


def test_npz_grayscale_without_channel_axis(tmp_path):
    images = _random_images((6, 3, 3))
    _write_npz(tmp_path / "gray.npz", images)
    ds, _ = data.load_split(
        DataConfig(source=f"npz:{tmp_path}/gray.npz"), "train"
    )
    assert ds.element_spec.shape == (3, 3, 1)
    np.testing.assert_array_equal(np.stack(list(ds))[..., 0], images)


@pytest.mark.parametrize(
    "raw_max_level, num_levels", [(255, 256), (255, 4), (16, 17), (16, 5)]
)
def test_to_levels_quantises_with_floor_bins(raw_max_level, num_levels):
    x = np.arange(raw_max_level + 1, dtype=np.uint8)
    levels = prt.to_levels(x, num_levels, raw_max_level).numpy()
    expected = np.floor(x.astype(int) * num_levels / (raw_max_level + 1))
    np.testing.assert_array_equal(levels, expected)
    assert levels.max() == num_levels - 1
    assert np.all(np.bincount(levels) > 0)  # every level is used
    # the pipeline's quantisation is the same
    np.testing.assert_array_equal(
        data.quantise(x, raw_max_level, num_levels).numpy(), levels
    )


@pytest.mark.parametrize("max_level", [255, 16, 1, 1023])
def test_to_pixels_spans_the_range_and_inverts_to_levels(max_level):
    for num_levels in range(2, max_level + 2):
        levels = np.arange(num_levels)
        pixels = prt.to_pixels(levels, num_levels, max_level).numpy()
        assert pixels[0] == 0 and pixels[-1] == max_level
        assert np.all(np.diff(pixels.astype(int)) > 0)
        linear = levels * max_level / (num_levels - 1)
        assert np.abs(pixels - linear).max() <= max_level / num_levels
        back = prt.to_levels(pixels, num_levels, max_level).numpy()
        np.testing.assert_array_equal(back, levels)
    expected = "uint8" if max_level <= 255 else "int32"
    assert prt.to_pixels(levels, num_levels, max_level).dtype == expected


def test_levels_and_pixels_reject_bad_input():
    with pytest.raises(ValueError, match="Received: values in \\[0, 256\\]"):
        prt.to_levels(np.array([0, 256]), 4)
    with pytest.raises(ValueError, match="Received: values in \\[-1, 3\\]"):
        prt.to_pixels(np.array([-1, 3]), 4)
    with pytest.raises(ValueError, match="Received: values in \\[0, 4\\]"):
        prt.to_pixels(np.array([0, 4]), 4)
    with pytest.raises(ValueError, match="Received: num_levels=257"):
        prt.to_levels(np.zeros(3), 257)
    with pytest.raises(ValueError, match="Received: num_levels=4.0"):
        prt.to_pixels(np.zeros(3), 4.0)
    # in a graph (a tf.data map) the values are checked when it runs
    ds = tf.data.Dataset.from_tensor_slices([[0, 300]]).map(
        lambda x: prt.to_levels(x, 4)
    )
    with pytest.raises(tf.errors.InvalidArgumentError, match="above 255"):
        list(ds)


def test_static_binarization_of_binarized_mnist(binarized_mnist, tmp_path):
    expected = binarized_mnist["valid"][:100]
    np.savez(tmp_path / "binarized_mnist_valid.npz", images=expected)
    config = DataConfig(
        source=f"npz:{tmp_path}/binarized_mnist_{{split}}.npz",
        binarize="static",
        max_examples=100,
    )
    assert data.load_split(config, "valid")[1] == 1
    ds = data.make_dataset(config, "valid", (28, 28, 1), 2, 32, training=False)
    batches = _batches(ds)
    assert [len(b) for b in batches] == [32, 32, 32, 4]
    np.testing.assert_array_equal(np.concatenate(batches), expected)


def test_dynamic_binarization_resamples_each_epoch(tmp_path):
    images = np.full((8, 6, 6, 1), 128, np.uint8)  # p = 128/255 per pixel
    _write_npz(tmp_path / "gray_train.npz", images)
    config = DataConfig(
        source=f"npz:{tmp_path}/gray_train.npz",
        binarize="dynamic",
        shuffle_buffer=1,  # keep the order: only the bits may change
    )
    make = data.make_dataset
    ds = make(config, "train", (6, 6, 1), 2, 4, training=True, seed=3)
    epoch_1, epoch_2 = _batches(ds), _batches(ds)
    assert set(np.unique(epoch_1)) == {0, 1}
    assert 0.35 < np.mean(epoch_1) < 0.65
    assert not np.array_equal(epoch_1, epoch_2)
    again = make(config, "train", (6, 6, 1), 2, 4, training=True, seed=3)
    np.testing.assert_array_equal(_batches(again), epoch_1)  # reproducible
    # Evaluation data stays fixed from epoch to epoch.
    ds = make(config, "train", (6, 6, 1), 2, 4, training=False, seed=3)
    np.testing.assert_array_equal(_batches(ds), _batches(ds))


def test_folder_source_reads_pngs(tmp_path):
    images = _random_images((5, 6, 7, 1), seed=4)
    for i, image in enumerate(images):
        for split in ("train", "test"):
            label_dir = tmp_path / "pngs" / split / f"class_{i % 2}"
            label_dir.mkdir(parents=True, exist_ok=True)
            png = tf.io.encode_png(image).numpy()
            (label_dir / f"{i}.png").write_bytes(png)
    config = DataConfig(source=f"folder:{tmp_path}/pngs")
    ds, max_level = data.load_split(config, "test")
    assert max_level == 255
    assert ds.element_spec == tf.TensorSpec((None, None, 1), tf.uint8)
    ds = data.make_dataset(config, "train", (6, 7, 1), 256, 2, training=False)
    read = np.concatenate(_batches(ds))
    assert read.shape == (5, 6, 7, 1)
    # ImageFolder shuffles the files: compare as sets of images.
    assert _as_set(read) == _as_set(images)
    with pytest.raises(ValueError, match=r"\(6, 6, 1\).*Received.*\(6, 7, 1\)"):
        data.make_dataset(config, "train", (6, 6, 1), 256, 2, training=False)


def test_tfds_source_under_mock_data():
    config = DataConfig(source="tfds:mnist", shuffle_buffer=16)
    with tfds.testing.mock_data(
        num_examples=8, policy=tfds.testing.MockPolicy.USE_CODE
    ):
        ds, max_level = data.load_split(config, "train")
        assert max_level == 255
        assert ds.element_spec == tf.TensorSpec((28, 28, 1), tf.uint8)
        train = data.make_dataset(config, "train", (28, 28, 1), 4, 3, True)
        test = data.make_dataset(config, "test", (28, 28, 1), 4, 3, False)
        train_batches, test_batches = _batches(train), _batches(test)
    assert train.element_spec == tf.TensorSpec((3, 28, 28, 1), tf.int32)
    assert [len(b) for b in train_batches] == [3, 3]
    assert [len(b) for b in test_batches] == [3, 3, 2]
    values = np.concatenate(test_batches)
    assert values.min() >= 0 and values.max() <= 3 and values.max() > 0


def test_tfds_binarized_mnist_is_binary_under_mock_data():
    config = DataConfig(source="tfds:binarized_mnist", binarize="static")
    with tfds.testing.mock_data(  # max_value=2: mock pixels in {0, 1}
        num_examples=8, max_value=2, policy=tfds.testing.MockPolicy.USE_CODE
    ):
        assert data.load_split(config, "train")[1] == 1
        ds = data.make_dataset(config, "train", (28, 28, 1), 2, 4, False)
        values = np.concatenate(_batches(ds))
    assert values.shape == (8, 28, 28, 1) and set(np.unique(values)) == {0, 1}
    # The default mock has 8-bit pixels: the run-time check refuses them.
    with tfds.testing.mock_data(
        num_examples=8, policy=tfds.testing.MockPolicy.USE_CODE
    ):
        ds = data.make_dataset(config, "train", (28, 28, 1), 2, 4, False)
        with pytest.raises(tf.errors.InvalidArgumentError, match="above 1"):
            _batches(ds)


def test_tfds_unknown_image_key_under_mock_data():
    config = DataConfig(source="tfds:mnist", image_key="pixels")
    with tfds.testing.mock_data(
        num_examples=8, policy=tfds.testing.MockPolicy.USE_CODE
    ):
        with pytest.raises(ValueError, match="'image', 'label'.*Received"):
            data.load_split(config, "train")


def test_batches_train_a_model():
    config = DataConfig(source="digits")
    ds = data.make_dataset(config, "train", (8, 8, 1), 4, 16, training=True)
    model = prt.build_model(
        prt.ModelConfig(
            architecture="pixel_cnn",
            image_shape=(8, 8, 1),
            num_levels=4,
            hidden_dim=4,
            num_layers=1,
        )
    )
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    history = model.fit(
        ds, steps_per_epoch=4, epochs=2, shuffle=False, verbose=0
    )
    loss = history.history["loss"]
    assert np.isfinite(loss).all() and loss[-1] < np.log(4)


# === The TFDS plug-in ===


def test_npz_image_dataset_round_trip(npz_pair):
    folder, train, test = npz_pair
    tfds_dir = folder / "tfds"
    builder = NpzImageDataset(
        paths={
            "train": folder / "tiny_train.npz",
            "test": folder / "tiny_test.npz",
        },
        data_dir=tfds_dir,
    )
    builder.download_and_prepare()
    assert builder.info.features["image"].shape == (4, 5, 3)
    assert builder.info.splits["train"].num_examples == 10
    # Loaded back by name, without the npz paths: pixel for pixel, in order.
    ds = tfds.load("npz_image_dataset", split="train", data_dir=tfds_dir)
    examples = list(tfds.as_numpy(ds))
    np.testing.assert_array_equal([e["image"] for e in examples], train)
    assert [int(e["label"]) for e in examples] == list(np.arange(10) % 4)
    config = DataConfig(
        source="tfds:npz_image_dataset", data_dir=str(tfds_dir), download=False
    )
    ds = data.make_dataset(config, "test", (4, 5, 3), 256, 8, training=False)
    np.testing.assert_array_equal(np.concatenate(_batches(ds)), test)


def test_npz_image_dataset_subclass_registers_through_imports(
    npz_pair, monkeypatch
):
    folder, train, _ = npz_pair
    module = textwrap.dedent(f"""
        from pixelrnn_tf.npz_image_dataset import NpzImageConfig
        from pixelrnn_tf.npz_image_dataset import NpzImageDataset

        class TinyNpzFaces(NpzImageDataset):
            BUILDER_CONFIGS = [
                NpzImageConfig(
                    name="default",
                    paths={{"train": {str(folder / "tiny_train.npz")!r}}},
                )
            ]
        """)
    (folder / "tiny_npz_faces_module.py").write_text(module)
    monkeypatch.syspath_prepend(str(folder))
    config = DataConfig(
        source="tfds:tiny_npz_faces",
        imports=("tiny_npz_faces_module",),
        data_dir=str(folder / "tfds"),
        download=True,  # prepares from the local npz: no network
        max_examples=6,
    )
    ds = data.make_dataset(config, "train", (4, 5, 3), 256, 6, training=False)
    np.testing.assert_array_equal(np.concatenate(_batches(ds)), train[:6])


def test_npz_image_dataset_needs_paths_to_prepare(tmp_path):
    builder = NpzImageDataset(data_dir=tmp_path)
    with pytest.raises(ValueError, match="needs `paths`.*Received: paths"):
        builder.download_and_prepare()


# === Bad data and bad configurations ===


def test_missing_npz_file(tmp_path):
    source = f"npz:{tmp_path}/nothing_train.npz"
    with pytest.raises(ValueError, match="not found. Received: source="):
        data.load_split(DataConfig(source=source), "train")


def test_missing_npz_split_file(npz_pair):
    folder, _, _ = npz_pair
    config = DataConfig(source=f"npz:{folder}/tiny_train.npz")
    with pytest.raises(ValueError, match="split 'valid'.*Received: source="):
        data.load_split(config, "valid")


@pytest.mark.parametrize(
    "images, received",
    [
        (np.zeros((2, 3, 3, 1), np.float32), "dtype=float32"),
        (np.zeros((2, 9), np.uint8), r"shape=\(2, 9\)"),
    ],
)
def test_npz_with_wrong_dtype_or_rank(tmp_path, images, received):
    _write_npz(tmp_path / "bad.npz", images)
    config = DataConfig(source=f"npz:{tmp_path}/bad.npz")
    with pytest.raises(ValueError, match=f"uint8.*Received: .*{received}"):
        data.load_split(config, "train")


def test_wrong_image_shape_for_the_model(npz_pair):
    folder, _, _ = npz_pair
    config = DataConfig(source=f"npz:{folder}/tiny_train.npz")
    with pytest.raises(ValueError, match=r"\(4, 4, 3\).*Received.*\(4, 5, 3\)"):
        data.make_dataset(config, "train", (4, 4, 3), 256, 2, training=True)


@pytest.mark.parametrize(
    "binarize, num_levels, match",
    [
        ("static", 2, "already 0/1"),  # 8-bit data is not binary
        ("dynamic", 4, "num_levels=2"),
        ("none", 300, "num_levels <= 256"),
    ],
)
def test_levels_that_do_not_fit_the_model(
    npz_pair, binarize, num_levels, match
):
    folder, _, _ = npz_pair
    config = DataConfig(
        source=f"npz:{folder}/tiny_train.npz", binarize=binarize
    )
    with pytest.raises(ValueError, match=match + ".*Received: num_levels="):
        data.make_dataset(config, "train", (4, 5, 3), num_levels, 2, True)


def test_binary_data_with_too_many_levels(tmp_path):
    _write_npz(tmp_path / "bits.npz", _random_images((4, 2, 2, 1), high=2))
    config = DataConfig(source=f"npz:{tmp_path}/bits.npz")
    with pytest.raises(ValueError, match="data max level=1"):
        data.make_dataset(config, "train", (2, 2, 1), 256, 2, training=True)


def test_quantise_checks_values():
    with pytest.raises(ValueError, match="Received: values in \\[0, 7\\]"):
        data.quantise(np.array([0, 1, 7], np.uint8), 1, 2, "static")


@pytest.mark.parametrize("name", ["no_such_dataset_xyz", "mnist"])
def test_unavailable_tfds_dataset_fails_fast(tmp_path, name):
    config = DataConfig(
        source=f"tfds:{name}", data_dir=str(tmp_path), download=False
    )
    start = time.monotonic()
    with pytest.raises(ValueError, match=f"Received: source='tfds:{name}'"):
        data.load_split(config, "train")
    assert time.monotonic() - start < 20


def test_tfds_download_errors_fail_fast_without_retries(monkeypatch):
    from tensorflow_datasets.core.download import downloader

    seen, default = [], downloader.MAX_RETRIES

    def failing_load(*args, **kwargs):
        seen.append(downloader.MAX_RETRIES)
        raise tfds.core.download.DownloadError("Failed to resolve host")

    monkeypatch.setattr(tfds, "load", failing_load)
    config = DataConfig(source="tfds:cifar10", download=True)
    with pytest.raises(ValueError, match="DownloadError: Failed to resolve"):
        data.load_split(config, "train")
    assert seen == [0]  # no retries while loading
    assert downloader.MAX_RETRIES == default  # and then restored


def test_bad_imports_are_reported():
    config = DataConfig(source="tfds:x", imports=("no_such_module_xyz",))
    with pytest.raises(ValueError, match="Received: imports="):
        data.load_split(config, "train")


def test_binarized_mnist_subsets_match_their_checksums(binarized_mnist):
    # tests/data/README.md: the first images of each official split.
    expected = {
        "train": (4000, "1e1f490eb452543ab8df972cc3b2720256fd27615f97150c"),
        "valid": (100, "27a2e7d744317249be693e81cba62cd2788317913ab66d8a"),
        "test": (1000, "630bae33d86232c30b0b764583a560a3223cf2ec088208d4"),
    }
    for split, (count, digest) in expected.items():
        images = binarized_mnist[split]
        assert images.shape == (count, 28, 28, 1) and images.dtype == np.uint8
        assert hashlib.sha256(images.tobytes()).hexdigest().startswith(digest)


def _pairs(ds):
    """(images, labels) of every batch of a labelled dataset."""
    batches = _batches(ds)
    return (
        np.concatenate([b["images"] for b in batches]),
        np.concatenate([b["labels"] for b in batches]),
    )


def test_digits_labels_are_the_digits_shown():
    config = DataConfig(source="digits", labels=True)
    ds = data.make_dataset(config, "test", (8, 8, 1), 17, 64, False)
    images, labels = _pairs(ds)
    assert labels.dtype == np.int32 and set(labels) == set(range(10))
    plain = data.make_dataset(
        DataConfig(source="digits"), "test", (8, 8, 1), 17, 64, False
    )
    np.testing.assert_array_equal(images, np.concatenate(_batches(plain)))
    # Each label's mean image is nearest its own class's mean image.
    means = np.stack([images[labels == k].mean(0) for k in range(10)])
    distances = ((images[:, None] - means[None]) ** 2).sum(axis=(2, 3, 4))
    assert (distances.argmin(1) == labels).mean() > 0.8


def test_npz_labels_pass_through_and_are_checked(tmp_path):
    images = _random_images((6, 3, 3, 1))
    _write_npz(tmp_path / "with.npz", images, np.arange(6) % 3)
    config = DataConfig(source=f"npz:{tmp_path}/with.npz", labels=True)
    ds = data.make_dataset(config, "train", (3, 3, 1), 256, 4, False)
    read_images, labels = _pairs(ds)
    np.testing.assert_array_equal(read_images, images)
    np.testing.assert_array_equal(labels, np.arange(6) % 3)
    _write_npz(tmp_path / "without.npz", images)
    config = DataConfig(source=f"npz:{tmp_path}/without.npz", labels=True)
    with pytest.raises(ValueError, match="needs a `labels` array of 6"):
        data.load_split(config, "train")
    _write_npz(tmp_path / "short.npz", images, np.arange(5))
    config = DataConfig(source=f"npz:{tmp_path}/short.npz", labels=True)
    with pytest.raises(ValueError, match="Received: \\(dtype"):
        data.load_split(config, "train")


def test_folder_labels_are_the_class_folders(tmp_path):
    images = _random_images((6, 4, 4, 1), seed=2)
    for i, image in enumerate(images):
        folder = tmp_path / "pngs" / "train" / f"class_{i % 2}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{i}.png").write_bytes(tf.io.encode_png(image).numpy())
    config = DataConfig(source=f"folder:{tmp_path}/pngs", labels=True)
    ds = data.make_dataset(config, "train", (4, 4, 1), 256, 6, False)
    read, labels = _pairs(ds)
    for image, label in zip(read, labels):
        index = next(i for i in range(6) if np.array_equal(images[i], image))
        assert label == index % 2


def test_tfds_labels_under_mock_data():
    config = DataConfig(source="tfds:mnist", labels=True)
    with tfds.testing.mock_data(
        num_examples=8, policy=tfds.testing.MockPolicy.USE_CODE
    ):
        ds = data.make_dataset(config, "test", (28, 28, 1), 4, 8, False)
        images, labels = _pairs(ds)
        with pytest.raises(ValueError, match="Received: label_key='digit'"):
            data.load_split(config.replace(label_key="digit"), "test")
    assert images.shape == (8, 28, 28, 1) and labels.shape == (8,)
    assert labels.dtype == np.int32 and 0 <= labels.min() <= labels.max() < 10
