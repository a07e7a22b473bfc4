"""Plain data classes that every export format works on.

The collector (``tb_featureviz.export.collect``) fills them from a logdir through
``tb_featureviz.reader.FeatureVizReader``; the writers (HTML, PNG, GIF, ZIP) only read them, so each
writer can be tested on hand-made data without TensorBoard.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from tb_featureviz.kinds import REGISTRY, ExportDrawing, export_kinds
from tb_featureviz.metadata import GridLayout, Record

EXPORT_KINDS: tuple[str, ...] = export_kinds()
"""Summary kinds that an export can hold, in display order (those of ``tb_featureviz.kinds`` with an export
drawing)."""

FORMATS: tuple[str, ...] = ("html", "pdf", "png", "svg", "gif", "zip")
"""Export formats."""

DETAILS: tuple[str, ...] = ("summary", "full")
"""How much an export holds: ``summary`` (a summary-first report of numbered figures: the curves and checks,
the final epoch, filmstrips of how it changed) or ``full`` (every exported epoch of every layer, each stored
image as it is)."""

SUMMARY_FORMATS: tuple[str, ...] = ("html", "pdf", "png", "svg")
"""Formats with a summary; ``gif`` and ``zip`` hold stored images only (``full``)."""


@dataclass(frozen=True)
class Figure:
    """One stored image of one run, tag and epoch, with what a caption needs.

    Attributes:
        run: The run name as the plugin shows it (``exp1``, or ``.`` for the logdir itself).
        kind: ``activations``, ``filters`` or ``gradcam``.
        layer: The layer name.
        epoch: The epoch (TensorBoard step).
        png: The PNG bytes exactly as stored in the event file.
        role: ``grid`` (activation or filter grid), ``heatmap`` or ``overlay`` (Grad-CAM).
        index: Position of the PNG in the blob sequence (1-based; element 0 is the record); None for an
            image the export composed (a Grad-CAM overlay drawn from the stored heatmap and probe image
            when the run stored no ready overlay).
        probe: The probe image index (activations and Grad-CAM), else None.
        layout: The grid geometry (activations and filters), else None.
        channels: Number of channels of the layer (activations) or filter patterns (filters).
        dead: Channels that are zero for every probe image (activations).
        filters: The filter index of each tile (filters).
        tile_channels: The channel each tile shows, for a reduced activation grid (tile ``k`` shows
            ``tile_channels[k]``); empty when tile ``k`` is channel ``k``.
        scale: How many times each tile was shrunk (a reduced grid); 1 when not.
        source_size: ``(h, w)`` of one tile before shrinking (the feature map, or the filter pattern).
        schedule: The filter rotation of a filter grid (the record's ``schedule``), if any.
        relative: Each pattern's activation relative to the probes' mean activation of its filter, per tile
            (filters; ``None`` where the probes leave the filter silent); empty when not recorded.
        relative_median: Their median, if recorded.
        target: ``predicted`` or ``true`` (Grad-CAM).
        class_index: The class the Grad-CAM map explains.
        class_name: Its name, when the run recorded class names.
        score: The model's probability for that class.
        true_class: The probe's true class name or index, when known.
        predicted_class: The class the model predicted for the probe.
        wall_time: When the step was written (seconds since the epoch).
        nonfinite: NaN or inf values the model produced for the step's record (a diverged model; drawn as
            0, written as null), 0 when none.
    """

    run: str
    kind: str
    layer: str
    epoch: int
    png: bytes
    role: str = "grid"
    index: int | None = 1
    probe: int | None = None
    layout: GridLayout | None = None
    channels: int | None = None
    dead: tuple[int, ...] = ()
    filters: tuple[int, ...] = ()
    tile_channels: tuple[int, ...] = ()
    scale: int = 1
    source_size: tuple[int, int] | None = None
    schedule: Record | None = None
    relative: tuple[float | None, ...] = ()
    relative_median: float | None = None
    target: str | None = None
    class_index: int | None = None
    class_name: str | None = None
    score: float | None = None
    true_class: str | None = None
    predicted_class: str | None = None
    wall_time: float | None = None
    nonfinite: int = 0

    @property
    def series_key(self) -> tuple[str, str, str, str, int | None, str | None]:
        """What stays the same across epochs: ``(run, kind, layer, role, probe, target)``."""
        return (self.run, self.kind, self.layer, self.role, self.probe, self.target)

    @property
    def reduced(self) -> bool:
        """Whether the grid leaves channels out, shrinks tiles or draws a rotating part of the filters."""
        return bool(self.tile_channels) or self.scale > 1 or rotating(self.schedule)

    @property
    def drawing(self) -> ExportDrawing | None:
        """How the export draws this figure's kind (``tb_featureviz.kinds``)."""
        return REGISTRY[self.kind].export if self.kind in REGISTRY else None

    @property
    def per_channel(self) -> bool:
        """Whether the figure is a grid with a tile per channel (or filter): ``--channel`` applies."""
        drawing = self.drawing
        return drawing is not None and drawing.channels

    def grid_summary(self, *, plain: bool = False) -> str | None:
        """What a grid shows, e.g. ``400 of 512 channels (most variable), tiles 8×8 of 30×30 (1/4)`` or
        ``filters 0–127 of 512 (+16 fixed), next 128–255 at epoch 10``; None for Grad-CAM.

        Args:
            plain: ASCII only (``x`` and ``-`` for ``×`` and ``–``), for fonts without those signs.
        """
        drawing = self.drawing
        text = drawing.grid_summary(self, plain) if drawing is not None and drawing.grid_summary else None
        if text is None:
            return None
        times = "x" if plain else "\u00d7"
        if self.scale > 1 and self.layout is not None:
            tile = f"{self.layout.tile_width}{times}{self.layout.tile_height}"
            source = f" of {self.source_size[1]}{times}{self.source_size[0]}" if self.source_size else ""
            text += f", tiles {tile}{source} (1/{self.scale})"
        return text

    def relative_text(self, channel: int | None = None, *, plain: bool = False) -> str | None:
        """How hard the patterns drive their filters against the probe images: ``patterns 4.2× the probes'
        activation (median)``, or for filter ``channel`` its own ratio; None when not recorded.

        Args:
            channel: A filter index (its tile's ratio), or None for the grid's median.
            plain: ``x`` for ``×``.
        """
        times = "x" if plain else "\u00d7"
        if channel is None:
            if self.relative_median is None:
                return None
            return f"patterns {ratio_text(self.relative_median)}{times} the probes' activation (median)"
        tile = self.filters.index(channel) if channel in self.filters else channel if not self.filters else None
        if tile is None or not 0 <= tile < len(self.relative):
            return None
        value = self.relative[tile]
        if value is None:
            return "the probes leave this filter silent"
        return f"pattern {ratio_text(value)}{times} the probes' mean activation"

    def caption(self) -> str:
        """A one-line caption: run, layer, epoch and, where they apply, the grid's reduction, probe, class and
        score, and the patterns' activation relative to the probes' (plain ASCII but for ``·``)."""
        parts = [self.run, f"{self.kind} {self.layer}", f"epoch {self.epoch}"]
        summary = self.grid_summary(plain=True) if self.reduced else None
        if summary:
            parts.append(summary)
        probe = [f"probe {self.probe}"] if self.probe is not None else []
        drawing = self.drawing
        parts.extend(drawing.caption(self, probe) if drawing is not None and drawing.caption else probe)
        if self.nonfinite:
            parts.append(f"{self.nonfinite} non-finite values (NaN/inf, drawn as 0)")
        return " · ".join(parts)

    def manifest_entry(self) -> Record:
        """The JSON-serialisable description of this figure (without the PNG bytes)."""
        entry: Record = {
            "run": self.run,
            "kind": self.kind,
            "layer": self.layer,
            "epoch": self.epoch,
            "role": self.role,
            "index": self.index,
            "probe": self.probe,
            "layout": self.layout.to_json() if self.layout else None,
        }
        if self.nonfinite:
            entry["nonfinite"] = self.nonfinite
        drawing = self.drawing
        if drawing is not None and drawing.manifest is not None:
            entry.update(drawing.manifest(self))
        return entry


def reduction_entry(fig: Figure) -> Record:
    """The manifest fields of a reduced grid (``scale``, ``source_size``, ``summary``); ``{}`` when not reduced."""
    if not fig.reduced:
        return {}
    return {
        "scale": fig.scale,
        "source_size": list(fig.source_size) if fig.source_size else None,
        "summary": fig.grid_summary(),
    }


def ratio_text(value: float) -> str:
    """A ratio as a short number, as the dashboard writes it (``records.js`` ``ratioText``): one decimal from 1
    to 10, none from 10, two below 1, ties rounded away from zero.

    Example:
        >>> ratio_text(4.25), ratio_text(12.5), ratio_text(0.875)
        ('4.3', '13', '0.88')
    """
    places = 0 if value >= 10 else 1 if value >= 1 else 2
    return str(Decimal(value).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


def rotating(schedule: Record | None) -> bool:
    """Whether a filter schedule draws only part of the layer's filters (a window of a rotation)."""
    if not schedule:
        return False
    window, total = schedule.get("window"), schedule.get("of")
    if not (isinstance(window, list) and len(window) == 2 and isinstance(total, int)):
        return False
    return not (window[0] <= 0 and window[1] >= total - 1)


@dataclass(frozen=True)
class CurvePoint:
    """One point of a loss or metric curve."""

    step: int
    value: float


@dataclass(frozen=True)
class Curve:
    """A loss or metric curve of one split (``train`` or ``validation``)."""

    metric: str
    split: str
    points: tuple[CurvePoint, ...]


@dataclass(frozen=True)
class ExemplarCrop:
    """One exemplar of a channel: its crop of a sample image.

    Attributes:
        image: Index of the sample image.
        y: Row of the response's centre, in input pixels.
        x: Column of the response's centre.
        value: The channel's response there (None: non-finite).
        box: ``(x0, y0, x1, y1)`` of the crop (``metadata.crop_box``).
        png: The crop as an RGB PNG.
    """

    image: int
    y: int
    x: int
    value: float | None
    box: tuple[int, int, int, int]
    png: bytes


@dataclass(frozen=True)
class ExemplarSet:
    """The exemplars of one channel of one layer, for one exported epoch.

    Attributes:
        run: The run name.
        layer: The layer.
        epoch: The exported epoch they go with.
        step: The epoch of the ``exemplars/<layer>`` record they come from (the newest at or before ``epoch``).
        channel: The channel (or filter) index.
        sample: Images in the sample they were chosen from.
        crops: The exemplars, best first (one left out where its sample image is damaged).
    """

    run: str
    layer: str
    epoch: int
    step: int
    channel: int
    sample: int
    crops: tuple[ExemplarCrop, ...]


@dataclass
class RunExport:
    """Everything an export holds about one run.

    Attributes:
        run: The run name.
        steps: Every epoch the run has featureviz data for (sorted).
        epochs: The exported epochs (sorted, a subset of ``steps``).
        figures: The exported images, in display order.
        info: The ``run_info`` record (model summary, hyper-parameters, start time), if written.
        class_names: Class names, if recorded.
        probe_labels: True class of each probe image, if recorded.
        probe_pngs: The probe images (RGB PNG), if written; Grad-CAM overlays with another colour map
            are recomputed from them. A damaged probe image is ``b""`` (see ``Report.damaged``).
        curves: Loss and metric curves.
        checks: The Grad-CAM measures, one curve per scalar tag (``metric`` the tag, e.g.
            ``faithfulness/deletion_auc``, ``split`` ``"check"``).
        exemplars: With a channel export, that channel's exemplars at each exported epoch and layer.
        first_wall_time: Wall time of the first featureviz step read.
        last_wall_time: Wall time of the last featureviz step read.
        stages: The index's ``stages`` of the run (resolution stages, their layers, the Grad-CAM layer).
        plan: The budget's ``plan`` record of the last exported epoch, if written (what it drew and skipped).
        check_draws: For a summary, the Grad-CAM checks' draw at each epoch that has them, from the plan
            records' ``checks`` field: ``{epoch: {"variant": "full"|"light", "steps": 10, ...}}``.
    """

    run: str
    steps: list[int]
    epochs: list[int]
    figures: list[Figure] = field(default_factory=list)
    info: Record | None = None
    class_names: list[str] | None = None
    probe_labels: list[int] | None = None
    probe_pngs: list[bytes] = field(default_factory=list)
    curves: list[Curve] = field(default_factory=list)
    checks: list[Curve] = field(default_factory=list)
    exemplars: list[ExemplarSet] = field(default_factory=list)
    first_wall_time: float | None = None
    last_wall_time: float | None = None
    stages: Record | None = None
    plan: Record | None = None
    check_draws: dict[int, Record] = field(default_factory=dict)

    def exemplars_at(self, layer: str, epoch: int) -> ExemplarSet | None:
        """The exemplars that go with ``layer`` at exported ``epoch``, if read."""
        return next((e for e in self.exemplars if e.layer == layer and e.epoch == epoch), None)

    def shown_figures(self) -> list[Figure]:
        """The figures a picture export shows: grids and Grad-CAM overlays (heatmaps go in ZIPs only)."""
        return [f for f in self.figures if f.role != "heatmap"]

    def heatmap_for(self, overlay: Figure) -> Figure | None:
        """The Grad-CAM heatmap that ``overlay`` was drawn from, if it was read."""
        for f in self.figures:
            if (
                f.role == "heatmap"
                and f.kind == overlay.kind
                and f.layer == overlay.layer
                and f.epoch == overlay.epoch
                and f.probe == overlay.probe
                and f.target == overlay.target
            ):
                return f
        return None

    def probe_png(self, probe: int | None) -> bytes | None:
        """The PNG of probe image ``probe``, if the run wrote it (and it is not damaged)."""
        if probe is None or not 0 <= probe < len(self.probe_pngs):
            return None
        return self.probe_pngs[probe] or None

    def probe_label(self, probe: int | None) -> str | None:
        """The true class of probe image ``probe`` (its name where known), if recorded."""
        if probe is None or self.probe_labels is None or not 0 <= probe < len(self.probe_labels):
            return None
        return self.class_label(self.probe_labels[probe])

    def class_label(self, index: int | None) -> str | None:
        """A class index as its name where the run recorded class names, else as a number."""
        if index is None:
            return None
        if self.class_names and 0 <= index < len(self.class_names):
            return str(self.class_names[index])
        return str(index)


@dataclass(frozen=True)
class DamagedImage:
    """A stored image (or a step's record) left out of an export because its bytes are damaged.

    The event file holds bytes that do not decode (a flipped byte the Rust data server did not reject,
    say); the export leaves them out, says so, and exports everything else.

    Attributes:
        run: The run name.
        kind: ``activations``, ``filters``, ``gradcam`` or ``probes``.
        layer: The layer (None for probe images).
        epoch: The epoch (TensorBoard step).
        index: The element of the blob sequence: 0 for the record (the whole step is left out), ``i``
            for image ``i - 1`` of the step.
        reason: What is wrong with the bytes.
    """

    run: str
    kind: str
    layer: str | None
    epoch: int | None
    index: int
    reason: str

    def describe(self) -> str:
        """``exp1 activations conv2d epoch 3 image 2: bad CRC in 'IDAT' chunk``."""
        what = "record" if self.index == 0 else f"image {self.index}"
        parts = [self.run, self.kind, self.layer, None if self.epoch is None else f"epoch {self.epoch}", what]
        return " ".join(p for p in parts if p) + f": {self.reason}"

    def manifest_entry(self) -> Record:
        """The JSON-serialisable description (``manifest.json``'s ``damaged``)."""
        return {
            "run": self.run,
            "kind": self.kind,
            "layer": self.layer,
            "epoch": self.epoch,
            "index": self.index,
            "reason": self.reason,
        }


@dataclass
class Report:
    """An export: one or more runs read from one logdir.

    Attributes:
        logdir: The log directory (as given).
        runs: The runs, in the order asked for.
        kinds: The exported kinds.
        generated: When the export was made (UTC).
        damaged: Stored images (or records) left out because their bytes are damaged.
    """

    logdir: str
    runs: list[RunExport]
    kinds: tuple[str, ...] = EXPORT_KINDS
    generated: datetime.datetime = field(default_factory=lambda: datetime.datetime.now(datetime.timezone.utc))
    damaged: list[DamagedImage] = field(default_factory=list)

    @property
    def figures(self) -> list[Figure]:
        """Every figure of every run."""
        return [f for r in self.runs for f in r.figures]
