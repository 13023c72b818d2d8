"""Strict, frozen configuration dataclasses.

Field names are the model constructors' keyword arguments. Unknown fields,
wrong types and invalid values raise `ValueError` naming the valid choices,
so a typo in a config file fails before any work is done.
"""

import dataclasses
import functools
import types
import typing

ARCHITECTURES = ("pixel_cnn", "row_lstm", "diagonal_bilstm")


def strict(cls):
    """Make `cls(**kwargs)` reject unknown fields with a `ValueError`."""
    init = cls.__init__
    valid = [f.name for f in dataclasses.fields(cls)]

    @functools.wraps(init)
    def __init__(self, *args, **kwargs):
        unknown = sorted(set(kwargs) - set(valid))
        if unknown:
            raise ValueError(
                f"Unknown {cls.__name__} field(s) {unknown}. Valid fields: "
                f"{valid}. Received: {kwargs}"
            )
        init(self, *args, **kwargs)
        for name, hint in typing.get_type_hints(cls).items():
            object.__setattr__(
                self, name, _coerce(cls, name, getattr(self, name), hint)
            )
        self.validate()

    cls.__init__ = __init__
    return cls


def _coerce(cls, name, value, hint):
    """Check `value` against the annotation `hint`; lists become tuples."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        for option in args:
            try:
                return _coerce(cls, name, value, option)
            except ValueError:
                pass
    elif hint is type(None):
        if value is None:
            return None
    elif origin is tuple and isinstance(value, (tuple, list)):
        if args[-1] is Ellipsis:
            args = (args[0],) * len(value)
        if len(args) == len(value):
            return tuple(
                _coerce(cls, name, v, a) for v, a in zip(value, args)
            )
    elif hint is float and isinstance(value, (int, float)):
        if not isinstance(value, bool):
            return float(value)
    elif hint is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    elif hint in (str, bool) and isinstance(value, hint):
        return value
    raise ValueError(
        f"{cls.__name__}.{name} must be of type {_type_name(hint)}. "
        f"Received: {name}={value!r}"
    )


def _type_name(hint):
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")


class _ConfigMixin:
    """from_dict / to_dict / replace shared by every config dataclass."""

    def validate(self):
        pass

    @classmethod
    def from_dict(cls, values):
        """Build from a JSON-like dict (lists become tuples)."""
        if not isinstance(values, dict):
            raise ValueError(
                f"{cls.__name__} needs a dict of fields. Received: {values!r}"
            )
        return cls(**values)

    def to_dict(self):
        return dataclasses.asdict(self)

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)


def _check_choice(config, name, choices):
    value = getattr(config, name)
    if value not in choices:
        raise ValueError(
            f"`{name}` must be one of {list(choices)}. "
            f"Received: {name}={value!r}"
        )


@strict
@dataclasses.dataclass(frozen=True)
class ModelConfig(_ConfigMixin):
    """Architecture hyperparameters; field names are the model kwargs."""

    architecture: str = "pixel_cnn"  # one of ARCHITECTURES
    image_shape: tuple[int, int, int] = (32, 32, 3)  # (H, W, C), C in {1, 3}
    num_levels: int = 256  # softmax classes per sub-pixel (2: binarized)
    hidden_dim: int = 129  # h (paper: 128); a multiple of C for R|G|B thirds
    num_layers: int = 12  # residual blocks (PixelCNN) or LSTM layers
    input_kernel_size: int = 7  # first, mask-A convolution (§3.4)
    hidden_kernel_size: int = 3  # PixelCNN k×k; Row LSTM k-wide kernels
    output_dim: int | None = None  # output stack width; None: 2·hidden_dim
    use_residual: bool = True  # residual connections (§3.3)
    use_skip_connections: bool = False  # learnable skips to the output

    def validate(self):
        _check_choice(self, "architecture", ARCHITECTURES)
        h, w, c = self.image_shape
        if min(h, w) < 1 or c not in (1, 3):
            raise ValueError(
                "`image_shape` must be (height, width, channels) with "
                f"positive sizes and 1 or 3 channels. "
                f"Received: image_shape={self.image_shape}"
            )
        _check_positive(self, "num_levels", 2)
        _check_positive(self, "num_layers", 1)
        for name in ("input_kernel_size", "hidden_kernel_size"):
            _check_positive(self, name, 1)
            if getattr(self, name) % 2 == 0:
                raise ValueError(
                    f"`{name}` must be odd, so the centre tap is the current "
                    f"pixel. Received: {name}={getattr(self, name)}"
                )
        for name in ("hidden_dim", "output_dim"):
            value = getattr(self, name)
            if value is not None and (value < 1 or value % c):
                raise ValueError(
                    f"`{name}` must be a positive multiple of the number of "
                    f"channels ({c}) so the features split into equal R|G|B "
                    f"groups (paper §3.4). Received: {name}={value}"
                )

    @classmethod
    def preset(cls, name):
        """A paper configuration by name; see `PRESETS`."""
        if name not in PRESETS:
            raise ValueError(
                f"Unknown preset. Valid presets: {sorted(PRESETS)}. "
                f"Received: name={name!r}"
            )
        return cls(**PRESETS[name])


def _check_positive(config, name, minimum):
    value = getattr(config, name)
    if value < minimum:
        raise ValueError(
            f"`{name}` must be at least {minimum}. Received: {name}={value}"
        )


BINARIZE_MODES = ("none", "static", "dynamic")


@strict
@dataclasses.dataclass(frozen=True)
class DataConfig(_ConfigMixin):
    """Where the images come from and how they become model levels."""

    # "digits" | "tfds:<name>[/<config>]" | "npz:<path>" | "folder:<path>"
    source: str = "digits"
    train_split: str = "train"
    eval_split: str = "test"
    data_dir: str | None = None  # TFDS data_dir (None: TFDS's default)
    download: bool = True  # let TFDS download; fails fast when offline
    imports: tuple[str, ...] = ()  # modules that register TFDS builders
    image_key: str = "image"  # feature holding the image in TFDS examples
    # "none": quantise to num_levels; "static": the data is already 0/1;
    # "dynamic": resample x ~ Bernoulli(level / max) every epoch
    binarize: str = "none"
    shuffle_buffer: int = 10_000
    cache: bool = True
    max_examples: int | None = None  # use only the first N of each split

    def validate(self):
        _check_choice(self, "binarize", BINARIZE_MODES)
        kinds = ("digits", "tfds:", "npz:", "folder:")
        if not (self.source == "digits" or self.source.startswith(kinds[1:])):
            raise ValueError(
                "`source` must be 'digits', 'tfds:<name>[/<config>]', "
                f"'npz:<path>' or 'folder:<path>'. Received: "
                f"source={self.source!r}"
            )
        _check_positive(self, "shuffle_buffer", 1)
        if self.max_examples is not None:
            _check_positive(self, "max_examples", 1)


_MNIST = {"image_shape": (28, 28, 1), "num_levels": 2}
_CIFAR = {"image_shape": (32, 32, 3), "num_levels": 256}

# Paper sizes: §5.2 and Tables 3-5. RGB features split into equal R|G|B
# thirds, so the paper's h = 128 and h = 512 become the next multiples of 3
# (129 and 513) for colour images; see PAPER_HIDDEN_DIM.
PRESETS = {
    "binarized_mnist_diagonal_bilstm": dict(
        _MNIST, architecture="diagonal_bilstm", hidden_dim=16, num_layers=7
    ),
    "binarized_mnist_row_lstm": dict(
        _MNIST, architecture="row_lstm", hidden_dim=16, num_layers=7
    ),
    "binarized_mnist_pixel_cnn": dict(
        _MNIST, architecture="pixel_cnn", hidden_dim=16, num_layers=7
    ),
    "cifar10_row_lstm": dict(
        _CIFAR,
        architecture="row_lstm",
        hidden_dim=129,
        num_layers=12,
        use_skip_connections=True,
    ),
    "cifar10_diagonal_bilstm": dict(
        _CIFAR,
        architecture="diagonal_bilstm",
        hidden_dim=129,
        num_layers=12,
        use_skip_connections=True,
    ),
    "cifar10_pixel_cnn": dict(
        _CIFAR, architecture="pixel_cnn", hidden_dim=129, num_layers=15
    ),
    "imagenet32_row_lstm": dict(
        _CIFAR,
        architecture="row_lstm",
        hidden_dim=384,
        num_layers=12,
        use_skip_connections=True,
    ),
    "imagenet64_row_lstm": dict(
        _CIFAR,
        image_shape=(64, 64, 3),
        architecture="row_lstm",
        hidden_dim=513,
        num_layers=4,
        use_residual=False,
    ),
}

# The paper's hidden size for each preset, beside ours.
PAPER_HIDDEN_DIM = {
    name: {129: 128, 513: 512}.get(p["hidden_dim"], p["hidden_dim"])
    for name, p in PRESETS.items()
}
