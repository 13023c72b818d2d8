"""Checks on user-supplied images, with errors that say what was received."""

import keras
import numpy as np


def check_image_shape(shape, image_shape):
    """Raise if `shape` is not (B, *image_shape); B may be None."""
    shape = tuple(shape)
    if len(shape) != 4:
        raise ValueError(
            "Images must have rank 4, (batch, height, width, channels) = "
            f"(B, {', '.join(map(str, image_shape))}). "
            f"Received: shape={shape}"
        )
    if shape[3] != image_shape[2]:
        raise ValueError(
            f"The model expects {image_shape[2]} channel(s). "
            f"Received: images with shape {shape}"
        )
    if shape[1:3] != tuple(image_shape[:2]):
        raise ValueError(
            f"The model expects {image_shape[0]}x{image_shape[1]} images. "
            f"Received: images with shape {shape}"
        )


def concrete_values(images):
    """`images` as a NumPy array, or None for symbolic (traced) tensors."""
    if keras.utils.is_keras_tensor(images):
        return None
    try:
        return np.asarray(images)
    except (TypeError, ValueError, NotImplementedError):
        # A symbolic tensor inside a traced function has no values yet
        # (NumPy conversion raises one of these): the graph checks it.
        return None


def check_levels(values, num_levels, integers=False):
    """Raise unless every value lies in [0, num_levels - 1].

    With `integers`, float values must also be whole numbers: a likelihood
    of 0.5 would silently score level 0.
    """
    if values.dtype == bool or not (
        np.issubdtype(values.dtype, np.integer)
        or np.issubdtype(values.dtype, np.floating)
    ):
        raise ValueError(
            "Images must hold integer or float levels. "
            f"Received: dtype={values.dtype}"
        )
    if values.size == 0:
        return
    low, high = values.min(), values.max()
    if not (low >= 0 and high <= num_levels - 1):  # NaN fails too
        raise ValueError(
            f"Image levels must lie in [0, {num_levels}) for a model with "
            f"num_levels={num_levels}. Received: levels in [{low}, {high}]"
        )
    if integers and np.issubdtype(values.dtype, np.floating):
        fractional = values[values != np.floor(values)]
        if fractional.size:
            raise ValueError(
                "Image levels must be whole numbers. "
                f"Received: a level of {fractional.flat[0]}"
            )


def check_labels(labels, num_classes, batch_size=None):
    """Raise unless `labels` are (B,) whole numbers in [0, num_classes),
    B matching the images' `batch_size` when both are known."""
    shape = tuple(labels.shape)
    if len(shape) != 1 or (
        batch_size is not None and shape[0] is not None
        and shape[0] != batch_size
    ):
        raise ValueError(
            f"Labels must be one per image, shape ({batch_size},). "
            f"Received: labels of shape {shape}"
        )
    values = concrete_values(labels)
    if values is None:
        return
    if values.dtype == bool or not (
        np.issubdtype(values.dtype, np.integer)
        or np.issubdtype(values.dtype, np.floating)
    ):
        raise ValueError(
            f"Labels must be integers. Received: dtype={values.dtype}"
        )
    bad = values[(values < 0) | (values >= num_classes) | (values % 1 != 0)]
    if bad.size:
        raise ValueError(
            f"Labels must be integers in [0, {num_classes}) for a model with "
            f"num_classes={num_classes}. Received: a label of {bad.flat[0]}"
        )


def checked_inputs(model, images, labels):
    """(images, [labels] or []) as NumPy arrays, checked against the model:
    whole levels in range, and labels exactly when it is class-conditional."""
    images = np.asarray(images)
    check_images(images, model.image_shape, model.num_levels, integers=True)
    if labels is None and getattr(model, "num_classes", None) is None:
        return images, []
    model.inputs_for(images, labels)  # raises for missing or bad labels
    return images, [np.asarray(labels).astype("int32")]


def check_images(images, image_shape, num_levels, integers=False):
    """Validate a batch of images; returns its values when they are concrete.

    The model itself accepts any real levels in range (its Jacobian is taken
    at such points); likelihoods and completions need `integers=True`.
    """
    check_image_shape(images.shape, image_shape)
    values = concrete_values(images)
    if values is not None:
        check_levels(values, num_levels, integers)
    return values
