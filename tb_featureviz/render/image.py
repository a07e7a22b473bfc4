"""PNG encoding and Grad-CAM overlays."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from tb_featureviz.render.colormap import apply_colormap


def encode_png(image: np.ndarray) -> bytes:
    """Encodes a uint8 ``[H, W]`` (grayscale) or ``[H, W, 3]`` (RGB) array as PNG bytes."""
    a = np.asarray(image)
    if a.dtype != np.uint8:
        raise TypeError(f"encode_png expects uint8. Received dtype {a.dtype}")
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if not (a.ndim == 2 or (a.ndim == 3 and a.shape[-1] in (3, 4))):
        raise ValueError(f"encode_png expects [H, W], [H, W, 3] or [H, W, 4]. Received shape {a.shape}")
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="PNG", compress_level=6)
    return buf.getvalue()


def decode_png(data: bytes) -> np.ndarray:
    """Decodes PNG bytes to a uint8 array (``[H, W]`` or ``[H, W, C]``)."""
    with Image.open(io.BytesIO(data)) as img:
        return np.asarray(img).copy()


def to_uint8_image(images: np.ndarray) -> np.ndarray:
    """Converts model inputs to displayable uint8 RGB.

    Images in [0, 1] are scaled by 255, images in [0, 255] are kept; anything else (mean-subtracted
    inputs, say) is min-max scaled per image. Single-channel images are repeated to RGB.

    Args:
        images: ``[N, H, W, C]`` with C in (1, 3).

    Returns:
        ``[N, H, W, 3]`` uint8.
    """
    x = np.asarray(images, dtype=np.float64)
    if x.ndim != 4 or x.shape[-1] not in (1, 3):
        raise ValueError(f"Expected [N, H, W, 1|3] images. Received shape {x.shape}")
    lo, hi = float(x.min()), float(x.max())
    if lo >= 0.0 and hi <= 1.0:
        x = x * 255.0
    elif not (lo >= 0.0 and hi <= 255.0):
        mn = x.min(axis=(1, 2, 3), keepdims=True)
        mx = x.max(axis=(1, 2, 3), keepdims=True)
        x = (x - mn) / np.maximum(mx - mn, 1e-12) * 255.0
    if x.shape[-1] == 1:
        x = np.repeat(x, 3, axis=-1)
    return np.round(np.clip(x, 0, 255)).astype(np.uint8)


def heatmap_overlay(
    image: np.ndarray, heatmap: np.ndarray, *, alpha: float = 0.45, colormap: str = "inferno"
) -> np.ndarray:
    """Lays a colour-mapped heatmap over an image.

    Args:
        image: ``[H, W, 3]`` uint8.
        heatmap: ``[H, W]`` float in [0, 1] (or uint8).
        alpha: Heatmap opacity in [0, 1].
        colormap: A name from ``COLORMAPS``.

    Returns:
        ``[H, W, 3]`` uint8: ``(1 - alpha) * image + alpha * colormap(heatmap)``.
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1]. Received: alpha={alpha}")
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(f"Expected a [H, W, 3] uint8 image. Received {image.dtype} {image.shape}")
    heat = np.asarray(heatmap)
    if heat.shape != image.shape[:2]:
        raise ValueError(f"heatmap shape {heat.shape} does not match image shape {image.shape[:2]}")
    colored = apply_colormap(heat, colormap).astype(np.float64)
    out = (1.0 - alpha) * image.astype(np.float64) + alpha * colored
    return np.round(out).astype(np.uint8)
