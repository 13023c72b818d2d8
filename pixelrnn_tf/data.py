"""tf.data input pipelines: images in, batches of integer levels out.

`load_split` reads one split of a source named by `DataConfig.source` as an
unbatched dataset of uint8 images (H, W, C) plus the top level of the raw
data. `make_dataset` turns that into the batches the models train on:

    cache -> shuffle -> batch -> quantise -> prefetch

The model is its own target, so the batches hold images only, never
(x, y) pairs. Sources:

- `digits`: scikit-learn's 1797 8x8 digits, 17 levels (0..16).
- `npz:<path>`: an .npz file with `images` uint8 (N, H, W[, C]); a `{split}`
  in the path is replaced by the split name.
- `tfds:<name>[/<config>]`: any TFDS data set (offline: prepared in
  `data_dir`, or a builder such as `NpzImageDataset` that prepares itself).
- `folder:<path>`: `<path>/<split>/<label>/*.png` through TFDS's ImageFolder.
"""

import importlib
import logging
import os

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds
from tensorflow_datasets.core.download import downloader

from pixelrnn_tf import levels

logger = logging.getLogger(__name__)

DIGITS_SPLITS = {"train": slice(0, 1500), "test": slice(1500, None)}
DIGITS_SPLITS["validation"] = DIGITS_SPLITS["test"]
DIGITS_MAX_LEVEL = 16
# TFDS data sets whose images are already 0/1 (all others: 8-bit, 255).
BINARY_TFDS = ("binarized_mnist",)
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")


def load_split(config, split, *, shuffle_files=False):
    """One split as an unbatched dataset of uint8 images, and its max level.

    Args:
        config: `DataConfig`.
        split: str. Split name, e.g. `"train"` or `"test"`.
        shuffle_files: bool. Let TFDS shuffle its files (tfds and folder
            sources; `make_dataset` shuffles examples in any case).

    Returns:
        `(dataset, max_level)`: elements are uint8 tensors (H, W, C), or
        with `config.labels` dicts `{"images": (H, W, C) uint8, "labels":
        int32 ()}`; `max_level` is the top raw value (255 for 8-bit data,
        16 for digits, 1 for data that is already binary).
    """
    source = config.source
    if source == "digits" or source.startswith("npz:"):
        images, labels, max_level = _in_memory(config, split)
        ds = tf.data.Dataset.from_tensor_slices(
            {"images": images, "labels": labels} if config.labels else images
        )
    else:
        if source.startswith("tfds:"):
            ds, max_level = _tfds(config, split, shuffle_files)
        else:
            root = source[len("folder:") :]
            ds, max_level = _folder(config, root, split, shuffle_files), 255
        if config.max_examples is not None:
            ds = ds.take(config.max_examples)
    if config.max_level is not None:
        max_level = config.max_level  # the user knows the data's range
    logger.info("Loaded %s split %r (max level %d)", source, split, max_level)
    return ds, max_level


def _in_memory(config, split):
    """NumPy images of a `digits` or `npz:` split, their labels (int32,
    or None unless `config.labels`) and their max level."""
    n = config.max_examples
    if config.source == "digits":
        images, labels = _digits(split)
        return images[:n], labels[:n].astype("int32"), DIGITS_MAX_LEVEL
    path = npz_split_path(config.source, split)
    images, labels = read_npz(path, config.source)
    if config.labels:
        labels = _npz_labels(labels, len(images), path)[:n]
    images = images[:n]
    top = int(images.max()) if images.size else 0
    if config.max_level is not None and top > config.max_level:
        raise ValueError(
            f"{path!r} holds values up to {top}, above data.max_level. "
            f"Received: max_level={config.max_level}"
        )
    return images, labels, 1 if top <= 1 else 255


def _npz_labels(labels, count, path):
    """An .npz file's `labels`: whole numbers, one per image, as int32."""
    if (
        labels is None
        or labels.shape != (count,)
        or not np.issubdtype(labels.dtype, np.integer)
        or (labels.size and labels.min() < 0)
    ):
        received = None if labels is None else (labels.dtype, labels.shape)
        raise ValueError(
            f"data.labels needs a `labels` array of {count} non-negative "
            f"integers in {str(path)!r}. Received: {received}"
        )
    return labels.astype("int32")


def _digits(split):
    """scikit-learn's 8x8 digits (0..16) as uint8 (N, 8, 8, 1), and the
    digits they show (N,)."""
    if split not in DIGITS_SPLITS:
        raise ValueError(
            f"Unknown split for source 'digits'. Valid splits: "
            f"{sorted(DIGITS_SPLITS)}. Received: split={split!r}"
        )
    try:  # the demo extra: scikit-learn ships the data set
        from sklearn.datasets import load_digits
    except ImportError:
        raise ValueError(
            "The 'digits' data set comes with scikit-learn: pip install "
            "'pixelrnn_tf[demo]'. Received: source='digits'"
        ) from None
    digits = load_digits()
    images = digits.images.astype(np.uint8)[..., None]
    order = np.random.default_rng(0).permutation(len(images))  # fixed split
    order = order[DIGITS_SPLITS[split]]
    return images[order], digits.target[order]


def npz_split_path(source, split):
    """The file behind `npz:<path>` for `split`.

    A `{split}` in the path is replaced by the split name. Otherwise the file
    itself is the "train" split, and another split lives in the sibling file
    whose name has "train" replaced by the split name.
    """
    path = source[len("npz:") :]
    if "{split}" in path:
        return path.replace("{split}", split)
    if split == "train":
        return path
    folder, name = os.path.split(path)
    sibling = os.path.join(folder, name.replace("train", split))
    if "train" not in name or not os.path.exists(sibling):
        raise ValueError(
            f"No .npz file for split {split!r}: looked for {sibling!r}. Name "
            "the files with '{split}' in the source path, e.g. "
            f"'npz:/data/images_{{split}}.npz'. Received: source={source!r}"
        )
    return sibling


def read_npz(path, source=None):
    """`images` as uint8 (N, H, W, C) and `labels` (or None) of an .npz file."""
    received = f"source={source!r}" if source else f"path={str(path)!r}"
    if not os.path.isfile(path):
        raise ValueError(f"File {str(path)!r} not found. Received: {received}")
    with np.load(path) as npz:
        if "images" not in npz:
            raise ValueError(
                f"{str(path)!r} has no `images` array (arrays: "
                f"{sorted(npz.files)}). Received: {received}"
            )
        images = npz["images"]
        labels = npz["labels"] if "labels" in npz else None
    if images.dtype != np.uint8 or images.ndim not in (3, 4):
        raise ValueError(
            f"`images` in {str(path)!r} must be uint8 with shape (N, H, W) or "
            f"(N, H, W, C). Received: dtype={images.dtype}, "
            f"shape={images.shape}"
        )
    return (images[..., None] if images.ndim == 3 else images), labels


def _tfds(config, split, shuffle_files):
    """`tfds.load` that fails in seconds with a ValueError when it can't."""
    name = config.source[len("tfds:") :]
    for module in config.imports:  # e.g. a module defining a builder
        try:
            importlib.import_module(module)
        except ImportError as err:
            raise ValueError(
                f"Could not import {module!r} ({err}). "
                f"Received: imports={config.imports}"
            ) from err
    max_retries, downloader.MAX_RETRIES = downloader.MAX_RETRIES, 0
    try:  # no retries: offline, fail in seconds rather than after ~200 s
        ds = tfds.load(
            name,
            split=split,
            data_dir=config.data_dir,
            download=config.download,
            shuffle_files=shuffle_files,
        )
    except Exception as err:  # any failure to get the data: one clear line
        reason = (str(err).strip().splitlines() or [""])[0]
        if isinstance(err, ImportError):  # TFDS downloads import more
            reason += "; pip install the module, or use download=False"
        raise ValueError(
            f"Could not load TFDS data set {name!r}, split {split!r} "
            f"({type(err).__name__}: {reason}). Received: "
            f"source={config.source!r}, data_dir={config.data_dir!r}, "
            f"download={config.download}"
        ) from err
    finally:
        downloader.MAX_RETRIES = max_retries
    return _select_image(ds, config), _tfds_max_level(name)


def _select_image(ds, config, image_key=None, label_key=None):
    """The images of TFDS examples, or with `config.labels` dicts of
    images and int32 labels."""
    image_key = image_key or config.image_key
    label_key = label_key or config.label_key
    spec = ds.element_spec
    keys = sorted(spec) if isinstance(spec, dict) else None
    for key, name in ((image_key, "image_key"), (label_key, "label_key")):
        if name == "label_key" and not config.labels:
            continue
        if keys is None or key not in spec:
            raise ValueError(
                f"The TFDS examples have no feature {key!r} (features: "
                f"{keys}). Received: {name}={key!r}"
            )
    if spec[image_key].dtype != tf.uint8:
        raise ValueError(
            f"Feature {image_key!r} must be uint8 images. Received: "
            f"dtype={spec[image_key].dtype.name}"
        )
    if not config.labels:
        return ds.map(lambda example: example[image_key])
    return ds.map(
        lambda example: {
            "images": example[image_key],
            "labels": tf.cast(example[label_key], tf.int32),
        }
    )


def _tfds_max_level(name):
    base = name.split("/")[0].split(":")[0]
    return 1 if base in BINARY_TFDS else 255


def _folder(config, root, split, shuffle_files):
    """`<root>/<split>/<label>/<image>` through `tfds.folder_dataset`."""
    received = f"Received: source={'folder:' + root!r}, split={split!r}"
    if not os.path.isdir(root):
        raise ValueError(f"Image folder {root!r} not found. {received}")
    files = sorted(
        path
        for path in tf.io.gfile.glob(os.path.join(root, split, "*", "*"))
        if path.lower().endswith(IMAGE_EXTENSIONS)
    )
    if not files:
        splits = sorted(tf.io.gfile.listdir(root))
        raise ValueError(
            f"No images in {os.path.join(root, split, '<label>')!r} "
            f"(folders: {splits}). {received}"
        )
    # Keep the files' own channel count: gray stays (H, W, 1).
    first = tf.io.decode_image(
        tf.io.read_file(files[0]), expand_animations=False
    )
    channels = 1 if first.shape[-1] in (1, 2) else 3
    builder = tfds.folder_dataset.ImageFolder(
        root, shape=(None, None, channels)
    )
    ds = builder.as_dataset(split=split, shuffle_files=shuffle_files)
    return _select_image(ds, config, "image", "label")


def quantise(images, raw_max_level, num_levels, binarize="none", seed=None):
    """Raw values in [0, raw_max_level] -> int32 levels in [0, num_levels).

    Works on one image or a batch.

    - "none": `levels.to_levels`, floor(x * num_levels / (raw_max_level + 1)),
      the identity when num_levels == raw_max_level + 1 (e.g. 256 -> 4
      levels is x // 64).
    - "static": the data is already 0/1; checked, returned as is.
    - "dynamic": x ~ Bernoulli(value / raw_max_level). With `seed` (a shape
      (2,) int tensor) the draw is stateless: the same seed gives the same
      bits; `make_dataset` feeds a new seed per batch and epoch. Without a
      seed it uses a stateful `tf.random.uniform`.
    """
    check_levels(raw_max_level, num_levels, binarize)
    if binarize != "dynamic":  # static: 0/1 data, to_levels's identity
        return levels.to_levels(images, num_levels, raw_max_level)
    x = tf.cast(images, tf.int32)
    check = tf.debugging.assert_less_equal(
        x, raw_max_level, message=f"Image values above {raw_max_level}"
    )
    with tf.control_dependencies([check] if check is not None else []):
        x = tf.identity(x)
    shape = tf.shape(x)
    if seed is None:
        noise = tf.random.uniform(shape)
    else:
        noise = tf.random.stateless_uniform(shape, seed=seed)
    probs = tf.cast(x, tf.float32) / raw_max_level
    return tf.cast(noise < probs, tf.int32)


def check_levels(raw_max_level, num_levels, binarize):
    """Raise unless `quantise` maps this data onto the model's levels."""
    if binarize not in ("none", "static", "dynamic"):
        raise ValueError(
            "`binarize` must be 'none', 'static' or 'dynamic'. "
            f"Received: binarize={binarize!r}"
        )
    received = (
        f"Received: num_levels={num_levels}, binarize={binarize!r}, data "
        f"max level={raw_max_level}"
    )
    if binarize in ("static", "dynamic") and num_levels != 2:
        raise ValueError(
            f"binarize={binarize!r} gives 0/1 images: the model needs "
            f"num_levels=2. {received}"
        )
    if binarize == "static" and raw_max_level != 1:
        raise ValueError(
            "binarize='static' needs data that is already 0/1; use "
            f"'dynamic' to binarize 8-bit data. {received}"
        )
    if binarize == "none" and not 2 <= num_levels <= raw_max_level + 1:
        raise ValueError(
            f"The data has {raw_max_level + 1} levels, so the model needs "
            f"2 <= num_levels <= {raw_max_level + 1}. {received}"
        )


def check_image_shape(ds, image_shape, split):
    """Raise unless the images of `ds` have shape `image_shape`."""
    spec = ds.element_spec
    spec = spec["images"] if isinstance(spec, dict) else spec
    shape = tuple(spec.shape)
    if None in shape:  # e.g. image folders: peek at the first image
        first = next(iter(ds.take(1)), None)
        if first is None:
            raise ValueError(f"The split is empty. Received: split={split!r}")
        first = first["images"] if isinstance(first, dict) else first
        shape = tuple(first.shape)
    if shape != tuple(image_shape):
        raise ValueError(
            f"The model expects images of shape {tuple(image_shape)}. "
            f"Received: images of shape {shape} in split {split!r}"
        )


def make_dataset(
    config, split, image_shape, num_levels, batch_size, training, seed=0
):
    """Batches (B, H, W, C) of int32 levels in [0, num_levels) for `fit`,
    or with `config.labels` dicts of them ("images") and their int32
    "labels" (B,), the inputs of a class-conditional model.

    Checks the image shape and levels first and raises a ValueError on a
    mismatch. Training batches are shuffled (reshuffled every epoch) and
    drop the remainder; evaluation keeps every image, in order. The raw
    images are cached (`config.cache`) before `quantise`, so a dynamic
    binarization draws new bits every epoch (`tf.data.Dataset.random` with
    `rerandomize_each_iteration`); for evaluation the bits stay fixed.
    """
    shuffle_files = training and config.max_examples is None
    ds, raw_max_level = load_split(config, split, shuffle_files=shuffle_files)
    check_image_shape(ds, image_shape, split)
    check_levels(raw_max_level, num_levels, config.binarize)
    if config.cache:
        ds = ds.cache()
    if training:
        ds = ds.shuffle(
            config.shuffle_buffer, seed=seed, reshuffle_each_iteration=True
        )
    ds = ds.batch(batch_size, drop_remainder=training)
    levels_of = dict(
        raw_max_level=raw_max_level,
        num_levels=num_levels,
        binarize=config.binarize,
    )
    if config.binarize == "dynamic":
        seeds = tf.data.Dataset.random(
            seed=seed, rerandomize_each_iteration=training
        )
        ds = tf.data.Dataset.zip(ds, seeds).map(
            lambda x, s: _on_images(
                x, quantise, seed=tf.stack([s, seed]), **levels_of
            ),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    else:
        ds = ds.map(
            lambda x: _on_images(x, quantise, **levels_of),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    return ds.prefetch(tf.data.AUTOTUNE)


def _on_images(element, fn, **kwargs):
    """`fn` on the images of an element (images, or a dict with them)."""
    if isinstance(element, dict):
        return {**element, "images": fn(element["images"], **kwargs)}
    return fn(element, **kwargs)
