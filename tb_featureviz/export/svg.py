"""Loss and metric curves, and the Grad-CAM measures, as small, self-contained inline SVG charts."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from html import escape

from tb_featureviz.export.model import Curve

SPLIT_COLORS = {"train": "#2457a6", "validation": "#d9661f"}
"""Line colour of each split (colour-blind-safe blue and orange)."""

CHECK_CHARTS: tuple[tuple[str, tuple[float, float], tuple[tuple[str, str], ...]], ...] = (
    (
        "faithfulness",
        (0.0, 1.0),
        (
            ("faithfulness/deletion_auc", "deletion"),
            ("faithfulness/insertion_auc", "insertion"),
            ("faithfulness/pointing_game", "pointing"),
        ),
    ),
    ("sanity", (-1.0, 1.0), (("sanity/randomization_spearman", "randomisation"), ("sanity/drift_spearman", "drift"))),
)
"""The charts of the Grad-CAM measures: ``(group, y range always shown, ((tag, label), ...))``; a measure of
the group that is not listed is labelled after its tag."""

MEASURE_COLORS = {
    "deletion": "#d9661f",
    "insertion": "#2457a6",
    "pointing": "#2f8a4c",
    "randomisation": "#b42318",
    "drift": "#6941c6",
}
"""Line colour of each Grad-CAM measure."""

_W, _H = 420, 220
_ML, _MR, _MT, _MB = 48, 14, 24, 34


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values covering ``[lo, hi]`` (steps of 1, 2 or 5 times a power of ten).

    Example:
        >>> nice_ticks(0.12, 0.93)
        [0.2, 0.4, 0.6, 0.8]
    """
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / max(count - 1, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    ticks = []
    t = first
    while t <= hi + step * 1e-9:
        ticks.append(round(t, 12))
        t += step
    return ticks


def _fmt(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 1000 or abs(value) < 0.01:
        return f"{value:.2g}"
    return f"{value:.3g}"


def metric_order(metrics: Iterable[str]) -> list[str]:
    """Loss first, then accuracy, then the rest alphabetically."""
    rank = {"loss": 0, "accuracy": 1, "acc": 1}
    return sorted(set(metrics), key=lambda m: (rank.get(m, 2), m))


def curve_svg(
    metric: str,
    curves: Sequence[Curve],
    *,
    marks: Sequence[int] = (),
    title: str | None = None,
    colors: Mapping[str, str] | None = None,
    y_range: tuple[float, float] | None = None,
) -> str:
    """One chart: every split of ``metric`` as a line, the exported epochs as dashed vertical marks.

    Each split is one ``<polyline class="series" data-split=... data-metric=...>`` with one point per
    recorded epoch, so a reader (or a test) can recover the values' positions.

    Args:
        metric: The metric name (``loss``, ``accuracy``, ...).
        curves: The curves of that metric, one per split.
        marks: Epochs to mark (the exported ones).
        title: Chart title (default: the metric name).
        colors: Line colour of each split (default :data:`SPLIT_COLORS`).
        y_range: A value range the y axis always covers (a measure in [0, 1] keeps that scale).

    Returns:
        An ``<svg>`` element as a string, with a ``<title>`` for accessibility.
    """
    points = [p for c in curves for p in c.points if math.isfinite(p.value)]
    label = escape(title or metric)
    head = (
        f'<svg class="chart" viewBox="0 0 {_W} {_H}" width="{_W}" height="{_H}" role="img" '
        f'data-metric="{escape(metric)}">'
        f"<title>{label} per epoch</title>"
        f'<text class="chart-title" x="{_ML}" y="15">{label}</text>'
    )
    if not points:
        return head + f'<text class="empty" x="{_W / 2}" y="{_H / 2}" text-anchor="middle">no data</text></svg>'
    steps = [p.step for p in points] + list(marks)
    x0, x1 = min(steps), max(steps)
    if x1 == x0:
        x0, x1 = x0 - 1, x1 + 1
    values = [p.value for p in points]
    y0, y1 = min(values), max(values)
    if metric in ("accuracy", "acc") or metric.endswith("accuracy"):
        y0, y1 = min(y0, max(0.0, y0)), max(y1, min(1.0, y1))
    if y_range is not None:
        y0, y1 = min(y0, y_range[0]), max(y1, y_range[1])
    if y1 == y0:
        y0, y1 = y0 - 0.5, y1 + 0.5
    pad = (y1 - y0) * 0.06
    y0, y1 = y0 - pad, y1 + pad
    pw, ph = _W - _ML - _MR, _H - _MT - _MB

    def sx(step: float) -> float:
        return _ML + (step - x0) / (x1 - x0) * pw

    def sy(value: float) -> float:
        return _MT + (1.0 - (value - y0) / (y1 - y0)) * ph

    parts = [head, f'<rect class="plot" x="{_ML}" y="{_MT}" width="{pw}" height="{ph}"/>']
    for t in nice_ticks(y0, y1):
        y = sy(t)
        parts.append(f'<line class="grid" x1="{_ML}" x2="{_ML + pw}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text class="tick" x="{_ML - 5}" y="{y + 3.5:.1f}" text-anchor="end">{_fmt(t)}</text>')
    xticks = [t for t in nice_ticks(x0, x1, 6) if float(t).is_integer()]
    for t in xticks:
        x = sx(t)
        parts.append(f'<line class="axis-tick" x1="{x:.1f}" x2="{x:.1f}" y1="{_MT + ph}" y2="{_MT + ph + 4}"/>')
        parts.append(f'<text class="tick" x="{x:.1f}" y="{_MT + ph + 15}" text-anchor="middle">{int(t)}</text>')
    parts.append(f'<text class="axis-label" x="{_ML + pw / 2}" y="{_H - 4}" text-anchor="middle">epoch</text>')
    for m in sorted(set(marks)):
        x = sx(m)
        parts.append(
            f'<line class="mark" data-epoch="{m}" x1="{x:.1f}" x2="{x:.1f}" y1="{_MT}" y2="{_MT + ph}">'
            f"<title>exported epoch {m}</title></line>"
        )
    ordered = sorted(curves, key=lambda c: (c.split != "train", c.split))
    legend_x = _ML + pw - sum(22 + 6 * len(c.split) + 10 for c in ordered) + 10
    for curve in ordered:
        pts = [p for p in curve.points if math.isfinite(p.value)]
        color = (colors or SPLIT_COLORS).get(curve.split, "#555555")
        coords = " ".join(f"{sx(p.step):.1f},{sy(p.value):.1f}" for p in pts)
        parts.append(
            f'<polyline class="series" data-split="{escape(curve.split)}" data-metric="{escape(metric)}" '
            f'data-count="{len(pts)}" points="{coords}" stroke="{color}"/>'
        )
        marked = set(marks)
        for p in pts:
            if p.step in marked or len(pts) <= 30:
                r = 3.2 if p.step in marked else 1.8
                parts.append(
                    f'<circle cx="{sx(p.step):.1f}" cy="{sy(p.value):.1f}" r="{r}" fill="{color}">'
                    f"<title>{escape(curve.split)} {escape(metric)} at epoch {p.step}: {p.value:.4g}</title></circle>"
                )
        parts.append(
            f'<line x1="{legend_x:.0f}" x2="{legend_x + 14:.0f}" y1="11" y2="11" stroke="{color}" stroke-width="2.2"/>'
            f'<text class="legend" x="{legend_x + 18:.0f}" y="14.5">{escape(curve.split)}</text>'
        )
        legend_x += 22 + 6 * len(curve.split) + 10
    parts.append("</svg>")
    return "".join(parts)


def check_svgs(checks: Sequence[Curve], *, marks: Sequence[int] = ()) -> list[str]:
    """The charts of a run's Grad-CAM measures (``RunExport.checks``, one curve per tag): one per group of
    :data:`CHECK_CHARTS` that has a curve, each measure a line labelled and coloured by :data:`MEASURE_COLORS`.

    Args:
        checks: Curves whose ``metric`` is the scalar tag (``faithfulness/deletion_auc``).
        marks: Epochs to mark (the exported ones).

    Returns:
        ``<svg>`` strings (``data-metric`` the group), in :data:`CHECK_CHARTS` order.
    """
    out = []
    for group, y_range, measures in CHECK_CHARTS:
        labels = dict(measures)
        curves = [
            Curve(metric=group, split=labels.get(c.metric, c.metric.split("/", 1)[-1]), points=c.points)
            for c in checks
            if c.metric.startswith(f"{group}/")
        ]
        if curves:
            out.append(curve_svg(group, curves, marks=marks, colors=MEASURE_COLORS, y_range=y_range))
    return out


CHART_CSS = """
svg.chart { width: 100%; height: auto; max-width: 420px; font-family: inherit; }
svg.chart .chart-title { font-size: 12px; font-weight: 600; fill: #1f2933; }
svg.chart .plot { fill: #ffffff; stroke: #cbd2d9; stroke-width: 1; }
svg.chart .grid { stroke: #e4e7eb; stroke-width: 1; }
svg.chart .axis-tick { stroke: #9aa5b1; }
svg.chart .tick, svg.chart .legend, svg.chart .axis-label { font-size: 10px; fill: #52606d; }
svg.chart .mark { stroke: #7b8794; stroke-width: 1; stroke-dasharray: 3 3; }
svg.chart .series { fill: none; stroke-width: 2; stroke-linejoin: round; stroke-linecap: round; }
svg.chart .empty { font-size: 12px; fill: #9aa5b1; }
"""
"""Styles of the charts, for the HTML report's ``<style>``."""
