"""``activations``: every channel of a layer's output for each probe image, as a grid.

Writer: :func:`tb_featureviz.summary.activations`. Tag ``activations/<layer>``, blobs ``[record, grid_probe_0,
...]`` (grayscale PNG grids, one per probe image; the tag's metadata holds the ``GridLayout``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, TypedDict

from tb_featureviz.kinds.base import ExportDrawing, FigureCommon, Kind, on_call

if TYPE_CHECKING:
    from tb_featureviz.export.content import Figure, RunExport
    from tb_featureviz.metadata import GridLayout, Record


class ActivationsRecord(TypedDict, total=False):
    """The record of a step. ``probes``, ``dead`` and ``shape`` always; a reduced grid adds ``channels`` (tile
    ``k`` shows channel ``channels[k]``) and ``scale``; ``nonfinite`` where the model produced NaN or inf."""

    probes: int
    dead: list[int]
    shape: list[int]
    channels: list[int]
    scale: int
    nonfinite: int


NOTE = (
    "Every channel of the layer's output for one probe image, each channel normalised on its own "
    "(the colour map's high end = strong response). Tiles in the map's lowest colour are channels with no "
    "variation in this image; separators are neutral grey."
)


def layer_size(entry: Mapping[str, object], record: Mapping[str, object] | None) -> tuple[int, int] | None:
    """The spatial size of an activation layer: its record's ``shape``, else its grid tiles (times the
    record's ``scale``, for a reduced grid); ``None`` when neither is known (the reader's stages)."""
    shape = (record or {}).get("shape")
    if isinstance(shape, list) and len(shape) == 3 and all(isinstance(v, int) and v > 0 for v in shape[:2]):
        return int(shape[0]), int(shape[1])
    layout = entry.get("layout")
    if not layout or not isinstance(layout, Mapping):
        return None
    scale = (record or {}).get("scale")
    factor = scale if isinstance(scale, int) and scale > 0 else 1
    return int(layout["tile_height"]) * factor, int(layout["tile_width"]) * factor


def figures(
    run: RunExport,
    common: FigureCommon,
    record: Record,
    images: Sequence[bytes | None],
    layout: GridLayout | None,
    probe: int | None,
) -> list[Figure]:
    """One figure per probe image's grid (only ``probe``'s when given)."""
    from tb_featureviz.export.collect import record_scale
    from tb_featureviz.export.content import Figure
    from tb_featureviz.export.errors import ExportArgumentError

    count = len(images)
    if probe is not None and probe >= count:
        raise ExportArgumentError(f"probe {probe} out of range: layer {common['layer']!r} has probes 0..{count - 1}")
    shape = record.get("shape") or []
    channels = int(shape[-1]) if shape else (layout.count if layout else None)
    shown = record.get("channels")
    tile_channels = tuple(int(c) for c in shown) if isinstance(shown, list) else ()
    source_size = (int(shape[0]), int(shape[1])) if len(shape) == 3 else None
    dead = tuple(int(c) for c in record.get("dead") or [])
    return [
        Figure(
            **common,
            png=png,
            role="grid",
            index=i + 1,
            probe=i,
            layout=layout,
            channels=channels,
            dead=dead,
            true_class=run.probe_label(i),
            tile_channels=tile_channels,
            scale=record_scale(record),
            source_size=source_size,
        )
        for i, png in enumerate(images)
        if png is not None and (probe is None or i == probe)  # None: damaged, listed in the report
    ]


def grid_summary(fig: Figure, plain: bool) -> str | None:
    """``400 of 512 channels (most variable)`` or ``32 channels``."""
    if fig.tile_channels and fig.channels is not None and len(fig.tile_channels) < fig.channels:
        return f"{len(fig.tile_channels)} of {fig.channels} channels (most variable)"
    shown = len(fig.tile_channels) if fig.tile_channels else fig.channels
    return f"{shown if shown is not None else '?'} channels"


def caption(fig: Figure, probe: list[str]) -> list[str]:
    return probe


def html_caption(run: RunExport, fig: Figure, channel: int | None, probe: list[str]) -> list[str]:
    from html import escape

    parts: list[str] = []
    if channel is not None:
        parts.append(f"channel {channel} of {fig.channels}")
    elif fig.channels is not None or fig.tile_channels:
        parts.append(escape(fig.grid_summary() or ""))
    if fig.dead and channel is None:
        parts.append(f"{len(fig.dead)} dead")
    return parts + probe


def manifest(fig: Figure) -> Record:
    from tb_featureviz.export.content import reduction_entry

    entry: Record = {"channels": fig.channels, "dead": list(fig.dead)}
    if fig.tile_channels:
        entry["tile_channels"] = list(fig.tile_channels)
    return {**entry, **reduction_entry(fig)}


def colour_note(colormap: str | None, present: bool) -> str | None:
    """``activations in viridis``: the grids' colour map (said whenever one was chosen)."""
    from tb_featureviz.export.figures import DEFAULT_COLORMAP

    return f"activations in {colormap or DEFAULT_COLORMAP}" if colormap or present else None


KIND = Kind(
    name="activations",
    tag_prefix="activations/",
    label="Activations",
    noun="activation grids",
    view=True,
    summary_op="tb_featureviz.summary:activations",
    record=ActivationsRecord,
    export=ExportDrawing(
        figures=figures,
        colour_note=colour_note,
        summary_final=on_call("tb_featureviz.export.report:final_activations"),
        summary_changes=on_call("tb_featureviz.export.report:changes_activations"),
        note=NOTE,
        grid_summary=grid_summary,
        caption=caption,
        html_caption=html_caption,
        manifest=manifest,
        channels=True,
    ),
)
