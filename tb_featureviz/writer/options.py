"""``Options``: what the callback and ``featureviz watch`` draw, validated once.

The callback's keyword arguments become an ``Options`` (checked in ``__post_init__``, so a bad value
raises before training starts, naming the value). A callback with ``visualize=False`` records the
``SHARED`` options in its run info, and ``featureviz watch`` rebuilds the same ``Options`` from them with
``updated``, so both draw the same summaries.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tb_featureviz.compute.filters import check_parameterization
from tb_featureviz.compute.input_space import STYLES, InputSpace
from tb_featureviz.validation import integer, non_negative_int, optional_positive_int, positive_int
from tb_featureviz.writer.planner import Budget

__all__ = ["DEFAULT_MAX_BYTES", "DEFAULT_MAX_GRID_PIXELS", "Options"]

DEFAULT_MAX_GRID_PIXELS = 32_768
"""Pixels of one activation or filter grid before it is reduced (about 181x181)."""
DEFAULT_MAX_BYTES = 1_000_000
"""Bytes per logged epoch that growing the layer set may use."""


@dataclass
class Options:
    """What to draw; the callback's keyword arguments, validated (see ``FeatureVizCallback``)."""

    layers: Sequence[str | type] | None = None
    filter_patterns: bool = True
    filter_layers: Sequence[str] | None = None
    filter_every_n_epochs: int = 1
    max_filters: int = 128
    filter_steps: int | None = None
    filter_parameterization: str = "fourier"
    gradcam: bool = True
    gradcam_layer: str | None = None
    gradcam_overlays: bool = False
    faithfulness: bool = True
    exemplars: int = 5
    max_grid_pixels: int | None = DEFAULT_MAX_GRID_PIXELS
    max_bytes_per_epoch: int | None = DEFAULT_MAX_BYTES
    budget: Budget = field(default_factory=Budget)
    class_names: list[str] | None = None
    hparams: dict[str, Any] = field(default_factory=dict)
    log_metrics: bool = True
    seed: int = 0
    input_range: tuple[float, float] | None = None
    preprocess: str | Callable[[Any], Any] | None = None
    deprocess: Callable[[Any], Any] | None = None

    # What the sidecar takes over from a callback with visualize=False (recorded in its run_info), so it
    # draws what that callback would have drawn.
    SHARED = (
        "filter_patterns",
        "filter_layers",
        "filter_every_n_epochs",
        "max_filters",
        "filter_steps",
        "filter_parameterization",
        "gradcam",
        "gradcam_layer",
        "gradcam_overlays",
        "faithfulness",
        "exemplars",
        "max_grid_pixels",
        "max_bytes_per_epoch",
        "class_names",
        "hparams",
        "log_metrics",
        "seed",
    )

    # Options that stay with this process: the budget, and the input space's declaration (it may be a
    # callable; what it resolves to is recorded in run_info as "input_space", which the sidecar reads).
    LOCAL = ("layers", "budget", "input_range", "preprocess", "deprocess")

    def to_json(self) -> dict[str, Any]:
        """The options a sidecar reuses (``layers`` too, when given as names)."""
        out = {name: getattr(self, name) for name in self.SHARED}
        if self.layers is not None and all(isinstance(n, str) for n in self.layers):
            out["layers"] = list(self.layers)
        return out

    def updated(self, recorded: Mapping[str, Any], **overrides: Any) -> Options:
        """A copy with ``recorded`` options (``to_json``), then the non-None ``overrides``, applied."""
        values = {name: getattr(self, name) for name in (*self.SHARED, *self.LOCAL)}
        values.update({k: v for k, v in recorded.items() if k in values and k != "budget"})
        values.update({k: v for k, v in overrides.items() if v is not None})
        return Options(**values)

    def __post_init__(self) -> None:
        if self.layers is not None and (isinstance(self.layers, (str, type)) or len(self.layers) == 0):
            raise ValueError(f"layers must be a non-empty list of names or classes. Received: layers={self.layers!r}")
        self.layers = None if self.layers is None else list(self.layers)
        if isinstance(self.filter_layers, str):
            raise TypeError(f"filter_layers must be a list of names. Received: filter_layers={self.filter_layers!r}")
        self.filter_layers = None if self.filter_layers is None else list(self.filter_layers)
        self.filter_every_n_epochs = positive_int("filter_every_n_epochs", self.filter_every_n_epochs)
        if self.max_filters is None:  # the old meaning "no cap": every filter in one window
            self.max_filters = 1 << 20
        self.max_filters = positive_int("max_filters", self.max_filters)
        self.filter_steps = optional_positive_int("filter_steps", self.filter_steps)
        self.filter_parameterization = check_parameterization(self.filter_parameterization, "filter_parameterization")
        self.max_grid_pixels = optional_positive_int("max_grid_pixels", self.max_grid_pixels)
        self.max_bytes_per_epoch = optional_positive_int("max_bytes_per_epoch", self.max_bytes_per_epoch)
        self.seed = integer("seed", self.seed)
        if self.input_range is not None:
            space = InputSpace.from_range(self.input_range)  # raises on a bad pair
            self.input_range = (space.offset[0], space.offset[0] + space.scale[0])
        if self.preprocess is not None and not callable(self.preprocess) and self.preprocess not in STYLES:
            raise ValueError(
                f"preprocess must be one of {STYLES} or a callable. Received: preprocess={self.preprocess!r}"
            )
        if self.input_range is not None and self.preprocess is not None:
            raise ValueError(
                f"Give input_range or preprocess, not both. Received: input_range={self.input_range!r}, "
                f"preprocess={self.preprocess!r}"
            )
        if self.deprocess is not None and (not callable(self.deprocess) or not callable(self.preprocess)):
            raise TypeError(
                "deprocess must be a callable, given with a callable preprocess. "
                f"Received: deprocess={self.deprocess!r}, "
                f"preprocess={self.preprocess!r}"
            )
        self.exemplars = non_negative_int("exemplars", self.exemplars)
        if self.class_names is not None and not all(isinstance(c, str) for c in self.class_names):
            raise TypeError(f"class_names must be strings. Received: class_names={self.class_names!r}")
        if self.gradcam_layer is not None and not isinstance(self.gradcam_layer, str):
            raise TypeError(f"gradcam_layer must be a layer name. Received: gradcam_layer={self.gradcam_layer!r}")
