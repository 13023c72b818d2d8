"""Strict, frozen configuration dataclasses.

Field names are the model constructors' keyword arguments. Unknown fields,
wrong types and invalid values raise `ValueError` naming the valid choices,
so a typo in a config file fails before any work is done.
"""

import dataclasses
import functools
import json
import types
import typing

ARCHITECTURES = ("pixel_cnn", "row_lstm", "diagonal_bilstm")
HEADS = ("softmax", "logistic_mixture")


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
    elif dataclasses.is_dataclass(hint) and isinstance(value, hint):
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
    # h; any width >= C (R|G|B groups as even as possible). 129, not the
    # paper's 128, so that configs relying on this default still build
    # the models they built when widths had to be multiples of 3.
    hidden_dim: int = 129
    num_layers: int = 12  # residual blocks (PixelCNN) or LSTM layers
    input_kernel_size: int = 7  # first, mask-A convolution (§3.4)
    hidden_kernel_size: int = 3  # PixelCNN k×k; Row LSTM k-wide kernels
    output_dim: int | None = None  # output stack width; None: 2·hidden_dim
    use_residual: bool = True  # residual connections (§3.3)
    use_skip_connections: bool = False  # learnable skips to the output
    # each sub-pixel's distribution: "softmax" over the levels (the
    # paper's) or "logistic_mixture" (PixelCNN++ §2.1: discretized
    # logistics, faster to learn on colour images)
    head: str = "softmax"
    num_mixtures: int | None = None  # logistics per sub-pixel; None: 5
    num_classes: int | None = None  # class-conditional p(x | y) with K classes
    # Multi-Scale PixelRNN (§3.6): model every k-th pixel first, then the
    # image given them; None: single-scale
    multi_scale_factor: int | None = None
    # Diagonal BiLSTM: one constant column on the right closes the paper
    # stack's blind spot (None: on; false: paper-literal). Others: None.
    close_blind_spot: bool | None = None

    def validate(self):
        _check_choice(self, "architecture", ARCHITECTURES)
        _check_choice(self, "head", HEADS)
        if self.num_mixtures is not None:
            if self.head != "logistic_mixture":
                raise ValueError(
                    "`num_mixtures` applies to head='logistic_mixture' only. "
                    f"Received: head={self.head!r}, "
                    f"num_mixtures={self.num_mixtures}"
                )
            _check_positive(self, "num_mixtures", 1)
        if self.architecture != "diagonal_bilstm" and self.close_blind_spot:
            raise ValueError(
                "`close_blind_spot` applies to the Diagonal BiLSTM only. "
                f"Received: architecture={self.architecture!r}, "
                "close_blind_spot=True"
            )
        h, w, c = self.image_shape
        if min(h, w) < 1 or c not in (1, 3):
            raise ValueError(
                "`image_shape` must be (height, width, channels) with "
                f"positive sizes and 1 or 3 channels. "
                f"Received: image_shape={self.image_shape}"
            )
        _check_positive(self, "num_levels", 2)
        _check_positive(self, "num_layers", 1)
        if self.num_classes is not None:
            _check_positive(self, "num_classes", 1)
        k = self.multi_scale_factor
        if k is not None and (k < 2 or h % k or w % k):
            raise ValueError(
                "`multi_scale_factor` must be at least 2 and divide the "
                f"image's height and width {h}x{w}. Received: "
                f"multi_scale_factor={k}"
            )
        if k is not None and self.num_classes is not None:
            raise ValueError(
                "A Multi-Scale PixelRNN cannot be class-conditional yet. "
                f"Received: multi_scale_factor={k}, num_classes="
                f"{self.num_classes}"
            )
        for name in ("input_kernel_size", "hidden_kernel_size"):
            _check_positive(self, name, 1)
            if getattr(self, name) % 2 == 0:
                raise ValueError(
                    f"`{name}` must be odd, so the centre tap is the current "
                    f"pixel. Received: {name}={getattr(self, name)}"
                )
        for name in ("hidden_dim", "output_dim"):
            value = getattr(self, name)
            if value is not None and value < c:
                raise ValueError(
                    f"`{name}` must be at least the number of channels ({c})"
                    " so that every R|G|B group has a feature (paper §3.4). "
                    f"Received: {name}={value}"
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
    # pass the class labels on, for a class-conditional model (tfds: the
    # `label_key` feature; npz: a `labels` array; folder: the class
    # folders; digits: the digit)
    labels: bool = False
    label_key: str = "label"  # feature holding the label in TFDS examples
    # "none": quantise to num_levels; "static": the data is already 0/1;
    # "dynamic": resample x ~ Bernoulli(level / max) every epoch
    binarize: str = "none"
    # top raw value of the data; None: 1 for 0/1 data (binarized_mnist, a
    # 0/1 .npz), 16 for digits, else 255. Set it for other ranges.
    max_level: int | None = None
    shuffle_buffer: int = 10_000
    cache: bool = True  # keep the raw images in memory after one pass
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
        if self.max_level is not None:
            _check_positive(self, "max_level", 1)
        if self.max_examples is not None:
            _check_positive(self, "max_examples", 1)


OPTIMIZERS = ("rmsprop", "adam", "sgd")
LR_SCHEDULES = ("constant", "exponential", "cosine")
DTYPE_POLICIES = ("auto", "float32", "mixed_float16", "mixed_bfloat16")
STRATEGIES = ("default", "mirrored", "multi_worker", "tpu")
XLA_LESS_STRATEGIES = ("mirrored", "multi_worker")


@strict
@dataclasses.dataclass(frozen=True)
class TrainConfig(_ConfigMixin):
    """Optimisation, precision, distribution and bookkeeping of a run."""

    batch_size: int = 16  # global batch, split across replicas (§5.2: 16)
    epochs: int = 10
    steps_per_epoch: int | None = None  # None: one pass over the train split
    validation_steps: int | None = None  # None: the whole eval split
    optimizer: str = "rmsprop"  # the paper's choice (§5.2); "adam", "sgd"
    learning_rate: float = 1e-3
    lr_schedule: str = "constant"  # or "exponential", "cosine"
    lr_decay_steps: int = 10_000  # steps per decay period / cosine length
    lr_decay_rate: float = 0.5  # exponential: factor per lr_decay_steps
    # cosine: first a linear warm-up from 0 over this many steps, then
    # lr_decay_steps of decay
    lr_warmup_steps: int = 0
    global_clipnorm: float | None = 1.0  # global gradient norm clipping
    use_ema: bool = False  # evaluate and save EMA weights (SwapEMAWeights)
    ema_momentum: float = 0.999
    dtype_policy: str = "auto"  # auto: mixed_float16 on GPU, else float32
    strategy: str = "default"  # or "mirrored", "multi_worker", "tpu"
    cpu_replicas: int = 0  # mirrored without GPUs: N logical CPU devices
    # Keras' "auto": XLA on a GPU, without a tf.distribute strategy. true
    # needs strategy "default" or "tpu": XLA cannot compile a step whose
    # variables live on several devices (mirrored), and the multi-worker
    # loop runs without it.
    jit_compile: bool | str = "auto"
    seed: int = 0
    sample_every_epochs: int = 0  # sample grid to TensorBoard; 0: never
    verbose: int = 1  # Keras progress bar: 0 silent, 1 bar, 2 one line

    def validate(self):
        _check_choice(self, "optimizer", OPTIMIZERS)
        _check_choice(self, "lr_schedule", LR_SCHEDULES)
        _check_choice(self, "dtype_policy", DTYPE_POLICIES)
        _check_choice(self, "strategy", STRATEGIES)
        for name in ("batch_size", "epochs", "lr_decay_steps"):
            _check_positive(self, name, 1)
        for name in ("steps_per_epoch", "validation_steps"):
            if getattr(self, name) is not None:
                _check_positive(self, name, 1)
        _check_positive(self, "lr_warmup_steps", 0)
        if self.lr_warmup_steps and self.lr_schedule != "cosine":
            raise ValueError(
                "`lr_warmup_steps` applies to lr_schedule='cosine' only. "
                f"Received: lr_schedule={self.lr_schedule!r}, "
                f"lr_warmup_steps={self.lr_warmup_steps}"
            )
        if not self.learning_rate > 0:
            raise ValueError(
                "`learning_rate` must be > 0. "
                f"Received: learning_rate={self.learning_rate}"
            )
        if self.jit_compile not in (True, False, "auto"):
            raise ValueError(
                "`jit_compile` must be true, false or 'auto'. "
                f"Received: jit_compile={self.jit_compile!r}"
            )
        if self.jit_compile is True and self.strategy in XLA_LESS_STRATEGIES:
            raise ValueError(
                "`jit_compile=true` needs strategy 'default' or 'tpu': XLA "
                "cannot compile a step whose variables live on several "
                "devices; use jit_compile='auto' or false. Received: "
                f"jit_compile=True, strategy={self.strategy!r}"
            )


@strict
@dataclasses.dataclass(frozen=True)
class ExperimentConfig(_ConfigMixin):
    """A whole run: model, data and training. JSON files map onto it."""

    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)

    def validate(self):
        conditional = self.model.num_classes is not None
        if conditional != self.data.labels:
            raise ValueError(
                "A class-conditional model (model.num_classes) trains on "
                "labelled data (data.labels=true), and only it does. "
                f"Received: model.num_classes={self.model.num_classes}, "
                f"data.labels={self.data.labels}"
            )

    @classmethod
    def from_dict(cls, values):
        if not isinstance(values, dict):
            raise ValueError(
                f"An experiment config is a JSON object. Received: {values!r}"
            )
        sections = {f.name: f.type for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - set(sections))
        if unknown:
            raise ValueError(
                f"Unknown config section(s) {unknown}. Valid sections: "
                f"{sorted(sections)}. Received: {sorted(values)}"
            )
        hints = typing.get_type_hints(cls)
        return cls(
            **{k: hints[k].from_dict(v) for k, v in values.items()}
        )

    @classmethod
    def from_json(cls, path, overrides=()):
        """Read a JSON file, then apply `section.field=value` overrides."""
        try:
            with open(path) as f:
                values = json.load(f)
        except OSError as e:
            raise ValueError(
                f"Cannot read the config file. Received: {path!r} ({e})"
            ) from None
        except json.JSONDecodeError as e:
            raise ValueError(f"{path} is not valid JSON: {e}") from None
        return cls.from_dict(values).with_overrides(overrides)

    def with_overrides(self, overrides):
        """Apply `section.field=value` strings; values are parsed as JSON
        when they can be (`32`, `true`, `null`, `[8, 8, 1]`), else kept as
        strings (`npz:/data/x.npz`)."""
        values = self.to_dict()
        for item in overrides:
            key, sep, raw = item.partition("=")
            section, dot, name = key.strip().partition(".")
            if not sep or not dot or section not in values:
                raise ValueError(
                    "Overrides look like section.field=value with section in "
                    f"{sorted(values)}. Received: {item!r}"
                )
            if name not in values[section]:
                raise ValueError(
                    f"Unknown field {key!r}. Valid fields of {section!r}: "
                    f"{sorted(values[section])}. Received: {item!r}"
                )
            try:
                value = json.loads(raw)
            except json.JSONDecodeError:
                value = raw
            values[section][name] = value
        return type(self).from_dict(values)


# The output stack: 2 × (ReLU, 1×1 mask-B conv) with 32 maps for MNIST and
# 1024 for CIFAR-10 and ImageNet (§4).
_MNIST = {"image_shape": (28, 28, 1), "num_levels": 2, "output_dim": 32}
_CIFAR = {"image_shape": (32, 32, 3), "num_levels": 256, "output_dim": 1024}

# Paper sizes: §4 (batch sizes: §5.2), widths as in the paper: RGB features
# split into R|G|B groups as even as possible (h = 128: 43|43|42).
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
        hidden_dim=128,
        num_layers=12,
        use_skip_connections=True,
    ),
    "cifar10_diagonal_bilstm": dict(
        _CIFAR,
        architecture="diagonal_bilstm",
        hidden_dim=128,
        num_layers=12,
        use_skip_connections=True,
    ),
    "cifar10_pixel_cnn": dict(
        _CIFAR, architecture="pixel_cnn", hidden_dim=128, num_layers=15
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
        hidden_dim=512,
        num_layers=4,
        use_residual=False,
    ),
}

# The paper's hidden size h for each preset (§4); None where
# the paper gives none (the MNIST Row LSTM and PixelCNN reuse 7 × 16).
PAPER_HIDDEN_DIM = {
    "binarized_mnist_diagonal_bilstm": 16,
    "binarized_mnist_row_lstm": None,
    "binarized_mnist_pixel_cnn": None,
    "cifar10_row_lstm": 128,
    "cifar10_diagonal_bilstm": 128,
    "cifar10_pixel_cnn": 128,
    "imagenet32_row_lstm": 384,
    "imagenet64_row_lstm": 512,
}
