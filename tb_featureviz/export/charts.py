"""Every static figure of an export, drawn with matplotlib: curves, Grad-CAM checks, grids, Grad-CAM panels and
filmstrips.

Each ``draw_*`` function draws into a matplotlib ``Figure`` or ``SubFigure`` it is given, so the same drawing
serves the HTML report (one SVG per figure), the PDF (a region of an A4 page), the single-figure PNG and SVG
exports and the notebook helpers in ``tb_featureviz.plot``. Nothing here uses ``pyplot``: no global state, safe
in a server thread.

Axes follow one tick rule, shared with the dashboard's ``chart.js`` ``niceTicks`` and tested on one table of
cases in both languages (``tests/support/tick_cases.json``): :data:`TICK_STEPS` with at most
:data:`TICK_BINS` intervals, and axis limits on the outer ticks (``axes.autolimit_mode: round_numbers``), so the
ticks always cover the data. A learning rate, or any positive metric that spans two decades, gets a log axis.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import matplotlib
import numpy as np
from matplotlib.figure import Figure, SubFigure
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import LogLocator, MaxNLocator

from tb_featureviz.export.content import Curve
from tb_featureviz.export.figures import crop_tile
from tb_featureviz.metadata import GridLayout
from tb_featureviz.render import SEPARATOR_RGB, colormap_lut

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from tb_featureviz.metadata import Record, RecordView


FigureLike = Figure | SubFigure
"""Where a ``draw_*`` function draws: a whole figure, or a region of a page."""

TEXT_WIDTH_IN = 6.3
"""Width of a full-width figure in inches (16 cm, an A4 page's text width): figures drop into LaTeX or Word at
``\\textwidth`` with their text at :data:`FONT_SIZE` points."""

FONT_SIZE = 8.0
"""Body text of every figure, in points."""

TICK_STEPS = (1, 2, 2.5, 5, 10)
"""Tick steps, times a power of ten (matplotlib's default ``MaxNLocator`` steps)."""

TICK_BINS = 5
"""At most this many intervals between ticks on a linear axis."""

LOWEST_COLOUR_NAMES = {"viridis": "dark purple", "magma": "black", "inferno": "black", "gray": "black"}
"""What a person calls each colour map's lowest colour: the colour of a channel with no variation."""

SPLIT_DASHES = {"train": "-", "validation": "--"}
"""Line style of each split."""

RUN_DASHES = ("-", "--", ":", "-.")
"""Line styles that, with :data:`RUN_COLORS`, tell up to 40 runs apart."""

RUN_COLORS = (
    "#2457a6",
    "#d9661f",
    "#2f8a4c",
    "#b42318",
    "#6941c6",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
"""Line colours of runs, in order (the first two are the splits' blue and orange)."""

MEASURES: Mapping[str, tuple[str, str, tuple[float, float]]] = {
    "faithfulness/deletion_auc": ("deletion AUC (low is good)", "#d9661f", (0.0, 1.0)),
    "faithfulness/insertion_auc": ("insertion AUC (high is good)", "#2457a6", (0.0, 1.0)),
    "faithfulness/pointing_game": ("pointing game (high is good)", "#2f8a4c", (0.0, 1.0)),
    "sanity/randomization_spearman": ("randomisation ρ (low is good)", "#b42318", (-1.0, 1.0)),
    "sanity/drift_spearman": ("drift ρ (near 1: settled)", "#6941c6", (-1.0, 1.0)),
}
"""The Grad-CAM measures: scalar tag -> (label, colour, the range the axis always shows)."""

CHECK_GROUPS = (("faithfulness", "Faithfulness"), ("sanity", "Sanity"))
"""The checks' charts: tag prefix and title."""

STYLE: RecordView = {
    "font.size": FONT_SIZE,
    "axes.titlesize": FONT_SIZE + 0.5,
    "axes.titleweight": "bold",
    "axes.labelsize": FONT_SIZE,
    "xtick.labelsize": FONT_SIZE - 0.5,
    "ytick.labelsize": FONT_SIZE - 0.5,
    "legend.fontsize": FONT_SIZE - 0.5,
    "legend.frameon": False,
    "axes.autolimit_mode": "round_numbers",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#e4e7eb",
    "grid.linewidth": 0.6,
    "axes.edgecolor": "#9aa5b1",
    "axes.linewidth": 0.7,
    "lines.linewidth": 1.4,
    "lines.markersize": 3.5,
    "svg.fonttype": "none",
    "pdf.fonttype": 42,
    "image.interpolation": "none",
    "figure.dpi": 100,
    "savefig.dpi": 300,
}
"""matplotlib settings of every export figure (text stays text in SVG and PDF)."""


@contextmanager
def style() -> Iterator[None]:
    """The export's matplotlib style, for drawing and saving a figure.

    Figures that place their own axes (grids, picture tables) sit in constrained-layout pages; matplotlib's
    note that such a figure has nothing for the layout to do is silenced.
    """
    with matplotlib.rc_context(dict(STYLE)), warnings.catch_warnings():  # type: ignore[arg-type]
        warnings.filterwarnings("ignore", message="There are no gridspecs with layoutgrids")
        yield


def tick_locator() -> MaxNLocator:
    """The linear axes' tick rule (see the module docstring)."""
    return MaxNLocator(nbins=TICK_BINS, steps=list(TICK_STEPS))


def nice_ticks(lo: float, hi: float) -> list[float]:
    """The ticks of a linear axis over ``[lo, hi]``: the first at or below ``lo``, the last at or above ``hi``
    (the rule of ``tests/support/tick_cases.json``, which the dashboard's ``niceTicks`` follows too).

    Example:
        >>> nice_ticks(0.12, 0.93)
        [0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]
        >>> nice_ticks(1e-4, 1e-4)[0] < 1e-4 < nice_ticks(1e-4, 1e-4)[-1]
        True
    """
    locator = tick_locator()
    with matplotlib.rc_context({"axes.autolimit_mode": "round_numbers"}):
        return [float(v) for v in locator.tick_values(*locator.nonsingular(lo, hi))]


def run_style(i: int) -> tuple[str, str]:
    """``(colour, line style)`` of the ``i``-th run: distinct for the first 40 runs."""
    return RUN_COLORS[i % len(RUN_COLORS)], RUN_DASHES[(i // len(RUN_COLORS)) % len(RUN_DASHES)]


def metric_order(metrics: Sequence[str] | set[str]) -> list[str]:
    """Loss first, then accuracy, then the rest alphabetically (the learning rate last).

    Example:
        >>> metric_order({"learning_rate", "auc", "accuracy", "loss"})
        ['loss', 'accuracy', 'auc', 'learning_rate']
    """
    rank = {"loss": 0, "accuracy": 1, "acc": 1, "learning_rate": 3}
    return sorted(set(metrics), key=lambda m: (rank.get(m, 2), m))


def uses_log_axis(metric: str, values: Sequence[float]) -> bool:
    """A log y axis for the learning rate, and for a positive metric whose values span at least two decades."""
    positive = [v for v in values if math.isfinite(v)]
    if not positive or min(positive) <= 0:
        return False
    return metric == "learning_rate" or max(positive) / min(positive) >= 100


def metric_title(metric: str) -> str:
    """``learning_rate`` -> ``Learning rate``."""
    return metric.replace("_", " ").capitalize()


@dataclass(frozen=True)
class Series:
    """One line of a chart: a run's split of a metric, or a run's Grad-CAM measure."""

    run: str
    label: str
    steps: tuple[int, ...]
    values: tuple[float, ...]
    color: str
    dashes: str
    markers: bool = False
    hollow: tuple[int, ...] = ()


def _epoch_axis(ax: Axes, steps: Sequence[int]) -> None:
    lo, hi = (min(steps), max(steps)) if steps else (0, 1)
    ticks = [t for t in nice_ticks(lo, hi if hi > lo else lo + 1) if float(t).is_integer()]
    ax.set_xticks(ticks)
    if len(ticks) > 1:
        ax.set_xlim(ticks[0], ticks[-1])
    ax.set_xlabel("epoch")


def _value_axis(ax: Axes, values: Sequence[float], *, log: bool, keep: tuple[float, float] | None = None) -> None:
    finite = [v for v in values if math.isfinite(v)]
    if log:
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(LogLocator(base=10))
        # decades around the data, one more where a value sits on a decade (a float32 1e-4 counts as 1e-4)
        lo, hi = round(math.log10(min(finite)), 6), round(math.log10(max(finite)), 6)
        ax.set_ylim(10 ** (math.floor(lo) - (lo == math.floor(lo))), 10 ** (math.ceil(hi) + (hi == math.ceil(hi))))
        return
    lo, hi = (min(finite), max(finite)) if finite else (0.0, 1.0)
    if keep is not None:
        lo, hi = min(lo, keep[0]), max(hi, keep[1])
    ticks = nice_ticks(lo, hi)
    ax.set_yticks(ticks)  # exactly the rule's ticks: recomputed from the limits they could differ on tiny ranges
    ax.set_ylim(ticks[0], ticks[-1])


def draw_lines(
    ax: Axes,
    series: Sequence[Series],
    *,
    title: str,
    log: bool = False,
    keep: tuple[float, float] | None = None,
    epochs: Sequence[int] = (),
    key: str = "chart",
) -> None:
    """One chart: each series a line over the epochs, with the tick rule of the module docstring.

    Each line's SVG group is ``series-<key>-<run>-<label>``, the axes' ``chart-<key>``.

    Args:
        ax: The axes.
        series: The lines.
        title: The chart's title.
        log: A log y axis.
        keep: A value range the y axis always shows (a measure in [0, 1] keeps that scale).
        epochs: Epochs the x axis covers whatever the lines hold (every epoch of the run).
        key: Names the chart in the SVG ids (the metric, or the checks' group).
    """
    values = [v for s in series for v in s.values]
    steps = [t for s in series for t in s.steps] + list(epochs)
    for s in series:
        ax.plot(
            s.steps,
            s.values,
            color=s.color,
            linestyle=s.dashes,
            marker="o" if s.markers or len(s.steps) <= 1 else None,
            label=s.label,
            gid=f"series-{key}-{s.run}-{s.label}",
        )
        light = [(t, v) for t, v in zip(s.steps, s.values, strict=True) if t in set(s.hollow)]
        if light:  # light draws: the same marker, hollow
            ax.plot(
                [t for t, _ in light],
                [v for _, v in light],
                linestyle="none",
                marker="o",
                markerfacecolor="white",
                markeredgecolor=s.color,
                gid=f"light-{key}-{s.run}-{s.label}",
            )
    ax.set_title(title, loc="left")
    ax.set_gid(f"chart-{key}")
    _epoch_axis(ax, steps)
    if values:
        _value_axis(ax, values, log=log, keep=keep)
    else:
        ax.text(0.5, 0.5, "no data", transform=ax.transAxes, ha="center", va="center", color="#7b8794")


def curve_series(runs: Sequence[tuple[str, Sequence[Curve]]], metric: str) -> list[Series]:
    """The lines of one metric: each run's splits (train solid, validation dashed; runs by colour when several)."""
    out = []
    for i, (run, curves) in enumerate(runs):
        color, dashes = run_style(i)
        for curve in sorted(curves, key=lambda c: (c.split != "train", c.split)):
            if curve.metric != metric:
                continue
            pts = [p for p in curve.points if math.isfinite(p.value)]
            label = curve.split if len(runs) == 1 else f"{run} {curve.split}"
            split_color = RUN_COLORS[0 if curve.split == "train" else 1] if len(runs) == 1 else color
            out.append(
                Series(
                    run=run,
                    label=label,
                    steps=tuple(p.step for p in pts),
                    values=tuple(p.value for p in pts),
                    color=split_color,
                    dashes=SPLIT_DASHES.get(curve.split, ":") if len(runs) == 1 or dashes == "-" else dashes,
                )
            )
    return out


def draw_curves(fig: FigureLike, runs: Sequence[tuple[str, Sequence[Curve]]], *, epochs: Sequence[int] = ()) -> None:
    """The training curves: one chart per metric (loss, accuracy, ..., the learning rate on a log axis).

    Args:
        fig: Where to draw.
        runs: ``(run name, curves)`` of each run.
        epochs: Epochs every chart's x axis covers.
    """
    metrics = metric_order({c.metric for _, curves in runs for c in curves})
    if not metrics:
        fig.text(0.5, 0.5, "No loss or metric curves were logged.", ha="center", va="center")
        return
    axes = fig.subplots(1, len(metrics), squeeze=False)[0]
    for ax, metric in zip(axes, metrics, strict=True):
        series = curve_series(runs, metric)
        log = uses_log_axis(metric, [v for s in series for v in s.values])
        draw_lines(ax, series, title=metric_title(metric), log=log, epochs=epochs, key=metric)
    if axes[0].get_legend_handles_labels()[0]:
        axes[0].legend(loc="best")


def check_series(
    runs: Sequence[tuple[str, Sequence[Curve]]], group: str, light: Mapping[str, Sequence[int]] | None = None
) -> list[Series]:
    """The lines of one group of Grad-CAM measures (``faithfulness`` or ``sanity``), markers at measured epochs,
    hollow at the epochs of ``light[run]`` (light draws)."""
    out = []
    for i, (run, checks) in enumerate(runs):
        dashes = RUN_DASHES[i % len(RUN_DASHES)]  # colour is the measure; several runs differ by line style
        for tag, (label, color, _) in MEASURES.items():
            if not tag.startswith(group + "/"):
                continue
            for curve in checks:
                if curve.metric != tag:
                    continue
                pts = [p for p in curve.points if math.isfinite(p.value)]
                if pts:
                    out.append(
                        Series(
                            run=run,
                            label=label if len(runs) == 1 else f"{run} {label}",
                            steps=tuple(p.step for p in pts),
                            values=tuple(p.value for p in pts),
                            color=color,
                            dashes=dashes,
                            markers=True,
                            hollow=tuple((light or {}).get(run, ())),
                        )
                    )
    return out


def draw_checks(
    fig: FigureLike,
    runs: Sequence[tuple[str, Sequence[Curve]]],
    *,
    epochs: Sequence[int] = (),
    light: Mapping[str, Sequence[int]] | None = None,
) -> None:
    """The Grad-CAM checks: a faithfulness and a sanity chart, a marker at each measured epoch (hollow at the
    epochs of ``light[run]``: light draws on a subset of the steps and randomised copies).

    Only measures with at least one point are drawn and named in the key.
    """
    groups = [(g, t) for g, t in CHECK_GROUPS if check_series(runs, g)]
    if not groups:
        fig.text(0.5, 0.5, "No Grad-CAM checks were measured.", ha="center", va="center")
        return
    axes = fig.subplots(1, len(groups), squeeze=False)[0]
    for ax, (group, title) in zip(axes, groups, strict=True):
        series = check_series(runs, group, light)
        keep = next(v[2] for k, v in MEASURES.items() if k.startswith(group + "/"))
        draw_lines(ax, series, title=title, keep=keep, epochs=epochs, key=group)
        ax.legend(loc="best")


def retile(image: np.ndarray, layout: GridLayout, cols: int) -> tuple[np.ndarray, GridLayout]:
    """The tiles of a grid laid out again with ``cols`` columns, separators and empty cells in
    :data:`SEPARATOR_RGB` (``image`` is RGB ``[H, W, 3]``)."""
    cols = max(1, min(cols, layout.count))
    rows = math.ceil(layout.count / cols)
    new = GridLayout(
        rows=rows,
        cols=cols,
        tile_height=layout.tile_height,
        tile_width=layout.tile_width,
        padding=layout.padding,
        count=layout.count,
    )
    out = np.empty((new.height, new.width, 3), dtype=np.uint8)
    out[...] = SEPARATOR_RGB
    for k in range(layout.count):
        crop_tile(out, new, k)[...] = crop_tile(image, layout, k)
    return out, new


@dataclass(frozen=True)
class GridImage:
    """One grid to draw: RGB pixels with neutral separators, and what its key says.

    Attributes:
        title: Shown above it.
        pixels: ``[H, W, 3]`` uint8.
        layout: Its geometry (after :func:`retile`).
        dead: Tiles whose channel is zero for every probe (outlined).
        gid: An id for the SVG group (tests find the grid by it).
    """

    title: str
    pixels: np.ndarray
    layout: GridLayout | None = None
    dead: tuple[int, ...] = ()
    gid: str = ""


GRID_TITLE_IN = 0.2
"""Height of a grid's title line, in inches."""

GRID_KEY_IN = 0.42
"""Height of the grids' key (colour bar and legend), in inches."""


def _size_in(fig: FigureLike) -> tuple[float, float]:
    """A figure's or page region's ``(width, height)`` in inches."""
    return fig.bbox.width / fig.dpi, fig.bbox.height / fig.dpi


MAX_TILE_IN = 0.45
"""A grid's tiles are drawn at most this wide (a layer of 6 channels does not fill a page)."""


def grid_width(grid: GridImage, width_in: float) -> float:
    """How wide a grid is drawn: the text width, or less where its tiles would pass :data:`MAX_TILE_IN`."""
    cols = grid.layout.cols if grid.layout is not None else None
    return width_in if cols is None else min(width_in, cols * MAX_TILE_IN)


def grids_height(grids: Sequence[GridImage], width_in: float = TEXT_WIDTH_IN, *, key: bool = True) -> float:
    """The height :func:`draw_grids` needs at ``width_in``: each grid at :func:`grid_width`, its title above."""
    return sum(grid_width(g, width_in) * g.pixels.shape[0] / g.pixels.shape[1] + GRID_TITLE_IN for g in grids) + (
        GRID_KEY_IN if key else 0.05
    )


def draw_grids(fig: FigureLike, grids: Sequence[GridImage], *, cmap: str | None, note_dead: bool = True) -> None:
    """Grids stacked top to bottom, each as wide as the figure (so every grid's tiles show at one size when they
    share a column count), with one key: the colour map's bar (when ``cmap``), its lowest colour named as "no
    variation", dead channels outlined and the neutral separators.

    Args:
        fig: Where to draw; :func:`grids_height` gives the height it needs.
        grids: The grids.
        cmap: The colour map the grids were drawn with (activations), or None (RGB filter patterns).
        note_dead: Whether to name the dead-channel outline in the key.
    """
    width, height = _size_in(fig)
    scale = min(1.0, height / max(grids_height(grids, width, key=bool(cmap)), 1e-6))
    y = height
    for g in grids:
        h_px, w_px = g.pixels.shape[:2]
        img_w = grid_width(g, width) * scale
        img_h = img_w * h_px / w_px
        y -= GRID_TITLE_IN * scale
        fig.text(0.0, (y + 0.04) / height, g.title, ha="left", va="bottom", fontsize=FONT_SIZE - 0.5)
        y -= img_h
        ax = fig.add_axes((0.0, y / height, img_w / width, img_h / height))
        ax.imshow(g.pixels, interpolation="none", aspect="auto", extent=(0, w_px, h_px, 0))
        ax.set_axis_off()
        if g.gid:
            ax.set_gid(g.gid)
        if g.layout is not None:
            for k in g.dead:
                x0, y0 = g.layout.tile_origin(k)
                ax.add_patch(
                    Rectangle(
                        (x0, y0),
                        g.layout.tile_width,
                        g.layout.tile_height,
                        fill=False,
                        edgecolor="#e02424",
                        linewidth=0.6,
                    )
                )
    if not cmap:
        return
    lut = colormap_lut(cmap)
    key_y = max(y - GRID_KEY_IN + 0.08, 0.0)
    bar = fig.add_axes((0.0, (key_y + 0.16) / height, 1.3 / width, 0.09 / height))
    bar.imshow(lut[None, :, :], aspect="auto", extent=(0, 1, 0, 1))
    bar.set_axis_off()
    fig.text(0.0, (key_y + 0.02) / height, "low", fontsize=FONT_SIZE - 1, va="bottom")
    fig.text(1.3 / width, (key_y + 0.02) / height, "high", fontsize=FONT_SIZE - 1, va="bottom", ha="right")
    low = (float(lut[0][0]) / 255, float(lut[0][1]) / 255, float(lut[0][2]) / 255)
    handles = [
        Patch(
            facecolor=low, edgecolor="#9aa5b1", label=f"{LOWEST_COLOUR_NAMES.get(cmap, 'lowest colour')}: no variation"
        ),
        Patch(facecolor=_hex(SEPARATOR_RGB), edgecolor="#9aa5b1", label="grey: separator"),
    ]
    if note_dead and any(g.dead for g in grids):
        handles.append(Patch(facecolor="none", edgecolor="#e02424", label="outlined: dead (zero for every probe)"))
    fig.legend(
        handles=handles,
        loc="lower left",
        bbox_to_anchor=(1.45 / width, key_y / height),
        ncols=len(handles),
        handlelength=1.2,
        borderaxespad=0.0,
    )


@dataclass(frozen=True)
class Panel:
    """One small picture of a picture table (a Grad-CAM overlay, a probe image, a filmstrip frame).

    Attributes:
        pixels: RGB ``[H, W, 3]`` uint8, or None for "not drawn" (an empty cell saying so).
        title: Shown above it (may be empty).
        badge: A red badge in its corner (``WRONG``), or empty.
        gid: An id for the SVG group.
        note: A grey note along its bottom edge (``flat map``), or empty.
    """

    pixels: np.ndarray | None
    title: str = ""
    badge: str = ""
    gid: str = ""
    note: str = ""


PANEL_TITLE_IN = 0.17
"""Height of a panel's title line, in inches."""

PANEL_GAP_IN = 0.06
"""Space between panels, in inches."""

MAX_PANEL_IN = 1.0
"""Largest panel side, in inches."""


def _panel_geometry(
    n_cols: int, width_in: float, *, titles: bool, col_labels: bool, row_labels: bool
) -> tuple[float, float, float, float]:
    """``(label width, panel side, row height, header height)`` of a picture table."""
    label_w = 1.15 if row_labels else 0.0
    side = min(MAX_PANEL_IN, (width_in - label_w) / max(n_cols, 1) - PANEL_GAP_IN)
    row_h = side + (PANEL_TITLE_IN if titles else 0.0) + PANEL_GAP_IN
    header = 0.2 if col_labels else 0.0
    return label_w, side, row_h, header


def panels_height(
    rows: Sequence[Sequence[Panel]],
    width_in: float = TEXT_WIDTH_IN,
    *,
    col_labels: bool = False,
    row_labels: bool = False,
) -> float:
    """The height :func:`draw_panels` needs at ``width_in``."""
    n_cols = max((len(r) for r in rows), default=1)
    titles = any(p.title for r in rows for p in r)
    _, _, row_h, header = _panel_geometry(n_cols, width_in, titles=titles, col_labels=col_labels, row_labels=row_labels)
    return header + row_h * len(rows) + 0.02


def draw_panels(
    fig: FigureLike,
    rows: Sequence[Sequence[Panel]],
    *,
    row_labels: Sequence[str] = (),
    col_labels: Sequence[str] = (),
    missing: str = "not drawn",
) -> None:
    """A table of small square pictures: each row a probe, channel or filter, each column a view or an epoch.

    Args:
        fig: Where to draw; :func:`panels_height` gives the height it needs.
        rows: The pictures, row by row.
        row_labels: Written left of each row.
        col_labels: Written above each column.
        missing: What an empty cell says.
    """
    n_cols = max((len(r) for r in rows), default=0)
    if not rows or not n_cols:
        return
    width, height = _size_in(fig)
    titles = any(p.title for r in rows for p in r)
    label_w, side, row_h, header = _panel_geometry(
        n_cols, width, titles=titles, col_labels=bool(col_labels), row_labels=bool(row_labels)
    )
    scale = min(1.0, height / max(header + row_h * len(rows), 1e-6))
    side, row_h, header = side * scale, row_h * scale, header * scale
    step = side + PANEL_GAP_IN
    for j, label in enumerate(col_labels[:n_cols]):
        x = label_w + j * step + side / 2
        fig.text(
            x / width, 1 - 0.02 / height, label, ha="center", va="top", fontweight="bold", fontsize=FONT_SIZE - 0.5
        )
    for i, row in enumerate(rows):
        top = height - header - i * row_h
        img_top = top - (PANEL_TITLE_IN * scale if titles else 0.0)
        if i < len(row_labels):
            fig.text(
                (label_w - 0.08) / width,
                (img_top - side / 2) / height,
                row_labels[i],
                ha="right",
                va="center",
                fontsize=FONT_SIZE - 1,
            )
        for j in range(n_cols):
            panel = row[j] if j < len(row) else Panel(None)
            x = label_w + j * step
            ax = fig.add_axes((x / width, (img_top - side) / height, side / width, side / height))
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
            for spine in ax.spines.values():
                spine.set_visible(True)
                spine.set_color("#d9e2ec")
            if panel.gid:
                ax.set_gid(panel.gid)
            if panel.pixels is None:
                ax.text(0.5, 0.5, missing, ha="center", va="center", fontsize=FONT_SIZE - 1.5, color="#7b8794")
            else:
                ax.imshow(panel.pixels, interpolation="none", aspect="auto")
            if panel.title:
                fig.text(
                    (x + side / 2) / width,
                    (img_top + 0.03) / height,
                    panel.title,
                    ha="center",
                    va="bottom",
                    fontsize=FONT_SIZE - 1.5,
                )
            if panel.badge:  # red, top left
                _label(ax, panel.badge, 0.96, "white", {"facecolor": "#b42318"}, f"badge-{panel.gid}", bold=True)
            if panel.note:  # on a light box, bottom left
                _label(ax, panel.note, 0.04, "#1f2933", {"facecolor": "white", "alpha": 0.85}, f"note-{panel.gid}")


def _label(ax: Axes, text: str, y: float, color: str, box: Record, gid: str, *, bold: bool = False) -> None:
    """A small boxed label at the left edge of a panel, at height ``y`` (0 bottom, 1 top) in axes units."""
    ax.text(
        0.04,
        y,
        text,
        transform=ax.transAxes,
        ha="left",
        va="top" if y > 0.5 else "bottom",
        color=color,
        fontsize=FONT_SIZE - 1.5,
        fontweight="bold" if bold else "normal",
        bbox={"boxstyle": "round,pad=0.2", "edgecolor": "none", **box},
        gid=gid if not gid.endswith("-") else None,
    )


def _hex(rgb: tuple[int, int, int]) -> str:
    return "#" + "".join(f"{v:02x}" for v in rgb)


Drawer = Callable[[FigureLike], None]
"""What a report figure is: a function that draws it into a figure or a page region."""


def new_figure(height_in: float, width_in: float = TEXT_WIDTH_IN, *, constrained: bool = True) -> Figure:
    """A standalone figure of the export's size: laid out with matplotlib's constrained layout (charts), or not
    at all (grids and picture tables place their own axes)."""
    return Figure(figsize=(width_in, height_in), layout="constrained" if constrained else None)


def laid_out(kind: str) -> bool:
    """Whether a report figure of ``kind`` uses constrained layout (the charts) or places its own axes."""
    return kind in ("curves", "checks")


def render(
    draw: Drawer,
    height_in: float,
    fmt: str,
    *,
    width_in: float = TEXT_WIDTH_IN,
    dpi: int = 300,
    salt: str = "fv",
    constrained: bool = True,
) -> bytes:
    """Draws a figure and saves it as ``svg``, ``pdf`` or ``png`` (at ``dpi``).

    ``salt`` makes the SVG's clip-path ids unique among the figures of one HTML page, and the same on every
    export of the same figure.

    Example:
        >>> svg = render(lambda fig: fig.text(0.5, 0.5, "hello"), 1.0, "svg")
        >>> b"hello" in svg
        True
    """
    import io

    with style(), matplotlib.rc_context({"svg.hashsalt": salt}):
        fig = new_figure(height_in, width_in, constrained=constrained)
        draw(fig)
        buf = io.BytesIO()
        metadata = {"Date": None} if fmt == "svg" else {"CreationDate": None} if fmt == "pdf" else None
        fig.savefig(buf, format=fmt, dpi=dpi, metadata=metadata)
    return buf.getvalue()
