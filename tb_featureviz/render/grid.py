"""Tiling feature maps and filter patterns into grids with a recorded layout."""

from __future__ import annotations

import math

import numpy as np

from tb_featureviz.metadata import GridLayout

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
    if not isinstance(cols, int) or cols < 1:
        raise ValueError(f"cols must be a positive int. Received: cols={cols!r}")
    cols = min(cols, count)
    layout = GridLayout(
        rows=math.ceil(count / cols), cols=cols, tile_height=th, tile_width=tw, padding=padding, count=count
    )
    grid = np.full((layout.height, layout.width, *tiles.shape[3:]), pad_value, dtype=np.uint8)
    for k in range(count):
        x, y = layout.tile_origin(k)
        grid[y : y + th, x : x + tw] = tiles[k]
    return grid, layout


def activation_grid(activation: np.ndarray, *, cols: int | None = None) -> tuple[np.ndarray, GridLayout]:
    """Every channel of one feature map, normalised on its own, as one grayscale grid.

    Args:
        activation: ``[h, w, C]`` feature map of one probe image.
        cols: Tiles per row (default 16).

    Returns:
        ``(grid, layout)``: ``[H, W]`` uint8 and its ``GridLayout`` (tile ``k`` is channel ``k``).
    """
    return tile_grid(normalize_channels(activation), cols=cols)


def filter_grid(patterns: np.ndarray, *, cols: int | None = None) -> tuple[np.ndarray, GridLayout]:
    """Filter patterns as one RGB grid.

    Args:
        patterns: ``[F, s, s, 3]`` float in [0, 1].
        cols: Tiles per row (default 16).

    Returns:
        ``(grid, layout)``: ``[H, W, 3]`` uint8 and its ``GridLayout``.
    """
    p = np.asarray(patterns, dtype=np.float64)
    if p.ndim != 4 or p.shape[-1] != 3:
        raise ValueError(f"Expected [F, s, s, 3] patterns. Received shape {p.shape}")
    tiles = np.round(np.clip(p, 0.0, 1.0) * 255.0).astype(np.uint8)
    return tile_grid(tiles, cols=cols)
