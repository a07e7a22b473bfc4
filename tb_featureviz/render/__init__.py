"""Rendering: NumPy arrays in, images and PNG bytes out. NumPy and Pillow only, no TensorFlow.

Example:
    >>> grid, layout = activation_grid(acts["conv2d"][0])   # [h, w, C] -> uint8 [H, W]
    >>> png = encode_png(grid)
"""

from tb_featureviz.render.colormap import COLORMAPS, apply_colormap, colormap_lut
from tb_featureviz.render.grid import (
    SEPARATOR_RGB,
    activation_grid,
    dead_channels,
    downscale,
    filter_grid,
    grid_pixels,
    grid_reduction,
    neutral_separators,
    normalize_channels,
    select_channels,
    separator_mask,
    tile_grid,
)
from tb_featureviz.render.image import decode_png, encode_png, heatmap_overlay, to_uint8_image

__all__ = [
    "COLORMAPS",
    "SEPARATOR_RGB",
    "activation_grid",
    "apply_colormap",
    "colormap_lut",
    "dead_channels",
    "decode_png",
    "downscale",
    "encode_png",
    "filter_grid",
    "grid_pixels",
    "grid_reduction",
    "heatmap_overlay",
    "neutral_separators",
    "normalize_channels",
    "select_channels",
    "separator_mask",
    "tile_grid",
    "to_uint8_image",
]
