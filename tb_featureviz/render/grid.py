"""Tiling feature maps and filter patterns into grids with a recorded layout."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from tb_featureviz.metadata import GridLayout
from tb_featureviz.validation import positive_int

DEFAULT_COLUMNS = 16
"""Tiles per row, as in Chollet's activation plots."""


def normalize_channels(activation: np.ndarray, *, clip_std: float = 2.0) -> np.ndarray:
    """Normalises every channel on its own, so weak channels stay visible.

    Each channel is standardised (``(x - mean) / std``), clipped at ``±clip_std`` standard deviations
    and mapped to [0, 255]. A channel with no variation (dead or constant) is drawn black.

    Args:
        activation: ``[h, w, C]`` feature map.
        clip_std: Standard deviations mapped to black and white.

    Returns:
        ``[C, h, w]`` uint8.
    """
    a = np.asarray(activation, dtype=np.float64)
    if a.ndim != 3:
        raise ValueError(f"Expected a [h, w, C] feature map. Received shape {a.shape}")
    if clip_std <= 0:
        raise ValueError(f"clip_std must be > 0. Received: clip_std={clip_std}")
    a = np.moveaxis(a, -1, 0)
    mean = a.mean(axis=(1, 2), keepdims=True)
    std = a.std(axis=(1, 2), keepdims=True)
    flat = std <= 1e-12 * np.maximum(1.0, np.abs(mean))
    z = (a - mean) / np.where(flat, 1.0, std)
    out = np.clip((z + clip_std) / (2.0 * clip_std), 0.0, 1.0) * 255.0
    out = np.where(flat, 0.0, out)
    return np.round(out).astype(np.uint8)


def dead_channels(activations: np.ndarray) -> np.ndarray:
    """Indices of channels that are zero everywhere.

    Args:
        activations: ``[N, h, w, C]`` (or ``[h, w, C]``) feature maps for the probe images.

    Returns:
        Sorted int array of channel indices.
    """
    a = np.asarray(activations)
    if a.ndim == 3:
        a = a[None]
    if a.ndim != 4:
        raise ValueError(f"Expected [N, h, w, C] activations. Received shape {a.shape}")
    return np.flatnonzero(~np.any(a != 0, axis=(0, 1, 2)))


def tile_grid(
    tiles: np.ndarray, *, cols: int | None = None, padding: int = 1, pad_value: int = 255
) -> tuple[np.ndarray, GridLayout]:
    """Tiles images row-major into one grid with ``padding``-pixel separators.

    Args:
        tiles: ``[K, h, w]`` or ``[K, h, w, 3]`` uint8.
        cols: Tiles per row; default ``min(K, 16)``.
        padding: Separator width in pixels.
        pad_value: Separator (and empty cell) intensity.

    Returns:
        ``(grid, layout)``: the uint8 grid (``[H, W]`` or ``[H, W, 3]``) and its ``GridLayout``.
    """
    tiles = np.asarray(tiles)
    if tiles.ndim not in (3, 4) or tiles.shape[0] == 0:
        raise ValueError(f"Expected [K, h, w] or [K, h, w, 3] tiles with K >= 1. Received shape {tiles.shape}")
    if tiles.dtype != np.uint8:
        raise TypeError(f"tile_grid expects uint8 tiles. Received dtype {tiles.dtype}")
    count, th, tw = tiles.shape[:3]
    if cols is None:
        cols = min(count, DEFAULT_COLUMNS)
    cols = min(positive_int("cols", cols), count)
    layout = GridLayout(
        rows=math.ceil(count / cols), cols=cols, tile_height=th, tile_width=tw, padding=padding, count=count
    )
    grid = np.full((layout.height, layout.width, *tiles.shape[3:]), pad_value, dtype=np.uint8)
    for k in range(count):
        x, y = layout.tile_origin(k)
        grid[y : y + th, x : x + tw] = tiles[k]
    return grid, layout


MIN_TILE = 8
"""``grid_reduction`` does not shrink tiles below this side (or below the original size, if smaller)."""


def grid_pixels(count: int, tile_height: int, tile_width: int, *, cols: int | None = None, padding: int = 1) -> int:
    """Pixels of a grid of ``count`` tiles laid out as ``tile_grid`` lays them out."""
    c = min(count, cols or DEFAULT_COLUMNS)
    rows = math.ceil(count / c)
    return (c * tile_width + (c - 1) * padding) * (rows * tile_height + (rows - 1) * padding)


def grid_reduction(shape: tuple[int, int, int], max_pixels: int | None, *, cols: int | None = None) -> tuple[int, int]:
    """How to fit a grid of ``shape``'s channels into ``max_pixels``: ``(channels kept, downscale factor)``.

    Tiles are shrunk first, by the smallest integer factor that fits, but not below ``MIN_TILE`` pixels;
    if the grid is still too large, only as many channels as fit are kept (``select_channels`` picks them).

    Args:
        shape: ``(h, w, C)`` of one feature map (or ``(s, s, F)`` for filter patterns).
        max_pixels: The cap; ``None`` for no cap (returns ``(C, 1)``).
        cols: Tiles per row (default 16).

    Returns:
        ``(count, factor)``: keep ``count`` channels, each tile ``ceil(h / factor) x ceil(w / factor)``.

    Raises:
        ValueError: ``max_pixels`` is not a positive int.

    Example:
        >>> grid_reduction((7, 7, 2048), 65536)   # 7x7 tiles stay; 1024 of 2048 channels fit
        (1024, 1)
    """
    h, w, c = (int(v) for v in shape)
    if max_pixels is None:
        return c, 1
    max_pixels = positive_int("max_grid_pixels", max_pixels)
    floor = min(MIN_TILE, h, w)
    factor = 1
    while grid_pixels(c, math.ceil(h / factor), math.ceil(w / factor), cols=cols) > max_pixels:
        th, tw = math.ceil(h / (factor + 1)), math.ceil(w / (factor + 1))
        if min(th, tw) < floor:
            break
        factor += 1
    th, tw = math.ceil(h / factor), math.ceil(w / factor)
    count = c
    if grid_pixels(count, th, tw, cols=cols) > max_pixels:
        lo, hi = 1, c  # the largest count that fits (grid_pixels grows with count)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if grid_pixels(mid, th, tw, cols=cols) <= max_pixels:
                lo = mid
            else:
                hi = mid - 1
        count = lo
    return count, factor


def select_channels(activations: np.ndarray, count: int) -> np.ndarray:
    """The ``count`` channels that vary most over the probe images and space, in channel order.

    Args:
        activations: ``[N, h, w, C]`` feature maps.
        count: How many to keep.

    Returns:
        Sorted int array of ``min(count, C)`` channel indices (ties go to the lower index).
    """
    a = np.asarray(activations, dtype=np.float64)
    if a.ndim != 4:
        raise ValueError(f"Expected [N, h, w, C] activations. Received shape {a.shape}")
    variance = a.reshape(-1, a.shape[-1]).var(axis=0)
    order = np.argsort(-variance, kind="stable")[: max(1, int(count))]
    return np.sort(order)


def downscale(images: np.ndarray, factor: int) -> np.ndarray:
    """Shrinks ``[..., h, w, C]`` by an integer ``factor`` with a box filter (edges repeated to fit)."""
    a = np.asarray(images)
    if factor <= 1:
        return a
    h, w = a.shape[-3], a.shape[-2]
    th, tw = math.ceil(h / factor), math.ceil(w / factor)
    pad = [(0, 0)] * (a.ndim - 3) + [(0, th * factor - h), (0, tw * factor - w), (0, 0)]
    a = np.pad(a.astype(np.float64), pad, mode="edge")
    shape = (*a.shape[:-3], th, factor, tw, factor, a.shape[-1])
    return a.reshape(shape).mean(axis=(-4, -2))


def activation_grid(
    activation: np.ndarray,
    *,
    cols: int | None = None,
    channels: Sequence[int] | np.ndarray | None = None,
    scale: int = 1,
) -> tuple[np.ndarray, GridLayout]:
    """Every channel of one feature map, normalised on its own, as one grayscale grid.

    Args:
        activation: ``[h, w, C]`` feature map of one probe image.
        cols: Tiles per row (default 16).
        channels: Draw only these channels (tile ``k`` is ``channels[k]``); ``None`` for all.
        scale: Shrink each tile by this integer factor (box filter) before normalising.

    Returns:
        ``(grid, layout)``: ``[H, W]`` uint8 and its ``GridLayout`` (tile ``k`` is channel ``k``, or
        ``channels[k]``).
    """
    a = np.asarray(activation)
    if channels is not None:
        a = a[..., np.asarray(channels, dtype=np.int64)]
    return tile_grid(normalize_channels(downscale(a, scale)), cols=cols)


def filter_grid(patterns: np.ndarray, *, cols: int | None = None, scale: int = 1) -> tuple[np.ndarray, GridLayout]:
    """Filter patterns as one RGB grid.

    Args:
        patterns: ``[F, s, s, 3]`` float in [0, 1].
        cols: Tiles per row (default 16).
        scale: Shrink each pattern by this integer factor (box filter).

    Returns:
        ``(grid, layout)``: ``[H, W, 3]`` uint8 and its ``GridLayout``.
    """
    p = np.asarray(patterns, dtype=np.float64)
    if p.ndim != 4 or p.shape[-1] != 3:
        raise ValueError(f"Expected [F, s, s, 3] patterns. Received shape {p.shape}")
    tiles = np.round(np.clip(downscale(p, scale), 0.0, 1.0) * 255.0).astype(np.uint8)
    return tile_grid(tiles, cols=cols)


SEPARATOR_RGB = (230, 230, 230)
"""Grid separators and empty cells once a grid is colour-mapped: a neutral grey that no colour map gives a value
(the dashboard's ``colormap.js`` ``SEPARATOR_RGB`` is the same)."""


def separator_mask(layout: GridLayout) -> np.ndarray:
    """``[height, width]`` bool: True on a grid's separators and empty cells, False on its tiles.

    Example:
        >>> separator_mask(GridLayout(rows=1, cols=2, tile_height=1, tile_width=1, padding=1, count=2)).tolist()
        [[False, True, False]]
    """
    mask = np.ones((layout.height, layout.width), dtype=bool)
    for k in range(layout.count):
        x, y = layout.tile_origin(k)
        mask[y : y + layout.tile_height, x : x + layout.tile_width] = False
    return mask


def neutral_separators(rgb: np.ndarray, layout: GridLayout) -> np.ndarray:
    """A colour-mapped grid ``[H, W, 3]`` with its separators and empty cells painted :data:`SEPARATOR_RGB`
    (a copy; an image of another size than ``layout`` is returned as it is)."""
    if rgb.shape[:2] != (layout.height, layout.width):
        return rgb
    out = rgb.copy()
    out[separator_mask(layout)] = SEPARATOR_RGB
    return out
