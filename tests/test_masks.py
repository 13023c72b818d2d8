import numpy as np
import pytest

from pixelrnn_tf import masks


def test_channel_groups_are_contiguous_thirds():
    np.testing.assert_array_equal(masks.channel_groups(3, 3), [0, 1, 2])
    np.testing.assert_array_equal(
        masks.channel_groups(6, 3), [0, 0, 1, 1, 2, 2]
    )
    np.testing.assert_array_equal(masks.channel_groups(4, 1), [0, 0, 0, 0])


@pytest.mark.parametrize(
    "num_features, sizes",
    [(128, [43, 43, 42]), (8, [3, 3, 2]), (7, [3, 2, 2]), (4, [2, 1, 1])],
)
def test_uneven_widths_split_as_evenly_as_possible(num_features, sizes):
    # Contiguous groups, the earlier ones taking the extra features.
    groups = masks.channel_groups(num_features, 3)
    np.testing.assert_array_equal(groups, np.repeat([0, 1, 2], sizes))


@pytest.mark.parametrize("num_features", [3, 9, 48, 129, 384, 1023])
def test_widths_divisible_by_the_colours_split_into_equal_groups(
    num_features,
):
    # The grouping of every model saved before uneven widths existed.
    third = num_features // 3
    np.testing.assert_array_equal(
        masks.channel_groups(num_features, 3), np.repeat([0, 1, 2], third)
    )


@pytest.mark.parametrize("num_features, colours", [(2, 3), (0, 3), (0, 1)])
def test_channel_groups_rejects_fewer_features_than_colours(
    num_features, colours
):
    with pytest.raises(
        ValueError, match=f"Received: num_features={num_features}"
    ):
        masks.channel_groups(num_features, colours)


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
    for chunk in np.split(m, 4, axis=1):
        np.testing.assert_array_equal(chunk, one_chunk)
    # One mask across the concatenated gates would give the i gate only R
    # units and the g gate only B units, mixing colours in the cell update.
    single = masks.conv_mask((1, 1), 3, 12, "B", out_chunks=1)[0, 0]
    assert not np.array_equal(single, m)


def test_conv_mask_with_uneven_groups():
    # 3 inputs (R|G|B) to 8 outputs split 3|3|2, and back.
    a = masks.conv_mask((1, 1), 3, 8, "A")[0, 0]
    np.testing.assert_array_equal(
        a,
        [[0, 0, 0, 1, 1, 1, 1, 1], [0, 0, 0, 0, 0, 0, 1, 1], [0] * 8],
    )
    b = masks.conv_mask((1, 1), 8, 3, "B")[0, 0]
    np.testing.assert_array_equal(
        b, [[1, 1, 1]] * 3 + [[0, 1, 1]] * 3 + [[0, 0, 1]] * 2
    )
    # Uneven on both sides (16: 6|5|5, 7: 3|2|2): centre taps follow the
    # groups, off-centre taps see everything.
    m = masks.conv_mask((3, 3), 16, 7, "B")
    in_group = np.repeat([0, 1, 2], [6, 5, 5])
    out_group = np.repeat([0, 1, 2], [3, 2, 2])
    np.testing.assert_array_equal(
        m[1, 1], in_group[:, None] <= out_group[None, :]
    )
    assert m[0].all() and m[1, 0].all()
    assert not m[2].any() and not m[1, 2].any()


def test_conv_mask_out_chunks_split_each_gate_unevenly():
    # units = 8 (3|3|2): each of the i, f, o, g gates has its own groups,
    # as for units = 128 (43|43|42 per gate).
    m = masks.conv_mask((1, 1), 16, 32, "B", out_chunks=4)[0, 0]
    one_chunk = masks.conv_mask((1, 1), 16, 8, "B")[0, 0]
    for chunk in np.split(m, 4, axis=1):
        np.testing.assert_array_equal(chunk, one_chunk)
    gates = masks.conv_mask((1, 1), 3, 4 * 128, "B", out_chunks=4)[0, 0]
    for chunk in np.split(gates, 4, axis=1):
        # the columns each input colour reaches: R, G and B units in turn
        np.testing.assert_array_equal(chunk.sum(axis=1), [128, 85, 42])


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
        ({"out_features": 8, "out_chunks": 4}, "num_features=2"),
        ({"in_features": 2}, "num_features=2"),
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
