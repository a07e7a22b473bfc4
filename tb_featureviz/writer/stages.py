"""Which layers and filters the planner draws from: resolution stages and the filter rotation.

Pure Python. ``stage_layers`` picks one layer per resolution stage; ``FilterRotation`` walks a layer's
filters in windows, after a fixed seeded subset drawn at every pass. ``tb_featureviz.writer.planner`` decides when.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ["FIXED_FILTERS", "FilterRotation", "LayerInfo", "filter_stage_layers", "stage_layers"]

FIXED_FILTERS = 16
"""Filters of a layer drawn at every pattern pass, chosen once (seeded)."""

_NOT_STAGE = ("ZeroPadding2D", "Cropping2D")


@dataclass(frozen=True)
class LayerInfo:
    """A feature layer as the planner sees it.

    Attributes:
        name: The layer name (as ``compute`` reports it).
        shape: ``(h, w, channels)`` of its output.
        kind: The layer class name (``"Conv2D"``, ``"MaxPooling2D"``, ``"Activation"``, ...).
        conv: Whether it is a convolution.
        pattern_side: Side in pixels of its filter patterns (for the cost prior), if known.
        rf: Receptive field of one unit in input pixels (``inf`` after global pooling).
    """

    name: str
    shape: tuple[int | None, int | None, int]
    kind: str
    conv: bool = False
    pattern_side: int | None = None
    rf: float = math.inf

    @property
    def pixels(self) -> int:
        h, w, c = self.shape
        return int((h or 1) * (w or 1) * c)


def stage_layers(layers: Sequence[LayerInfo], gradcam_layer: str | None = None) -> list[str]:
    """One representative layer per resolution stage, in model order.

    The representative of a stage is the last layer (in model order) whose output has that spatial size:
    the last feature map before the network downsamples. Padding and cropping layers and maps of 1x1 or
    unknown size are not stages. The Grad-CAM layer is added if it is not one already.

    Args:
        layers: Feature layers in model order.
        gradcam_layer: The Grad-CAM target layer, if any.

    Returns:
        Layer names in model order.

    Example:
        >>> infos = [LayerInfo("conv1", (32, 32, 8), "Conv2D", conv=True),
        ...          LayerInfo("relu1", (32, 32, 8), "ReLU"),
        ...          LayerInfo("pool1", (16, 16, 8), "MaxPooling2D"),
        ...          LayerInfo("conv2", (16, 16, 16), "Conv2D", conv=True)]
        >>> stage_layers(infos)  # the last layer of each resolution (ResNet50 gives conv1_relu ... conv5_block3_out)
        ['relu1', 'conv2']
    """
    last: dict[tuple[int, int], str] = {}
    for info in layers:
        h, w, _ = info.shape
        if h is None or w is None or h * w <= 1 or info.kind in _NOT_STAGE:
            continue
        last[(h, w)] = info.name
    chosen = set(last.values())
    if gradcam_layer is not None:
        chosen.add(gradcam_layer)
    return [info.name for info in layers if info.name in chosen]


def filter_stage_layers(layers: Sequence[LayerInfo]) -> list[str]:
    """Default filter-pattern layers: per resolution stage, the last convolution or activation layer.

    Pooling and normalisation layers would repeat their input's patterns, so a stage without a conv or
    activation layer (a pooling stage) has none. For the tutorial CNN these are its 4 conv layers; for
    ResNet50 the 5 stage outputs.
    """
    last: dict[tuple[int, int], str] = {}
    for info in layers:
        h, w, _ = info.shape
        if h is None or w is None or h * w <= 1:
            continue
        if info.conv or info.kind in ("Activation", "ReLU", "LeakyReLU", "PReLU", "ELU"):
            last[(h, w)] = info.name
    chosen = set(last.values())
    return [info.name for info in layers if info.name in chosen]


@dataclass
class FilterRotation:
    """Which filters of one layer a pattern pass draws: a fixed seeded subset, then a moving window.

    Args:
        layer: The layer name (part of the seed).
        channels: Number of filters of the layer.
        window: Filters per window.
        seed: Seed of the fixed subset.

    Attributes:
        fixed: The fixed subset, sorted (empty when the window covers the whole layer).
        passes: Pattern passes done so far.
    """

    layer: str
    channels: int
    window: int
    seed: int = 0
    fixed: list[int] = field(default_factory=list)
    passes: int = 0

    def __post_init__(self) -> None:
        if self.channels < 1 or self.window < 1:
            raise ValueError(
                f"FilterRotation needs channels >= 1 and window >= 1. Received {self.channels}, {self.window}"
            )
        if self.channels <= self.window + FIXED_FILTERS:
            # The whole layer costs no more tiles than a fixed subset plus a window would, and draws no filter
            # twice (an 8-channel layer with window=4 drew 16 fixed + 4 repeated tiles).
            self.window = self.channels
        if self.window < self.channels:
            rng = random.Random(f"{self.seed}/{self.layer}")
            self.fixed = sorted(rng.sample(range(self.channels), min(FIXED_FILTERS, self.channels)))

    @property
    def windows(self) -> int:
        """Passes needed to draw every filter once."""
        return math.ceil(self.channels / self.window)

    def window_at(self, index: int) -> tuple[int, int]:
        """``(first, last)`` filter of window ``index`` (inclusive); the last window ends at the last filter."""
        start = (index % self.windows) * self.window
        start = min(start, self.channels - self.window)
        return start, start + self.window - 1

    def filters_at(self, index: int) -> list[int]:
        """The tiles of pass ``index``: the fixed subset, then the window (a constant count)."""
        first, last = self.window_at(index)
        return [*self.fixed, *range(first, last + 1)]

    def take(self) -> tuple[list[int], tuple[int, int], tuple[int, int]]:
        """The filters of the next pass; advances the rotation.

        Returns:
            ``(filters, window, next_window)``.
        """
        index = self.passes
        self.passes += 1
        return self.filters_at(index), self.window_at(index), self.window_at(index + 1)
