"""Reading what to export from a logdir, through the plugin's ``FeatureVizReader``.

This is the only module of ``tb_featureviz.export`` that talks to TensorBoard: it goes through the same
reader (and so the same data provider) as the plugin's routes, never through a second event-file
parser.
"""

from __future__ import annotations

import bisect
import dataclasses
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from tb_featureviz.export.errors import ExportArgumentError, ExportNotFoundError
from tb_featureviz.export.figures import compact_ranges, overlay_pixels, tile_for_channel
from tb_featureviz.export.model import EXPORT_KINDS, Curve, CurvePoint, DamagedImage, Figure, Report, RunExport
from tb_featureviz.metadata import GridLayout
from tb_featureviz.plugin.integrity import MAX_ECHO, DamagedBlobError, clip
from tb_featureviz.render import encode_png

ProgressCallback = Callable[[int, int, str], None]

EpochSpec = str | int | Iterable[int] | None
"""``"last"``, ``"all"``, ``"0,10,29"`` (ranges like ``"0-5"`` too), an int or a list of ints."""

MAX_EPOCH_DIGITS = 18
"""Digits of an epoch number in a selection (epochs are int64 steps)."""

MAX_EPOCH_PARTS = 1000
"""Comma-separated items of an epoch selection."""

MAX_EPOCH_SPAN = 1_000_000
"""Epochs one ``a-b`` range may cover (``all`` selects every epoch, however many)."""


class Reader(Protocol):
    """What ``collect`` needs of ``tb_featureviz.plugin.reader.FeatureVizReader``.

    ``index`` answers the ``/index`` document of ``http_api.md`` (with ``run_info`` and ``probes.images``),
    ``step`` the ``/step`` document, ``blob`` the bytes of a blob key, ``scalars`` the ``/scalars`` document.
    """

    def index(self, ctx: Any) -> Mapping[str, Any]: ...

    def step(self, ctx: Any, run: str, tag: str, step: int) -> Mapping[str, Any]: ...

    def blob(self, ctx: Any, key: str) -> Any: ...

    def scalars(self, ctx: Any, run: str) -> Mapping[str, Any]: ...


def describe_steps(steps: Sequence[int]) -> str:
    """``0..29`` for a contiguous range, else the list (shortened in the middle, with the count, when long)."""
    vals = sorted(set(steps))
    if not vals:
        return "none"
    if len(vals) > 2 and vals[-1] - vals[0] == len(vals) - 1:
        return f"{vals[0]}..{vals[-1]}"
    if len(vals) > 12:
        return ", ".join(map(str, vals[:5])) + ", ..., " + ", ".join(map(str, vals[-5:])) + f" ({len(vals)} epochs)"
    return ", ".join(map(str, vals))


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


def _names(names: Sequence[str], *, quote: bool = False, limit: int = 20) -> str:
    """``a, b, c`` for an error message: at most ``limit`` names (each clipped), then the count."""
    if not names:
        return "none"
    shown = [clip(n) if quote or len(n) > MAX_ECHO else n for n in names[:limit]]
    more = f", ... ({len(names)} in all)" if len(names) > limit else ""
    return ", ".join(shown) + more


def parse_kinds(kinds: str | Iterable[str] | None) -> tuple[str, ...]:
    """``"activations,gradcam"`` (or a list) as a tuple in display order; None means all.

    Raises:
        ExportArgumentError: an unknown kind.
    """
    if kinds is None:
        return EXPORT_KINDS
    items = [k.strip() for k in (kinds.split(",") if isinstance(kinds, str) else kinds)]
    items = [k for k in items if k]
    if not items or "all" in items:
        return EXPORT_KINDS
    unknown = [k for k in items if k not in EXPORT_KINDS]
    if unknown:
        raise ExportArgumentError(f"unknown kind {clip(unknown[0])}; choose from {', '.join(EXPORT_KINDS)}")
    return tuple(k for k in EXPORT_KINDS if k in items)


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


def parse_run_names(runs: str | Iterable[str], known: Iterable[str]) -> list[str]:
    """Run names from a comma-separated string or a list; a name that exists is never split.

    Run names may hold commas (``lr=1e-4,bs=20``): an item equal to an existing run is that run;
    any other item is split at commas, so ``"exp1,exp2"`` still names two runs.
    """
    known_set = set(known)
    items = [runs] if isinstance(runs, str) else [str(r) for r in runs]
    out: list[str] = []
    for item in items:
        names = [item.strip()] if item.strip() in known_set else [n.strip() for n in item.split(",")]
        out.extend(n for n in names if n and n not in out)
    return out


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
    try:
        items = sorted({int(v) for v in spec})
    except (TypeError, ValueError) as e:
        raise ExportArgumentError(f"epochs must be 'last', 'all' or epoch numbers. Received: {clip(spec)}") from e
    if not items:
        raise ExportArgumentError("no epochs given. Received: an empty list")
    return EpochSelection(epochs=tuple(items))


def _blob_key(ref: Any) -> str:
    """A blob key from what the reader lists: a key, a ``blob?key=...`` URL or a mapping with ``key``."""
    if isinstance(ref, Mapping):
        return str(ref.get("key") or ref.get("blob_key"))
    text = str(ref)
    if "key=" in text:
        query = parse_qs(urlsplit(text).query)
        if "key" in query:
            return query["key"][0]
    return text


def _blob_bytes(value: Any) -> bytes:
    if isinstance(value, tuple):  # (bytes, mimetype)
        value = value[0]
    return bytes(value)


def _select_epochs(run: str, steps: Sequence[int], spec: str | EpochSelection) -> list[int]:
    if not steps:
        raise ExportNotFoundError(f"run {clip(run)} has no featureviz epochs written yet")
    if spec == "last":
        return [max(steps)]
    if spec == "all":
        return sorted(steps)
    assert isinstance(spec, EpochSelection)
    chosen, missing = spec.select(steps)
    if missing:
        word = "epoch" if len(missing) == 1 else "epochs"
        listed = ", ".join(map(str, missing[:10])) + (f", ... ({len(missing)} missing)" if len(missing) > 10 else "")
        raise ExportNotFoundError(f"{word} {listed} not in run {clip(run)}; its epochs are {describe_steps(steps)}")
    if not chosen:
        raise ExportNotFoundError(
            f"no epoch of run {clip(run)} in {spec.describe()}; its epochs are {describe_steps(steps)}"
        )
    return chosen


def _class_label(index: Any, class_names: Sequence[str] | None) -> str | None:
    if index is None:
        return None
    if class_names and isinstance(index, int) and 0 <= index < len(class_names):
        return str(class_names[index])
    return str(index)


class _Collector:
    def __init__(self, reader: Reader, ctx: Any, progress: ProgressCallback | None) -> None:
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

    def image(self, ref: Any, run: str, kind: str, layer: str | None, epoch: int | None, index: int) -> bytes | None:
        """The bytes of one stored image, or ``None`` (noted in ``damaged``) when they are damaged."""
        try:
            return _blob_bytes(self.reader.blob(self.ctx, _blob_key(ref)))
        except DamagedBlobError as e:
            self.damaged.append(DamagedImage(run, kind, layer, epoch, index, e.reason))
            return None

    def step(
        self, run: str, kind: str, layer: str, tag: str, step: int
    ) -> tuple[dict[str, Any], list[bytes | None], float | None] | None:
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


def _tag_entries(entry: Mapping[str, Any], kind: str) -> list[Mapping[str, Any]]:
    kinds = entry.get("kinds") or {}
    return list(kinds.get(kind) or [])


def collect(
    reader: Reader,
    ctx: Any,
    runs: str | Iterable[str],
    *,
    epochs: EpochSpec = "last",
    kinds: str | Iterable[str] | None = None,
    layers: str | Iterable[str] | None = None,
    probe: int | None = None,
    channel: int | None = None,
    logdir: str = "",
    progress: ProgressCallback | None = None,
) -> Report:
    """Reads the selected runs, epochs, kinds and layers into a ``Report``.

    Args:
        reader: The plugin's ``FeatureVizReader`` (or anything with its ``index``/``step``/``blob``/
            ``scalars`` methods).
        ctx: The ``RequestContext`` to pass to the reader.
        runs: Run names, as the plugin shows them (a comma-separated string or a list).
        epochs: ``"last"`` (each run's last written epoch), ``"all"``, or epoch numbers.
        kinds: Some of ``activations``, ``filters``, ``gradcam`` (default all).
        layers: Layer names to keep (default all).
        probe: Keep only this probe image (activations, Grad-CAM); default all.
        channel: Checked here so that a bad channel fails early. Filter grids of epochs whose rotation
            did not draw filter ``channel`` are left out (it fails when no epoch drew it).
        logdir: Shown in error messages and the report.
        progress: Called with ``(done, total, what)`` as steps are read.

    Returns:
        The report, with figures in display order (kind, layer, epoch, probe, target).

    Raises:
        ExportArgumentError: a bad selection (kinds, epochs syntax, probe or channel out of range).
        ExportNotFoundError: an unknown run or layer, an epoch that is not written, or nothing to
            export; the message lists what exists.
    """
    if not parse_names(runs):
        raise ExportArgumentError("no run given; name at least one run")
    kind_list = parse_kinds(kinds)
    layer_list = parse_names(layers)
    epoch_spec = parse_epochs(epochs)
    if probe is not None and (not isinstance(probe, int) or isinstance(probe, bool) or probe < 0):
        raise ExportArgumentError(f"probe must be an int >= 0. Received: probe={clip(repr(probe))}")
    if channel is not None and (not isinstance(channel, int) or isinstance(channel, bool) or channel < 0):
        raise ExportArgumentError(f"channel must be an int >= 0. Received: channel={clip(repr(channel))}")

    index = reader.index(ctx)
    entries = {str(e["run"]): e for e in index.get("runs") or []}
    run_names = parse_run_names(runs, entries)
    where = f" in {logdir}" if logdir else ""
    for name in run_names:
        if name not in entries:
            known = _names(sorted(entries))
            raise ExportNotFoundError(f"run {clip(name)} not found{where}; runs: {known}")
        if not entries[name].get("featureviz", True) or not entries[name].get("steps"):
            with_data = _names(sorted(r for r, e in entries.items() if e.get("steps")))
            raise ExportNotFoundError(f"run {clip(name)} has no featureviz data{where}; runs with data: {with_data}")

    if layer_list:
        available = {
            str(t.get("layer")) for name in run_names for kind in kind_list for t in _tag_entries(entries[name], kind)
        }
        missing = [layer for layer in layer_list if layer not in available]
        if missing:
            raise ExportNotFoundError(
                f"layer {clip(missing[0])} not found in {_names(run_names, quote=True)} for "
                f"{', '.join(kind_list)}; layers: {_names(sorted(available))}"
            )

    plans: list[tuple[str, list[int], list[int], list[tuple[str, Mapping[str, Any], list[int]]]]] = []
    for name in run_names:
        entry = entries[name]
        steps = sorted(int(s) for s in entry.get("steps") or [])
        chosen = _select_epochs(name, steps, epoch_spec)
        tags: list[tuple[str, Mapping[str, Any], list[int]]] = []
        for kind in kind_list:
            for t in _tag_entries(entry, kind):
                if layer_list and str(t.get("layer")) not in layer_list:
                    continue
                tag_steps = set(int(s) for s in t.get("steps") or steps)
                tags.append((kind, t, [e for e in chosen if e in tag_steps]))
        plans.append((name, steps, chosen, tags))

    collector = _Collector(reader, ctx, progress)
    collector.total = sum(len(es) for _, _, _, tags in plans for _, _, es in tags) + 2 * len(plans)
    report_runs: list[RunExport] = []
    for name, steps, chosen, tags in plans:
        entry = entries[name]
        run = RunExport(run=name, steps=steps, epochs=chosen)
        probes_info = entry.get("probes") or {}
        if probes_info.get("class_names"):
            run.class_names = [str(c) for c in probes_info["class_names"]]
        if probes_info.get("labels") is not None:
            run.probe_labels = [int(v) for v in probes_info["labels"]]
        _read_extras(collector, entry, run)
        walls: list[float] = []
        for kind, t, tag_epochs in tags:
            tag = str(t.get("tag") or f"{kind}/{t.get('layer')}")
            layer = str(t.get("layer") or tag.split("/", 1)[-1])
            layout = GridLayout.from_json(t["layout"]) if t.get("layout") else None
            tag_figs: list[Figure] = []
            for epoch in tag_epochs:
                read = collector.step(name, kind, layer, tag, epoch)
                if read is None:  # the record is damaged: the step is left out (and listed)
                    collector.tick(f"read {name} {tag} epoch {epoch}")
                    continue
                record, images, wall = read
                if wall is not None:
                    walls.append(wall)
                figs = _figures(run, kind, layer, epoch, record, images, layout, wall, probe)
                if kind != "filters":
                    _check_channel(figs, channel)
                tag_figs.extend(figs)
                collector.tick(f"read {name} {tag} epoch {epoch}")
            run.figures.extend(_filters_with(tag_figs, channel) if kind == "filters" else tag_figs)
        if walls:
            run.first_wall_time, run.last_wall_time = min(walls), max(walls)
        report_runs.append(run)
    if not any(r.figures for r in report_runs):
        damaged = f" ({len(collector.damaged)} damaged image(s) left out)" if collector.damaged else ""
        raise ExportNotFoundError(
            f"nothing to export: no {'/'.join(kind_list)} images"
            + (f" of layers {', '.join(layer_list)}" if layer_list else "")
            + f" at the chosen epochs of {_names(run_names, quote=True)}{damaged}"
        )
    return Report(logdir=logdir, runs=report_runs, kinds=kind_list, damaged=collector.damaged)


def _read_extras(collector: _Collector, entry: Mapping[str, Any], run: RunExport) -> None:
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
        points = tuple(
            CurvePoint(step=int(p[0]), value=float(p[-1]))
            for p in series.get("points") or []
            if isinstance(p[-1], (int, float)) and math.isfinite(float(p[-1]))
        )
        run.curves.append(Curve(metric=str(series.get("metric")), split=str(series.get("split")), points=points))
    collector.tick(f"read {run.run} curves")


def _figures(
    run: RunExport,
    kind: str,
    layer: str,
    epoch: int,
    record: Mapping[str, Any],
    images: Sequence[bytes | None],
    layout: GridLayout | None,
    wall: float | None,
    probe: int | None,
) -> list[Figure]:
    nonfinite = record.get("nonfinite")
    common: dict[str, Any] = {"run": run.run, "kind": kind, "layer": layer, "epoch": epoch, "wall_time": wall}
    if isinstance(nonfinite, int) and not isinstance(nonfinite, bool) and nonfinite > 0:
        common["nonfinite"] = nonfinite  # a diverged model: shown in captions and the manifest
    figs: list[Figure] = []
    if kind == "activations":
        count = len(images)
        if probe is not None and probe >= count:
            raise ExportArgumentError(f"probe {probe} out of range: layer {layer!r} has probes 0..{count - 1}")
        shape = record.get("shape") or []
        channels = int(shape[-1]) if shape else (layout.count if layout else None)
        shown = record.get("channels")
        reduction: dict[str, Any] = {
            "tile_channels": tuple(int(c) for c in shown) if isinstance(shown, list) else (),
            "scale": _scale(record),
            "source_size": (int(shape[0]), int(shape[1])) if len(shape) == 3 else None,
        }
        for i, png in enumerate(images):
            if png is None or (probe is not None and i != probe):  # None: damaged, listed in the report
                continue
            figs.append(
                Figure(
                    **common,
                    png=png,
                    role="grid",
                    index=i + 1,
                    probe=i,
                    layout=layout,
                    channels=channels,
                    dead=tuple(int(c) for c in record.get("dead") or []),
                    true_class=run.probe_label(i),
                    **reduction,
                )
            )
    elif kind == "filters":
        if images and images[0] is not None:
            filters = tuple(int(f) for f in record.get("filters") or [])
            size = record.get("size")
            schedule = record.get("schedule")
            figs.append(
                Figure(
                    **common,
                    png=images[0],
                    role="grid",
                    index=1,
                    layout=layout,
                    channels=len(filters) if filters else (layout.count if layout else None),
                    filters=filters,
                    scale=_scale(record),
                    source_size=(int(size), int(size)) if isinstance(size, int) else None,
                    schedule=dict(schedule) if isinstance(schedule, Mapping) else None,
                )
            )
    elif kind == "gradcam":
        probes = list(record.get("probes") or [])
        if probe is not None and probe >= len(probes):
            raise ExportArgumentError(f"probe {probe} out of range: layer {layer!r} has probes 0..{len(probes) - 1}")
        for p in probes:
            i = int(p.get("probe", 0))
            if probe is not None and i != probe:
                continue
            true_label = run.class_label(p.get("true")) if p.get("true") is not None else run.probe_label(i)
            predicted = run.class_label(p.get("predicted"))
            for t in p.get("targets") or []:
                for role in ("heatmap", "overlay"):
                    idx = t.get(role)
                    if isinstance(idx, int) and 1 <= idx <= len(images):
                        stored = images[idx - 1]
                        if stored is None:  # damaged, listed in the report
                            continue
                        png = stored
                    elif role == "overlay" and idx is None:
                        # No ready overlay stored (the callback's default): compose it as the writer would.
                        heat = t.get("heatmap")
                        probe_png = run.probe_png(i)
                        if not (isinstance(heat, int) and 1 <= heat <= len(images)) or probe_png is None:
                            continue
                        heat_png = images[heat - 1]
                        if heat_png is None:
                            continue
                        composed = overlay_pixels(probe_png, heat_png)
                        if composed is None:
                            continue
                        png = encode_png(composed)
                    else:
                        continue
                    score = t.get("score")
                    figs.append(
                        Figure(
                            **common,
                            png=png,
                            role=role,
                            index=idx,
                            probe=i,
                            target=str(t.get("target")) if t.get("target") is not None else None,
                            class_index=int(t["class"]) if t.get("class") is not None else None,
                            class_name=run.class_label(t.get("class")),
                            score=float(score) if isinstance(score, (int, float)) else None,
                            true_class=true_label,
                            predicted_class=predicted,
                        )
                    )
    return figs


def _scale(record: Mapping[str, Any]) -> int:
    scale = record.get("scale")
    return int(scale) if isinstance(scale, int) and not isinstance(scale, bool) and scale > 1 else 1


def _filters_with(figs: list[Figure], channel: int | None) -> list[Figure]:
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


def _check_channel(figs: Sequence[Figure], channel: int | None) -> None:
    if channel is None:
        return
    for fig in figs:
        if fig.layout is not None and fig.kind in ("activations", "filters"):
            try:
                tile_for_channel(fig, channel)
            except ValueError as e:
                raise ExportArgumentError(str(e)) from e
