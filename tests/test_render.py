"""render/: grids, normalisation, colour maps, PNG and overlays, checked pixel by pixel."""

import numpy as np
import pytest

from tb_featureviz import render
from tb_featureviz.metadata import GridLayout


def test_normalize_channels_standardises_each_channel_and_blacks_out_flat_ones():
    a = np.zeros((2, 2, 3))
    a[..., 0] = [[0, 1], [2, 3]]  # mean 1.5, std sqrt(1.25)
    a[..., 1] = 1000 * a[..., 0]  # same pattern, 1000x larger: must look identical
    a[..., 2] = 7.0  # flat
    out = render.normalize_channels(a)
    assert out.shape == (3, 2, 2) and out.dtype == np.uint8
    z = (np.array([[0, 1], [2, 3]]) - 1.5) / np.sqrt(1.25)
    expected = np.round(np.clip((z + 2) / 4, 0, 1) * 255).astype(np.uint8)
    np.testing.assert_array_equal(out[0], expected)
    np.testing.assert_array_equal(out[1], expected)
    np.testing.assert_array_equal(out[2], 0)


def test_tile_grid_places_tiles_row_major_with_separators():
    tiles = np.arange(5, dtype=np.uint8)[:, None, None] * np.ones((5, 2, 3), dtype=np.uint8)
    grid, layout = render.tile_grid(tiles, cols=3, padding=1, pad_value=200)
    assert layout == GridLayout(rows=2, cols=3, tile_height=2, tile_width=3, padding=1, count=5)
    assert grid.shape == (layout.height, layout.width) == (5, 11)
    for k in range(5):
        x, y = layout.tile_origin(k)
        np.testing.assert_array_equal(grid[y : y + 2, x : x + 3], k)
    assert (grid[2, :] == 200).all()  # horizontal separator
    assert (grid[:, 3] == 200).all()  # vertical separator
    assert (grid[3:, 8:] == 200).all()  # the empty sixth cell


def test_activation_grid_channel_k_is_tile_k():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(4, 5, 20))
    grid, layout = render.activation_grid(a)
    assert (layout.rows, layout.cols, layout.count) == (2, 16, 20)
    norm = render.normalize_channels(a)
    for k in (0, 15, 16, 19):
        x, y = layout.tile_origin(k)
        np.testing.assert_array_equal(grid[y : y + 4, x : x + 5], norm[k])


def test_dead_channels():
    a = np.ones((2, 3, 3, 4))
    a[..., 1] = 0
    a[0, 0, 0, 3] = 0
    np.testing.assert_array_equal(render.dead_channels(a), [1])


def test_png_round_trip_gray_and_rgb():
    rng = np.random.default_rng(1)
    for shape in ((7, 9), (7, 9, 3)):
        img = rng.integers(0, 256, size=shape, dtype=np.uint8)
        np.testing.assert_array_equal(render.decode_png(render.encode_png(img)), img)


def test_colormap_endpoints_and_validation():
    lut = render.colormap_lut("viridis")
    assert lut.shape == (256, 3)
    np.testing.assert_array_equal(lut[0], [0x44, 0x01, 0x54])
    np.testing.assert_array_equal(lut[255], [0xFD, 0xE7, 0x25])
    np.testing.assert_array_equal(render.apply_colormap(np.array([[0, 255]], np.uint8), "gray"), [[[0] * 3, [255] * 3]])
    with pytest.raises(ValueError, match="jet"):
        render.apply_colormap(np.zeros((2, 2)), "jet")


def test_heatmap_overlay_blends_with_alpha():
    image = np.full((2, 2, 3), 100, np.uint8)
    heat = np.array([[0.0, 1.0], [0.0, 1.0]])
    out = render.heatmap_overlay(image, heat, alpha=0.5, colormap="gray")
    np.testing.assert_array_equal(out[:, 0], 50)
    np.testing.assert_array_equal(out[:, 1], 178)  # round(50 + 127.5)
    with pytest.raises(ValueError, match="alpha"):
        render.heatmap_overlay(image, heat, alpha=2.0)


def test_to_uint8_image_ranges():
    unit = np.full((1, 2, 2, 3), 0.5)
    np.testing.assert_array_equal(render.to_uint8_image(unit), 128)
    byte = np.full((1, 2, 2, 1), 200.0)
    out = render.to_uint8_image(byte)
    assert out.shape == (1, 2, 2, 3) and (out == 200).all()
    centred = np.array([[[[-1.0]], [[1.0]]]])  # mean-subtracted input: min-max scaled
    np.testing.assert_array_equal(render.to_uint8_image(centred)[0, :, 0, 0], [0, 255])
