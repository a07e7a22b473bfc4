"""Image-space operations of the filter-pattern ascent, in ``keras.ops``: the same on every Keras backend.

* ``inverse_dft_matrices``: the inverse real 2-D DFT of the Fourier parameterisation as matrix products;
* ``bilinear_taps`` and ``resample``: a random affine view as a gather of four weighted taps per pixel (with
  reflected borders, as ``tf.raw_ops.ImageProjectiveTransformV3``);
* ``warp``: a view whose gradient is the view back (``inverse_rows``), which is TensorFlow's gradient of that op,
  rather than the resampling's exact adjoint. The warp back is smoother than the adjoint of a minifying view
  (which leaves some pixels without gradient and doubles others), and its patterns reach more under random
  views (``tests/test_compute_filter_robustness.py`` measures both).
"""

from __future__ import annotations

import numpy as np
from keras import ops

from tb_featureviz.compute import backend
from tb_featureviz.compute.backend import Tensor


def inverse_dft_matrices(size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The real matrices of a 2-D inverse real FFT of a ``[size, size // 2 + 1]`` spectrum, times ``size``.

    ``numpy.fft.irfft2(X) * size == (cy @ Xr - sy @ Xi) @ ax - (sy @ Xr + cy @ Xi) @ bx``: an inverse complex
    DFT along the rows, then an inverse real DFT along the columns (the imaginary parts of the zero and Nyquist
    columns drop out, as ``irfft``'s do). Matrix products run on every Keras backend, differentiate everywhere
    and, at pattern sizes, cost less than an FFT call on the CPU.

    Returns:
        ``(cy, sy, ax, bx)``: float32 ``[size, size]``, ``[size, size]``, ``[size // 2 + 1, size]`` and
        ``[size // 2 + 1, size]``.
    """
    n, m = size, size // 2 + 1
    k = np.arange(n)
    angle = 2.0 * np.pi * np.outer(k, k) / n
    cy, sy = np.cos(angle), np.sin(angle)
    kx = np.arange(m)
    weight = np.full(m, 2.0)
    weight[0] = 1.0
    if n % 2 == 0:
        weight[-1] = 1.0
    angle_x = 2.0 * np.pi * np.outer(kx, k) / n
    ax = weight[:, None] * np.cos(angle_x) / n
    bx = weight[:, None] * np.sin(angle_x) / n
    bx[0] = 0.0
    if n % 2 == 0:
        bx[-1] = 0.0  # sin(pi x) at whole pixels
    return tuple(a.astype(np.float32) for a in (cy, sy, ax, bx))  # type: ignore[return-value]


def inverse_rows(rows: np.ndarray) -> np.ndarray:
    """The projective rows ``[K, 8]`` of the inverse affine maps of ``rows`` (``c0 = c1 = 0``)."""
    out = np.zeros_like(rows)
    for i, r in enumerate(np.asarray(rows, np.float64)):
        m = np.array([[r[0], r[1], r[2]], [r[3], r[4], r[5]], [0.0, 0.0, 1.0]])
        out[i, :6] = np.linalg.inv(m)[:2].ravel()
    return out


def _reflect(coord: Tensor, length: int) -> Tensor:
    """``pattern_metrics._reflect`` in ``keras.ops``: ``ImageProjectiveTransformV3``'s ``REFLECT`` of coordinates."""
    if length <= 1:
        return ops.zeros_like(coord)
    period = float(2 * length)
    neg = period * ops.floor(-coord / period) + coord  # coord < 0: trunc(-coord / period) = floor(...)
    neg = ops.where(neg < -length, neg + period, -neg - 1.0)
    pos = coord - period * ops.floor(coord / period)  # coord > length - 1 > 0: trunc = floor
    pos = ops.where(pos >= length, period - pos - 1.0, pos)
    out = ops.where(coord < 0, neg, ops.where(coord > length - 1, pos, coord))
    return ops.clip(out, 0.0, float(length - 1))


def pixel_grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)``: the column and row of each pixel of a ``size`` x ``size`` image, row major, float32."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    return x.ravel(), y.ravel()


def bilinear_taps(transform: Tensor, size: int, grid: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:
    """``pattern_metrics.bilinear_taps`` in ``keras.ops``, flat: ``(index, weights)``, ``[size**2 * 4]`` each.

    Computed inside the step from the step's row: a ``steps x size**2 x 4`` table would not fit large patterns.
    ``grid`` is ``pixel_grid(size)`` as backend tensors (made once, on the backend's device); by default it
    is made here.
    """
    x, y = grid if grid is not None else (ops.convert_to_tensor(a) for a in pixel_grid(size))
    t = ops.cast(transform, "float32")
    xin = _reflect(t[0] * x + t[1] * y + t[2], size)
    yin = _reflect(t[3] * x + t[4] * y + t[5], size)
    x0, y0 = ops.floor(xin), ops.floor(yin)
    x1, y1 = ops.minimum(x0 + 1.0, size - 1.0), ops.minimum(y0 + 1.0, size - 1.0)
    fx, fy = xin - x0, yin - y0
    index = ops.cast(ops.stack([y0 * size + x0, y0 * size + x1, y1 * size + x0, y1 * size + x1], axis=1), "int32")
    weights = ops.stack([(1 - fx) * (1 - fy), fx * (1 - fy), (1 - fx) * fy, fx * fy], axis=1)
    return ops.reshape(index, (-1,)), ops.reshape(weights, (-1,))


def resample(images: Tensor, index: Tensor, weights: Tensor | None = None) -> Tensor:
    """``images`` ``[B, n, n, C]`` resampled: output pixel ``p`` (row major) is ``sum_k weights[4p + k] *
    images[index[4p + k]]`` (four taps per pixel), or ``images[index[p]]`` without ``weights``.

    A gather on the images laid out ``[n * n, B * C]``: its gradient (a scatter-add) is the exact adjoint of the
    resampling, on every backend.
    """
    n, c = int(images.shape[1]), int(images.shape[3])
    flat = ops.reshape(ops.transpose(images, (1, 2, 0, 3)), (n * n, -1))
    out = ops.take(flat, index, axis=0)
    if weights is not None:
        out = ops.sum(ops.reshape(out * weights[:, None], (n * n, 4, -1)), axis=1)
    return ops.transpose(ops.reshape(out, (n, n, -1, c)), (2, 0, 1, 3))


def warp(images: Tensor, view: Tensor, view_back: Tensor, grid: tuple[Tensor, Tensor] | None = None) -> Tensor:
    """``images`` ``[B, n, n, C]`` seen through the projective row ``view`` ``[8]``; the gradient is the upstream
    gradient seen through ``view_back`` (``inverse_rows`` of ``view``). ``grid``: see ``bilinear_taps``."""
    n = int(images.shape[1])
    index, weights = bilinear_taps(view, n, grid)
    back_index, back_weights = bilinear_taps(view_back, n, grid)
    return backend.with_gradient(_forward, _backward, images, index, weights, back_index, back_weights)


def _forward(x: Tensor, index: Tensor, weights: Tensor, back_index: Tensor, back_weights: Tensor) -> Tensor:
    return resample(x, index, weights)


def _backward(upstream: Tensor, index: Tensor, weights: Tensor, back_index: Tensor, back_weights: Tensor) -> Tensor:
    return resample(upstream, back_index, back_weights)
