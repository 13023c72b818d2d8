"""The config fields and their defaults, listed for `--help`."""

import dataclasses
import importlib.util
import json
import os
import typing


def _config_module():
    """`pixelrnn_tf/config.py`, loaded on its own as a private module.

    `import pixelrnn_tf.config` would run `pixelrnn_tf/__init__`, which
    imports Keras and TensorFlow (seconds). config.py needs only the
    standard library, so `--help` loads that one file: `find_spec` of a
    top-level package finds its folder without running it, and the module
    gets a private name, so the real `pixelrnn_tf.config` is untouched.
    """
    package = importlib.util.find_spec("pixelrnn_tf")
    folder = list(package.submodule_search_locations)[0]
    spec = importlib.util.spec_from_file_location(
        "_pixelrnn_tf_config_for_help", os.path.join(folder, "config.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _type_name(hint):
    if typing.get_args(hint):  # tuple[int, int, int], int | None
        return str(hint).replace("typing.", "")
    return hint.__name__


def describe():
    """Lines `section.field: type = default (JSON)` for every field."""
    config = _config_module()
    lines = [
        "config fields (override with --set SECTION.FIELD=VALUE, VALUE in "
        "JSON),",
        "with their defaults (a config file sets some of them):",
    ]
    for section in dataclasses.fields(config.ExperimentConfig):
        for field in dataclasses.fields(section.type):
            default = field.default
            if default is dataclasses.MISSING:
                default = field.default_factory()
            lines.append(
                f"  {section.name}.{field.name}: {_type_name(field.type)} "
                f"= {json.dumps(default)}"
            )
    return "\n".join(lines)
