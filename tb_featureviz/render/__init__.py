"""Rendering: NumPy arrays in, images and PNG bytes out. NumPy and Pillow only, no TensorFlow.

Example:
    >>> import numpy as np
    >>> acts = np.random.default_rng(0).random((6, 6, 4), dtype=np.float32)  # one probe's [h, w, C]
    >>> grid, layout = activation_grid(acts)  # -> uint8 [H, W]
    >>> grid.dtype, encode_png(grid)[:4]
    (dtype('uint8'), b'\\x89PNG')
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
