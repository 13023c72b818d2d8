"""A TFDS builder that turns local .npz image files into a TFDS data set.

Each split comes from one .npz file with `images` (uint8, (N, H, W) or
(N, H, W, C)) and, optionally, `labels` (integer class ids). Preparing reads
only local files, so it works offline, and the prepared data set then loads
like any other TFDS data set.

Either give the files to the constructor, prepare, and load by name:

    builder = NpzImageDataset(
        paths={"train": "a_train.npz", "test": "a_test.npz"},
        data_dir="/tmp/tfds",
    )
    builder.download_and_prepare()
    ds = tfds.load("npz_image_dataset", split="test", data_dir="/tmp/tfds")

or register a named data set with a subclass in a module listed in
`DataConfig.imports`; `source="tfds:my_digits"` then prepares it on first
use (with `download=True`; nothing is downloaded):

    class MyDigits(NpzImageDataset):
        BUILDER_CONFIGS = [
            NpzImageConfig(name="default", paths={"train": "a_train.npz"})
        ]

The examples keep the order of the files (`disable_shuffling`), so the first
N examples are the same through `tfds:` as through `npz:`.
"""

import dataclasses
import inspect

import numpy as np
import tensorflow_datasets as tfds
from etils import epath

from pixelrnn_tf.data import read_npz


@dataclasses.dataclass
class NpzImageConfig(tfds.core.BuilderConfig):
    """A named data set: `paths` maps each split name to its .npz file."""

    paths: dict[str, str] = dataclasses.field(default_factory=dict)


class NpzImageDataset(tfds.core.GeneratorBasedBuilder):
    """Images (and labels) from one .npz file per split.

    Features: `image`, `tfds.features.Image` of the files' (H, W, C); and
    `label`, a `ClassLabel`, when every file has `labels`.

    Args:
        paths: dict split name -> .npz path. Needed to prepare the data;
            not needed to load data that is already prepared in `data_dir`
            (the features are then read back from there). A subclass can
            give the paths in `BUILDER_CONFIGS` instead.
        **kwargs: `tfds.core.GeneratorBasedBuilder` arguments (`data_dir`,
            `config`, `version`).
    """

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First release."}

    def __init__(self, *, paths=None, **kwargs):
        self._paths = dict(paths) if paths else None
        super().__init__(**kwargs)

    @tfds.core.utils.classproperty
    @classmethod
    def code_path(cls):
        """The file defining the class.

        TFDS's own lookup imports `importlib_resources` for builders in a
        package, and TFDS 4.9 does not declare that dependency.
        """
        try:
            return epath.Path(inspect.getfile(cls))
        except (TypeError, OSError):  # e.g. a class defined in a notebook
            return None

    @property
    def paths(self):
        """dict split -> .npz path (None when loading prepared data)."""
        if self._paths is None and self.builder_config is not None:
            return dict(self.builder_config.paths) or None
        return self._paths

    def _info(self):
        # DatasetInfo directly: `dataset_info_from_configs` fails outside
        # TFDS's own modules. Without paths the features stay None and TFDS
        # reads them back from the prepared folder (features.json).
        return tfds.core.DatasetInfo(
            builder=self,
            description="Images from local .npz files.",
            features=self._features() if self.paths else None,
            supervised_keys=None,
            disable_shuffling=True,
        )

    def _features(self):
        arrays = [read_npz(path) for path in self.paths.values()]
        shapes = {images.shape[1:] for images, _ in arrays}
        if len(shapes) != 1:
            raise ValueError(
                "All splits must have images of one shape. "
                f"Received: shapes {sorted(shapes)} for paths={self.paths}"
            )
        features = {"image": tfds.features.Image(shape=shapes.pop())}
        if all(labels is not None for _, labels in arrays):
            top = max(int(labels.max(initial=0)) for _, labels in arrays)
            features["label"] = tfds.features.ClassLabel(num_classes=top + 1)
        return tfds.features.FeaturesDict(features)

    def _split_generators(self, dl_manager):
        del dl_manager  # local files only: nothing to download
        if not self.paths:
            raise ValueError(
                f"{type(self).__name__} needs `paths` (split -> .npz file) to "
                "prepare the data set. Received: paths=None"
            )
        return {
            split: self._generate_examples(path)
            for split, path in self.paths.items()
        }

    def _generate_examples(self, path):
        images, labels = read_npz(path)
        with_labels = "label" in self.info.features
        for i, image in enumerate(images):
            example = {"image": image}
            if with_labels:
                example["label"] = np.int64(labels[i])
            yield i, example
