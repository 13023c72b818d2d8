import numpy as np
import pytest

from pixelrnn_tf import masks


def test_channel_groups_are_contiguous_thirds():
    np.testing.assert_array_equal(masks.channel_groups(3, 3), [0, 1, 2])
    np.testing.assert_array_equal(
        masks.channel_groups(6, 3), [0, 0, 1, 1, 2, 2]
    )
    np.testing.assert_array_equal(masks.channel_groups(4, 1), [0, 0, 0, 0])


def test_channel_groups_rejects_uneven_split():
    with pytest.raises(ValueError, match="Received: num_features=4"):
        masks.channel_groups(4, 3)


def test_conv_mask_1x1_rgb_golden():
    a = masks.conv_mask((1, 1), 3, 3, "A")[0, 0]
    b = masks.conv_mask((1, 1), 3, 3, "B")[0, 0]
    # rows: input group R, G, B; columns: output group R, G, B
    np.testing.assert_array_equal(a, [[0, 1, 1], [0, 0, 1], [0, 0, 0]])
    np.testing.assert_array_equal(b, [[1, 1, 1], [0, 1, 1], [0, 0, 1]])


def test_conv_mask_3x3_spatial_golden():
    for mask_type, centre in (("A", 0), ("B", 1)):
        m = masks.conv_mask((3, 3), 1, 1, mask_type, color_channels=1)
        np.testing.assert_array_equal(
            m[:, :, 0, 0], [[1, 1, 1], [1, centre, 0], [0, 0, 0]]
        )


def test_conv_mask_1x3_row_kernel_golden():
    m = masks.conv_mask((1, 3), 1, 2, "B", color_channels=1)
    np.testing.assert_array_equal(m[0, :, 0, :], [[1, 1], [1, 1], [0, 0]])


def test_conv_mask_off_centre_taps_see_every_group():
    m = masks.conv_mask((3, 3), 6, 6, "A")
    assert m[0].all() and m[1, 0].all()  # rows above, left of centre
    assert not m[2].any() and not m[1, 2].any()  # below, right


def test_conv_mask_out_chunks_repeat_the_grouping_per_gate():
    m = masks.conv_mask((1, 1), 3, 12, "B", out_chunks=4)[0, 0]
    one_chunk = masks.conv_mask((1, 1), 3, 3, "B")[0, 0]
    for chunk in range(4):
        np.testing.assert_array_equal(m[:, chunk * 3 : chunk * 3 + 3], one_chunk)
    # One mask across the concatenated gates would give the i gate only R
    # units and the g gate only B units, mixing colours in the cell update.
    single = masks.conv_mask((1, 1), 3, 12, "B", out_chunks=1)[0, 0]
    assert not np.array_equal(single, m)


def test_conv_mask_grayscale():
    a = masks.conv_mask((1, 1), 1, 4, "A", color_channels=1)
    b = masks.conv_mask((1, 1), 4, 4, "B", color_channels=1)
    assert not a.any() and b.all()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"mask_type": "C"}, "mask_type='C'"),
        ({"kernel_size": (2, 3)}, "kernel_size=\\(2, 3\\)"),
        ({"out_features": 9, "out_chunks": 4}, "out_chunks=4"),
    ],
)
def test_conv_mask_rejects_bad_arguments(kwargs, match):
    args = {
        "kernel_size": (3, 3),
        "in_features": 3,
        "out_features": 12,
        "mask_type": "A",
    }
    args.update(kwargs)
    with pytest.raises(ValueError, match="Received: .*" + match):
        masks.conv_mask(**args)
