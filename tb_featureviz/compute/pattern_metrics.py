"""How far a filter pattern can be trusted: activation under random views, survival, spectral slope.

A filter pattern is evidence of what a filter responds to only if the response does not hang on one pixel
alignment. These measures, shared by the tests and ``benchmarks/bench_patterns.py``, say how much of it
holds up:

* ``random_views``: ``count`` seeded affine views of a batch of images (a shift of up to ``jitter``
  pixels, a scale in ``scale``, a rotation of up to ``rotation`` degrees about the centre), resampled
  bilinearly with reflected borders (what Keras' ``RandomTranslation``/``RandomZoom``/``RandomRotation``
  layers do by default). The defaults are the transformations of Lucid's standard set (Olah et al. 2017);
* ``activation_under_views``: a filter's mean activation on its own pattern averaged over the views, and
  ``survival``: that average as a share of the activation on the unperturbed pattern;
* ``spectral_slope``: the slope of the log-log fit of the radially averaged power spectrum against the
  spatial frequency. Natural images have a slope of about -2 (amplitude ~ 1/f); white noise 0;
* ``relative_activation`` (per filter) and ``layer_relative_activation`` (per layer): a pattern's activation
  relative to what the probe images (real inputs) reach;
* ``bilinear_taps``: the views as sparse resampling matrices (``compute.warp`` ports it to ``keras.ops`` for
  the ascent of ``filters``).

Everything is deterministic: the views come from ``numpy.random.default_rng(seed)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

VIEWS = 16
"""Random views per pattern in ``activation_under_views``."""
JITTER = 8.0
"""Largest shift of a view, in pixels along each axis."""
SCALE = (0.9, 1.1)
"""Range of the scale factor of a view."""
ROTATION = 10.0
"""Largest rotation of a view, in degrees either way."""


def view_transforms(
    count: int,
    size: int,
    *,
    seed: int = 0,
    jitter: float = JITTER,
    scale: tuple[float, float] = SCALE,
    rotation: float = ROTATION,
) -> np.ndarray:
    """Seeded random affine views as the ``transforms`` rows of ``tf.raw_ops.ImageProjectiveTransformV3``.

    View ``k`` scales by ``s_k`` and rotates by ``a_k`` about the centre of a ``size`` x ``size`` image, then
    shifts by ``(dx_k, dy_k)``. Each row maps an output pixel to the input pixel it samples.

    Args:
        count: Number of views.
        size: Image side in pixels.
        seed: Seed of the draw.
        jitter: Shifts are drawn uniformly in ``[-jitter, jitter]`` pixels (integers, as Lucid's jitter).
        scale: Scale factors are drawn uniformly in ``[scale[0], scale[1]]``.
        rotation: Angles are drawn uniformly in ``[-rotation, rotation]`` degrees.

    Returns:
        ``[count, 8]`` float32.

    Raises:
        ValueError: ``count`` or ``size`` below 1, or an empty ``scale`` range.

    Example:
        >>> view_transforms(1, 16, jitter=0, scale=(1, 1), rotation=0)[0] + 0.0   # the identity
        array([1., 0., 0., 0., 1., 0., 0., 0.], dtype=float32)
    """
    if count < 1 or size < 1:
        raise ValueError(f"count and size must be >= 1. Received: count={count!r}, size={size!r}")
    if not 0 < scale[0] <= scale[1]:
        raise ValueError(f"scale must be (low, high) with 0 < low <= high. Received: scale={scale!r}")
    rng = np.random.default_rng(seed)
    j = math.floor(jitter)
    shifts = rng.integers(-j, j + 1, size=(count, 2)) if j > 0 else np.zeros((count, 2), np.int64)
    scales = rng.uniform(scale[0], scale[1], size=count)
    angles = np.deg2rad(rng.uniform(-rotation, rotation, size=count))
    return affine_rows(scales, angles, shifts.astype(np.float64), size)


def affine_rows(scales: np.ndarray, angles: np.ndarray, shifts: np.ndarray, size: int) -> np.ndarray:
    """``[K, 8]`` projective rows for ``K`` views: scale ``scales[k]`` and rotate ``angles[k]`` (radians) about
    the centre of a ``size``-pixel image, then shift by ``shifts[k] = (dx, dy)`` pixels."""
    c = (size - 1) / 2.0
    # Forward map p_out = s R (p_in - c) + c + t, so p_in = R^T (p_out - c - t) / s + c.
    cos, sin = np.cos(angles) / scales, np.sin(angles) / scales
    a0, a1 = cos, sin
    b0, b1 = -sin, cos
    ox, oy = c + shifts[:, 0], c + shifts[:, 1]
    a2 = c - a0 * ox - a1 * oy
    b2 = c - b0 * ox - b1 * oy
    zeros = np.zeros_like(a0)
    return np.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1).astype(np.float32)


def apply_transform(images: npt.ArrayLike, transform: npt.ArrayLike) -> np.ndarray:
    """``images`` ``[N, S, S, C]`` resampled bilinearly by one projective row ``[8]`` (or one per image,
    ``[N, 8]``), with reflected borders: what ``tf.raw_ops.ImageProjectiveTransformV3`` does with
    ``fill_mode="REFLECT"`` (the tests hold it to that op), in NumPy, so it runs whatever the Keras backend."""
    x = np.asarray(images, np.float32)
    if x.ndim != 4 or x.shape[1] != x.shape[2]:
        raise ValueError(f"images must be [N, S, S, C] square images. Received shape {x.shape}")
    rows = np.asarray(transform, np.float64)
    if rows.ndim == 1:  # one row for all: resample the images side by side, the taps computed once
        n, size, _, c = x.shape
        side_by_side = _resample(x.transpose(1, 2, 0, 3).reshape(size, size, n * c), rows)
        return side_by_side.reshape(size, size, n, c).transpose(2, 0, 1, 3)
    return np.stack([_resample(image, row) for image, row in zip(x, rows, strict=True)])


def _resample(pixels: np.ndarray, row: np.ndarray) -> np.ndarray:
    """``[S, S, M]`` resampled by one projective row (``bilinear_taps``)."""
    index, weights = bilinear_taps(row, pixels.shape[0])
    flat = pixels.reshape(-1, pixels.shape[2])
    return np.einsum("pk,pkm->pm", weights, flat[index]).reshape(pixels.shape).astype(np.float32)


def _reflect(coord: np.ndarray, length: int) -> np.ndarray:
    """``ImageProjectiveTransformV3``'s ``REFLECT`` (``d c b a | a b c d | d c b a``) of continuous coordinates."""
    c = np.asarray(coord, np.float64).copy()
    if length <= 1:
        return np.zeros_like(c)
    period = 2 * length
    neg = c < 0
    cn = c[neg]
    cn = np.where(cn < period, period * np.trunc(-cn / period) + cn, cn)
    c[neg] = np.where(cn < -length, cn + period, -cn - 1)
    pos = c > length - 1
    cp = c[pos]
    cp = cp - period * np.trunc(cp / period)
    c[pos] = np.where(cp >= length, period - cp - 1, cp)
    return np.clip(c, 0, length - 1)


def bilinear_taps(transform: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The four source pixels and weights of each output pixel of ``apply_transform`` (reflected borders).

    ``apply_transform(x, transform)`` of a ``size`` x ``size`` image equals, for every output pixel ``p`` (row
    major), ``sum_k weights[p, k] * x.flat[index[p, k]]``: a sparse ``[size**2, size**2]`` matrix, which the
    ascent applies as a gather (``warp.resample``; its gradient there is the view back, see ``warp.warp``).

    Args:
        transform: One projective row ``[8]`` (an affine one: ``c0 = c1 = 0``).
        size: Image side in pixels.

    Returns:
        ``(index, weights)``: ``[size**2, 4]`` int64 flat source pixels and ``[size**2, 4]`` float32 weights.
    """
    a0, a1, a2, b0, b1, b2 = (float(v) for v in np.asarray(transform, np.float64)[:6])
    y, x = np.mgrid[0:size, 0:size].astype(np.float64)
    xin = _reflect((a0 * x + a1 * y + a2).ravel(), size)
    yin = _reflect((b0 * x + b1 * y + b2).ravel(), size)
    x0, y0 = np.floor(xin), np.floor(yin)
    x1, y1 = np.minimum(x0 + 1, size - 1), np.minimum(y0 + 1, size - 1)
    fx, fy = xin - x0, yin - y0
    index = np.stack([y0 * size + x0, y0 * size + x1, y1 * size + x0, y1 * size + x1], axis=1).astype(np.int64)
    weights = np.stack([(1 - fx) * (1 - fy), fx * (1 - fy), (1 - fx) * fy, fx * fy], axis=1).astype(np.float32)
    return index, weights


def random_views(
    images: npt.ArrayLike,
    count: int = VIEWS,
    *,
    seed: int = 0,
    jitter: float = JITTER,
    scale: tuple[float, float] = SCALE,
    rotation: float = ROTATION,
) -> np.ndarray:
    """``count`` seeded random views of every image (see ``view_transforms``), reflected at the borders.

    Args:
        images: ``[N, S, S, C]`` square images.
        count: Number of views; view ``k`` is the same transformation for every image.
        seed, jitter, scale, rotation: See ``view_transforms``.

    Returns:
        ``[count, N, S, S, C]`` float32.

    Raises:
        ValueError: ``images`` is not a batch of square images.
    """
    x = np.asarray(images, np.float32)
    if x.ndim != 4 or x.shape[1] != x.shape[2]:
        raise ValueError(f"images must be [N, S, S, C] square images. Received shape {x.shape}")
    rows = view_transforms(count, x.shape[1], seed=seed, jitter=jitter, scale=scale, rotation=rotation)
    return np.stack([apply_transform(x, row) for row in rows])


def activation_under_views(
    mean_activation: Callable[[np.ndarray], npt.ArrayLike],
    images: npt.ArrayLike,
    count: int = VIEWS,
    *,
    seed: int = 0,
    jitter: float = JITTER,
    scale: tuple[float, float] = SCALE,
    rotation: float = ROTATION,
) -> np.ndarray:
    """Each image's own-filter mean activation, averaged over ``count`` random views.

    Args:
        mean_activation: Maps ``[N, S, S, C]`` images to ``[N]`` activations (image ``i`` scored by filter
            ``i``), e.g. ``FilterPatternGenerator.mean_activation``.
        images: ``[N, S, S, C]`` patterns in model input space.
        count, seed, jitter, scale, rotation: See ``random_views``.

    Returns:
        ``[N]`` float64.
    """
    views = random_views(images, count, seed=seed, jitter=jitter, scale=scale, rotation=rotation)
    return np.mean([np.asarray(mean_activation(v), np.float64) for v in views], axis=0)


def survival(under_views: npt.ArrayLike, unperturbed: npt.ArrayLike) -> float:
    """The share of the unperturbed activation that survives the views: ``sum(under_views) / sum(unperturbed)``.

    Args:
        under_views: ``[N]`` activations averaged over views (``activation_under_views``).
        unperturbed: ``[N]`` activations on the patterns themselves.

    Returns:
        The ratio of the sums (filters that reach more weigh more); ``nan`` if ``unperturbed`` sums to <= 0.
    """
    num = float(np.sum(np.asarray(under_views, np.float64)))
    den = float(np.sum(np.asarray(unperturbed, np.float64)))
    return num / den if den > 0 else math.nan


def radial_power_spectrum(images: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Radially averaged power spectrum of square images, averaged over images and channels.

    Each channel has its mean removed and is multiplied by a 2-D Hann window (so the border of a
    non-periodic image does not add a ``1/f^2`` cross), then ``|FFT|^2`` is averaged over rings of
    integer radius ``k = 1 .. S // 2`` (frequency ``k / S`` cycles per pixel).

    Args:
        images: ``[N, S, S, C]`` (or ``[S, S, C]``, ``[S, S]``).

    Returns:
        ``(frequencies, power)``, both ``[S // 2]`` float64.

    Raises:
        ValueError: the images are not square or are smaller than 4 pixels.
    """
    x = np.asarray(images, np.float64)
    if x.ndim == 2:
        x = x[None, :, :, None]
    elif x.ndim == 3:
        x = x[None]
    if x.ndim != 4 or x.shape[1] != x.shape[2] or x.shape[1] < 4:
        raise ValueError(f"images must be [N, S, S, C] with S >= 4. Received shape {np.shape(images)}")
    size = x.shape[1]
    x = x - x.mean(axis=(1, 2), keepdims=True)
    hann = np.hanning(size + 2)[1:-1]  # no zero end points
    x = x * np.outer(hann, hann)[None, :, :, None]
    power = (np.abs(np.fft.fft2(x, axes=(1, 2))) ** 2).mean(axis=(0, 3))
    fy = np.fft.fftfreq(size)[:, None] * size
    fx = np.fft.fftfreq(size)[None, :] * size
    radius = np.rint(np.sqrt(fx**2 + fy**2)).astype(np.int64)
    ks = np.arange(1, size // 2 + 1)
    sums = np.bincount(radius.ravel(), weights=power.ravel(), minlength=size)
    counts = np.bincount(radius.ravel(), minlength=size)
    return ks / size, sums[ks] / np.maximum(counts[ks], 1)


def spectral_slope(images: npt.ArrayLike) -> float:
    """Slope of the least-squares line through ``log(power)`` against ``log(frequency)``.

    Args:
        images: ``[N, S, S, C]`` square images (see ``radial_power_spectrum``).

    Returns:
        The slope: about -2 for natural images, 0 for white noise; ``nan`` for flat images.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> abs(spectral_slope(rng.normal(size=(4, 64, 64, 1)))) < 0.1   # white noise
        True
    """
    freq, power = radial_power_spectrum(images)
    keep = power > 0
    if keep.sum() < 2:
        return math.nan
    slope = np.polyfit(np.log(freq[keep]), np.log(power[keep]), 1)[0]
    return float(slope)


def relative_activation(pattern_activation: npt.ArrayLike, probe_activation: npt.ArrayLike) -> np.ndarray:
    """Each filter's activation on its pattern divided by its mean activation on the probe images.

    A value of 3 says the pattern drives the filter three times as hard as the real inputs do on average;
    a value near 1 or below says the pattern found nothing the probes do not already show.

    Args:
        pattern_activation: ``[F]`` mean activation of each filter on its own pattern (the ``reached`` of
            ``FilterPatternGenerator``).
        probe_activation: ``[F]`` mean activation of the same filters over the probe images
            (``FilterPatternGenerator.probe_activation``).

    Returns:
        ``[F]`` float64; ``nan`` where the probe activation is <= 0 (a filter the probes leave silent has no
        meaningful ratio).

    Raises:
        ValueError: the shapes differ.

    Example:
        >>> relative_activation([2.0, 1.0, 3.0], [1.0, 4.0, 0.0]).tolist()
        [2.0, 0.25, nan]
    """
    p = np.asarray(pattern_activation, np.float64)
    q = np.asarray(probe_activation, np.float64)
    if p.shape != q.shape or p.ndim != 1:
        raise ValueError(
            f"pattern_activation and probe_activation must both be [F]. Received shapes {p.shape} and {q.shape}"
        )
    out = np.full(p.shape, math.nan)
    ok = q > 0
    out[ok] = p[ok] / q[ok]
    return out


def layer_relative_activation(pattern_activation: npt.ArrayLike, probe_activation: npt.ArrayLike) -> float:
    """One scalar per layer: the mean pattern activation over the mean probe activation of the same filters.

    Args:
        pattern_activation: ``[F]`` activations of the filters on their patterns.
        probe_activation: ``[F]`` mean activations of the same filters over the probe images.

    Returns:
        ``mean(pattern_activation) / mean(probe_activation)``; ``nan`` if the probe mean is <= 0.

    Raises:
        ValueError: the shapes differ.

    Example:
        >>> layer_relative_activation([2.0, 1.0, 3.0], [1.0, 4.0, 1.0])
        1.0
    """
    p = np.asarray(pattern_activation, np.float64)
    q = np.asarray(probe_activation, np.float64)
    if p.shape != q.shape or p.ndim != 1 or p.size == 0:
        raise ValueError(
            f"pattern_activation and probe_activation must both be [F], F >= 1. Received shapes {p.shape} and {q.shape}"
        )
    den = float(q.mean())
    return float(p.mean()) / den if den > 0 else math.nan
