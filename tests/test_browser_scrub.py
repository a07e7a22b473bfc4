"""Browser tests of scrubbing (issue 19, "scrub 20 runs like a video"), on a real TensorBoard with either
loader, the real plugin and headless Chromium.

* One arrow key press with three runs on show makes exactly one request, a ``/frame`` that holds the three
  panels' grids (of the next epoch not yet in memory in that direction: the first view prefetched epochs 1
  and 2), never ``/step`` or ``/blob``; the panels then show the new epoch's pixels.
* A press back to an epoch already seen makes no request at all (the page keeps what it decoded).
* The page sets ``featureviz:frame`` once every panel in view shows the epoch (benchmarks/_scrub.py).
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("playwright.sync_api")
from playwright.sync_api import Page, expect

from tb_featureviz.render.colormap import colormap_lut
from tests.support import logdir_factory
from tests.support.browser import Watched, open_entry, tile_center
from tests.support.routes import PLUGIN_ROUTE
from tests.support.server import LoaderServers

pytestmark = pytest.mark.browser

LOADERS = pytest.mark.parametrize("load_fast", [False, True], ids=["python", "rust"])
RUNS = ("a", "b", "c")
EPOCHS = 4
TAG = "activations/conv2d"


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoaderServers]:
    spec = logdir_factory.write_logdir(
        tmp_path_factory.mktemp("scrub_logdir"), runs=RUNS, epochs=EPOCHS, layers=("conv2d",), exemplar_layers=()
    )
    s = LoaderServers(spec.root, {run: list(range(EPOCHS)) for run in RUNS})
    s.spec = spec  # type: ignore[attr-defined]
    try:
        yield s
    finally:
        s.stop()


def data_requests(page: Page) -> list[str]:
    """The page's requests for steps and images from now on (not the /index and /scalars polls)."""
    seen: list[str] = []

    def on_request(r: Any) -> None:
        path = r.url.split(PLUGIN_ROUTE, 1)[-1] if PLUGIN_ROUTE in r.url else ""
        if path.startswith(("/frame", "/step", "/blob", "/series")):
            seen.append(path)

    page.on("request", on_request)
    return seen


def frame_items(path: str) -> list[list[Any]]:
    return json.loads(urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)["q"][0])


def wait_frame(page: Page, epoch: int) -> None:
    """Until the page marked ``featureviz:frame`` for ``epoch`` (every panel in view shows it)."""
    page.wait_for_function(
        "(e) => performance.getEntriesByName('featureviz:frame').some((m) => m.detail && m.detail.epoch === e)",
        arg=epoch,
        polling=20,
    )


def grid_pixels(page: Page, run: str, points: list[tuple[int, int]]) -> list[list[int]]:
    return page.evaluate(
        """([sel, points]) => {
            const ctx = document.querySelector(sel).getContext('2d');
            return points.map(([x, y]) => Array.from(ctx.getImageData(x, y, 1, 1).data.slice(0, 3)));
        }""",
        [f'.panel[data-run="{run}"] canvas.grid-canvas', points],
    )


@LOADERS
def test_one_arrow_press_is_one_frame_request_and_going_back_is_none(
    watched: Watched, servers: LoaderServers, load_fast: bool
) -> None:
    spec = servers.spec  # type: ignore[attr-defined]
    page = open_entry(watched.page, servers.url(load_fast), "run=a&run=b&run=c&layer=conv2d&epoch=0")
    for run in RUNS:
        expect(page.locator(f'.panel[data-run="{run}"] canvas.grid-canvas')).to_be_visible()
    wait_frame(page, 0)
    page.wait_for_timeout(200)  # the first view's requests are over
    seen = data_requests(page)
    page.locator("#epoch-slider").focus()
    page.keyboard.press("ArrowRight")
    wait_frame(page, 1)
    for run in RUNS:
        expect(page.locator(f'.panel[data-run="{run}"]')).to_have_attribute("data-epoch", "1")
    page.wait_for_timeout(300)
    assert len(seen) == 1 and seen[0].startswith("/frame?q="), seen
    items = frame_items(seen[0])
    # Epochs 1 and 2 were prefetched once epoch 0 was drawn: the press asks for the epoch after them in the
    # scrub direction, for the three panels.
    assert items == [[run, TAG, 3, [0]] for run in RUNS]
    lut = colormap_lut("viridis")
    centres = [tile_center(spec, k) for k in range(spec.channels)]
    for run in RUNS:
        want = [lut[spec.activation_value(run, 1, "conv2d", 0, k)].tolist() for k in range(spec.channels)]
        assert grid_pixels(page, run, centres) == want
    # Back to epoch 0 (seen), then forward to 2 (prefetched): no request at all.
    page.keyboard.press("ArrowLeft")
    wait_frame(page, 0)
    expect(page.locator('.panel[data-run="c"]')).to_have_attribute("data-epoch", "0")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    wait_frame(page, 2)
    page.wait_for_timeout(300)
    assert seen[1:] == [], seen
    for run in RUNS:
        want = [lut[spec.activation_value(run, 2, "conv2d", 0, k)].tolist() for k in range(spec.channels)]
        assert grid_pixels(page, run, centres) == want


@LOADERS
def test_panels_out_of_view_load_nothing_until_they_scroll_in(
    watched: Watched, servers: LoaderServers, load_fast: bool
) -> None:
    page = watched.page
    page.set_viewport_size({"width": 1400, "height": 240})  # the top of the first row of panels only
    seen = data_requests(page)
    open_entry(page, servers.url(load_fast), "run=a&run=b&run=c&layer=conv2d&epoch=1")
    wait_frame(page, 1)
    page.wait_for_timeout(300)
    in_view = page.evaluate(
        """() => [...document.querySelectorAll('.panel')].filter((p) => {
            const r = p.getBoundingClientRect();
            return r.bottom > 0 && r.top < innerHeight;
        }).map((p) => p.dataset.run)"""
    )
    assert in_view == ["a", "b"], in_view  # two panels a row
    asked = {item[0] for path in seen if path.startswith("/frame") for item in frame_items(path)}
    assert asked == {"a", "b"} and all(p.startswith("/frame") for p in seen), seen
    panel_c = page.locator('.panel[data-run="c"]')
    expect(panel_c.locator("canvas.grid-canvas")).to_have_count(0)
    before = len(seen)
    panel_c.scroll_into_view_if_needed()
    expect(panel_c.locator("canvas.grid-canvas")).to_be_visible()
    expect(panel_c).to_have_attribute("data-epoch", "1")
    page.wait_for_timeout(300)
    # One frame for c's epoch, then (once drawn) c's neighbouring epochs, prefetched; never /step or /blob.
    assert all(p.startswith("/frame") for p in seen[before:]), seen[before:]
    assert frame_items(seen[before]) == [["c", TAG, 1, [0]]]
    prefetched = sorted(item[2] for path in seen[before + 1 :] for item in frame_items(path))
    assert prefetched == [0, 2, 3], seen[before:]


def test_a_scrub_faster_than_the_server_drops_the_epochs_it_passed(browser: Any) -> None:
    """Two frames on the way at most; a waiting one loses the droppable steps the view moved past (model.js)."""
    from tests.support.browser import module_page

    with module_page(browser, {"model": "model.js"}, "model.js") as page:
        sent = page.evaluate(
            """async () => {
              const sent = [];
              const pending = [];
              window.fetch = (url) => new Promise((resolve) => {
                const q = JSON.parse(new URL(url, location.href).searchParams.get('q'));
                sent.push(q.map((item) => item[2]));
                const header = new TextEncoder().encode(JSON.stringify({items: q.map(([run, tag, step]) => (
                  {status: 200, doc: {run, tag, step, wall_time: 0, record: null, images: []}, images: []}))}));
                const body = new Uint8Array(4 + header.length);
                new DataView(body.buffer).setUint32(0, header.length);
                body.set(header, 4);
                pending.push(() => resolve(new Response(body, {status: 200})));
              });
              const tick = () => new Promise((r) => setTimeout(r, 0));
              let wantedFrom = 0;
              window.model.setStillWanted((run, tag, step) => step >= wantedFrom);
              const results = [];
              for (let step = 0; step < 8; step++) {
                results.push(window.model.loadStep('a', 't', step, [], {droppable: true}).doc.then(
                  (d) => `ok ${d.step}`, (e) => (e.superseded ? `dropped ${step}` : `error ${e.message}`)));
                await tick();
              }
              // A step a filmstrip must have (not droppable) joins step 3's waiting frame and keeps it.
              window.model.loadStep('a', 't', 3);
              const inFlightAtFirst = sent.length;
              wantedFrom = 6;  // the view moved on to epoch 6
              while (pending.length) {
                pending.shift()();
                await tick(); await tick();
              }
              return {inFlightAtFirst, sent, results: await Promise.all(results)};
            }"""
        )
    assert sent["inFlightAtFirst"] == 2
    assert sent["sent"] == [[0], [1], [3], [6], [7]]
    assert sent["results"] == ["ok 0", "ok 1", "dropped 2", "ok 3", "dropped 4", "dropped 5", "ok 6", "ok 7"]
