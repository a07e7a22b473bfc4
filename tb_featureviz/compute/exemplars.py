"""The natural images a channel likes best: the top-k receptive-field crops of a fixed image sample.

Exemplars explain a unit better than synthetic patterns: people predict a unit's response right 92% of the
time from natural exemplars and 82% from feature visualisations (Borowski et al., ICLR 2021). For each
channel of a layer, its exemplars are the ``k`` images of a fixed sample (drawn from the validation data
once) where the channel's strongest response is highest, each with the place of that response. A crop of
the layer's receptive field around that place shows what the channel responded to.

Only indices and coordinates are computed and stored (a few bytes a channel); the sample images are
written once, and a viewer cuts the crops out of them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tb_featureviz.metadata import crop_box
from tb_featureviz.validation import positive_int

__all__ = ["DEFAULT_EXEMPLARS", "Exemplars", "crop_box", "top_exemplars"]

DEFAULT_EXEMPLARS = 5
"""Exemplars kept per channel (Borowski et al. showed 9; 5 fit beside a pattern and a filmstrip)."""


@dataclass(frozen=True)
class Exemplars:
    """The top-k exemplars of every channel of one layer.

    Attributes:
        images: ``[C, k]`` index into the image sample of each exemplar, best first.
        y: ``[C, k]`` the response's centre in input pixels (row).
        x: ``[C, k]`` the response's centre in input pixels (column).
        values: ``[C, k]`` the response (the channel's maximum over the image).
    """

    images: np.ndarray
    y: np.ndarray
    x: np.ndarray
    values: np.ndarray

    def to_json(self) -> list[list[list[float]]]:
        """``[[[image, y, x, value], ...k], ...C]`` with the value to 4 significant digits."""
        out = []
        for c in range(self.images.shape[0]):
            out.append(
                [
                    [int(i), int(yy), int(xx), float(f"{v:.4g}")]
                    for i, yy, xx, v in zip(self.images[c], self.y[c], self.x[c], self.values[c], strict=True)
                ]
            )
        return out


def top_exemplars(activations: npt.ArrayLike, k: int = DEFAULT_EXEMPLARS, *, input_hw: tuple[int, int]) -> Exemplars:
    """The ``k`` images of a sample where each channel's strongest response is highest.

    Args:
        activations: ``[M, h, w, C]`` a layer's output for ``M`` sample images.
        k: Exemplars per channel (at most ``M``); distinct images, best first, ties to the lower index.
        input_hw: ``(H, W)`` of the model input, to place a response in input pixels: unit ``(i, j)`` of an
            ``h x w`` map sits at ``((i + 0.5) * H / h, (j + 0.5) * W / w)``, rounded down.

    Returns:
        The exemplars.

    Raises:
        ValueError: ``activations`` is not 4-D or is empty.

    Example:
        >>> ex = top_exemplars(acts["conv2d_3"], 5, input_hw=(150, 150))
        >>> ex.images[7]          # the sample images channel 7 likes best
        array([12,  3, 40, 41,  9])
    """
    acts = np.asarray(activations)
    if acts.ndim != 4 or acts.shape[0] == 0:
        raise ValueError(f"activations must be [M, h, w, C] with M >= 1. Received shape {acts.shape}")
    k = min(positive_int("k", k), acts.shape[0])
    m, h, w, c = acts.shape
    flat = acts.reshape(m, h * w, c)
    if np.isnan(flat).any():  # a diverged model: NaN never wins
        flat = np.where(np.isnan(flat), -np.inf, flat)
    where = flat.argmax(axis=1)  # [M, C]
    peak = np.take_along_axis(flat, where[:, None, :], axis=1)[:, 0, :].astype(np.float64)
    order = np.argsort(-peak, axis=0, kind="stable")[:k].T  # [C, k]: images, best first, ties by index
    channels = np.arange(c)[:, None]
    row, col = np.divmod(where[order, channels], w)
    height, width = input_hw
    return Exemplars(
        images=order.astype(np.int64),
        y=np.floor((row + 0.5) * height / h).astype(np.int64),
        x=np.floor((col + 0.5) * width / w).astype(np.int64),
        values=peak[order, channels],
    )
