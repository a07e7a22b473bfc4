"""Browser tests of the FeatureViz dashboard: a real TensorBoard, the real plugin, headless Chromium.

Everything here is the real stack: event files written by ``tests/support/logdir_factory.py``, TensorBoard started
by ``tests.support.server.start_tensorboard`` with either loader, the plugin's routes, the ES modules of
``frontend/``, and Debian's Chromium driven through Playwright. The factory fills every grid tile with
one known gray value, so the tests read canvas pixels and compare them with the values the logdir holds,
passed through the same colour map LUT as the Python renderer.

One browser per module; servers are shared (the session ``tb_server`` fixture for both loaders, and a
module logdir with runs of different lengths, a run named like an XSS payload, a curves-only run and a
run that grows while the page is open).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("playwright.sync_api")
from playwright.sync_api import Page, expect

from tb_featureviz.render.colormap import colormap_lut
from tests.support import logdir_factory
from tests.support.browser import Watched, open_entry, open_tab, plugin_frame, save_screenshot, tile_center
from tests.support.routes import PLUGIN_ROUTE, http_json
from tests.support.server import LoaderServers, start_tensorboard, wait_index

pytestmark = pytest.mark.browser

XSS_RUN = "<img src=x onerror=alert(1)>"


# -- fixtures ------------------------------------------------------------------------------------------


class ModuleServers(LoaderServers):
    """The module's logdir and a lazily started TensorBoard per loader over it."""

    def __init__(self, root: Path) -> None:
        spec = logdir_factory.write_logdir(
            root,
            runs=("exp1", "exp2", XSS_RUN, "curves_only", "live"),
            epochs=3,
            layers=("conv2d", "conv2d_1"),
            channels=8,
            tile=6,
            cols=4,
            padding=1,
            filter_size=6,
            image_size=16,
        )
        for _ in range(3):  # exp1 has 6 epochs, the others 3: runs of different lengths
            logdir_factory.append_epoch(spec, "exp1")
        shutil.rmtree(spec.run_dir("curves_only"))  # Keras curves only, no featureviz data
        self.spec = spec
        super().__init__(spec.root)  # expected_steps follows the logdir as the tests append epochs

    def expected_steps(self) -> dict[str, list[int]]:
        return {run: list(steps) for run, steps in self.spec.steps.items() if run != "curves_only"}


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleServers]:
    s = ModuleServers(tmp_path_factory.mktemp("browser_logdir"))
    try:
        yield s
    finally:
        s.stop()


# -- helpers -------------------------------------------------------------------------------------------


def grid_pixel(target: Any, run: str, x: int, y: int, selector: str = "canvas.grid-canvas") -> list[int]:
    """RGB of pixel (x, y) of a canvas in the panel of ``run`` (``target``: a Page or Frame)."""
    return target.evaluate(
        """([run, sel, x, y]) => {
            const panel = [...document.querySelectorAll('.panel')].find((p) => p.dataset.run === run);
            const c = panel.querySelector(sel);
            const d = c.getContext('2d').getImageData(x, y, 1, 1).data;
            return [d[0], d[1], d[2]];
        }""",
        [run, selector, x, y],
    )


def assert_rgb(actual: list[int], expected: Any, tol: int = 1) -> None:
    assert all(abs(int(a) - int(e)) <= tol for a, e in zip(actual, expected, strict=True)), (actual, list(expected))


def panel(frame: Any, run: str) -> Any:
    return frame.locator(".panel").filter(has=frame.locator(".panel-run", has_text=run)).first


def cam_centre_pixels(page: Page, c: int) -> list[list[int]]:
    """RGB of pixel (c, c) of every Grad-CAM canvas on the page, in order."""
    return page.evaluate(
        """(c) => [...document.querySelectorAll('canvas.cam-canvas')].map((cv) => {
            const d = cv.getContext('2d').getImageData(c, c, 1, 1).data; return [d[0], d[1], d[2]]; })""",
        c,
    )


# -- tests ---------------------------------------------------------------------------------------------


def test_tab_renders_curves_and_latest_grid(watched: Watched, tb_server: Any) -> None:
    """TensorBoard's own page, FeatureViz tab: curves with every epoch and the newest epoch's grid, pixel-exact."""
    spec = tb_server.spec
    page = watched.page
    frame = open_tab(page, tb_server.url)
    last = spec.epochs - 1
    expect(frame.locator("#epoch-label")).to_have_text(f"Epoch {last}")
    run = spec.runs[0]
    layer = frame.locator("#layer-select").input_value()
    assert layer in spec.layers
    canvas = panel(frame, run).locator("canvas.grid-canvas")
    expect(canvas).to_be_visible()
    # The grid decoded at its natural size, the one the layout record gives.
    assert canvas.get_attribute("data-natural-width") == str(spec.layout.width)
    assert canvas.get_attribute("data-natural-height") == str(spec.layout.height)
    assert canvas.evaluate("c => [c.width, c.height]") == [spec.layout.width, spec.layout.height]
    lut = colormap_lut("viridis")
    f = plugin_frame(page)
    for k in range(spec.channels):
        value = spec.activation_value(run, last, layer, 0, k)
        assert_rgb(grid_pixel(f, run, *tile_center(spec, k)), lut[value])
    # Curves: one point per epoch for each split of each metric; all 12 epochs were kept.
    for metric in ("loss", "accuracy"):
        chart = frame.locator("figure.chart", has=frame.locator("figcaption", has_text=metric)).first
        for split in ("train", "validation"):
            points = chart.locator(f'g.series[data-run="{run}"][data-split="{split}"] circle.pt')
            expect(points).to_have_count(spec.epochs)
    # The cursor sits on the newest epoch.
    cursor_x = frame.locator("figure.chart line.cursor").first.get_attribute("x1")
    last_x = frame.locator(f'figure.chart g.series[data-split="train"] circle.pt[data-step="{last}"]').first
    assert abs(float(cursor_x or "nan") - float(last_x.get_attribute("cx") or "nan")) < 0.01
    if not tb_server.load_fast:
        save_screenshot(page, "tab-single-run.png")


def test_click_curve_point_changes_epoch(watched: Watched, servers: ModuleServers) -> None:
    spec = servers.spec
    url = servers.url(False)
    page = open_entry(watched.page, url, "run=exp1")
    expect(page.locator("#epoch-label")).to_have_text("Epoch 5")
    point = page.locator('figure.chart g.series[data-run="exp1"][data-split="train"] circle.pt[data-step="2"]').first
    point.click()
    expect(page.locator("#epoch-label")).to_have_text("Epoch 2")
    expect(page.locator('.panel[data-run="exp1"]')).to_have_attribute("data-epoch", "2")
    expect(page.locator("#follow-latest")).not_to_be_checked()
    page.wait_for_function("() => document.querySelector('.panel-sub').textContent.includes('epoch 2')")
    lut = colormap_lut("viridis")
    assert_rgb(grid_pixel(page, "exp1", *tile_center(spec, 1)), lut[spec.activation_value("exp1", 2, "conv2d", 0, 1)])
    # The cursor moved to the clicked point.
    cx = float(point.get_attribute("cx") or "nan")
    assert abs(float(page.locator("line.cursor").first.get_attribute("x1") or "nan") - cx) < 0.01
    # Keyboard: arrow keys on the page step through epochs; the slider follows.
    page.locator("body").press("ArrowRight")
    expect(page.locator("#epoch-label")).to_have_text("Epoch 3")
    assert page.locator("#epoch-slider").input_value() == "3"
    page.locator("#epoch-slider").focus()
    page.keyboard.press("ArrowLeft")
    expect(page.locator("#epoch-label")).to_have_text("Epoch 2")
    # Play animates through the epochs; Pause stops it.
    page.locator(".play-btn").click()
    expect(page.locator(".play-btn")).to_have_text("❚❚ Pause")
    expect(page.locator("#epoch-label")).to_have_text("Epoch 4", timeout=5000)
    page.locator(".play-btn").click()
    expect(page.locator(".play-btn")).to_have_text("▶ Play")
    stopped = page.locator("#epoch-label").inner_text()
    page.wait_for_timeout(900)
    assert page.locator("#epoch-label").inner_text() == stopped


def test_two_runs_side_by_side(watched: Watched, servers: ModuleServers) -> None:
    """Compare: two panels side by side, run colours shared with the curves, one slider over both lengths."""
    url = servers.url(False)
    frame = open_tab(watched.page, url, "p.featureviz.run=exp1")
    expect(frame.locator(".panel")).to_have_count(1)
    frame.locator(".run-item", has_text="exp2").locator("input").check()
    expect(frame.locator(".panel")).to_have_count(2)
    a = panel(frame, "exp1").bounding_box()
    b = panel(frame, "exp2").bounding_box()
    assert a and b
    assert abs(a["y"] - b["y"]) < 2, (a, b)
    assert b["x"] >= a["x"] + a["width"] - 1, (a, b)
    # Each run has its own colour: the panel border, the run list swatch and its curve use it.
    for run in ("exp1", "exp2"):
        border = panel(frame, run).evaluate("el => getComputedStyle(el).borderTopColor")
        swatch = (
            frame.locator(".run-item", has_text=run)
            .locator(".swatch")
            .evaluate("el => getComputedStyle(el).backgroundColor")
        )
        stroke = frame.locator(f'figure.chart g.series[data-run="{run}"] polyline').first.evaluate(
            "el => getComputedStyle(el).stroke"
        )
        assert border == swatch == stroke, (run, border, swatch, stroke)
    assert panel(frame, "exp1").evaluate("el => getComputedStyle(el).borderTopColor") != panel(frame, "exp2").evaluate(
        "el => getComputedStyle(el).borderTopColor"
    )
    # Runs of different lengths: the slider covers 0..5; exp2 (3 epochs) says it has no epoch 5.
    expect(frame.locator("#epoch-label")).to_have_text("Epoch 5")
    assert frame.locator("#epoch-slider").get_attribute("max") == "5"
    expect(panel(frame, "exp2").locator(".message-title")).to_contain_text("at epoch 5")
    frame.locator("#epoch-slider").focus()
    frame.locator("#epoch-slider").press("Home")
    expect(frame.locator("#epoch-label")).to_have_text("Epoch 0")
    expect(panel(frame, "exp2").locator("canvas.grid-canvas")).to_be_visible()
    expect(panel(frame, "exp1").locator("canvas.grid-canvas")).to_be_visible()


@pytest.mark.parametrize("load_fast", [False, True], ids=["python", "rust"])
def test_live_epoch_appears_without_reload(watched: Watched, servers: ModuleServers, load_fast: bool) -> None:
    spec = servers.spec
    url = servers.url(load_fast)
    wait_index(url, servers.expected_steps())
    page = open_entry(watched.page, url, "run=live")
    before = spec.steps["live"][-1]
    expect(page.locator("#epoch-label")).to_have_text(f"Epoch {before}")
    page.evaluate("() => { window.__sameDocument = true; }")
    new = logdir_factory.append_epoch(spec, "live")
    start = time.monotonic()
    expect(page.locator("#epoch-label")).to_have_text(f"Epoch {new}", timeout=10_000)
    elapsed = time.monotonic() - start
    assert page.evaluate("() => window.__sameDocument === true"), "the page was reloaded"
    assert elapsed < 8.0, f"epoch {new} took {elapsed:.1f} s to show"
    expect(page.locator('.panel[data-run="live"]')).to_have_attribute("data-epoch", str(new))
    page.wait_for_function(
        "(n) => document.querySelector('figure.chart')"
        ' .querySelectorAll(\'g.series[data-run="live"][data-split="train"] circle.pt\').length === n',
        arg=len(spec.steps["live"]),
    )
    lut = colormap_lut("viridis")
    page.wait_for_function("(e) => document.querySelector('.panel-sub').textContent.includes('epoch ' + e)", arg=new)
    assert_rgb(grid_pixel(page, "live", *tile_center(spec, 0)), lut[spec.activation_value("live", new, "conv2d", 0, 0)])


def test_script_in_run_name_is_text(watched: Watched, servers: ModuleServers) -> None:
    url = servers.url(False)
    frame = open_tab(watched.page, url)
    # Select the run from the list, as a user would.
    item = frame.locator(".run-item").filter(has_text="onerror")
    expect(item.locator(".run-name")).to_have_text(XSS_RUN)
    item.locator("input").check()
    expect(panel(frame, XSS_RUN).locator(".panel-run")).to_have_text(XSS_RUN)
    expect(panel(frame, XSS_RUN).locator("canvas.grid-canvas")).to_be_visible()
    expect(frame.locator(".legend-run", has_text="onerror")).to_have_text(XSS_RUN)
    # The name never became markup: no <img> anywhere in the plugin document, and no dialog.
    f = plugin_frame(watched.page)
    assert f.evaluate("() => document.querySelectorAll('img').length") == 0
    time.sleep(0.5)
    assert watched.dialogs == []
    # Hovering a curve shows the name in the tooltip, as text.
    frame.locator(f'figure.chart g.series[data-run="{XSS_RUN}"] circle.pt').first.hover()
    expect(frame.locator(".chart-tooltip:visible .tt-name").filter(has_text="onerror").first).to_have_text(
        f"{XSS_RUN} · train"
    )
    assert f.evaluate("() => document.querySelectorAll('img').length") == 0
    assert watched.dialogs == []


def test_tile_drilldown_filmstrip(watched: Watched, servers: ModuleServers) -> None:
    spec = servers.spec
    url = servers.url(False)
    page = open_entry(watched.page, url, "run=exp1")
    canvas = page.locator('.panel[data-run="exp1"] canvas.grid-canvas')
    expect(canvas).to_be_visible()
    k = 6
    cx, cy = tile_center(spec, k)
    box = canvas.bounding_box()
    assert box
    scale = box["width"] / spec.layout.width
    canvas.click(position={"x": cx * scale, "y": cy * scale})
    drill = page.locator(".drilldown")
    expect(drill.locator("h3")).to_have_text("Channel 6 of conv2d")
    frames = drill.locator(".filmstrip .frame")
    expect(frames).to_have_count(len(spec.steps["exp1"]))
    expect(drill.locator('.frame[aria-current="true"]')).to_have_attribute("data-epoch", "5")
    page.wait_for_function("() => document.querySelectorAll('.filmstrip canvas.frame-canvas').length === 6")
    lut = colormap_lut("viridis")
    colours = page.evaluate(
        """() => [...document.querySelectorAll('.filmstrip canvas.frame-canvas')].map((c) => {
            const d = c.getContext('2d').getImageData(1, 1, 1, 1).data; return [d[0], d[1], d[2]]; })"""
    )
    for epoch, rgb in zip(spec.steps["exp1"], colours, strict=True):
        assert_rgb(rgb, lut[spec.activation_value("exp1", epoch, "conv2d", 0, k)])
    assert page.locator(".drill-canvas").evaluate("c => [c.width, c.height]") == [spec.tile, spec.tile]
    # A frame takes you to its epoch.
    frames.nth(1).click()
    expect(page.locator("#epoch-label")).to_have_text("Epoch 1")
    expect(drill.locator('.frame[aria-current="true"]')).to_have_attribute("data-epoch", "1")
    # Keyboard: focus the grid, move with arrows, open with Enter; Escape closes.
    drill.locator("button.close").click()
    expect(page.locator(".drilldown")).to_have_count(0)
    canvas.focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    expect(page.locator(".drilldown h3")).to_have_text(f"Channel {1 + spec.layout.cols} of conv2d")
    page.keyboard.press("Escape")
    expect(page.locator(".drilldown")).to_have_count(0)
    # Filter patterns drill down the same way.
    page.locator('.seg[data-kind="filters"]').click()
    fcanvas = page.locator('.panel[data-run="exp1"] canvas.grid-canvas[aria-label^="Filter patterns"]')
    expect(page.locator(".panel-sub").first).to_contain_text("epoch 1")
    expect(fcanvas).to_have_count(1)  # the filter grid has replaced the activation grid: focus the new canvas
    fcanvas.focus()
    page.keyboard.press("Enter")
    expect(page.locator(".drilldown h3")).to_have_text("Filter 0 of conv2d")
    expect(page.locator(".drill-info")).to_contain_text(f"mean activation {spec.filter_activation(1, 0):.4g}")


def test_gradcam_classes_score_and_opacity(watched: Watched, servers: ModuleServers) -> None:
    spec = servers.spec
    url = servers.url(False)
    probe = 1
    page = open_entry(watched.page, url, f"run=exp1&kind=gradcam&probe={probe}&epoch=4&follow=0")
    figures = page.locator('.panel[data-run="exp1"] .cam-figure')
    expect(figures).to_have_count(2)
    predicted = spec.predicted(4, probe)
    true = spec.label(probe)
    expect(figures.nth(0).locator(".cam-heading")).to_have_text("Predicted class")
    expect(figures.nth(0).locator(".cam-class")).to_have_text(spec.class_names[predicted])
    expect(figures.nth(0).locator(".cam-score")).to_contain_text(f"{spec.probabilities(4, probe)[predicted]:.3f}")
    expect(figures.nth(1).locator(".cam-heading")).to_have_text("True class")
    expect(figures.nth(1).locator(".cam-class")).to_have_text(spec.class_names[true])
    expect(figures.nth(1).locator(".cam-score")).to_contain_text(f"{spec.probabilities(4, probe)[true]:.3f}")
    expect(page.locator(".cam-summary")).to_contain_text(f"predicted {spec.class_names[predicted]}")
    # The overlay is the probe image blended with the colourised heatmap at the chosen opacity.
    lut = colormap_lut("viridis")
    probe_rgb = spec.probe_value(probe)

    def expected(opacity: float, target: int) -> list[float]:
        heat = lut[spec.heat_value(4, probe, target)]
        return [p * (1 - opacity) + h * opacity for p, h in zip(probe_rgb, heat, strict=True)]

    c = spec.image_size // 2
    expect(page.locator("canvas.cam-canvas").first).to_have_attribute("data-opacity", "0.5")
    before = cam_centre_pixels(page, c)
    for target, rgb in enumerate(before):
        assert_rgb(rgb, expected(0.5, target), 2)
    slider = page.locator("#opacity")
    slider.fill("90")
    expect(page.locator("output.small-value")).to_have_text("90%")
    after = cam_centre_pixels(page, c)
    for target, rgb in enumerate(after):
        assert_rgb(rgb, expected(0.9, target), 2)
    assert before != after


def test_url_carries_view_and_reload_restores(watched: Watched, servers: ModuleServers) -> None:
    page = watched.page
    url = servers.url(False)
    frame = open_tab(page, url, "p.featureviz.run=exp1")
    expect(frame.locator("#epoch-label")).to_have_text("Epoch 5")
    frame.locator(".run-item", has_text="exp2").locator("input").check()
    frame.locator("#layer-select").select_option("conv2d_1")
    frame.locator("#probe-select").select_option("2")
    frame.locator("#cmap-select").select_option("magma")
    frame.locator("#zoom-select").select_option("3")
    frame.locator("#epoch-slider").focus()
    frame.locator("#epoch-slider").press("Home")
    frame.locator("#epoch-slider").press("ArrowRight")
    expect(frame.locator("#epoch-label")).to_have_text("Epoch 1")
    own_hash = plugin_frame(page).evaluate("() => location.hash")
    for part in ("run=exp1", "run=exp2", "layer=conv2d_1", "probe=2", "epoch=1", "cmap=magma", "zoom=3"):
        assert part in own_hash, (part, own_hash)
    for part in ("p.featureviz.run=exp2", "p.featureviz.cmap=magma", "p.featureviz.epoch=1"):
        assert part in page.url, (part, page.url)
    shared = page.url
    # A bookmark of TensorBoard's page restores the view in a fresh page.
    page.goto("about:blank")
    page.goto(shared)
    frame = page.frame_locator("iframe")
    expect(frame.locator(".panel")).to_have_count(2)
    expect(frame.locator("#epoch-label")).to_have_text("Epoch 1")
    assert frame.locator("#layer-select").input_value() == "conv2d_1"
    assert frame.locator("#probe-select").input_value() == "2"
    assert frame.locator("#cmap-select").input_value() == "magma"
    assert frame.locator("#zoom-select").input_value() == "3"
    canvas = panel(frame, "exp1").locator("canvas.grid-canvas")
    expect(canvas).to_have_attribute("data-zoom", "3")
    expect(frame.locator(".panel-sub").first).to_contain_text("conv2d_1 · epoch 1")
    spec = servers.spec
    lut = colormap_lut("magma")
    assert_rgb(
        grid_pixel(plugin_frame(page), "exp2", *tile_center(spec, 3)),
        lut[spec.activation_value("exp2", 1, "conv2d_1", 2, 3)],
    )
    # Pixelated zoom: CSS size is exactly 3x the native size.
    assert canvas.evaluate("c => [c.getBoundingClientRect().width, c.width]") == [
        3 * spec.layout.width,
        spec.layout.width,
    ]
    assert canvas.evaluate("c => getComputedStyle(c).imageRendering") == "pixelated"
    # The dashboard as a user sees it: both runs, a drill-down open.
    canvas.click(position={"x": 3 * tile_center(spec, 2)[0], "y": 3 * tile_center(spec, 2)[1]})
    expect(frame.locator(".drilldown").first).to_be_visible()
    page.wait_for_timeout(300)
    save_screenshot(page, "dashboard.png")


def test_empty_states(watched: Watched, servers: ModuleServers, tmp_path: Path) -> None:
    # A run with curves but no featureviz data: its panel explains how to add the callback.
    page = open_entry(watched.page, servers.url(False), "run=curves_only")
    p = page.locator('.panel[data-run="curves_only"]')
    expect(p.locator(".message-title")).to_have_text("This run has curves but no FeatureViz data")
    expect(p.locator("pre.snippet")).to_contain_text("FeatureVizCallback(log_dir)")
    expect(page.locator(".run-item", has_text="curves_only").locator(".run-note")).to_have_text("curves only")
    expect(page.locator('figure.chart g.series[data-run="curves_only"] circle.pt').first).to_be_attached()
    # A logdir without any featureviz data: the whole page says what to do.
    empty = tmp_path / "empty_logdir"
    empty.mkdir()
    url, stop = start_tensorboard(empty, False)
    try:
        page = open_entry(watched.page, url)
        card = page.locator(".empty-card")
        expect(card.locator("h1")).to_have_text("No FeatureViz data in this log directory yet")
        expect(card.locator("pre.snippet")).to_contain_text("from tb_featureviz import FeatureVizCallback")
        expect(card.locator("pre.snippet")).to_contain_text("callbacks=[cb]")
        expect(page.locator("main.layout")).to_be_hidden()
        assert page.locator(".panel:visible").count() == 0
    finally:
        stop()


# -- reduced grids, filter rotation, Grad-CAM without stored overlays ------------------------------------

REDUCED_CHANNELS = (1, 2, 4, 7, 9, 11)
"""Tiles of the reduced ``conv2d`` grid of the ``reduced`` fixture (6 of 12 channels; 11 is dead at epoch 0)."""


@pytest.fixture(scope="module")
def reduced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[logdir_factory.LogdirSpec, str]]:
    """``(spec, url)``: a run ``big`` as the budgeted callback writes it, served by TensorBoard.

    ``conv2d``'s activation grids are reduced (6 of 12 channels, tiles shrunk 4 times from 24x24); the
    filter grids rotate through 35 filters, 10 a pass plus the fixed filters 5 and 33 (epoch 2 draws
    20..29, epoch 3 25..34); Grad-CAM records hold heatmaps only (``"overlay": null``).
    """
    spec = logdir_factory.write_logdir(
        tmp_path_factory.mktemp("reduced_logdir"),
        runs=("big",),
        epochs=4,
        layers=("conv2d", "conv2d_1"),
        probes=2,
        channels=12,
        tile=6,
        cols=4,
        padding=1,
        filter_size=6,
        image_size=16,
        reduced_layers=("conv2d",),
        grid_channels=REDUCED_CHANNELS,
        grid_scale=4,
        filter_of=35,
        filter_fixed=(5, 33),
        filter_scale=2,
        gradcam_overlays=False,
    )
    url, stop = start_tensorboard(spec.root, False)
    try:
        wait_index(url, {"big": [0, 1, 2, 3]})
        yield spec, url
    finally:
        stop()


def click_tile(page: Page, spec: logdir_factory.LogdirSpec, k: int) -> None:
    canvas = page.locator('.panel[data-run="big"] canvas.grid-canvas')
    box = canvas.bounding_box()
    assert box
    scale = box["width"] / canvas.evaluate("c => c.width")
    cx, cy = tile_center(spec, k)
    canvas.click(position={"x": cx * scale, "y": cy * scale})


def hover_title(page: Page, spec: logdir_factory.LogdirSpec, k: int) -> str:
    canvas = page.locator('.panel[data-run="big"] canvas.grid-canvas')
    box = canvas.bounding_box()
    assert box
    scale = box["width"] / canvas.evaluate("c => c.width")
    cx, cy = tile_center(spec, k)
    canvas.hover(position={"x": cx * scale, "y": cy * scale})
    return canvas.get_attribute("title") or ""


def frame_colours(page: Page) -> list[list[int]]:
    return page.evaluate(
        """() => [...document.querySelectorAll('.filmstrip canvas.frame-canvas')].map((c) => {
            const d = c.getContext('2d').getImageData(1, 1, 1, 1).data; return [d[0], d[1], d[2]]; })"""
    )


def drill_colour(page: Page) -> list[int]:
    return page.evaluate(
        """() => { const c = document.querySelector('.drill-canvas');
            const d = c.getContext('2d').getImageData(1, 1, 1, 1).data; return [d[0], d[1], d[2]]; }"""
    )


def test_reduced_grid_shows_real_channel_indices(watched: Watched, reduced: Any) -> None:
    """A reduced grid: caption says how, tiles are named, marked dead and drilled down by their real channel."""
    spec, url = reduced
    page = open_entry(watched.page, url, "run=big&layer=conv2d")
    caption = page.locator('.panel[data-run="big"] .grid-figure figcaption')
    expect(caption).to_have_text("6 of 12 channels (most variable), tiles 6×6 of 24×24 (1/4) · 27×13 px · probe 0")
    assert hover_title(page, spec, 3) == "Channel 7 — click to enlarge"
    click_tile(page, spec, 3)
    drill = page.locator(".drilldown")
    expect(drill.locator("h3")).to_have_text("Channel 7 of conv2d")
    assert "channel=7" in page.evaluate("() => location.hash")
    expect(drill.locator(".drill-info")).to_contain_text("6×6 px (1/4 of 24×24)")
    lut = colormap_lut("viridis")
    assert_rgb(drill_colour(page), lut[spec.activation_value("big", 3, "conv2d", 0, 7)])
    page.wait_for_function("() => document.querySelectorAll('.filmstrip canvas.frame-canvas').length === 4")
    for epoch, rgb in zip(range(4), frame_colours(page), strict=True):
        assert_rgb(rgb, lut[spec.activation_value("big", epoch, "conv2d", 0, 7)])
    # Export of the open tile names the channel, as the export's --channel means it.
    expect(page.locator('.export-item[data-format="png"] .export-detail')).to_have_text("Channel 7 at epoch 3")
    # Epoch 0: channel 11 (tile 5) is dead; the caption counts it and its tile says so.
    page.locator("body").press("Home")
    expect(page.locator("#epoch-label")).to_have_text("Epoch 0")
    expect(caption).to_have_text(
        "6 of 12 channels (most variable), tiles 6×6 of 24×24 (1/4) · 27×13 px · 1 dead (all zero) · probe 0"
    )
    expect(drill.locator("h3")).to_have_text("Channel 7 of conv2d")
    assert hover_title(page, spec, 5) == "Channel 11 (dead) — click to enlarge"
    click_tile(page, spec, 5)
    expect(drill.locator("h3")).to_have_text("Channel 11 of conv2d")
    expect(drill.locator(".drill-info")).to_contain_text("dead: zero for every probe image")
    # A channel the grid leaves out (from a bookmark): the drill-down says so instead of showing tile 3.
    page.goto("about:blank")  # else only the hash changes: no reload
    page = open_entry(page, url, "run=big&layer=conv2d&channel=3")
    expect(page.locator(".drilldown .message-title")).to_have_text("Channel 3 is not in this grid")
    expect(page.locator(".drilldown .message-text")).to_have_text(
        "The grid shows 6 of 12 channels (most variable), tiles 6×6 of 24×24 (1/4)."
    )
    expect(page.locator(".tile-highlight")).to_be_hidden()
    expect(page.locator('.export-item[data-format="png"] .export-detail')).to_have_text(
        "The picture on screen at epoch 3"
    )


def test_filter_rotation_caption_and_filmstrip_follow_the_filter(watched: Watched, reduced: Any) -> None:
    """The caption states the rotation; a filter's filmstrip follows the filter, not the tile position."""
    spec, url = reduced
    page = open_entry(watched.page, url, "run=big&kind=filters&layer=conv2d")
    caption = page.locator('.panel[data-run="big"] .grid-figure figcaption')
    expect(caption).to_have_text(
        "filters 25–34 of 35 (+2 fixed), next 0–9 when the budget has room, tiles 6×6 of 12×12 (1/2) · 27×20 px"
    )
    # Epoch 3 draws [5, 33, 25..34]: tile 4 is filter 27.
    assert hover_title(page, spec, 4) == "Filter 27 — click to enlarge"
    click_tile(page, spec, 4)
    drill = page.locator(".drilldown")
    expect(drill.locator("h3")).to_have_text("Filter 27 of conv2d")
    assert "channel=27" in page.evaluate("() => location.hash")
    expect(drill.locator(".drill-info")).to_contain_text(f"mean activation {spec.filter_activation(3, 27):.4g}")
    assert_rgb(drill_colour(page), spec.filter_value("big", 3, "conv2d", 27))
    # Filter 27 was drawn at epochs 2 (tile 9) and 3 (tile 4) only.
    frames = drill.locator(".filmstrip .frame")
    expect(frames).to_have_count(2)
    assert [frames.nth(i).get_attribute("data-epoch") for i in range(2)] == ["2", "3"]
    expect(drill.locator(".drill-label")).to_have_text("Epochs that drew filter 27 (2 of 4; click a frame to go there)")
    page.wait_for_function("() => document.querySelectorAll('.filmstrip canvas.frame-canvas').length === 2")
    for epoch, rgb in zip((2, 3), frame_colours(page), strict=True):
        assert_rgb(rgb, spec.filter_value("big", epoch, "conv2d", 27))
    expect(page.locator('.export-item[data-format="gif"] .export-detail')).to_have_text(
        "Filter 27, one frame per epoch"
    )
    # Epoch 2: the same filter, now in tile 9.
    frames.nth(0).click()
    expect(page.locator("#epoch-label")).to_have_text("Epoch 2")
    expect(caption).to_have_text(
        "filters 20–29 of 35 (+2 fixed), next 25–34 at epoch 3, tiles 6×6 of 12×12 (1/2) · 27×20 px"
    )
    expect(drill.locator("h3")).to_have_text("Filter 27 of conv2d")
    expect(drill.locator(".drill-info")).to_contain_text(f"mean activation {spec.filter_activation(2, 27):.4g}")
    assert_rgb(drill_colour(page), spec.filter_value("big", 2, "conv2d", 27))
    box = page.locator(".tile-highlight").evaluate("b => [b.style.left, b.style.top]")
    x9, y9 = spec.filter_layout.tile_origin(9)
    assert [float(v.rstrip("%")) for v in box] == pytest.approx([100 * x9 / 27, 100 * y9 / 20], abs=1e-3)
    # Epoch 0 did not draw it: the drill-down says so and keeps the filmstrip of the epochs that did.
    page.locator("body").press("Home")
    expect(page.locator("#epoch-label")).to_have_text("Epoch 0")
    expect(drill.locator(".message-title")).to_have_text("Filter 27 was not drawn at epoch 0")
    expect(drill.locator(".message-text")).to_have_text(
        "This epoch drew filters 0–9 of 35 and 2 fixed ones. The frames below are the epochs that drew it."
    )
    expect(drill.locator(".filmstrip .frame")).to_have_count(2)
    expect(page.locator(".tile-highlight")).to_be_hidden()
    # A fixed filter is drawn at every epoch.
    click_tile(page, spec, 1)
    expect(drill.locator("h3")).to_have_text("Filter 33 of conv2d")
    expect(drill.locator(".drill-info")).to_contain_text("one of the fixed filters, drawn at every pass")
    expect(drill.locator(".filmstrip .frame")).to_have_count(4)


def test_gradcam_without_stored_overlays(watched: Watched, reduced: Any) -> None:
    """Records with ``"overlay": null``: the dashboard lays the heatmap over the probe image itself."""
    spec, url = reduced
    probe, epoch = 1, 2
    page = open_entry(watched.page, url, f"run=big&kind=gradcam&probe={probe}&epoch={epoch}&follow=0")
    record = http_json(f"{url.rstrip('/')}{PLUGIN_ROUTE}/step?run=big&tag=gradcam/conv2d_1&step={epoch}")["record"]
    assert [t["overlay"] for p in record["probes"] for t in p["targets"]] == [None] * 4
    figures = page.locator('.panel[data-run="big"] .cam-figure')
    expect(figures).to_have_count(2)
    expect(figures.nth(0).locator(".cam-class")).to_have_text(spec.class_names[spec.predicted(epoch, probe)])
    expect(page.locator(".panel-body .muted.small")).to_have_count(0)  # no "probe image not found" note
    lut = colormap_lut("viridis")
    c = spec.image_size // 2
    expect(page.locator("canvas.cam-canvas").first).to_have_attribute("data-opacity", "0.5")
    for target, rgb in enumerate(cam_centre_pixels(page, c)):
        heat = lut[spec.heat_value(epoch, probe, target)]
        assert_rgb(rgb, [0.5 * p + 0.5 * h for p, h in zip(spec.probe_value(probe), heat, strict=True)], 2)
