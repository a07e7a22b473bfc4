"""Colour maps as 256-entry lookup tables.

The perceptual maps (viridis, magma, inferno) are interpolated in RGB from ten evenly spaced samples of
matplotlib's tables (van der Walt and Smith, 2015), which is within a few levels of the full tables and
keeps their monotonic lightness. The frontend holds the same anchors, so images look the same in the
dashboard and in exports.
"""

from __future__ import annotations

import numpy as np

_ANCHORS: dict[str, tuple[str, ...]] = {
    "gray": ("#000000", "#ffffff"),
    "viridis": (
        "#440154", "#482878", "#3e4989", "#31688e", "#26828e",
        "#1f9e89", "#35b779", "#6ece58", "#b5de2b", "#fde725",
    ),
    "magma": (
        "#000004", "#180f3d", "#440f76", "#721f81", "#9e2f7f",
        "#cd4071", "#f1605d", "#fd9668", "#feca8d", "#fcfdbf",
    ),
    "inferno": (
        "#000004", "#1b0c41", "#4a0c6b", "#781c6d", "#a52c60",
        "#cf4446", "#ed6925", "#fb9b06", "#f7d13d", "#fcffa4",
    ),
}  # fmt: skip

COLORMAPS: tuple[str, ...] = tuple(_ANCHORS)
"""Names accepted by ``apply_colormap``."""

_LUTS: dict[str, np.ndarray] = {}


def colormap_lut(name: str) -> np.ndarray:
    """Returns the ``[256, 3]`` uint8 lookup table of colour map ``name``.

    Raises:
        ValueError: ``name`` is not one of ``COLORMAPS``.
    """
    if name not in _ANCHORS:
        raise ValueError(f"Unknown colour map. Expected one of {COLORMAPS}. Received: colormap={name!r}")
    if name not in _LUTS:
        anchors = np.array([[int(h[i : i + 2], 16) for i in (1, 3, 5)] for h in _ANCHORS[name]], dtype=np.float64)
        xs = np.linspace(0.0, 1.0, len(anchors))
        t = np.linspace(0.0, 1.0, 256)
        lut = np.stack([np.interp(t, xs, anchors[:, c]) for c in range(3)], axis=-1)
        _LUTS[name] = np.round(lut).astype(np.uint8)
    return _LUTS[name]


def apply_colormap(gray: np.ndarray, name: str = "viridis") -> np.ndarray:
    """Maps a grayscale image to RGB.

    Args:
        gray: ``[H, W]`` uint8, or float in [0, 1] (values outside are clipped).
        name: One of ``COLORMAPS``.

    Returns:
        ``[H, W, 3]`` uint8.
    """
    gray = np.asarray(gray)
    if gray.ndim != 2:
        raise ValueError(f"apply_colormap expects a [H, W] image. Received shape {gray.shape}")
    if gray.dtype != np.uint8:
        gray = np.round(np.clip(gray.astype(np.float64), 0.0, 1.0) * 255.0).astype(np.uint8)
    return colormap_lut(name)[gray]
