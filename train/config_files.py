"""Experiment configs by path or by name (`train/configs/<name>.json`).

The named configs are package data, found with `importlib.resources`, so
they work from an installed package as from a checkout.
"""

import importlib.resources
import os
import pathlib


def _folder():
    return importlib.resources.files("train").joinpath("configs")


def names():
    """The packaged configs' names (file stems), sorted."""
    return sorted(
        entry.name[: -len(".json")]
        for entry in _folder().iterdir()
        if entry.name.endswith(".json")
    )


def locate(config):
    """The file that `--config` names: a file at that path, else the
    packaged config of that name. Raises `ValueError` for neither."""
    if os.path.isfile(config):
        return pathlib.Path(config)
    if config in names():
        return _folder().joinpath(f"{config}.json")
    raise ValueError(
        "--config must be a JSON file or a packaged config name: "
        f"{', '.join(names())}. Received: --config {config}"
    )


def load(config, overrides=()):
    """The `ExperimentConfig` that `--config` names, with `--set` overrides."""
    from pixelrnn_tf.config import ExperimentConfig  # loads TensorFlow

    with importlib.resources.as_file(locate(config)) as path:
        return ExperimentConfig.from_json(path, overrides)
