"""Browser tests of the dashboard's Export control: a real TensorBoard, the real /export route, headless Chromium.

The menu builds ``export?...`` from the view on screen, fetches it, and saves the answer through an
``<a download>``; these tests catch the download Playwright sees and compare its bytes and pixels with what
``tests/support/logdir_factory.py`` wrote. One TensorBoard (Python loader) over a module logdir of two runs of
different lengths (exp1: epochs 0..3, exp2: 0..2), so an export of epoch 3 of both is a real 404.
"""

from __future__ import annotations

import base64
import html
import io
import json
import re
import urllib.parse
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("playwright.sync_api")
from playwright.sync_api import expect

from tb_featureviz.render.colormap import colormap_lut
from tests.support import logdir_factory
from tests.support.browser import Watched, open_entry, open_tab, save_screenshot, tile_center, watched_page
from tests.support.routes import PLUGIN_ROUTE
from tests.support.server import start_tensorboard, wait_for_featureviz

pytestmark = pytest.mark.browser


# -- fixtures ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, logdir_factory.LogdirSpec]]:
    spec = logdir_factory.write_logdir(
        tmp_path_factory.mktemp("export_logdir"),
        runs=("exp1", "exp2"),
        epochs=3,
        layers=("conv2d", "conv2d_1"),
        channels=8,
        tile=6,
        cols=4,
        padding=1,
        filter_size=6,
        image_size=16,
    )
    logdir_factory.append_epoch(spec, "exp1")  # exp1: epochs 0..3, exp2: 0..2
    url, stop = start_tensorboard(spec.root, False)
    try:
        wait_for_featureviz(url, spec)
        yield url, spec
    finally:
        stop()


@pytest.fixture()
def watched(browser: Any) -> Iterator[Watched]:
    # Export's 404 test expects a failed request, and progress polls may ask before a job starts (404).
    with watched_page(browser, allow_bad_responses=True, accept_downloads=True) as w:
        yield w


# -- helpers -------------------------------------------------------------------------------------------


def export_query(url: str) -> dict[str, str]:
    """The query of an /export request, less its ``job`` id (checked here: the page's random token)."""
    parts = urllib.parse.urlsplit(url)
    assert parts.path.endswith(f"{PLUGIN_ROUTE}/export"), url
    query = dict(urllib.parse.parse_qsl(parts.query))
    assert re.fullmatch(r"[0-9a-f]{24}", query.pop("job", "")), url
    return query


def embedded_png(doc: str, **attrs: str) -> bytes:
    """The PNG of the ``<figure>`` whose ``data-*`` attributes include ``attrs``, decoded from its data: URI."""
    for m in re.finditer(r"<figure ([^>]*)><img[^>]* src=\"data:image/png;base64,([^\"]+)\"", doc):
        got = {k: html.unescape(v) for k, v in re.findall(r'data-([a-z]+)="([^"]*)"', m.group(1))}
        if all(got.get(k) == v for k, v in attrs.items()):
            return base64.b64decode(m.group(2))
    raise AssertionError(f"no figure with {attrs} in the report")


# -- tests ---------------------------------------------------------------------------------------------


def test_export_menu_keyboard_and_zip_of_raw_pngs(watched: Watched, server: tuple[str, Any]) -> None:
    """In TensorBoard's tab: the menu opens and closes from the keyboard; ZIP of all epochs holds the stored PNGs."""
    url, spec = server
    page = watched.page
    frame = open_tab(page, url, "p.featureviz.run=exp1")
    expect(frame.locator("canvas.grid-canvas")).to_be_visible()
    frame.locator("#probe-select").select_option("1")
    expect(frame.locator(".grid-figure figcaption")).to_contain_text("probe 1")
    button = frame.locator("#export-button")
    menu = frame.locator("#export-menu")
    expect(button).to_have_attribute("aria-haspopup", "dialog")
    expect(menu).to_have_attribute("aria-label", "Export the current view")
    button.focus()
    page.keyboard.press("Enter")
    expect(menu).to_be_visible()
    expect(button).to_have_attribute("aria-expanded", "true")
    expect(frame.locator("#export-epochs-current")).to_be_focused()
    expect(menu.locator(".export-summary")).to_have_text("exp1 · Activations · conv2d · probe 1 · viridis")
    page.keyboard.press("Escape")
    expect(menu).to_be_hidden()
    expect(button).to_have_attribute("aria-expanded", "false")
    expect(button).to_be_focused()
    expect(frame.locator("#epoch-label")).to_have_text("Epoch 3")  # Escape did not touch the view

    button.click()
    frame.locator("label.seg", has_text="All epochs").click()
    expect(frame.locator("#export-epochs-all")).to_be_checked()
    held: list[Any] = []
    page.route(re.compile(r"/export\?"), lambda route: held.append(route))
    notice = menu.locator(".export-notice")
    with page.expect_download() as info:
        menu.locator(".export-item[data-format=zip]").click()
        expect(notice).to_have_text("Exporting raw PNGs + manifest (ZIP)…")
        assert len(held) == 1
        # The server does the whole export, and the page draws its progress while the response is held.
        response = held[0].fetch()
        bar = notice.locator("progress.export-progress")
        expect(bar).to_be_visible()
        expect(notice).to_contain_text(re.compile(r"Rendering (\d+)/\1$"))
        bar_max, bar_value = bar.get_attribute("max"), bar.get_attribute("value")
        held[0].fulfill(response=response)
    download = info.value
    assert download.suggested_filename == "featureviz-exp1.zip"
    expect(menu).to_be_hidden()
    expect(button).to_have_text(re.compile(r"^Export"))
    assert export_query(watched.exports[-1]) == {
        "run": "exp1",
        "kinds": "activations",
        "layer": "conv2d",
        "epochs": "all",
        "format": "zip",
        "probe": "1",
        "colormap": "viridis",
    }
    with zipfile.ZipFile(io.BytesIO(Path(download.path()).read_bytes())) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        assert manifest["format"] == "tb-featureviz-export"
        assert manifest["kinds"] == ["activations"]
        assert [r["run"] for r in manifest["runs"]] == ["exp1"]
        entries = manifest["files"]
        assert sorted((e["kind"], e["layer"], e["epoch"], e["probe"]) for e in entries) == [
            ("activations", "conv2d", epoch, 1) for epoch in spec.steps["exp1"]
        ]
        for e in entries:
            assert zf.read(e["file"]) == spec.activation_png("exp1", e["epoch"], "conv2d", 1), e["file"]
        assert bar_max == bar_value == str(len(zf.namelist()))  # one step of progress per file written


def test_html_of_this_epoch_embeds_the_pixels_on_screen(watched: Watched, server: tuple[str, Any]) -> None:
    """HTML of the epoch on show: busy state while it runs, then one self-contained file with those pixels."""
    url, spec = server
    page = open_entry(watched.page, url, "run=exp1&layer=conv2d_1&epoch=1")
    expect(page.locator("#epoch-label")).to_have_text("Epoch 1")
    held: list[Any] = []
    page.route(re.compile(r"/export\?"), lambda route: held.append(route))  # hold the request to see the busy state
    page.locator("#export-button").click()
    expect(page.locator("#export-epochs-current")).to_be_checked()
    with page.expect_download() as info:
        page.locator(".export-item[data-format=html]").click()
        expect(page.locator("#export-button .export-label")).to_have_text("Exporting…")
        expect(page.locator("#export-button")).to_have_attribute("aria-busy", "true")
        expect(page.locator(".export-notice")).to_have_text("Exporting report (HTML)…")
        expect(page.locator(".export-item[data-format=zip]")).to_be_disabled()
        assert len(held) == 1
        held[0].continue_()
    download = info.value
    assert download.suggested_filename == "featureviz-exp1.html"
    expect(page.locator("#export-button")).to_have_text(re.compile(r"^Export"))
    query = export_query(watched.exports[-1])
    assert query == {
        "run": "exp1",
        "kinds": "activations",
        "layer": "conv2d_1",
        "epochs": "1",
        "format": "html",
        "probe": "0",
        "colormap": "viridis",
    }
    doc = Path(download.path()).read_text(encoding="utf-8")
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", doc, re.I)
    assert "url(http" not in doc and "@import" not in doc
    epochs = set(re.findall(r'<figure [^>]*data-epoch="(\d+)"', doc))
    assert epochs == {"1"}
    png = embedded_png(doc, run="exp1", kind="activations", layer="conv2d_1", epoch="1", probe="0")
    pixels = logdir_factory.decode_png(png)
    assert pixels.shape[:2] == (spec.layout.height, spec.layout.width)
    lut = colormap_lut("viridis")
    for k in range(spec.channels):
        x, y = tile_center(spec, k)
        value = spec.activation_value("exp1", 1, "conv2d_1", 0, k)
        assert [int(v) for v in pixels[y, x, :3]] == [int(v) for v in lut[value]], k


def test_export_error_shows_the_servers_message(watched: Watched, server: tuple[str, Any]) -> None:
    """Two runs of different lengths at epoch 3: /export answers 404 and the menu shows its message; no file."""
    url, _ = server
    page = open_entry(watched.page, url, "run=exp1&run=exp2")
    expect(page.locator("#epoch-label")).to_have_text("Epoch 3")
    expect(page.locator('.panel[data-run="exp1"] canvas.grid-canvas')).to_be_visible()
    page.locator("#export-button").click()
    with page.expect_response(lambda r: f"{PLUGIN_ROUTE}/export?" in r.url) as info:
        page.locator(".export-item[data-format=png]").click()
    assert info.value.status == 404
    notice = page.locator(".export-notice")
    expect(notice).to_have_text("Export failed: Not found: epoch 3 not in run 'exp2'; its epochs are 0..2")
    expect(notice).to_have_attribute("role", "alert")
    expect(page.locator("#export-menu")).to_be_visible()
    expect(page.locator("#export-button")).to_be_enabled()
    assert urllib.parse.parse_qs(urllib.parse.urlsplit(watched.exports[-1]).query)["run"] == ["exp1", "exp2"]
    save_screenshot(page, "export-menu-error.png", full_page=False)
    # All epochs is fine for both runs: the same menu then downloads.
    page.locator("label.seg", has_text="All epochs").click()
    expect(notice).to_be_hidden()
    with page.expect_download() as ok:
        page.locator(".export-item[data-format=zip]").click()
    assert ok.value.suggested_filename == "featureviz-exp1-exp2.zip"
    assert len(watched.downloads) == 1


def test_summary_report_pdf_of_the_shown_runs(watched: Watched, server: tuple[str, Any]) -> None:
    """The menu's summary report: every kind and epoch of the shown runs as a vector PDF, whatever the view."""
    url, _ = server
    page = open_entry(watched.page, url, "run=exp1&layer=conv2d_1&epoch=1&probe=2")
    expect(page.locator("#epoch-label")).to_contain_text("Epoch 1")
    page.locator("#export-button").click()
    item = page.locator(".export-item[data-format=pdf]")
    expect(item.locator(".export-name")).to_have_text("Summary report of the runs (PDF)")
    expect(item.locator(".export-detail")).to_have_text(
        "Curves, checks, final epoch and filmstrips of every kind and epoch"
    )
    with page.expect_download() as info:
        item.click()
    download = info.value
    assert download.suggested_filename == "featureviz-exp1.pdf"
    assert export_query(watched.exports[-1]) == {
        "run": "exp1",
        "epochs": "all",
        "format": "pdf",
        "probe": "2",
        "colormap": "viridis",
    }
    data = Path(download.path()).read_bytes()
    assert data.startswith(b"%PDF-") and b"/FontFile2" in data
    assert len(re.findall(rb"/Type\s*/Page(?![s\w])", data)) >= 2
