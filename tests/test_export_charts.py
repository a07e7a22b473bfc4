"""``tb_featureviz.export.charts``: the matplotlib drawings every static figure comes from, checked on the
drawn axes (limits, ticks, lines, scales) rather than on pixels."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure

from tb_featureviz.export import charts
from tb_featureviz.export.content import Curve, CurvePoint
from tb_featureviz.metadata import GridLayout
from tb_featureviz.render import SEPARATOR_RGB

TICK_CASES = json.loads((Path(__file__).parent / "support" / "tick_cases.json").read_text(encoding="utf-8"))
CASES = TICK_CASES["cases"] if isinstance(TICK_CASES, dict) else TICK_CASES


def _drawn(draw, height: float = 2.3) -> Figure:
    with charts.style():
        fig = charts.new_figure(height)
        draw(fig)
        fig.canvas.draw()  # lay out as when saved
    return fig


def _axes(fig: Figure, key: str):
    return next(ax for ax in fig.axes if ax.get_gid() == f"chart-{key}")


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c['lo']}..{c['hi']}")
def test_a_chart_axis_follows_the_shared_tick_table(case):
    """The same table the dashboard's niceTicks is tested on: the axis runs from the first tick to the last, and
    the ticks shown are the table's."""
    lo, hi, want = case["lo"], case["hi"], case["ticks"]
    series = charts.Series("r", "v", (0, 1), (lo, hi), "#000000", "-")
    fig = _drawn(lambda f: charts.draw_lines(f.subplots(), [series], title="t", key="t"))
    ax = _axes(fig, "t")
    assert ax.get_ylim() == pytest.approx((want[0], want[-1]), rel=1e-9, abs=1e-12)
    assert list(ax.get_yticks()) == pytest.approx(want, rel=1e-9, abs=1e-12)


def test_the_learning_rate_is_on_a_log_axis_that_covers_it():
    lr = float(np.float32(1e-4))  # as Keras logs it
    curves = [
        Curve("loss", "train", tuple(CurvePoint(e, 0.7 - 0.06 * e) for e in range(10))),
        Curve("learning_rate", "train", tuple(CurvePoint(e, lr) for e in range(10))),
    ]
    fig = _drawn(functools.partial(charts.draw_curves, runs=[("qs", curves)], epochs=range(10)))
    ax = _axes(fig, "learning_rate")
    assert ax.get_yscale() == "log"
    low, high = ax.get_ylim()
    assert low < lr < high and low <= 1e-5 and high >= 1e-3  # the line sits inside the axis, not on its edge
    loss = _axes(fig, "loss")
    assert loss.get_yscale() == "linear" and loss.get_ylim() == pytest.approx((0.0, 0.8))  # 0.16..0.7, round
    assert ax.get_title(loc="left") == "Learning rate"
    assert list(loss.get_xticks()) == [0, 2, 4, 6, 8, 10]


def test_checks_plot_measured_epochs_only_and_name_only_what_was_measured():
    checks = [
        Curve("faithfulness/deletion_auc", "check", (CurvePoint(0, 0.6), CurvePoint(4, 0.4), CurvePoint(9, 0.2))),
        Curve("faithfulness/insertion_auc", "check", (CurvePoint(0, 0.5), CurvePoint(9, 0.9))),
        Curve("sanity/randomization_spearman", "check", (CurvePoint(9, 0.1),)),
        Curve("sanity/drift_spearman", "check", ()),
    ]
    fig = _drawn(functools.partial(charts.draw_checks, runs=[("qs", checks)], epochs=range(10)))
    faith, sanity = _axes(fig, "faithfulness"), _axes(fig, "sanity")
    lines = {line.get_label(): line for line in faith.get_lines()}
    assert list(lines["deletion AUC (low is good)"].get_xdata()) == [0, 4, 9]
    assert lines["deletion AUC (low is good)"].get_marker() == "o"
    assert list(lines["insertion AUC (high is good)"].get_xdata()) == [0, 9]
    assert [t.get_text() for t in sanity.get_legend().get_texts()] == ["randomisation ρ (low is good)"]  # no drift
    assert faith.get_ylim() == (0.0, 1.0) and sanity.get_ylim() == (-1.0, 1.0)
    assert faith.get_xlim() == (0.0, 10.0)  # every epoch of the run, so the gaps show


def test_grids_are_retiled_with_neutral_separators_and_dead_tiles_outlined():
    layout = GridLayout(rows=1, cols=3, tile_height=2, tile_width=2, padding=1, count=3)
    rgb = np.zeros((layout.height, layout.width, 3), dtype=np.uint8)
    for k in range(3):
        x, y = layout.tile_origin(k)
        rgb[y : y + 2, x : x + 2] = 50 * (k + 1)
    out, new = charts.retile(rgb, layout, cols=2)
    assert (new.rows, new.cols) == (2, 2)
    assert out[0, 0].tolist() == [50, 50, 50] and out[0, 3].tolist() == [100, 100, 100]
    assert out[3, 0].tolist() == [150, 150, 150]
    assert out[2, 0].tolist() == list(SEPARATOR_RGB) and out[4, 4].tolist() == list(SEPARATOR_RGB)  # empty cell
    grid = charts.GridImage("conv", out, new, dead=(1,), gid="g")
    fig = _drawn(functools.partial(charts.draw_grids, grids=[grid], cmap="viridis"), charts.grids_height([grid]))
    ax = next(a for a in fig.axes if a.get_gid() == "g")
    (outline,) = ax.patches
    assert outline.get_xy() == (3, 0) and outline.get_edgecolor()[:3] == pytest.approx((224 / 255, 36 / 255, 36 / 255))
    assert charts.grid_width(grid, 6.3) == pytest.approx(2 * charts.MAX_TILE_IN)  # two columns: not page-wide
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend == ["dark purple: no variation", "grey: separator", "outlined: dead (zero for every probe)"]


def test_panels_badge_what_is_wrong_and_say_what_is_missing():
    pixels = np.full((4, 4, 3), 200, dtype=np.uint8)
    rows = [[charts.Panel(pixels, "predicted: dog 0.75", "WRONG", gid="p0"), charts.Panel(None, gid="p1")]]
    fig = _drawn(functools.partial(charts.draw_panels, rows=rows, col_labels=["a", "b"]), charts.panels_height(rows))
    first, second = (next(a for a in fig.axes if a.get_gid() == g) for g in ("p0", "p1"))
    assert [t.get_text() for t in first.texts] == ["WRONG"]
    assert [t.get_text() for t in second.texts] == ["not drawn"]
    assert {"predicted: dog 0.75", "a", "b"} <= {t.get_text() for t in fig.texts}


def test_light_draws_are_hollow_markers_on_the_same_line():
    checks = [Curve("faithfulness/deletion_auc", "check", tuple(CurvePoint(e, 0.5) for e in (0, 5, 6, 9)))]
    draw = functools.partial(charts.draw_checks, runs=[("qs", checks)], epochs=range(10), light={"qs": [5, 6]})
    fig = _drawn(draw)
    faith = _axes(fig, "faithfulness")
    line, light = faith.get_lines()
    assert list(line.get_xdata()) == [0, 5, 6, 9] and line.get_markerfacecolor() != "white"
    assert light.get_gid() == "light-faithfulness-qs-deletion AUC (low is good)"
    assert list(light.get_xdata()) == [5, 6] and light.get_markerfacecolor() == "white"
    assert light.get_linestyle() == "None"
