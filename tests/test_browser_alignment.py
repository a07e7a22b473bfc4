"""Runs of different architectures side by side in the real dashboard (headless Chromium, a real
TensorBoard with each loader): one shared stage, each panel its own layer, per-run choices in the URL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("playwright.sync_api")
from playwright.sync_api import expect

from tb_featureviz.render.colormap import colormap_lut
from tests.support import architectures
from tests.support.architectures import EARLY, GROWN, MOBILENET, MOBILENET_TILES, RESNET
from tests.support.browser import Watched, open_tab, save_screenshot

pytestmark = pytest.mark.browser

BOTH = f"p.featureviz.run={RESNET}&p.featureviz.run={MOBILENET}"


@pytest.fixture(scope="module", params=[False, True], ids=["python", "rust"])
def arch(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any]]:
    with architectures.served(tmp_path_factory, bool(request.param)) as served:
        yield served


def _panel(frame: Any, run: str) -> Any:
    return frame.locator(f'.panel[data-run="{run}"]')


def _assert_grid(page: Any, specs: dict[str, Any], run: str, layer: str, epoch: int = 1) -> None:
    """The panel of ``run`` shows ``layer``'s activation grid of probe 0: tile k has channel k's value.

    Polls (up to 10 s) until the panel's grid canvas has ``layer``'s width, then reads the tile centres.
    """
    spec = specs[run]
    lay = spec.layout_for(layer)
    lut = colormap_lut("viridis")
    frame = next(f for f in page.frames if "plugin_entry.html" in f.url)
    points = []
    for k in (0, 2):
        x, y = lay.tile_origin(k)
        points.append([x + lay.tile_width // 2, y + lay.tile_height // 2])
    got = frame.wait_for_function(
        """([run, points, w]) => {
            const c = document.querySelector(`.panel[data-run="${run}"] canvas.grid-canvas`);
            if (!c || c.width !== w) return null;
            const ctx = c.getContext('2d');
            return points.map(([x, y]) => Array.from(ctx.getImageData(x, y, 1, 1).data.slice(0, 3)));
        }""",
        arg=[run, points, lay.width],
        timeout=10_000,
    ).json_value()
    for k, pixel in zip((0, 2), got, strict=True):
        want = lut[spec.activation_value(run, epoch, layer, 0, k)]
        assert all(abs(int(a) - int(b)) <= 1 for a, b in zip(pixel, want, strict=True)), (
            run,
            layer,
            k,
            pixel,
            list(want),
        )


def _wait_grid(frame: Any, run: str, layer: str) -> None:
    expect(_panel(frame, run).locator(".panel-layer")).to_have_value(layer)
    expect(_panel(frame, run).locator(".panel-sub")).to_contain_text(f"{layer} · epoch 1")
    expect(_panel(frame, run).locator("canvas.grid-canvas")).to_be_visible()


def test_two_architectures_aligned_by_stage(watched: Watched, arch: tuple[str, Any]) -> None:
    url, specs = arch
    page = watched.page
    frame = open_tab(page, url, BOTH)
    expect(frame.locator(".panel")).to_have_count(2)
    # One shared menu, in stages of the first run (resnet, 5 stages).
    layer_select = frame.locator("#layer-select")
    expect(layer_select.locator("option")).to_have_count(5)
    assert layer_select.locator("option").all_text_contents() == [
        "stage 1 of 5 · 16x16",
        "stage 2 of 5 · 8x8",
        "stage 3 of 5 · 6x6",
        "stage 4 of 5 · 4x4",
        "stage 5 of 5 · 2x2",
    ]
    expect(frame.locator(".field", has=layer_select).locator(".field-label")).to_have_text("Stage")
    layer_select.select_option("3/5")
    _wait_grid(frame, RESNET, "conv3_block4_out")
    _wait_grid(frame, MOBILENET, "block_6_expand_relu")
    selected = ".panel-layer option:checked"
    expect(_panel(frame, RESNET).locator(selected)).to_have_text("conv3_block4_out · stage 3 of 5 · 6x6")
    expect(_panel(frame, MOBILENET).locator(selected)).to_have_text("block_6_expand_relu · stage 3 of 4 · 4x4")
    _assert_grid(page, specs, RESNET, "conv3_block4_out")
    _assert_grid(page, specs, MOBILENET, "block_6_expand_relu")
    save_screenshot(page, "architectures.png")

    # Stage 4 of 5 is mobilenet's stage 3 too (relative depth); stage 5 is both runs' last.
    layer_select.select_option("5/5")
    _wait_grid(frame, RESNET, "conv5_block3_out")
    _wait_grid(frame, MOBILENET, "out_relu")

    # A run's own choice in its panel header; the address bar keeps it, with the shared stage.
    layer_select.select_option("3/5")
    _panel(frame, MOBILENET).locator(".panel-layer").select_option("block_1_expand_relu")
    _wait_grid(frame, MOBILENET, "block_1_expand_relu")
    _wait_grid(frame, RESNET, "conv3_block4_out")
    _assert_grid(page, specs, MOBILENET, "block_1_expand_relu")
    assert "p.featureviz.stage=3%2F5" in page.url, page.url
    assert f"p.featureviz.layer%40{MOBILENET}=block_1_expand_relu" in page.url, page.url
    shared = page.url
    page.goto("about:blank")
    page.goto(shared)
    frame = page.frame_locator("iframe")
    expect(frame.locator(".panel")).to_have_count(2)
    expect(frame.locator("#layer-select")).to_have_value("3/5")
    _wait_grid(frame, RESNET, "conv3_block4_out")
    _wait_grid(frame, MOBILENET, "block_1_expand_relu")
    _assert_grid(page, specs, MOBILENET, "block_1_expand_relu")

    # A new shared choice drops the run's own.
    frame.locator("#layer-select").select_option("2/5")
    _wait_grid(frame, MOBILENET, "block_3_expand_relu")
    assert "layer%40" not in page.url, page.url

    # Filters: the stages with a filter layer; mobilenet's aligned stage 2 has none and says so.
    frame.locator('.seg[data-kind="filters"]').click()
    expect(frame.locator("#layer-select").locator("option")).to_have_count(5)
    frame.locator("#layer-select").select_option("2/5")
    expect(_panel(frame, RESNET).locator("canvas.grid-canvas")).to_be_visible()
    expect(_panel(frame, MOBILENET).locator(".message-title")).to_have_text(
        "No filter patterns at its stage 2 of 4 · 8x8 in this run"
    )

    # Grad-CAM: each run's own Grad-CAM layer.
    frame.locator('.seg[data-kind="gradcam"]').click()
    expect(frame.locator("#layer-select").locator("option")).to_have_text(["Grad-CAM layer (each run its own)"])
    expect(_panel(frame, RESNET).locator(".panel-sub")).to_contain_text("conv5_block3_out · epoch 1")
    expect(_panel(frame, MOBILENET).locator(".panel-sub")).to_contain_text("out_relu · epoch 1")
    expect(_panel(frame, MOBILENET).locator("canvas.cam-canvas").first).to_be_visible()


def test_old_url_with_a_layer_name_opens_its_stage(watched: Watched, arch: tuple[str, Any]) -> None:
    url, specs = arch
    page = watched.page
    frame = open_tab(page, url, BOTH + "&p.featureviz.layer=block_6_expand_relu")
    # mobilenet's stage 3 of 4 is resnet's stage 4 of 5 (relative depth).
    expect(frame.locator("#layer-select")).to_have_value("4/5")
    _wait_grid(frame, RESNET, "conv4_block6_out")
    _wait_grid(frame, MOBILENET, "block_6_expand_relu")
    _assert_grid(page, specs, RESNET, "conv4_block6_out")


@pytest.fixture(scope="module")
def same_model(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any]]:
    with architectures.served(tmp_path_factory, False, architectures.write_same_model) as served:
        yield served


def test_one_model_with_grown_layer_sets_keeps_the_layer_menu(watched: Watched, same_model: tuple[str, Any]) -> None:
    """Two runs of one model that wrote different layer sets (the writer grows its set after epoch 0; a
    live run may still be at epoch 0) share layer names: the menu names layers, not stages."""
    url, specs = same_model
    page = watched.page
    frame = open_tab(page, url, f"p.featureviz.run={GROWN}&p.featureviz.run={EARLY}")
    expect(frame.locator(".panel")).to_have_count(2)
    layer_select = frame.locator("#layer-select")
    expect(frame.locator(".field", has=layer_select).locator(".field-label")).to_have_text("Layer")
    expect(layer_select.locator("option")).to_have_text(list(MOBILENET_TILES))
    expect(layer_select).to_have_value("block_1_expand_relu")
    _wait_grid(frame, GROWN, "block_1_expand_relu")
    _wait_grid(frame, EARLY, "block_1_expand_relu")
    _assert_grid(page, specs, GROWN, "block_1_expand_relu")
    _assert_grid(page, specs, EARLY, "block_1_expand_relu")
    expect(_panel(frame, EARLY).locator(".panel-stage")).to_have_text("")
    # A layer only the grown run wrote: the other run says so.
    layer_select.select_option("block_6_expand_relu")
    _wait_grid(frame, GROWN, "block_6_expand_relu")
    _assert_grid(page, specs, GROWN, "block_6_expand_relu")
    expect(_panel(frame, EARLY).locator(".message-title")).to_have_text(
        "No activation grids for layer block_6_expand_relu in this run"
    )
    expect(_panel(frame, EARLY).locator(".panel-layer")).to_have_value("block_6_expand_relu")
    expect(_panel(frame, EARLY).locator(".panel-layer option:checked")).to_have_text(
        "block_6_expand_relu (not in this run)"
    )
    save_screenshot(page, "same-model-grown-layers.png")
    assert "p.featureviz.layer=block_6_expand_relu" in page.url, page.url
    # Filters and Grad-CAM: the same layer names, the Layer menu too.
    frame.locator('.seg[data-kind="gradcam"]').click()
    expect(frame.locator(".field", has=layer_select).locator(".field-label")).to_have_text("Layer")
    expect(layer_select.locator("option")).to_have_text(["out_relu"])
    expect(_panel(frame, EARLY).locator("canvas.cam-canvas").first).to_be_visible()
    expect(_panel(frame, GROWN).locator("canvas.cam-canvas").first).to_be_visible()
