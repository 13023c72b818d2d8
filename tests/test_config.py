import dataclasses

import pytest

import pixelrnn_tf as prt


def test_defaults_and_json_like_values():
    config = prt.ModelConfig.from_dict(
        {"architecture": "row_lstm", "image_shape": [8, 8, 3]}
    )
    assert config.image_shape == (8, 8, 3)  # lists become tuples
    assert prt.ModelConfig.from_dict(config.to_dict()) == config
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.hidden_dim = 3


def test_unknown_field_names_the_valid_ones():
    with pytest.raises(ValueError) as info:
        prt.ModelConfig(architecture="row_lstm", hiden_dim=32)
    message = str(info.value)
    assert "hiden_dim" in message and "hidden_dim" in message
    assert "Received:" in message


@pytest.mark.parametrize(
    "field, value, match",
    [
        ("architecture", "gru", "Received: architecture='gru'"),
        ("image_shape", (8, 8, 2), "Received: image_shape=\\(8, 8, 2\\)"),
        ("image_shape", (8, 8), "Received: image_shape=\\(8, 8\\)"),
        ("hidden_dim", 2, "Received: hidden_dim=2"),  # RGB: fewer than 3
        ("hidden_dim", "12", "Received: hidden_dim='12'"),
        ("hidden_dim", 12.0, "Received: hidden_dim=12.0"),
        ("num_levels", 1, "Received: num_levels=1"),
        ("num_layers", 0, "Received: num_layers=0"),
        ("input_kernel_size", 4, "Received: input_kernel_size=4"),
        ("output_dim", 2, "Received: output_dim=2"),
        ("use_residual", 1, "Received: use_residual=1"),
        ("close_blind_spot", 1, "Received: close_blind_spot=1"),
        # the Diagonal BiLSTM's option only (the default is PixelCNN)
        ("close_blind_spot", True, "close_blind_spot=True"),
    ],
)
def test_invalid_values_raise_value_error(field, value, match):
    with pytest.raises(ValueError, match=match):
        prt.ModelConfig(**{"image_shape": (8, 8, 3), field: value})


def test_grayscale_allows_any_hidden_size():
    assert prt.ModelConfig(image_shape=(8, 8, 1), hidden_dim=16).hidden_dim == 16


def test_rgb_allows_any_width_of_at_least_three():
    # Uneven R|G|B groups: 16 splits 6|5|5, 10 splits 4|3|3.
    rgb = prt.ModelConfig(image_shape=(8, 8, 3)).replace
    config = rgb(hidden_dim=16, output_dim=10)
    assert (config.hidden_dim, config.output_dim) == (16, 10)
    assert rgb(hidden_dim=3, output_dim=3).hidden_dim == 3


def test_unknown_preset_lists_the_presets():
    with pytest.raises(ValueError, match="cifar10_row_lstm"):
        prt.ModelConfig.preset("cifar11")


def test_build_model_rejects_bad_config_types():
    with pytest.raises(ValueError, match="Received: config=42"):
        prt.build_model(42)


@pytest.mark.parametrize(
    "fields, match",
    [
        (dict(lr_warmup_steps=-1), "Received: lr_warmup_steps=-1"),
        (
            dict(lr_schedule="exponential", lr_warmup_steps=10),
            "cosine' only. Received: lr_schedule='exponential'",
        ),
    ],
)
def test_warmup_is_for_the_cosine_schedule(fields, match):
    with pytest.raises(ValueError, match=match):
        prt.config.TrainConfig(**fields)


@pytest.mark.parametrize("strategy", ["mirrored", "multi_worker"])
def test_jit_compile_true_needs_one_device_per_step(strategy):
    with pytest.raises(
        ValueError,
        match=f"Received: jit_compile=True, strategy='{strategy}'",
    ):
        prt.config.TrainConfig(jit_compile=True, strategy=strategy)
    for jit_compile in ("auto", False):  # Keras decides, or no XLA
        prt.config.TrainConfig(jit_compile=jit_compile, strategy=strategy)
    for one_device in ("default", "tpu"):
        prt.config.TrainConfig(jit_compile=True, strategy=one_device)
