"""Reading what a plan names from a logdir, through ``tb_featureviz.reader.FeatureVizReader``.

An export is checked (``options.py``), planned against the logdir's index (``plan.py``), then read here:
:func:`read_plan` reads each planned step through the same reader (and so the same data provider) as the
plugin's routes, never through a second event-file parser, and turns records and images into ``Figure``s
(and, for a channel export, that channel's exemplars: crops of the run's sample images, ``metadata.crop_box``).
A damaged image or record is left out and listed in the report. The only checks left here are those that
need the data: a ``probe`` or ``channel`` beyond what a layer recorded.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

from tb_featureviz.export.content import (
    Curve,
    CurvePoint,
    DamagedImage,
    ExemplarCrop,
    ExemplarSet,
    Figure,
    Report,
    RunExport,
)
from tb_featureviz.export.errors import ExportArgumentError, ExportNotFoundError
from tb_featureviz.export.figures import compact_ranges, tile_for_channel
from tb_featureviz.export.options import ExportOptions
from tb_featureviz.export.progress import ProgressCallback
from tb_featureviz.export.selection import ExportPlan, RunPlan, describe_steps, list_names
from tb_featureviz.kinds import REGISTRY, FigureCommon
from tb_featureviz.metadata import GridLayout, Record, RecordView, crop_box
from tb_featureviz.reader import BlobKey
from tb_featureviz.reader.integrity import DamagedBlobError
from tb_featureviz.render import decode_png, encode_png

if TYPE_CHECKING:
    import numpy as np
    from tensorboard.context import RequestContext


class Reader(Protocol):
    """What ``read_plan`` needs of ``tb_featureviz.reader.FeatureVizReader``.

    ``index`` answers the ``/index`` document of ``http_api.md`` (with ``run_info`` and ``probes.images``),
    ``step`` the ``/step`` document, ``blob`` the bytes of a :class:`BlobKey` of those documents (where the
    HTTP documents have a ``blob?key=`` URL), ``scalars`` the ``/scalars`` document.
    """

    def index(self, ctx: RequestContext, *, runs: Sequence[str] = ()) -> RecordView: ...

    def step(self, ctx: RequestContext, run: str, tag: str, step: int) -> RecordView: ...

    def blob(self, ctx: RequestContext, key: BlobKey) -> bytes: ...

    def scalars(self, ctx: RequestContext, run: str) -> RecordView: ...


class _Collector:
    def __init__(self, reader: Reader, ctx: RequestContext, progress: ProgressCallback | None) -> None:
        self.reader = reader
        self.ctx = ctx
        self.progress = progress
        self.done = 0
        self.total = 0
        self.damaged: list[DamagedImage] = []

    def tick(self, what: str) -> None:
        self.done += 1
        if self.progress is not None:
            self.progress(self.done, max(self.total, self.done), what)

    def image(
        self, ref: BlobKey, run: str, kind: str, layer: str | None, epoch: int | None, index: int
    ) -> bytes | None:
        """The bytes of one stored image, or ``None`` (noted in ``damaged``) when they are damaged."""
        try:
            return self.reader.blob(self.ctx, ref)
        except DamagedBlobError as e:
            self.damaged.append(DamagedImage(run, kind, layer, epoch, index, e.reason))
            return None

    def step(
        self, run: str, kind: str, layer: str, tag: str, step: int
    ) -> tuple[Record, list[bytes | None], float | None] | None:
        """``(record, images, wall_time)`` of a step (a damaged image is ``None``), or ``None`` when the
        step's record is damaged."""
        try:
            data = self.reader.step(self.ctx, run, tag, step)
        except DamagedBlobError as e:
            self.damaged.append(DamagedImage(run, kind, layer, step, 0, e.reason))
            return None
        record = dict(data.get("record") or {})
        images = [self.image(ref, run, kind, layer, step, i + 1) for i, ref in enumerate(data.get("images") or [])]
        wall = data.get("wall_time")
        return record, images, float(wall) if isinstance(wall, (int, float)) else None


def read_plan(
    reader: Reader, ctx: RequestContext, plan: ExportPlan, *, progress: ProgressCallback | None = None
) -> Report:
    """Reads what a plan names into a ``Report``.

    Args:
        reader: A ``tb_featureviz.reader.FeatureVizReader`` (or anything with its ``index``/``step``/``blob``/
            ``scalars`` methods).
        ctx: The ``RequestContext`` to pass to the reader.
        plan: What to read (``tb_featureviz.export.selection.plan_export``), with the checked options.
        progress: Called with ``(done, total, what)`` as steps are read.

    Returns:
        The report, with figures in display order (kind, layer, epoch, probe, target).

    Raises:
        ExportArgumentError: ``probe`` or ``channel`` out of the range of a layer (the message names the
            range), or a filter ``channel`` that no chosen epoch drew.
        ExportNotFoundError: nothing to export (every image of the selection missing or damaged).
    """
    collector = _Collector(reader, ctx, progress)
    collector.total = plan.reads
    report_runs = [_read_run(collector, run_plan, plan.options) for run_plan in plan.runs]
    options = plan.options
    if not any(r.figures for r in report_runs):
        damaged = f" ({len(collector.damaged)} damaged image(s) left out)" if collector.damaged else ""
        raise ExportNotFoundError(
            f"nothing to export: no {'/'.join(options.kinds)} images"
            + (f" of layers {', '.join(options.layers)}" if options.layers else "")
            + f" at the chosen epochs of {list_names([r.run for r in plan.runs], quote=True)}{damaged}"
        )
    return Report(logdir=plan.logdir, runs=report_runs, kinds=options.kinds, damaged=collector.damaged)


def _read_run(collector: _Collector, plan: RunPlan, options: ExportOptions) -> RunExport:
    """One run of a plan: its probe images and curves, then each tag at each chosen epoch."""
    run = RunExport(run=plan.run, steps=list(plan.steps), epochs=list(plan.epochs))
    probes_info = plan.entry.get("probes") or {}
    if probes_info.get("class_names"):
        run.class_names = [str(c) for c in probes_info["class_names"]]
    if probes_info.get("labels") is not None:
        run.probe_labels = [int(v) for v in probes_info["labels"]]
    _read_extras(collector, plan.entry, run)
    if isinstance(plan.entry.get("stages"), Mapping):
        run.stages = dict(plan.entry["stages"])
    if options.detail == "summary" and plan.epochs:
        run.plan = _plan_record(collector, run.run, plan.epochs[-1])
        measured = sorted({p.step for c in run.checks for p in c.points})
        for epoch in measured[-MAX_CHECK_RECORDS:]:
            record = _plan_record(collector, run.run, epoch) if epoch != plan.epochs[-1] else run.plan
            if record is not None and isinstance(record.get("checks"), Mapping):
                run.check_draws[epoch] = dict(record["checks"])
    walls: list[float] = []
    for t in plan.tags:
        tag_figs: list[Figure] = []
        for epoch in t.epochs:
            read = collector.step(run.run, t.kind, t.layer, t.tag, epoch)
            if read is not None:  # None: the record is damaged, the step is left out (and listed)
                record, images, wall = read
                if wall is not None:
                    walls.append(wall)
                figs = _figures(run, t.kind, t.layer, epoch, record, images, t.layout, wall, options.probe)
                if _channel_filter(t.kind) is None:
                    _check_channel(figs, options.channel)
                tag_figs.extend(figs)
            collector.tick(f"read {run.run} {t.tag} epoch {epoch}")
        keep = _channel_filter(t.kind)
        run.figures.extend(keep(tag_figs, options.channel) if keep is not None else tag_figs)
    if options.channel is not None:
        run.exemplars = _read_exemplars(collector, plan, run, options.channel)
    if walls:
        run.first_wall_time, run.last_wall_time = min(walls), max(walls)
    return run


def _read_extras(collector: _Collector, entry: RecordView, run: RunExport) -> None:
    """run_info, probe images and curves: optional, an export works without them."""
    from tensorboard import errors as tb_errors

    info = entry.get("run_info")
    if isinstance(info, Mapping):
        run.info = dict(info)
        if not run.class_names and isinstance(info.get("class_names"), list):
            run.class_names = [str(c) for c in info["class_names"]]
    probes = entry.get("probes") or {}
    step = probes.get("step") if isinstance(probes.get("step"), int) else None
    try:
        run.probe_pngs = [
            collector.image(ref, run.run, "probes", None, step, i + 1) or b""  # b"": damaged, left out
            for i, ref in enumerate(probes.get("images") or [])
        ]
    except (tb_errors.NotFoundError, tb_errors.InvalidArgumentError):
        run.probe_pngs = []
    collector.tick(f"read {run.run} probes")
    try:
        scalars = collector.reader.scalars(collector.ctx, run.run)
    except (tb_errors.NotFoundError, tb_errors.InvalidArgumentError):
        scalars = {}
    for series in scalars.get("series") or []:
        points = _points(series)
        run.curves.append(Curve(metric=str(series.get("metric")), split=str(series.get("split")), points=points))
    checks = scalars.get("checks") or []
    run.checks = [Curve(metric=str(c.get("tag")), split="check", points=_points(c)) for c in checks]
    collector.tick(f"read {run.run} curves")


MAX_CHECK_RECORDS = 200
"""A summary reads the plan records of at most this many of the last epochs with Grad-CAM checks (to tell
full draws from light ones)."""


def _plan_record(collector: _Collector, run: str, epoch: int) -> Record | None:
    """The budget's ``plan`` record of ``epoch`` (what it drew and skipped), or None when not written."""
    from tensorboard import errors as tb_errors

    try:
        doc = collector.reader.step(collector.ctx, run, "plan", epoch)
    except (tb_errors.NotFoundError, tb_errors.InvalidArgumentError, ValueError):
        return None
    record = doc.get("record")
    return dict(record) if isinstance(record, Mapping) else None


def _points(series: RecordView) -> tuple[CurvePoint, ...]:
    """The finite ``[step, wall_time, value]`` points of a ``/scalars`` series."""
    return tuple(
        CurvePoint(step=int(p[0]), value=float(p[-1]))
        for p in series.get("points") or []
        if isinstance(p[-1], (int, float)) and math.isfinite(float(p[-1]))
    )


def _read_exemplars(collector: _Collector, plan: RunPlan, run: RunExport, channel: int) -> list[ExemplarSet]:
    """Channel ``channel``'s exemplars for each exported activation or filter layer and epoch: from the newest
    ``exemplars/<layer>`` record at or before the epoch, cut out of the run's ``sample`` images (each read
    once). Layers without exemplars, a channel the record leaves out, and damaged records or images (listed
    in the report) are skipped."""
    entries = {str(e.get("layer")): e for e in (plan.entry.get("kinds") or {}).get("exemplars") or []}
    sample = plan.entry.get("sample") or {}
    keys = list(sample.get("images") or [])
    pixels: dict[int, np.ndarray | None] = {}
    records: dict[tuple[str, int], RecordView] = {}
    out: dict[tuple[str, int], ExemplarSet] = {}
    for t in plan.tags:
        entry = entries.get(t.layer)
        if not _has_channels(t.kind) or entry is None or not keys:
            continue
        for epoch in t.epochs:
            step = max((int(s) for s in entry.get("steps") or [] if int(s) <= epoch), default=None)
            if step is None or (t.layer, epoch) in out:
                continue
            if (t.layer, step) not in records:
                records[(t.layer, step)] = _exemplar_record(collector, run.run, t.layer, str(entry.get("tag")), step)
            record = records[(t.layer, step)]
            channels = [int(c) for c in record.get("channels") or []]
            if channel not in channels:
                continue
            crops = []
            for image, y, x, value in record["exemplars"][channels.index(channel)]:
                if image not in pixels:
                    png = collector.image(keys[image], run.run, "sample", None, sample.get("step"), image + 1)
                    pixels[image] = decode_png(png) if png else None  # None: damaged, left out and listed
                found = pixels[image]
                if found is None:
                    continue
                box = crop_box(int(y), int(x), int(record["size"]), found.shape[:2])
                crop = encode_png(found[box[1] : box[3], box[0] : box[2]])
                crops.append(ExemplarCrop(int(image), int(y), int(x), float_or_none(value), box, crop))
            size = int(record.get("sample") or len(keys))
            out[(t.layer, epoch)] = ExemplarSet(run.run, t.layer, epoch, step, channel, size, tuple(crops))
    return list(out.values())


def _exemplar_record(collector: _Collector, run: str, layer: str, tag: str, step: int) -> RecordView:
    """The ``exemplars/<layer>`` record of ``step``; ``{}`` when it is damaged (listed) or missing."""
    from tensorboard import errors as tb_errors

    try:
        return collector.reader.step(collector.ctx, run, tag, step).get("record") or {}
    except DamagedBlobError as e:
        collector.damaged.append(DamagedImage(run, "exemplars", layer, step, 0, e.reason))
    except (tb_errors.NotFoundError, tb_errors.InvalidArgumentError):
        pass
    return {}


def _figures(
    run: RunExport,
    kind: str,
    layer: str,
    epoch: int,
    record: Record,
    images: Sequence[bytes | None],
    layout: GridLayout | None,
    wall: float | None,
    probe: int | None,
) -> list[Figure]:
    """A stored step as figures, drawn by its kind (``tb_featureviz.kinds``: the kind's ``export.figures``)."""
    drawing = REGISTRY[kind].export if kind in REGISTRY else None
    if drawing is None:
        return []
    nonfinite = record.get("nonfinite")
    if not (isinstance(nonfinite, int) and not isinstance(nonfinite, bool) and nonfinite > 0):
        nonfinite = 0
    common: FigureCommon = {
        "run": run.run,
        "kind": kind,
        "layer": layer,
        "epoch": epoch,
        "wall_time": wall,
        "nonfinite": nonfinite,  # > 0: a diverged model, shown in captions and the manifest
    }
    return drawing.figures(run, common, record, images, layout, probe)


def float_or_none(value: object) -> float | None:
    """``value`` as a float where it is a number (not a bool), else None."""
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def record_scale(record: RecordView) -> int:
    """A record's ``scale`` (how many times each tile was shrunk), 1 when absent or not above 1."""
    scale = record.get("scale")
    return int(scale) if isinstance(scale, int) and not isinstance(scale, bool) and scale > 1 else 1


def filters_with(figs: list[Figure], channel: int | None) -> list[Figure]:
    """The filter grids that drew filter ``channel`` (all of them when ``channel`` is None).

    Raises:
        ExportArgumentError: no grid drew it; the message says which filters the last epoch drew.
    """
    if channel is None or not figs:
        return figs
    kept = [f for f in figs if f.layout is None or not f.filters or channel in f.filters]
    if kept:
        if any(f.layout is None or not f.filters for f in kept):
            _check_channel(kept, channel)
        return kept
    last = figs[-1]
    total = (last.schedule or {}).get("of")
    if isinstance(total, int) and not 0 <= channel < total:
        raise ExportArgumentError(f"Layer {last.layer!r} has filters 0..{total - 1}. Received: channel={channel}")
    if len(figs) == 1:
        _check_channel(figs, channel)  # raises, naming the filters of that epoch
    raise ExportArgumentError(
        f"Layer {last.layer!r} has no pattern for filter {channel} at epochs "
        f"{describe_steps([f.epoch for f in figs])}; epoch {last.epoch} drew filters {compact_ranges(last.filters)}."
    )


def _channel_filter(kind: str) -> Callable[[list[Figure], int | None], list[Figure]] | None:
    """The kind's filter of a tag's figures by ``--channel`` (filters: the grids that drew it), if it has one."""
    drawing = REGISTRY[kind].export if kind in REGISTRY else None
    return drawing.channel_filter if drawing is not None else None


def _has_channels(kind: str) -> bool:
    """Whether ``kind``'s figures are grids with a tile per channel (or filter): ``--channel`` applies."""
    drawing = REGISTRY[kind].export if kind in REGISTRY else None
    return drawing is not None and drawing.channels


def _check_channel(figs: Sequence[Figure], channel: int | None) -> None:
    if channel is None:
        return
    for fig in figs:
        if fig.layout is not None and _has_channels(fig.kind):
            try:
                tile_for_channel(fig, channel)
            except ValueError as e:
                raise ExportArgumentError(str(e)) from e
