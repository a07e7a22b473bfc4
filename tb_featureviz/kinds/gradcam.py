"""``gradcam``: for each probe image, the regions that drove the predicted and the true class's score.

Writer: :func:`tb_featureviz.summary.gradcam`. Tag ``gradcam/<layer>``, blobs ``[record, heat, overlay, heat,
overlay, ...]`` (a grayscale heatmap and, optionally, a ready RGB overlay per probe and target).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, TypedDict

from tb_featureviz.kinds.base import ExportDrawing, FigureCommon, Kind, on_call

if TYPE_CHECKING:
    from tb_featureviz.export.content import Figure, RunExport
    from tb_featureviz.metadata import GridLayout, Record


class GradcamTarget(TypedDict):
    """One map of a probe: ``heatmap``/``overlay`` index the blob sequence (``overlay`` None: not stored)."""

    target: str
    score: float | None
    heatmap: int
    overlay: int | None


class GradcamProbe(TypedDict, total=False):
    probe: int
    true: int | None
    predicted: int
    probabilities: list[float | None]
    targets: list[GradcamTarget]


class GradcamRecord(TypedDict, total=False):
    """The record of a step (``class`` of a target is a Python keyword: read it as ``target["class"]``)."""

    probes: list[GradcamProbe]
    nonfinite: int


NOTE = (
    "Grad-CAM (Selvaraju et al., 2017): the image regions that drove the score of the named class, "
    "for the predicted and, where known, the true class."
)


def figures(
    run: RunExport,
    common: FigureCommon,
    record: Record,
    images: Sequence[bytes | None],
    layout: GridLayout | None,
    probe: int | None,
) -> list[Figure]:
    """A heatmap and an overlay per probe image (only ``probe``'s when given) and target."""
    from tb_featureviz.export.errors import ExportArgumentError

    probes = list(record.get("probes") or [])
    if probe is not None and probe >= len(probes):
        raise ExportArgumentError(
            f"probe {probe} out of range: layer {common['layer']!r} has probes 0..{len(probes) - 1}"
        )
    figs: list[Figure] = []
    for p in probes:
        i = int(p.get("probe", 0))
        if probe is None or i == probe:
            figs.extend(_probe_figures(run, common, p, i, images))
    return figs


def _probe_figures(
    run: RunExport, common: FigureCommon, p: Record, i: int, images: Sequence[bytes | None]
) -> list[Figure]:
    from tb_featureviz.export.content import Figure

    true_label = run.class_label(p.get("true")) if p.get("true") is not None else run.probe_label(i)
    predicted = run.class_label(p.get("predicted"))
    figs: list[Figure] = []
    targets = p.get("targets")
    for t in targets if isinstance(targets, list) else []:
        for role in ("heatmap", "overlay"):
            png = _target_png(run, t, role, i, images)
            if png is None:
                continue
            score = t.get("score")
            figs.append(
                Figure(
                    **common,
                    png=png,
                    role=role,
                    index=t.get(role),
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


def _target_png(run: RunExport, t: Record, role: str, i: int, images: Sequence[bytes | None]) -> bytes | None:
    """The stored PNG of a target's ``role``; for an overlay the run did not store (the callback's default), the
    overlay composed as the writer would; None when damaged or not composable."""
    from tb_featureviz.export.figures import overlay_pixels
    from tb_featureviz.render import encode_png

    idx = t.get(role)
    if isinstance(idx, int) and 1 <= idx <= len(images):
        return images[idx - 1]  # None: damaged, listed in the report
    if role != "overlay" or idx is not None:
        return None
    heat = t.get("heatmap")
    probe_png = run.probe_png(i)
    if not (isinstance(heat, int) and 1 <= heat <= len(images)) or probe_png is None:
        return None
    heat_png = images[heat - 1]
    if heat_png is None:
        return None
    composed = overlay_pixels(probe_png, heat_png)
    return None if composed is None else encode_png(composed)


def caption(fig: Figure, probe: list[str]) -> list[str]:
    if fig.class_index is None:
        return probe
    name = fig.class_name if fig.class_name is not None else str(fig.class_index)
    score = "" if fig.score is None else f" {fig.score:.2f}"
    return [*probe, f"{fig.target or 'class'}: {name}{score}"]


def html_caption(run: RunExport, fig: Figure, channel: int | None, probe: list[str]) -> list[str]:
    from html import escape

    name = fig.class_name if fig.class_name is not None else fig.class_index
    score = f' <span class="score">{fig.score:.2f}</span>' if fig.score is not None else ""
    parts = [*probe, f'{escape(fig.target or "class")}: <b class="cls">{escape(str(name))}</b>{score}']
    if fig.target == "true" and fig.predicted_class is not None and fig.predicted_class != fig.class_name:
        parts.append(f"predicted {escape(fig.predicted_class)}")
    truth = run.probe_label(fig.probe)
    if fig.target == "predicted" and fig.predicted_class is not None and truth not in (None, fig.predicted_class):
        parts.append('<span class="wrong">WRONG</span>')
    return parts


def manifest(fig: Figure) -> Record:
    return {
        "target": fig.target,
        "class_index": fig.class_index,
        "class_name": fig.class_name,
        "score": fig.score,
        "true_class": fig.true_class,
        "predicted_class": fig.predicted_class,
    }


def colour_note(colormap: str | None, present: bool) -> str | None:
    """``Grad-CAM heat in jet``: the overlays' colour map."""
    from tb_featureviz.export.figures import OVERLAY_COLORMAP

    return f"Grad-CAM heat in {colormap or OVERLAY_COLORMAP}" if present else None


KIND = Kind(
    name="gradcam",
    tag_prefix="gradcam/",
    label="Grad-CAM",
    noun="Grad-CAM heatmaps",
    view=True,
    summary_op="tb_featureviz.summary:gradcam",
    record=GradcamRecord,
    export=ExportDrawing(
        figures=figures,
        colour_note=colour_note,
        summary_final=on_call("tb_featureviz.export.report:final_gradcam"),
        summary_changes=on_call("tb_featureviz.export.report:changes_gradcam"),
        note=NOTE,
        caption=caption,
        html_caption=html_caption,
        manifest=manifest,
        pixel_grid=False,
    ),
)
