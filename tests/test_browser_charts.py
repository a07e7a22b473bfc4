"""Browser tests of the dashboard's charts (issue 18): the shared tick rule on real curves, the learning rate's
log axis and its labels, the Grad-CAM checks drawn where they were measured, room for the curves and a larger
view on click.

The real stack: a logdir written here (one run, ten epochs, Keras curves with a float32 learning rate of 1e-4
and a metric that spans three decades, and Grad-CAM measures drawn at the first and last epoch only, as the
default budget draws them), a real TensorBoard (``tests.support.server.start_tensorboard``), the plugin's
frontend and headless Chromium at 1400x900 (``tests.support.browser.VIEWPORT``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("playwright.sync_api")
from playwright.sync_api import Frame, Page, expect

from tb_featureviz import metadata
from tests.support import logdir_factory
from tests.support.browser import Watched, open_tab, plugin_frame, save_screenshot, watched_page
from tests.support.server import start_tensorboard
from tests.test_ticks import matplotlib_ticks

pytestmark = pytest.mark.browser

RUN = "sparse"
EPOCHS = 10
LOSS = [0.667, 0.591, 0.499, 0.413, 0.328, 0.238, 0.170, 0.123, 0.085, 0.0625]
VAL_LOSS = [0.619, 0.611, 0.432, 0.403, 0.272, 0.204, 0.172, 0.106, 0.085, 0.082]
ACCURACY = [0.591, 0.712, 0.757, 0.819, 0.850, 0.900, 0.930, 0.959, 0.973, 0.977]
SPREAD = [10.0 ** (-3 + e / 3) for e in range(EPOCHS)]  # 1e-3 .. 1: three decades
CHECKS = {  # tag -> {epoch: value}; drift has no finite value yet
    "faithfulness/deletion_auc": {0: 0.58, 9: 0.66},
    "faithfulness/insertion_auc": {0: 0.52, 9: 0.97},
    "faithfulness/pointing_game": {9: 1.0},
    "sanity/randomization_spearman": {9: 0.19},
    "sanity/drift_spearman": {9: math.nan},
}


def write_logdir(root: Path) -> None:
    """One run: the factory's featureviz data for every epoch (without its measures), Keras' ``train`` and
    ``validation`` curves, and :data:`CHECKS` in a second event file of the ``featureviz`` run."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(logdir_factory, "CHECK_TAGS", ())  # the factory writes every measure at every epoch
        logdir_factory.write_logdir(root, runs=(RUN,), epochs=EPOCHS, keras_curves=False, layers=("conv2d",))
    writers: dict[str, Any] = {}

    def add(sub: str, values: dict[str, float], step: int) -> None:
        if sub not in writers:
            writers[sub] = logdir_factory._EventFile(str(root / RUN / sub), 1_700_000_000.0)
        writers[sub].add(logdir_factory._scalar_event(values, step, 1_700_000_000.0 + step))

    for e in range(EPOCHS):
        add(
            "train",
            {
                "epoch_loss": LOSS[e],
                "epoch_accuracy": ACCURACY[e],
                "epoch_learning_rate": 1e-4,
                "epoch_spread": SPREAD[e],
            },
            e,
        )
        add("validation", {"epoch_loss": VAL_LOSS[e]}, e)
        measures = {tag: by_epoch[e] for tag, by_epoch in CHECKS.items() if e in by_epoch}
        if measures:
            add(metadata.RUN_SUBDIR, measures, e)
    for w in writers.values():
        w.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("charts_logdir")
    write_logdir(root)
    url, stop = start_tensorboard(root, False)
    try:
        yield url
    finally:
        stop()


def open_charts(page: Page, url: str) -> Frame:
    """TensorBoard's page on the FeatureViz tab, once every chart (and the checks' footnotes) is drawn."""
    frame = open_tab(page, url)
    expect(frame.locator("figure.chart[data-chart]")).to_have_count(6, timeout=30_000)
    expect(frame.locator('figure.chart[data-chart="check:sanity"] .chart-footnote')).to_be_visible()
    page.wait_for_timeout(300)  # the charts redraw at their width once laid out
    return plugin_frame(page)


GEOMETRY_JS = """(sel) => [...document.querySelectorAll(sel)].map((fig) => {
    const svg = fig.querySelector('svg.chart-svg');
    const box = svg.getBoundingClientRect();
    const plot = svg.querySelector('rect.plot-bg').getBoundingClientRect();
    const ticks = [...svg.querySelectorAll('text.tick')].map((t) => {
        const r = t.getBoundingClientRect();
        return {text: t.textContent, left: r.left, right: r.right, top: r.top, bottom: r.bottom,
                y: t.getAttribute('text-anchor') === 'end'};
    });
    return {id: fig.dataset.chart || fig.dataset.chartLarge, width: box.width,
            svg: [box.left, box.top, box.right, box.bottom],
            plot: [plot.left, plot.top, plot.right, plot.bottom], ticks,
            log: svg.querySelector('g.axes').classList.contains('log')};
})"""


def geometry(frame: Frame, selector: str) -> list[dict[str, Any]]:
    return frame.evaluate(GEOMETRY_JS, selector)


def assert_labels_inside(chart: dict[str, Any]) -> None:
    """Every tick label lies inside the SVG, and the y labels left of the plot."""
    left, top, right, bottom = chart["svg"]
    for t in chart["ticks"]:
        assert left <= t["left"] and t["right"] <= right and top <= t["top"] and t["bottom"] <= bottom, (chart["id"], t)
        if t["y"]:
            assert t["right"] <= chart["plot"][0], (chart["id"], t)


def y_labels(chart: dict[str, Any]) -> list[str]:
    """The y tick labels, bottom to top."""
    return [t["text"] for t in sorted((t for t in chart["ticks"] if t["y"]), key=lambda t: -t["top"])]


def x_labels(chart: dict[str, Any]) -> list[str]:
    return [t["text"] for t in sorted((t for t in chart["ticks"] if not t["y"]), key=lambda t: t["left"])]


def test_learning_rate_gets_a_log_axis_with_whole_labels(watched: Watched, server: str) -> None:
    """The learning rate (a float32 1e-4) on a log axis labelled 1e-5 .. 1e-3, a metric over three decades on a
    log axis too, loss and accuracy on linear axes with matplotlib's ticks; no label is clipped, and each
    y label sits left of the plot."""
    frame = open_charts(watched.page, server)
    charts = {c["id"]: c for c in geometry(frame, "figure.chart[data-chart]")}
    for chart in charts.values():
        assert_labels_inside(chart)
    lr = charts["learning_rate"]
    assert lr["log"]
    assert y_labels(lr) == ["1e-5", "2e-5", "5e-5", "1e-4", "2e-4", "5e-4", "1e-3"]
    assert charts["spread"]["log"] and y_labels(charts["spread"]) == ["0.001", "0.01", "0.1", "1"]
    # Linear axes: the shared rule (matplotlib's), from the first tick to the last.
    f32 = [float(np.float32(v)) for v in LOSS + VAL_LOSS]
    want = matplotlib_ticks(min(f32), max(f32))
    loss = charts["loss"]
    assert not loss["log"]
    assert [float(t) for t in y_labels(loss)] == pytest.approx(want, rel=1e-9, abs=1e-12)
    ys = sorted(((t["top"] + t["bottom"]) / 2 for t in loss["ticks"] if t["y"]), reverse=True)
    assert ys[0] == pytest.approx(loss["plot"][3], abs=2) and ys[-1] == pytest.approx(loss["plot"][1], abs=2)
    f32 = [float(np.float32(v)) for v in ACCURACY]
    assert [float(t) for t in y_labels(charts["accuracy"])] == pytest.approx(matplotlib_ticks(min(f32), max(f32)))
    save_screenshot(watched.page, "charts_log_axis.png")


def test_checks_are_drawn_where_measured(watched: Watched, server: str) -> None:
    """Markers at the measured epochs only; a footnote says which; a measure with no point is not in the key
    and is said not measured yet; every chart has the same epoch axis as the loss chart."""
    frame = open_charts(watched.page, server)
    faith = frame.locator('figure.chart[data-chart="check:faithfulness"]')
    sanity = frame.locator('figure.chart[data-chart="check:sanity"]')

    def steps(chart: Any, tag: str) -> list[str]:
        return chart.locator(f'g.series[data-tag="{tag}"] circle.pt').evaluate_all(
            "els => els.map((e) => e.dataset.step)"
        )

    assert steps(faith, "faithfulness/deletion_auc") == ["0", "9"]
    assert steps(faith, "faithfulness/insertion_auc") == ["0", "9"]
    assert steps(faith, "faithfulness/pointing_game") == ["9"]
    assert steps(sanity, "sanity/randomization_spearman") == ["9"]
    expect(sanity.locator('g.series[data-tag="sanity/drift_spearman"]')).to_have_count(0)
    expect(faith.locator(".check-item")).to_have_text(["deletion AUC", "insertion AUC", "pointing game"])
    expect(sanity.locator(".check-item")).to_have_text(["randomisation"])
    expect(faith.locator(".chart-footnote")).to_have_text("measured at epochs 0, 9 · pointing game at epoch 9")
    expect(sanity.locator(".chart-footnote")).to_have_text("measured at epoch 9 · drift: not measured yet")
    expect(frame.locator('figure.chart[data-chart="loss"] .chart-footnote')).to_be_hidden()
    # One epoch axis: the same ticks and the same epoch -> x in every chart (they have the same width).
    charts = geometry(frame, "figure.chart[data-chart]")
    assert {tuple(x_labels(c)) for c in charts} == {("0", "2", "4", "6", "8")}
    last_x = frame.evaluate(
        """() => [...document.querySelectorAll('figure.chart[data-chart]')].map((fig) => {
            const pts = [...fig.querySelectorAll('circle.pt[data-step="9"]')];
            const plot = fig.querySelector('rect.plot-bg');
            return pts.length ? Number(pts[0].getAttribute('cx')) - Number(plot.getAttribute('x')) -
                Number(plot.getAttribute('width')) : null;
        })"""
    )
    assert all(v is not None and abs(v) < 0.01 for v in last_x), last_x  # epoch 9 at the right end everywhere
    # The point at epoch 9 picks it; the footnote does not move.
    faith.locator('g.series[data-tag="faithfulness/pointing_game"] circle.pt[data-step="9"]').click()
    expect(frame.locator("#epoch-label")).to_have_text("Epoch 9")


def test_curves_get_room_and_a_larger_view(watched: Watched, server: str) -> None:
    """At 1400x900 with one run the curves are at least 400 px wide; the title's button opens a larger view
    (at least 800 px wide) of the same chart with its cursor, tick labels inside it; Escape closes it, and so
    does a click outside."""
    page = watched.page
    frame = open_charts(page, server)
    for chart in geometry(frame, "figure.chart[data-chart]"):
        assert chart["width"] >= 400, chart["id"]
    lr = frame.locator('figure.chart[data-chart="learning_rate"]')
    lr.locator(".chart-expand").click()
    dialog = frame.locator("dialog.chart-dialog[open]")
    expect(dialog).to_have_count(1)
    (large,) = geometry(frame, "dialog.chart-dialog figure.chart-large")
    assert large["id"] == "learning_rate" and large["width"] >= 800, large
    assert_labels_inside(large)
    assert y_labels(large) == ["1e-5", "2e-5", "5e-5", "1e-4", "2e-4", "5e-4", "1e-3"]
    expect(dialog.locator("figcaption")).to_have_text("learning_rate")
    expect(dialog.locator("circle.pt")).to_have_count(EPOCHS)
    save_screenshot(page, "charts_larger_view.png", full_page=False)
    # A click on an epoch in the larger view picks it, and both cursors follow.
    dialog.locator('circle.pt[data-step="3"]').click()
    expect(frame.locator("#epoch-label")).to_have_text("Epoch 3")
    cursor = dialog.locator("line.cursor")
    assert float(cursor.get_attribute("x1") or "nan") == pytest.approx(
        float(dialog.locator('circle.pt[data-step="3"]').get_attribute("cx") or "nan"), abs=0.01
    )
    page.keyboard.press("Escape")
    expect(frame.locator("dialog.chart-dialog")).to_have_count(0)
    expect(frame.locator("#epoch-label")).to_have_text("Epoch 3")
    # The title opens it too; a click on the backdrop closes it.
    frame.locator('figure.chart[data-chart="loss"] > figcaption').click()
    expect(frame.locator("dialog.chart-dialog[open]")).to_have_count(1)
    box = page.locator("iframe").bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + 8, box["y"] + box["height"] - 8)
    expect(frame.locator("dialog.chart-dialog")).to_have_count(0)


def test_several_runs_keep_the_panels_room(browser: Any, tmp_path: Path) -> None:
    """With three runs the sidebar stays at its narrow width: the panels need the room."""
    spec = logdir_factory.write_logdir(tmp_path, runs=("a", "b", "c"), epochs=2)
    url, stop = start_tensorboard(spec.root, False)
    try:
        with watched_page(browser) as w:
            frame = open_tab(w.page, url, "p.featureviz.run=a&p.featureviz.run=b&p.featureviz.run=c")
            expect(frame.locator(".panel")).to_have_count(3, timeout=30_000)
            expect(frame.locator("figure.chart[data-chart]").first).to_be_visible()
            width = frame.locator("aside.sidebar").evaluate("el => el.getBoundingClientRect().width")
            assert width == pytest.approx(330, abs=1)
    finally:
        stop()
