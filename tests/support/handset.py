"""A tiny conv net with hand-set weights and its float64 NumPy reference, for the CAM tests.

``tiny_model(units, activation)``: ``Conv2D(3, 3x3, relu)`` on ``6x6x2`` inputs, ``Flatten``, ``Dense(units)``,
with the weights of ``weights(seed, units)``; ``conv_relu_f64`` and ``grad_cam_f64`` compute the same in float64.
"""

from __future__ import annotations

import keras
import numpy as np

H = W = 6
CIN, COUT = 2, 3


def weights(seed: int, units: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    kernel = rng.normal(0.0, 0.5, size=(3, 3, CIN, COUT))
    bias = np.array([0.1, -0.05, 0.02])
    dense = rng.normal(0.0, 0.5, size=(4 * 4 * COUT, units))
    dense_bias = rng.normal(0.0, 0.1, size=(units,))
    return [kernel, bias, dense, dense_bias]


def tiny_model(units: int, activation: str, seed: int = 1) -> keras.Model:
    model = keras.Sequential(
        [
            keras.Input((H, W, CIN)),
            keras.layers.Conv2D(COUT, 3, activation="relu", name="conv"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(units, activation=activation, name="head"),
        ]
    )
    model.set_weights([w.astype(np.float32) for w in weights(seed, units)])
    return model


def images(n: int = 3) -> np.ndarray:
    return np.random.default_rng(7).uniform(0.0, 1.0, size=(n, H, W, CIN)).astype(np.float32)


# -- float64 reference ---------------------------------------------------------------------------------------


def conv_relu_f64(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray) -> np.ndarray:
    n, h, w, _ = x.shape
    k = kernel.shape[0]
    out = np.zeros((n, h - k + 1, w - k + 1, kernel.shape[-1]))
    for i in range(h - k + 1):
        for j in range(w - k + 1):
            patch = x[:, i : i + k, j : j + k, :]  # [n, k, k, cin]
            out[:, i, j, :] = np.einsum("nabc,abco->no", patch, kernel) + bias
    return np.maximum(out, 0.0)


def resize_bilinear_half_pixel_f64(maps: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """``tf.image.resize(..., "bilinear")`` (half-pixel centres, no antialiasing) in float64."""

    def axis(n_out: int, n_in: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        c = (np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5
        lo = np.floor(c)
        frac = c - lo
        return np.clip(lo, 0, n_in - 1).astype(int), np.clip(lo + 1, 0, n_in - 1).astype(int), frac

    y0, y1, fy = axis(out_h, maps.shape[1])
    x0, x1, fx = axis(out_w, maps.shape[2])
    top = maps[:, y0][:, :, x0] * (1 - fx) + maps[:, y0][:, :, x1] * fx
    bottom = maps[:, y1][:, :, x0] * (1 - fx) + maps[:, y1][:, :, x1] * fx
    return top * (1 - fy)[None, :, None] + bottom * fy[None, :, None]


def grad_cam_f64(x: np.ndarray, weights: list[np.ndarray], classes: list[int], sigmoid: bool) -> np.ndarray:
    kernel, bias, dense, _ = (w.astype(np.float64) for w in weights)
    a = conv_relu_f64(x.astype(np.float64), kernel, bias)  # [N, 4, 4, COUT]
    maps = []
    for n, c in enumerate(classes):
        # The logit is linear in A (Flatten then Dense): d logit_c / dA = the Dense column, reshaped (h, w, k).
        column = dense[:, 0] * (1.0 if c == 1 else -1.0) if sigmoid else dense[:, c]
        grad = column.reshape(a.shape[1:])
        alpha = grad.mean(axis=(0, 1))
        maps.append(np.maximum((a[n] * alpha).sum(axis=-1), 0.0))
    up = resize_bilinear_half_pixel_f64(np.stack(maps), H, W)
    peak = up.max(axis=(1, 2), keepdims=True)
    return np.where(peak > 1e-7, up / np.maximum(peak, 1e-7), 0.0)
