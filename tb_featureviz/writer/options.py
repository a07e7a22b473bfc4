"""``WriterOptions``: what the callback and ``featureviz watch`` draw, declared and validated once.

The callback's keyword arguments become a ``WriterOptions`` (checked in ``__post_init__``, so a bad value
raises before training starts, naming the value). A callback with ``visualize=False`` records the
``SHARED`` options in its run info, and ``featureviz watch`` rebuilds the same ``WriterOptions`` from them with
``updated``, so both draw the same summaries.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from tb_featureviz.compute.backend import Tensor
from tb_featureviz.compute.filters import check_parameterization
from tb_featureviz.compute.input_space import STYLES, InputSpace
from tb_featureviz.metadata import Record
from tb_featureviz.validation import integer, non_negative_int, optional_positive_int, positive_int
from tb_featureviz.writer.planner import Budget

__all__ = ["DEFAULT_MAX_BYTES", "DEFAULT_MAX_GRID_PIXELS", "WriterOptions"]

DEFAULT_MAX_GRID_PIXELS = 32_768
"""Pixels of one activation or filter grid before it is reduced (about 181x181)."""
DEFAULT_MAX_BYTES = 1_000_000
"""Bytes per logged epoch that growing the layer set may use."""


def _option(default: object = None, *, shared: bool = True, factory: Callable[[], object] | None = None) -> Any:
    """Declares one writer option: its default, and whether the sidecar takes it over from the callback.

    ``shared=False`` keeps an option with this process (the budget, and the input space's declaration,
    which may be a callable: what it resolves to is recorded in run_info as ``"input_space"``).
    """
    metadata = {"shared": shared}
    if factory is not None:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass
class WriterOptions:
    """What to draw; the callback's keyword arguments, validated (see ``FeatureVizCallback``).

    Each option is declared once, here. ``FeatureVizCallback`` takes every field as a keyword argument of
    the same name and default (``budget`` as ``budget``/``budget_seconds``) and documents it in its ``Args``
    (``tests/test_writer_options.py`` checks both); ``SHARED`` and ``LOCAL`` are derived from the fields.
    """

    layers: Sequence[str | type] | None = _option(shared=False)
    filter_patterns: bool = _option(True)
    filter_layers: Sequence[str] | None = _option()
    filter_every_n_epochs: int = _option(1)
    max_filters: int = _option(128)
    filter_steps: int | None = _option()
    filter_parameterization: str = _option("fourier")
    gradcam: bool = _option(True)
    gradcam_layer: str | None = _option()
    gradcam_overlays: bool = _option(False)
    faithfulness: bool = _option(True)
    exemplars: int = _option(5)
    max_grid_pixels: int | None = _option(DEFAULT_MAX_GRID_PIXELS)
    max_bytes_per_epoch: int | None = _option(DEFAULT_MAX_BYTES)
    budget: Budget = _option(shared=False, factory=Budget)
    class_names: list[str] | None = _option()
    hparams: Record = _option(factory=dict)
    log_metrics: bool = _option(True)
    seed: int = _option(0)
    input_range: tuple[float, float] | None = _option(shared=False)
    preprocess: str | Callable[[Tensor], Tensor] | None = _option(shared=False)
    deprocess: Callable[[Tensor], Tensor] | None = _option(shared=False)

    SHARED: ClassVar[tuple[str, ...]]
    """What the sidecar takes over from a callback with ``visualize=False`` (recorded in its run_info), so it
    draws what that callback would have drawn; in declaration order (the order of ``to_json``)."""
    LOCAL: ClassVar[tuple[str, ...]]
    """Options that stay with this process."""

    @classmethod
    def from_arguments(cls, arguments: Mapping[str, object], **given: object) -> WriterOptions:
        """The options among a caller's ``arguments`` (its ``locals()``), then ``given`` ones, by name."""
        values: Record = {f.name: arguments[f.name] for f in fields(cls) if f.name in arguments}
        values.update(given)
        return cls(**values)

    def to_json(self) -> Record:
        """The options a sidecar reuses (``layers`` too, when given as names)."""
        out = {name: getattr(self, name) for name in self.SHARED}
        if self.layers is not None and all(isinstance(n, str) for n in self.layers):
            out["layers"] = list(self.layers)
        return out

    def updated(self, recorded: Mapping[str, object], **overrides: object) -> WriterOptions:
        """A copy with ``recorded`` options (``to_json``), then the non-None ``overrides``, applied."""
        values: Record = {name: getattr(self, name) for name in (*self.SHARED, *self.LOCAL)}
        values.update({k: v for k, v in recorded.items() if k in values and k != "budget"})
        values.update({k: v for k, v in overrides.items() if v is not None})
        return WriterOptions(**values)

    def __post_init__(self) -> None:
        for name in ("filter_patterns", "gradcam", "gradcam_overlays", "faithfulness", "log_metrics"):
            setattr(self, name, bool(getattr(self, name)))
        self.class_names = None if self.class_names is None else list(self.class_names)
        self.hparams = dict(self.hparams or {})
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


WriterOptions.SHARED = tuple(f.name for f in fields(WriterOptions) if f.metadata["shared"])
WriterOptions.LOCAL = tuple(f.name for f in fields(WriterOptions) if not f.metadata["shared"])
