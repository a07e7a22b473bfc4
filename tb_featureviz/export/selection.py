"""The plan of an export: which runs, tags and epochs to read, matched against a logdir's index.

:func:`plan_export` reads only the reader's ``/index`` document (``http_api.md``): a run, layer or epoch
that does not exist fails here, naming what does, before any image is read. The plan it returns lists
exactly the steps ``tb_featureviz.export.collect.read_plan`` reads, so progress can say ``done of total``
from the start.

Example:
    >>> plan = plan_export(reader.index(ctx), ExportOptions.parse("exp1", epochs="all"))  # doctest: +SKIP
    >>> [(t.tag, t.epochs) for t in plan.runs[0].tags][:1]  # doctest: +SKIP
    [('activations/conv2d', (0, 1, 2))]
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from tb_featureviz.export.errors import ExportNotFoundError
from tb_featureviz.export.options import EpochSelection, ExportOptions
from tb_featureviz.metadata import GridLayout
from tb_featureviz.reader.alignment import aligned_layer
from tb_featureviz.reader.integrity import MAX_ECHO, clip

if TYPE_CHECKING:
    from tb_featureviz.metadata import RecordView


__all__ = ["ExportPlan", "RunPlan", "TagPlan", "describe_steps", "list_names", "parse_run_names", "plan_export"]


@dataclasses.dataclass(frozen=True)
class TagPlan:
    """One tag of a run, and the epochs of it to read.

    Attributes:
        kind: ``activations``, ``filters`` or ``gradcam``.
        tag: The summary tag (``activations/conv2d``).
        layer: The layer name.
        layout: The grid geometry the index recorded (activations and filters), else None.
        epochs: The chosen epochs that this tag wrote, sorted.
    """

    kind: str
    tag: str
    layer: str
    layout: GridLayout | None
    epochs: tuple[int, ...]


@dataclasses.dataclass(frozen=True)
class RunPlan:
    """One run of an export.

    Attributes:
        run: The run name, as the plugin shows it.
        entry: The run's entry of the ``/index`` document (probes, ``run_info``...).
        steps: Every epoch the run wrote, sorted.
        epochs: The epochs chosen, sorted.
        tags: The tags to read, in display order (kind, then the index's layer order).
    """

    run: str
    entry: RecordView
    steps: tuple[int, ...]
    epochs: tuple[int, ...]
    tags: tuple[TagPlan, ...]


@dataclasses.dataclass(frozen=True)
class ExportPlan:
    """What an export reads: the options it was planned for, and each run's tags and epochs.

    Attributes:
        options: The (checked) options.
        runs: The runs, in the order they were named.
        logdir: Shown in error messages and in the report.
    """

    options: ExportOptions
    runs: tuple[RunPlan, ...]
    logdir: str = ""

    @property
    def reads(self) -> int:
        """Reads the plan takes: one a tag and epoch, plus the probe images and the curves of each run."""
        return sum(len(t.epochs) for r in self.runs for t in r.tags) + 2 * len(self.runs)


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


def list_names(items: Sequence[str], *, quote: bool = False, limit: int = 20) -> str:
    """``a, b, c`` for an error message: at most ``limit`` names (each clipped), then the count."""
    if not items:
        return "none"
    shown = [clip(n) if quote or len(n) > MAX_ECHO else n for n in items[:limit]]
    more = f", ... ({len(items)} in all)" if len(items) > limit else ""
    return ", ".join(shown) + more


def parse_run_names(runs: str | Iterable[str], known: Iterable[str]) -> list[str]:
    """Run names from a comma-separated string or a list; a name that exists is never split.

    Run names may hold commas (``lr=1e-4,bs=20``): an item equal to an existing run is that run;
    any other item is split at commas, so ``"exp1,exp2"`` still names two runs.
    """
    known_set = set(known)
    items = [runs] if isinstance(runs, str) else [str(r) for r in runs]
    out: list[str] = []
    for item in items:
        parts = [item.strip()] if item.strip() in known_set else [n.strip() for n in item.split(",")]
        out.extend(n for n in parts if n and n not in out)
    return out


def _tag_entries(entry: RecordView, kind: str) -> list[RecordView]:
    kinds = entry.get("kinds") or {}
    return list(kinds.get(kind) or [])


def _select_epochs(run: str, steps: Sequence[int], spec: str | EpochSelection | None) -> list[int]:
    if not steps:
        raise ExportNotFoundError(f"run {clip(run)} has no featureviz epochs written yet")
    if spec == "last" or spec is None:
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


FILMSTRIP_FRAMES = 6
"""A summary reads at most this many epochs (evenly spaced, the first and the last included) for its filmstrips,
plus each layer's newest epoch for its final-epoch figures."""


def spread(epochs: Sequence[int], count: int = FILMSTRIP_FRAMES) -> list[int]:
    """At most ``count`` of ``epochs`` (sorted), evenly spaced, the first and the last always among them.

    Example:
        >>> spread(list(range(10)), 6), spread([3, 5], 6)
        ([0, 2, 4, 5, 7, 9], [3, 5])
    """
    if len(epochs) <= count:
        return list(epochs)
    if count <= 1:
        return [epochs[-1]]
    picks = sorted({round(i * (len(epochs) - 1) / (count - 1)) for i in range(count)})
    return [epochs[i] for i in picks]


def _wanted_layers(name: str, entry: RecordView, kind: str, options: ExportOptions) -> set[str] | None:
    """The layers of ``kind`` to export for run ``name``: its own choice (``run_layers``) when that layer
    has ``kind`` tags in the run, else the layer its stage alignment gives, else ``layers``; ``None`` for
    every layer.

    A run's choice is one layer, and a layer rarely has every kind (a stage's activation layer is seldom
    the Grad-CAM layer): the kinds it lacks follow the shared rule rather than export nothing.
    """
    pick = dict(options.run_layers).get(name)
    if pick is not None and any(str(t.get("layer")) == pick for t in _tag_entries(entry, kind)):
        return {pick}
    if options.stage is not None:
        layer = aligned_layer(entry, kind, options.stage)
        return {layer} if layer is not None else set()
    return set(options.layers) if options.layers else None


def _run_plan(name: str, entry: RecordView, options: ExportOptions) -> RunPlan:
    steps = sorted(int(s) for s in entry.get("steps") or [])
    chosen = _select_epochs(name, steps, options.epochs)
    summary = options.detail == "summary"
    frames = spread(chosen) if summary else chosen
    tags: list[TagPlan] = []
    for kind in options.kinds:
        wanted = _wanted_layers(name, entry, kind, options)
        for t in _tag_entries(entry, kind):
            if wanted is not None and str(t.get("layer")) not in wanted:
                continue
            tag = str(t.get("tag") or f"{kind}/{t.get('layer')}")
            tag_steps = {int(s) for s in t.get("steps") or steps}
            wanted_epochs = set(frames)
            if summary:  # the layer's newest epoch up to the last chosen: the "final epoch" figures
                newest = [e for e in chosen if e in tag_steps]
                wanted_epochs.update(newest[-1:])
            tags.append(
                TagPlan(
                    kind=kind,
                    tag=tag,
                    layer=str(t.get("layer") or tag.split("/", 1)[-1]),
                    layout=GridLayout.from_json(t["layout"]) if t.get("layout") else None,
                    epochs=tuple(e for e in chosen if e in tag_steps and e in wanted_epochs),
                )
            )
    return RunPlan(run=name, entry=entry, steps=tuple(steps), epochs=tuple(frames), tags=tuple(tags))


def plan_export(index: RecordView, options: ExportOptions, *, logdir: str = "") -> ExportPlan:
    """Matches the options with a logdir's index: the runs, their tags and the epochs to read.

    Args:
        index: The reader's ``/index`` document.
        options: What to export.
        logdir: Shown in error messages and the report.

    Returns:
        The plan; it names every step to read.

    Raises:
        ExportNotFoundError: an unknown run or layer, a run without featureviz data, or an epoch that is not
            written; the message lists what exists.
    """
    entries = {str(e["run"]): e for e in index.get("runs") or []}
    run_names = parse_run_names(options.runs, entries)
    where = f" in {logdir}" if logdir else ""
    for name in run_names:
        if name not in entries:
            raise ExportNotFoundError(f"run {clip(name)} not found{where}; runs: {list_names(sorted(entries))}")
        if not entries[name].get("featureviz", True) or not entries[name].get("steps"):
            with_data = list_names(sorted(r for r, e in entries.items() if e.get("steps")))
            raise ExportNotFoundError(f"run {clip(name)} has no featureviz data{where}; runs with data: {with_data}")
    for name, layer in options.run_layers:
        if name not in run_names:
            raise ExportNotFoundError(
                f"a layer is chosen for run {clip(name)}, which is not exported; runs: {list_names(run_names)}"
            )
        own = sorted({str(t.get("layer")) for kind in options.kinds for t in _tag_entries(entries[name], kind)})
        if layer not in own:
            raise ExportNotFoundError(
                f"layer {clip(layer)} not found in run {clip(name)} for {', '.join(options.kinds)}; "
                f"layers: {list_names(own)}"
            )
    if options.layers:
        available = {
            str(t.get("layer"))
            for name in run_names
            for kind in options.kinds
            for t in _tag_entries(entries[name], kind)
        }
        missing = [layer for layer in options.layers if layer not in available]
        if missing:
            raise ExportNotFoundError(
                f"layer {clip(missing[0])} not found in {list_names(run_names, quote=True)} for "
                f"{', '.join(options.kinds)}; layers: {list_names(sorted(available))}"
            )
    runs = tuple(_run_plan(name, entries[name], options) for name in run_names)
    return ExportPlan(options=options, runs=runs, logdir=logdir)
