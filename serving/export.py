"""Export a trained model as a versioned SavedModel for TF Serving.

    <base>/<version>/saved_model.pb, variables/, assets.extra/tf_serving_warmup_requests

The export is written into a temporary sibling folder and renamed into
place, so an interrupted export never leaves a folder that looks like a
version (TF Serving loads every integer-named folder it sees).
"""

import logging
import os
import shutil
import tempfile

import keras

from serving import signatures
from serving import warmup

log = logging.getLogger(__name__)


def next_version(base):
    """1 + the highest integer version folder in `base` (1 when none)."""
    if not os.path.isdir(base):
        return 1
    versions = [int(d) for d in os.listdir(base) if d.isdigit()]
    return max(versions, default=0) + 1


def build_archive(model, max_images=64):
    """A `keras.export.ExportArchive` with the signatures of `signatures`.

    `sample` comes first, so it is also `serving_default`.
    """
    archive = keras.export.ExportArchive()
    archive.track(model)
    specs = signatures.input_signatures(model)
    functions = {
        "sample": signatures.sample_fn(model, max_images),
        "log_prob": signatures.log_prob_fn(model),
        "complete": signatures.complete_fn(model),
        "model_info": signatures.model_info_fn(model),
    }
    for name in signatures.SIGNATURES:  # "sample" first: serving_default
        archive.add_endpoint(name, functions[name], input_signature=specs[name])
    return archive


def export_for_serving(model, base, version=None, max_images=64):
    """Write `model` to `<base>/<version>/` atomically; returns the path."""
    if version is None:
        version = next_version(base)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ValueError(
            f"The version must be a positive integer. Received: version={version!r}"
        )
    if not isinstance(max_images, int) or max_images < 1:
        raise ValueError(
            f"`max_images` must be a positive integer. Received: {max_images!r}"
        )
    final = os.path.join(base, str(version))
    if os.path.exists(final):
        raise ValueError(
            f"Version {version} already exists in {base}. Received: "
            f"version={version}"
        )
    os.makedirs(base, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".tmp-{version}-", dir=base)
    try:
        build_archive(model, max_images).write_out(tmp, verbose=False)
        warmup.write_warmup_requests(tmp, model)
        os.rename(tmp, final)  # atomic on one file system
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info("Exported version %d to %s", version, final)
    return final
