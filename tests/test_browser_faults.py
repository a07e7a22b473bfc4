"""Browser tests of damaged images: the dashboard shows a "damaged" tile, never a broken image, and every
other epoch still renders.

The logdir holds images whose bytes are damaged inside intact event records (what a flipped byte gives
under the Rust data server, which does not reject the record); the server answers them with a JSON 404
carrying ``"damaged": true``. Records of a diverged model (``"nonfinite": n``) get a warning under the grid.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("playwright.sync_api")
from playwright.sync_api import expect

from tb_featureviz.render.colormap import colormap_lut
from tb_featureviz.status import write_status
from tests.support import logdir_factory
from tests.support.browser import open_entry, open_tab, save_screenshot, tile_center, watched_page
from tests.support.server import start_tensorboard, wait_for_featureviz

pytestmark = pytest.mark.browser

DAMAGED = (
    ("exp1", 1, "activations/conv2d", 2),  # the grid of probe 1 at epoch 1
    ("exp1", 2, "gradcam/conv2d_1", 1),  # the predicted-class heatmap of probe 0 at epoch 2
)
NONFINITE = (("exp1", 0, "activations/conv2d", 12), ("exp1", 2, "gradcam/conv2d_1", 3))
"""Records written with ``"nonfinite": n``: what the callback writes for a diverged model."""
SMALL_LOGDIR = {
    "epochs": 3,
    "layers": ("conv2d", "conv2d_1"),
    "probes": 2,
    "channels": 4,
    "tile": 6,
    "image_size": 16,
}
"""The logdir shape of this module's runs: 3 epochs of two small layers."""


@pytest.fixture(scope="module")
def damaged_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[logdir_factory.LogdirSpec, str]]:
    spec = logdir_factory.write_logdir(
        tmp_path_factory.mktemp("damaged_logdir"),
        runs=("exp1",),
        **SMALL_LOGDIR,
        damaged=DAMAGED,
        nonfinite=NONFINITE,
    )
    url, stop = start_tensorboard(spec.root, False)
    try:
        wait_for_featureviz(url, spec)
        yield spec, url
    finally:
        stop()


def test_damaged_grid_is_a_tile_and_other_epochs_render(browser: Any, damaged_server: Any) -> None:
    spec, url = damaged_server
    with watched_page(browser, allow_bad_responses=True) as w:
        page = w.page
        open_entry(page, url, "run=exp1&layer=conv2d&probe=1&epoch=1&follow=0")
        body = page.locator('.panel[data-run="exp1"] .panel-body')
        tile = body.locator(".damaged-tile")
        expect(tile).to_be_visible()
        expect(tile.locator(".damaged-badge")).to_have_text("damaged")
        expect(tile).to_contain_text("probe 1 at epoch 1")
        expect(body.locator("canvas.grid-canvas")).to_have_count(0)
        expect(body.locator("img")).to_have_count(0)  # never a broken image
        expect(page.locator(".panel-sub").first).to_contain_text("damaged")
        # The damaged image came inside its 200 /frame (issue 19), with the server's message.
        assert w.bad_responses == [], w.bad_responses
        assert "is damaged" in (tile.get_attribute("title") or ""), tile.get_attribute("title")
        # Epoch 0 of the same probe renders, pixel for pixel.
        page.locator("#epoch-slider").focus()
        page.locator("#epoch-slider").press("Home")
        expect(page.locator("#epoch-label")).to_have_text("Epoch 0")
        canvas = body.locator("canvas.grid-canvas")
        expect(canvas).to_be_visible()
        expect(body.locator(".damaged-tile")).to_have_count(0)
        expect(body.locator(".nonfinite-note")).to_have_text(
            "Non-finite: 12 NaN or inf values (the model diverged); drawn as 0."
        )
        lut = colormap_lut("viridis")
        x, y = tile_center(spec, 2)
        rgb = canvas.evaluate(f"c => Array.from(c.getContext('2d').getImageData({x}, {y}, 1, 1).data.slice(0, 3))")
        expected = lut[spec.activation_value("exp1", 0, "conv2d", 1, 2)]
        assert all(abs(int(a) - int(e)) <= 1 for a, e in zip(rgb, expected, strict=True)), (rgb, list(expected))
        # The drill-down filmstrip of a channel: the damaged epoch is a small "damaged" frame, the others draw.
        box = canvas.bounding_box()
        assert box
        scale = box["width"] / canvas.evaluate("c => c.width")
        canvas.click(position={"x": (x + 0.5) * scale, "y": (y + 0.5) * scale})
        strip = page.locator(".filmstrip")
        expect(strip.locator(".frame")).to_have_count(3)
        expect(strip.locator('.frame[data-epoch="1"] .damaged-tile.small')).to_have_count(1)
        expect(strip.locator("canvas.frame-canvas")).to_have_count(2)


def test_damaged_heatmap_is_a_tile_beside_the_other_target(browser: Any, damaged_server: Any) -> None:
    _, url = damaged_server
    with watched_page(browser, allow_bad_responses=True) as w:
        page = w.page
        open_entry(page, url, "run=exp1&kind=gradcam&probe=0&epoch=2&follow=0")
        figures = page.locator('.panel[data-run="exp1"] .cam-figure')
        expect(figures).to_have_count(2)
        expect(figures.nth(0).locator(".damaged-tile")).to_be_visible()
        expect(figures.nth(0)).to_contain_text("predicted class heatmap at epoch 2")
        expect(figures.nth(1).locator("canvas.cam-canvas")).to_be_visible()
        expect(page.locator(".message.error")).to_have_count(0)
        expect(page.locator(".nonfinite-note")).to_contain_text("3 NaN or inf values")


def test_failed_training_after_written_epochs_shows_a_notice_above_the_grid(
    browser: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Training died after epochs 0-2 were written (``featureviz demo`` wrote a ``status`` record): the
    panel shows the grid of the epochs it has, under a one-line error notice; a run without one has none."""
    spec = logdir_factory.write_logdir(
        tmp_path_factory.mktemp("failed_logdir"), runs=("crashed", "fine"), **SMALL_LOGDIR
    )
    message = "RuntimeError: out of memory at epoch 3\nwhile allocating a tensor"
    write_status(
        os.path.join(spec.root, "crashed"),
        {
            "state": "failed",
            "message": message,
            "exit_code": 1,
            "log_tail": "Traceback ...\nRuntimeError: out of memory",
        },
    )
    url, stop = start_tensorboard(spec.root, False)
    try:
        wait_for_featureviz(url, spec)
        with watched_page(browser) as w:
            page = w.page
            open_entry(page, url, "run=crashed&run=fine&layer=conv2d&probe=0&epoch=2&follow=0")
            crashed = page.locator('.panel[data-run="crashed"]')
            alert = crashed.locator(".panel-alert")
            expect(alert).to_be_visible()
            expect(alert).to_have_attribute("role", "alert")
            expect(alert).to_have_text("Training stopped with an error: RuntimeError: out of memory at epoch 3")
            canvas = crashed.locator(".panel-body canvas.grid-canvas")
            expect(canvas).to_be_visible()
            expect(crashed.locator(".panel-sub")).to_have_text("conv2d · epoch 2")
            expect(crashed.locator(".message")).to_have_count(0)
            lut = colormap_lut("viridis")
            x, y = tile_center(spec, 2)
            rgb = canvas.evaluate(f"c => Array.from(c.getContext('2d').getImageData({x}, {y}, 1, 1).data.slice(0, 3))")
            expected = lut[spec.activation_value("crashed", 2, "conv2d", 0, 2)]
            assert all(abs(int(a) - int(e)) <= 1 for a, e in zip(rgb, expected, strict=True)), (rgb, list(expected))
            expect(page.locator('.panel[data-run="fine"] canvas.grid-canvas')).to_be_visible()
            expect(page.locator('.panel[data-run="fine"] .panel-alert')).to_be_hidden()
            # The same in TensorBoard's own page.
            frame = open_tab(page, url, "p.featureviz.run=crashed&p.featureviz.run=fine&p.featureviz.epoch=2")
            expect(frame.locator('.panel[data-run="crashed"] .panel-alert')).to_be_visible()
            expect(frame.locator('.panel[data-run="crashed"] canvas.grid-canvas')).to_be_visible()
            save_screenshot(page, "failed-after-epochs.png")
    finally:
        stop()
