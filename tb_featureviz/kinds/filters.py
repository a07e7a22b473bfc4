"""``filters``: for each filter of a layer, the input pattern that maximises its mean activation.

Writer: :func:`tb_featureviz.summary.filter_patterns`. Tag ``filters/<layer>``, blobs ``[record, rgb_grid]``
(one RGB PNG grid, a tile per pattern; the tag's metadata holds the ``GridLayout``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, TypedDict

from tb_featureviz.kinds.base import ExportDrawing, FigureCommon, Kind, on_call

if TYPE_CHECKING:
    from tb_featureviz.export.content import Figure, RunExport
    from tb_featureviz.metadata import GridLayout, Record


class FilterSchedule(TypedDict, total=False):
    """Which filters a pass drew: ``fixed`` seeded ones, then the window ``[a, b]`` of the layer's ``of``."""

    fixed: int
    window: list[int]
    of: int
    next: list[int]
    next_epoch: int | None


class FiltersRecord(TypedDict, total=False):
    """The record of a step: ``filters``, ``activation`` and ``size`` always, the rest where drawn."""

    filters: list[int]
    activation: list[float | None]
    size: int
    scale: int
    schedule: FilterSchedule
    relative: list[float | None]
    relative_median: float | None
    nonfinite: int


NOTE = "For each filter, the input pattern that maximises its mean activation (gradient ascent in input space)."


def figures(
    run: RunExport,
    common: FigureCommon,
    record: Record,
    images: Sequence[bytes | None],
    layout: GridLayout | None,
    probe: int | None,
) -> list[Figure]:
    """The step's one grid of patterns (none when it is damaged)."""
    from tb_featureviz.export.collect import float_or_none, record_scale
    from tb_featureviz.export.content import Figure

    if not images or images[0] is None:
        return []
    filters = tuple(int(f) for f in record.get("filters") or [])
    size = record.get("size")
    schedule = record.get("schedule")
    relative = record.get("relative")
    return [
        Figure(
            **common,
            png=images[0],
            role="grid",
            index=1,
            layout=layout,
            channels=len(filters) if filters else (layout.count if layout else None),
            filters=filters,
            scale=record_scale(record),
            source_size=(int(size), int(size)) if isinstance(size, int) else None,
            schedule=dict(schedule) if isinstance(schedule, Mapping) else None,
            relative=tuple(float_or_none(v) for v in relative) if isinstance(relative, list) else (),
            relative_median=float_or_none(record.get("relative_median")),
        )
    ]


def grid_summary(fig: Figure, plain: bool) -> str | None:
    """``64 filters`` or ``filters 0–127 of 512 (+16 fixed), next 128–255 at epoch 10``."""
    from tb_featureviz.export.content import rotating

    dash = "-" if plain else "\u2013"
    text = f"{len(fig.filters) if fig.filters else fig.channels} filters"
    sch = fig.schedule
    if sch is not None and rotating(sch):
        a, b = sch["window"]
        text = f"filters {a}{dash}{b} of {sch['of']}"
        if sch.get("fixed"):
            text += f" (+{sch['fixed']} fixed)"
        nxt = sch.get("next")
        if isinstance(nxt, list) and len(nxt) == 2:
            when = "when the budget has room" if sch.get("next_epoch") is None else f"at epoch {sch['next_epoch']}"
            text += f", next {nxt[0]}{dash}{nxt[1]} {when}"
    return text


def caption(fig: Figure, probe: list[str]) -> list[str]:
    relative = fig.relative_text(plain=True)
    return ([relative] if relative else []) + probe


def html_caption(run: RunExport, fig: Figure, channel: int | None, probe: list[str]) -> list[str]:
    from html import escape

    parts = [f"filter {channel}" if channel is not None else escape(fig.grid_summary() or "")]
    relative = fig.relative_text(channel)
    if relative:
        parts.append(escape(relative, quote=False))
    return parts + probe


def manifest(fig: Figure) -> Record:
    from tb_featureviz.export.content import reduction_entry

    entry: Record = {"filters": list(fig.filters)}
    if fig.schedule is not None:
        entry["schedule"] = dict(fig.schedule)
    if fig.relative:
        entry["relative"] = list(fig.relative)
    if fig.relative_median is not None:
        entry["relative_median"] = fig.relative_median
    return {**entry, **reduction_entry(fig)}


KIND = Kind(
    name="filters",
    tag_prefix="filters/",
    label="Filter patterns",
    noun="filter patterns",
    view=True,
    summary_op="tb_featureviz.summary:filter_patterns",
    record=FiltersRecord,
    export=ExportDrawing(
        figures=figures,
        summary_final=on_call("tb_featureviz.export.report:final_filters"),
        summary_changes=on_call("tb_featureviz.export.report:changes_filters"),
        note=NOTE,
        grid_summary=grid_summary,
        caption=caption,
        html_caption=html_caption,
        manifest=manifest,
        channels=True,
        # The grids whose rotation drew filter ``channel``.
        channel_filter=on_call("tb_featureviz.export.collect:filters_with"),
    ),
)
