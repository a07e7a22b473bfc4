"""``ExportOptions``: what an export holds and how it looks, checked once where the export enters.

An export enters in one of three ways, and each builds one ``ExportOptions`` with
:meth:`ExportOptions.parse`:

- Python: ``tb_featureviz.export.export`` and ``collect`` take keyword arguments;
- the command line: ``featureviz export`` (``tb_featureviz.export.cli``) converts its arguments with argparse;
- HTTP: the plugin's ``/export`` route turns its query strings into numbers and flags.

:meth:`ExportOptions.parse` turns the forms people write (``"0-9,20"``, ``"activations,gradcam"``) into
typed values, and ``__post_init__`` checks every field, so an ``ExportOptions`` that exists is valid.
Nothing below the entry checks an option again: the planner (``plan.py``), the reader (``collect.py``)
and the writers take the object whole. A bad value raises
:class:`~tb_featureviz.export.errors.ExportArgumentError` naming it.

Example:
    >>> options = ExportOptions.parse("exp1", epochs="0-9,20", kinds="gradcam,activations", format="zip")
    >>> options.kinds, options.epochs
    (('activations', 'gradcam'), EpochSelection(epochs=(20,), ranges=((0, 9),)))
"""

from __future__ import annotations

import bisect
import dataclasses
import math
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from tb_featureviz.export.content import DETAILS, EXPORT_KINDS, FORMATS, SUMMARY_FORMATS
from tb_featureviz.export.errors import ExportArgumentError
from tb_featureviz.reader.alignment import parse_stage
from tb_featureviz.reader.integrity import MAX_ECHO, clip
from tb_featureviz.render import COLORMAPS
from tb_featureviz.validation import non_negative_int, positive_int

__all__ = ["MAX_SCALE", "EpochSelection", "EpochSpec", "ExportOptions", "parse_epochs", "parse_kinds", "parse_names"]

T = TypeVar("T")

EpochSpec = str | int | Iterable[int] | None
"""``"last"``, ``"all"``, ``"0,10,29"`` (ranges like ``"0-5"`` too), an int or a list of ints."""

MAX_EPOCH_DIGITS = 18
"""Digits of an epoch number in a selection (epochs are int64 steps)."""

MAX_EPOCH_PARTS = 1000
"""Comma-separated items of an epoch selection."""

MAX_EPOCH_SPAN = 1_000_000
"""Epochs one ``a-b`` range may cover (``all`` selects every epoch, however many)."""

MAX_SCALE = 64
"""Largest enlargement of PNG and GIF images (a 150x150 grid becomes 9600x9600)."""


@dataclasses.dataclass(frozen=True)
class EpochSelection:
    """Epochs named one by one and ``a-b`` ranges, never expanded into a set of every integer.

    A named epoch must exist; a range selects the epochs that exist inside it (:meth:`select`).

    Attributes:
        epochs: The epochs named one by one, sorted, no duplicates.
        ranges: Inclusive ``(low, high)`` ranges, sorted and merged where they overlap.
    """

    epochs: tuple[int, ...] = ()
    ranges: tuple[tuple[int, int], ...] = ()

    def __contains__(self, epoch: object) -> bool:
        if not isinstance(epoch, int):
            return False
        i = bisect.bisect_right(self.ranges, (epoch, math.inf)) - 1
        if i >= 0 and self.ranges[i][0] <= epoch <= self.ranges[i][1]:
            return True
        j = bisect.bisect_left(self.epochs, epoch)
        return j < len(self.epochs) and self.epochs[j] == epoch

    def select(self, steps: Iterable[int]) -> tuple[list[int], list[int]]:
        """``(chosen, missing)``: the ``steps`` selected, sorted, and the named epochs not among them.

        Costs ``O((len(steps) + len(epochs)) log n)``, whatever the ranges span.
        """
        have = sorted(set(steps))
        present = set(have)
        return [s for s in have if s in self], [e for e in self.epochs if e not in present]

    def describe(self) -> str:
        """The selection as written, shortened when long: ``0-9, 20, 25``."""
        parts = [f"{lo}-{hi}" for lo, hi in self.ranges] + [str(e) for e in self.epochs]
        if len(parts) > 12:
            return ", ".join(parts[:10]) + f", ... ({len(parts)} items)"
        return ", ".join(parts)


@dataclasses.dataclass(frozen=True)
class ExportOptions:
    """What to export and how, checked when it is made (every ``ExportOptions`` is valid).

    Make one with :meth:`parse` from what a person wrote, or directly from typed values.

    Attributes:
        runs: The runs as given: each item a run name or comma-separated names. They are matched with the
            logdir's runs when the export is planned, and a name that exists is never split
            (``lr=1e-4,bs=20`` is one run; see ``tb_featureviz.export.selection.parse_run_names``).
        epochs: ``"last"`` (each run's last written epoch), ``"all"``, or an :class:`EpochSelection`; None (the
            default): ``"all"`` for a summary (its filmstrips pick at most six of them), ``"last"`` otherwise.
        kinds: Some of ``EXPORT_KINDS``, kept in that (display) order.
        layers: Layer names to keep; empty for every layer.
        format: One of ``FORMATS``: ``html``, ``pdf``, ``png``, ``svg``, ``gif`` or ``zip``.
        detail: ``summary`` or ``full`` (``DETAILS``); None (the default): ``summary`` for ``html``, ``pdf``,
            ``png`` and ``svg``, ``full`` for ``gif`` and ``zip``. A summary is a report of numbered figures
            (``png``/``svg``: each figure as one file, 300 dpi or vector); ``full`` holds every exported epoch
            of every layer, each stored image as it is (``html``, ``png``, ``gif``, ``zip``).
        colormap: Colour map of activation grids and heatmaps, from ``tb_featureviz.render.COLORMAPS``.
            None: viridis, and Grad-CAM overlays keep their stored colours (with a map they are redrawn).
        scale: Integer enlargement of PNG and GIF images (nearest neighbour), 1 to :data:`MAX_SCALE`.
        caption: Caption strips under PNGs; captions under the HTML figures.
        channel: Only this channel of activation grids / this filter of filter grids (the tile is cut out
            with the recorded grid layout); None for whole grids. Grad-CAM images are not affected.
        probe: Only this probe image (activations and Grad-CAM); None for every probe.
        stage: ``(k, n)``: runs of different architectures aligned by stage, each run showing its own
            layer for stage ``k`` of an ``n``-stage run (its stage representative for activations, the
            stage's filter layer for filters, its Grad-CAM layer for Grad-CAM;
            ``tb_featureviz.reader.alignment.aligned_layer``). Also given as ``"3/5"``. Not with ``layers``.
        run_layers: ``(run, layer)`` pairs (or a mapping): the layer to export for that run in the kinds
            it has tags of, whatever ``layers`` or ``stage`` say (the dashboard's per-run choice); the
            run's other kinds follow ``layers`` or ``stage``.

    Raises:
        ExportArgumentError: a field out of its range or of the wrong type; the message names the value.
    """

    runs: tuple[str, ...]
    epochs: str | EpochSelection | None = None
    kinds: tuple[str, ...] = EXPORT_KINDS
    layers: tuple[str, ...] = ()
    format: str = "html"
    detail: str | None = None
    colormap: str | None = None
    scale: int = 1
    caption: bool = True
    channel: int | None = None
    probe: int | None = None
    stage: tuple[int, int] | None = None
    run_layers: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ExportArgumentError(f"unknown format {clip(str(self.format))}; choose from {', '.join(FORMATS)}")
        if self.colormap is not None and self.colormap not in COLORMAPS:
            raise ExportArgumentError(
                f"Unknown colour map {clip(str(self.colormap))}. Choose one of: {', '.join(COLORMAPS)}."
            )
        scale = _argument(positive_int, "scale", self.scale)
        if scale > MAX_SCALE:
            raise ExportArgumentError(f"scale must be an int from 1 to {MAX_SCALE}. Received: scale={scale}")
        if self.detail is None:
            _set(self, "detail", "summary" if self.format in SUMMARY_FORMATS else "full")
        if self.detail not in DETAILS:
            raise ExportArgumentError(f"unknown detail {clip(str(self.detail))}; choose from {', '.join(DETAILS)}")
        if self.detail == "summary" and self.format not in SUMMARY_FORMATS:
            raise ExportArgumentError(
                f"format {self.format} holds stored images only; use detail='full' or a format with a summary "
                f"({', '.join(SUMMARY_FORMATS)})"
            )
        if self.detail == "full" and self.format in ("pdf", "svg"):
            raise ExportArgumentError(
                f"format {self.format} is drawn from the summary's figures; use detail='summary', or html for the "
                "full report"
            )
        if self.epochs is None:
            _set(self, "epochs", "all" if self.detail == "summary" else "last")
        if not (isinstance(self.epochs, EpochSelection) or self.epochs in ("last", "all")):
            raise ExportArgumentError(
                f"epochs must be 'last', 'all' or an EpochSelection. Received: epochs={_shown(self.epochs)}"
            )
        if not _strings(self.kinds):
            raise ExportArgumentError(f"kinds must be a tuple of kind names. Received: kinds={_shown(self.kinds)}")
        unknown = [k for k in self.kinds if k not in EXPORT_KINDS]
        if unknown or not self.kinds:
            shown = clip(str(unknown[0])) if unknown else "none"
            raise ExportArgumentError(f"unknown kind {shown}; choose from {', '.join(EXPORT_KINDS)}")
        if not _strings(self.runs) or not parse_names(self.runs):
            raise ExportArgumentError(f"no run given; name at least one run. Received: runs={_shown(self.runs)}")
        if not _strings(self.layers):
            raise ExportArgumentError(f"layers must be a tuple of layer names. Received: layers={_shown(self.layers)}")
        if isinstance(self.stage, str):
            try:
                _set(self, "stage", parse_stage(self.stage))
            except ValueError as e:
                raise ExportArgumentError(str(e)) from None
        elif self.stage is not None:
            pair = tuple(self.stage) if isinstance(self.stage, (tuple, list)) else ()
            if len(pair) != 2 or not all(isinstance(v, int) for v in pair) or not 1 <= pair[0] <= pair[1]:
                raise ExportArgumentError(
                    f"stage must be (k, n) with 1 <= k <= n. Received: stage={_shown(self.stage)}"
                )
            _set(self, "stage", (int(pair[0]), int(pair[1])))
        if self.stage is not None and self.layers:
            raise ExportArgumentError("give layers or stage, not both")
        pairs = list(self.run_layers.items()) if isinstance(self.run_layers, Mapping) else list(self.run_layers)
        if not all(isinstance(p, (tuple, list)) and len(p) == 2 and _strings(tuple(p)) and all(p) for p in pairs):
            raise ExportArgumentError(
                f"run_layers must be (run, layer) pairs of names. Received: run_layers={_shown(self.run_layers)}"
            )
        _set(self, "run_layers", tuple((str(r), str(la)) for r, la in pairs))
        _set(self, "scale", scale)
        _set(self, "kinds", tuple(k for k in EXPORT_KINDS if k in self.kinds))
        _set(self, "caption", bool(self.caption))
        _set(self, "channel", None if self.channel is None else _argument(non_negative_int, "channel", self.channel))
        _set(self, "probe", None if self.probe is None else _argument(non_negative_int, "probe", self.probe))

    @classmethod
    def parse(
        cls,
        runs: str | Iterable[str],
        *,
        epochs: EpochSpec = None,
        kinds: str | Iterable[str] | None = None,
        layers: str | Iterable[str] | None = None,
        **settings: Any,
    ) -> ExportOptions:
        """Options from the forms people write; the other fields (``settings``) are taken as they are.

        Args:
            runs: A run name, comma-separated names, or a list of them (see :attr:`runs`).
            epochs: See :func:`parse_epochs`; None for the detail's default (see :attr:`epochs`).
            kinds: Comma-separated kinds or a list; None, empty or ``"all"`` for every kind.
            layers: Comma-separated layer names or a list; None or empty for every layer.
            **settings: ``format``, ``detail``, ``colormap``, ``scale``, ``caption``, ``channel``, ``probe``,
                ``stage`` (``"3/5"``), ``run_layers`` (see the attributes); left out, the defaults.

        Returns:
            The checked options.

        Raises:
            ExportArgumentError: a bad value; the message names it.
            TypeError: a setting that is not a field of ``ExportOptions``.
        """
        if isinstance(runs, str):
            items: tuple[str, ...] = (runs,)
        elif isinstance(runs, Iterable):
            items = tuple(str(r) for r in runs)
        else:
            raise ExportArgumentError(f"runs must be a run name or a list of them. Received: runs={_shown(runs)}")
        return cls(
            runs=items,
            epochs=None if epochs is None else parse_epochs(epochs),
            kinds=parse_kinds(kinds),
            layers=tuple(parse_names(layers) or ()),
            **settings,
        )


def _set(options: ExportOptions, name: str, value: Any) -> None:
    object.__setattr__(options, name, value)  # normalising a frozen dataclass in __post_init__


def _strings(values: object) -> bool:
    return isinstance(values, tuple) and all(isinstance(v, str) for v in values)


def _shown(value: object) -> str:
    """``repr(value)`` for a message, cut to ``MAX_ECHO`` characters (the full length named) when longer."""
    if isinstance(value, str):
        return clip(value)
    text = repr(value)
    return text if len(text) <= MAX_ECHO else f"{text[:MAX_ECHO]}… ({len(text)} characters)"


def _argument(check: Callable[[str, Any], T], name: str, value: Any) -> T:
    """``check(name, value)`` (from ``tb_featureviz.validation``), its error raised as ``ExportArgumentError``."""
    try:
        return check(name, value)
    except ValueError as e:  # ArgumentTypeError is a ValueError too
        rule = str(e).partition(" Received: ")[0]
        raise ExportArgumentError(f"{rule} Received: {name}={_shown(value)}") from e


def parse_kinds(kinds: str | Iterable[str] | None) -> tuple[str, ...]:
    """``"activations,gradcam"`` (or a list) as a tuple of names; None, empty or ``"all"`` means every kind.

    Unknown names are kept: ``ExportOptions`` names the first one in its error.
    """
    if kinds is None:
        return EXPORT_KINDS
    items = [str(k).strip() for k in (kinds.split(",") if isinstance(kinds, str) else kinds)]
    items = [k for k in items if k]
    if not items or "all" in items:
        return EXPORT_KINDS
    return tuple(items)


def parse_names(names: str | Iterable[str] | None) -> list[str] | None:
    """Comma-separated (or listed) names, stripped, duplicates dropped; None or empty means all."""
    if names is None:
        return None
    raw = names.split(",") if isinstance(names, str) else [n for item in names for n in str(item).split(",")]
    out: list[str] = []
    for n in (x.strip() for x in raw):
        if n and n not in out:
            out.append(n)
    return out or None


def _epoch_number(text: str, spec: str) -> int:
    if len(text) > MAX_EPOCH_DIGITS:
        raise ExportArgumentError(
            f"epoch numbers have at most {MAX_EPOCH_DIGITS} digits. Received: epochs={clip(spec)}"
        )
    return int(text)


def parse_epochs(spec: EpochSpec) -> str | EpochSelection:
    """Normalises an epoch selection to ``"last"``, ``"all"`` or an :class:`EpochSelection`.

    Ranges are kept as ranges (``0-99999999999`` costs no memory) and bounded: at most
    :data:`MAX_EPOCH_PARTS` items, :data:`MAX_EPOCH_DIGITS` digits per number and
    :data:`MAX_EPOCH_SPAN` epochs per range (``all`` selects every epoch).

    Example:
        >>> parse_epochs("0-9,20")
        EpochSelection(epochs=(20,), ranges=((0, 9),))

    Raises:
        ExportArgumentError: the selection is not ``last``, ``all``, epoch numbers or ``a-b`` ranges, or
            is past one of the bounds (the message names it).
    """
    if spec is None:
        return "last"
    if isinstance(spec, bool):
        raise ExportArgumentError(f"epochs must be 'last', 'all' or epoch numbers. Received: {spec!r}")
    if isinstance(spec, int):
        return EpochSelection(epochs=(spec,))
    if isinstance(spec, str):
        return _parse_epoch_text(spec)
    try:
        items = sorted({int(v) for v in spec})
    except (TypeError, ValueError) as e:
        raise ExportArgumentError(f"epochs must be 'last', 'all' or epoch numbers. Received: {clip(spec)}") from e
    if not items:
        raise ExportArgumentError("no epochs given. Received: an empty list")
    return EpochSelection(epochs=tuple(items))


def _parse_epoch_text(spec: str) -> str | EpochSelection:
    text = spec.strip().lower()
    if text in ("last", "all"):
        return text
    parts = [p.strip() for p in text.split(",", MAX_EPOCH_PARTS)]
    if len(parts) > MAX_EPOCH_PARTS:
        raise ExportArgumentError(
            f"an epoch selection has at most {MAX_EPOCH_PARTS} comma-separated items; use ranges such as "
            f"0-99 or 'all'. Received: epochs={clip(spec)}"
        )
    epochs: set[int] = set()
    ranges: list[tuple[int, int]] = []
    for part in parts:
        if not part:
            continue
        m = re.fullmatch(r"([0-9]+)\s*(?:-|\.\.)\s*([0-9]+)", part)
        if m:
            lo, hi = _epoch_number(m.group(1), spec), _epoch_number(m.group(2), spec)
            if hi < lo:
                raise ExportArgumentError(f"epoch range {clip(part)} is empty; write it low-high, e.g. 0-9")
            if hi - lo + 1 > MAX_EPOCH_SPAN:
                raise ExportArgumentError(
                    f"epoch range {clip(part)} covers {hi - lo + 1} epochs, more than {MAX_EPOCH_SPAN:,}; "
                    "use 'all' for every epoch"
                )
            ranges.append((lo, hi))
        elif re.fullmatch(r"[0-9]+", part):
            epochs.add(_epoch_number(part, spec))
        else:
            raise ExportArgumentError(
                "epochs must be 'last', 'all' or comma-separated epoch numbers like 0,10,29 or ranges like "
                f"0-9. Received: epochs={clip(spec)}"
            )
    if not epochs and not ranges:
        raise ExportArgumentError(f"no epochs given. Received: epochs={clip(spec)}")
    merged: list[tuple[int, int]] = []
    for lo, hi in sorted(ranges):
        if merged and lo <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return EpochSelection(epochs=tuple(sorted(epochs)), ranges=tuple(merged))
