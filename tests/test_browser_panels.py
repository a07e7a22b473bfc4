"""Browser tests of what the dashboard's panels say (issue 18, "the dashboard reads right"), on a real
TensorBoard with either loader, the real plugin and headless Chromium.

* Grid separators and empty cells are a neutral gray (``colormap.js`` ``SEPARATOR_RGB``), tiles keep their
  colour map value, and a legend names the colours: read on the canvas's decoded pixels, for viridis and
  magma.
* One probe numbering (0-based, ``probeLabel``) in every place the page names a probe.
* A flat Grad-CAM map says it is flat (a hand-written event file whose heatmap is constant).
* The budget line of a panel, from hand-written ``plan`` records: exact text, fetched for the shown epoch
  only, never for a run without plans.
* One relative-activation figure per filter view.
* The epoch readout of a run with one epoch.

``tests/support/label_cases.json`` is checked here against ``records.js`` ``probeLabel`` and ``colormap.js``
(the Python side is ``tests/test_labels.py``).
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("playwright.sync_api")
from playwright.sync_api import Page, expect

from tb_featureviz import metadata
from tb_featureviz.render.colormap import colormap_lut
from tests.support import logdir_factory
from tests.support.browser import Watched, module_page, open_entry, save_screenshot, tile_center
from tests.support.server import LoaderServers

pytestmark = pytest.mark.browser

CASES: dict[str, Any] = json.loads((Path(__file__).parent / "support" / "label_cases.json").read_text(encoding="utf-8"))
SEPARATOR = CASES["separator_rgb"]
LOADERS = pytest.mark.parametrize("load_fast", [False, True], ids=["python", "rust"])

# Hand-written plan records (tb_featureviz.metadata, ``plan``) of exp1, and what the panel says about them.
PLANS: dict[int, dict[str, Any]] = {
    1: {
        "epoch": 1,
        "activations": ["conv2d"],
        "gradcam": "conv2d",
        "grids": {"conv2d": {"channels": None, "scale": 1}},
        "filters": {},
        "extras": ["metrics"],
        "skipped": {
            "conv2d": "needs ~0.72 s, the budget has 0.14 s left",
            "exemplars": "needs ~0.40 s, the budget has 0.14 s left",
        },
        "budget": {"fraction": 0.05, "seconds_per_epoch": None},
        "train_seconds": 32.8,
        "spent_seconds": 1.5,
        "allowed_seconds": 1.64,
        "over_budget": False,
    },
    2: {
        "epoch": 2,
        "activations": ["conv2d"],
        "gradcam": "conv2d",
        "grids": {"conv2d": {"channels": None, "scale": 1}},
        "filters": {"conv2d": {"fixed": 0, "window": [0, 6], "of": 7, "next": [0, 6], "next_epoch": 3}},
        "extras": [],
        "skipped": {
            "activations/conv2d_1": "over budget: the callback has spent 2.10 s of the 1.90 s allowed so far; "
            "drawn again once the run has paid that back",
            "metrics": "needs ~0.85 s, the budget has 0.00 s left",
        },
        "budget": {"fraction": None, "seconds_per_epoch": 2.0},
        "train_seconds": 40.0,
        "spent_seconds": 2.1,
        "allowed_seconds": 1.9,
        "over_budget": True,
    },
}
PLAN_LINES = {
    1: "budget 5%: drew activations (conv2d), Grad-CAM, Grad-CAM checks · skipped filter patterns conv2d: "
    "needs ~0.72 s, 0.14 s left; exemplars: needs ~0.40 s, 0.14 s left",
    2: "budget 2.00 s/epoch (over): drew activations (conv2d), Grad-CAM, filter patterns conv2d · skipped "
    "activations conv2d_1: over budget; Grad-CAM checks: needs ~0.85 s, 0.00 s left",
}
PLAN_DETAILS_2 = [
    "the callback has spent 2.10 s of the 1.90 s allowed so far (training so far: 40.0 s): over budget",
    "skipped activations conv2d_1: over budget: the callback has spent 2.10 s of the 1.90 s allowed so far; "
    "drawn again once the run has paid that back",
    "skipped Grad-CAM checks: needs ~0.85 s, the budget has 0.00 s left",
    "drew activations of conv2d",
    "drew Grad-CAM at conv2d",
    "drew filter patterns of conv2d (filters 0–6 of 7)",
]
CAM_SIZE = 16


# -- the logdir ------------------------------------------------------------------------------------------


def _png(pixels: np.ndarray) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG")
    return buf.getvalue()


def _write_events(directory: str, events: list[tuple[str, list[bytes], int, Any]]) -> None:
    """One new event file in ``directory`` (named after every file there) with these blob summaries."""
    f = logdir_factory._EventFile(directory, logdir_factory.BASE_WALL_TIME)
    for tag, blobs, step, meta in events:
        f.add(logdir_factory._blob_event(tag, blobs, step, logdir_factory.BASE_WALL_TIME + step, meta))
    f.close()


def write_panels_logdir(root: Path) -> logdir_factory.LogdirSpec:
    """exp1: epochs 0-2 of one 7-channel layer (a 4x2 grid with one empty cell; channel 6 dead at epoch 0),
    with hand-written plans at epochs 1 and 2; solo: one epoch, no plans; cam: a hand-written Grad-CAM step
    whose predicted-class map is flat (all zero) and whose true-class map is a ramp."""
    spec = logdir_factory.write_logdir(
        root,
        runs=("exp1", "solo"),
        epochs=1,
        layers=("conv2d",),
        channels=7,
        cols=4,
        tile=6,
        padding=1,
        filter_size=6,
        image_size=CAM_SIZE,
        exemplar_layers=(),
    )
    for _ in range(2):
        logdir_factory.append_epoch(spec, "exp1")
    plan_meta = metadata.create_summary_metadata("plan")
    _write_events(
        spec.run_dir("exp1"),
        [("plan", [metadata.encode_record(PLANS[e])], e, plan_meta) for e in sorted(PLANS)],
    )
    cam_dir = str(root / "cam" / metadata.RUN_SUBDIR)
    ramp = np.tile((np.arange(CAM_SIZE) * 17).astype(np.uint8), (CAM_SIZE, 1))
    record = {
        "probes": [
            {
                "probe": 0,
                "true": 1,
                "predicted": 0,
                "probabilities": [0.6, 0.4],
                "targets": [
                    {"target": "predicted", "class": 0, "score": 0.6, "heatmap": 1, "overlay": None},
                    {"target": "true", "class": 1, "score": 0.4, "heatmap": 2, "overlay": None},
                ],
            }
        ]
    }
    probe_img = np.full((CAM_SIZE, CAM_SIZE, 3), 90, np.uint8)
    _write_events(
        cam_dir,
        [
            (
                "probes",
                [metadata.encode_record({"labels": [1], "class_names": ["cat", "dog"]}), _png(probe_img)],
                0,
                metadata.create_summary_metadata("probes"),
            ),
            (
                "gradcam/conv2d",
                [metadata.encode_record(record), _png(np.zeros((CAM_SIZE, CAM_SIZE), np.uint8)), _png(ramp)],
                0,
                metadata.create_summary_metadata(
                    "gradcam", layer="conv2d", extra={"class_names": ["cat", "dog"], "targets": ["predicted", "true"]}
                ),
            ),
        ],
    )
    return spec


class Servers(LoaderServers):
    """The module's logdir and a lazily started TensorBoard per loader over it, ready once exp1 lists its plans."""

    def __init__(self, root: Path) -> None:
        self.spec = write_panels_logdir(root)
        super().__init__(
            self.spec.root,
            {"exp1": [0, 1, 2], "solo": [0], "cam": [0]},
            ready=lambda index: next(r for r in index["runs"] if r["run"] == "exp1")["plan"] == [1, 2],
        )


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    s = Servers(tmp_path_factory.mktemp("panels_logdir"))
    try:
        yield s
    finally:
        s.stop()


# -- helpers ---------------------------------------------------------------------------------------------


def canvas_pixels(page: Page, selector: str, points: list[tuple[int, int]]) -> list[list[int]]:
    """RGB of each (x, y) of the first canvas matching ``selector``."""
    return page.evaluate(
        """([sel, points]) => {
            const c = document.querySelector(sel);
            const ctx = c.getContext('2d');
            return points.map(([x, y]) => { const d = ctx.getImageData(x, y, 1, 1).data; return [d[0], d[1], d[2]]; });
        }""",
        [selector, points],
    )


def open_filter(page: Page, k: int) -> None:
    """Opens tile ``k`` of exp1's grid with the keyboard (the grid's own keys: arrows, then Enter)."""
    canvas = page.locator('.panel[data-run="exp1"] canvas.grid-canvas')
    canvas.focus()
    for _ in range(k):
        page.keyboard.press("ArrowRight")
    page.keyboard.press("Enter")


# -- the shared table in the browser ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def modules_page(browser: Any) -> Iterator[Any]:
    """A page with ``window.records`` and ``window.colormap``: the frontend modules, served from
    ``tb_featureviz/frontend/`` through Playwright's routing (no server)."""
    with module_page(browser, {"records": "records.js", "colormap": "colormap.js"}) as page:
        yield page


def test_probe_label_cases_in_the_browser(modules_page: Any) -> None:
    got = modules_page.evaluate(
        "(cases) => cases.map((c) => window.records.probeLabel(c.index, c.name))", CASES["probe_labels"]
    )
    assert got == [c["label"] for c in CASES["probe_labels"]]


def test_colormap_cases_in_the_browser(modules_page: Any) -> None:
    js = modules_page.evaluate(
        """(maps) => ({
            names: window.colormap.COLORMAPS,
            separator: [...window.colormap.SEPARATOR_RGB],
            maps: Object.fromEntries(maps.map((m) => {
                const t = window.colormap.lut(m);
                const at = (v) => [t[v * 3], t[v * 3 + 1], t[v * 3 + 2]];
                const rgb = Object.fromEntries([0, 64, 128, 192, 255].map((v) => [String(v), at(v)]));
                return [m, {lowest: window.colormap.lowestColourName(m), rgb}];
            })),
            whole: Object.fromEntries(maps.map((m) => [m, Array.from(window.colormap.lut(m))])),
        })""",
        sorted(CASES["colormaps"]),
    )
    assert sorted(js["names"]) == sorted(CASES["colormaps"])
    assert js["separator"] == SEPARATOR
    assert js["maps"] == CASES["colormaps"]
    for name, table in js["whole"].items():  # every level, not only the table's: the same LUT as the report's
        assert table == colormap_lut(name).reshape(-1).tolist(), name


# -- the page --------------------------------------------------------------------------------------------


@LOADERS
@pytest.mark.parametrize("cmap", ["viridis", "magma"])
def test_separators_are_neutral_and_the_legend_names_the_colours(
    watched: Watched, servers: Servers, load_fast: bool, cmap: str
) -> None:
    spec = servers.spec
    page = open_entry(watched.page, servers.url(load_fast), f"run=exp1&layer=conv2d&epoch=0&cmap={cmap}")
    canvas = page.locator('.panel[data-run="exp1"] canvas.grid-canvas')
    expect(canvas).to_be_visible()
    lay = spec.layout
    assert (lay.rows, lay.cols, lay.count, lay.tile_width, lay.padding) == (2, 4, 7, 6, 1)
    tw, th = lay.tile_width, lay.tile_height
    empty_x, empty_y = lay.tile_origin(3)[0] + tw // 2, lay.tile_origin(3)[1] + th + lay.padding + th // 2
    separators = [(tw, 0), (tw, th - 1), (0, th), (tw, th), (2 * tw + 1, 3), (lay.width - 1, th), (empty_x, empty_y)]
    grid = '.panel[data-run="exp1"] canvas.grid-canvas'
    assert canvas_pixels(page, grid, separators) == [SEPARATOR] * len(separators)
    lut = colormap_lut(cmap)
    centres = [tile_center(spec, k) for k in range(spec.channels)]
    expected = [lut[spec.activation_value("exp1", 0, "conv2d", 0, k)].tolist() for k in range(spec.channels)]
    assert canvas_pixels(page, grid, centres) == expected
    # Channel 6 is dead at epoch 0: drawn in the lowest colour, with a dashed outline over its tile.
    assert expected[6] == CASES["colormaps"][cmap]["rgb"]["0"]
    marks = page.locator('.panel[data-run="exp1"] .dead-mark')
    expect(marks).to_have_count(1)
    expect(marks).to_have_attribute("data-tile", "6")
    lowest = CASES["colormaps"][cmap]["lowest"]
    entries = page.locator('.panel[data-run="exp1"] .grid-legend .legend-entry')
    expect(entries).to_have_text(
        [
            f"{lowest}: no variation (the channel is constant for this probe image)",
            "dashed outline: dead, zero for every probe image (1 shown)",
            "light gray: separators and empty cells (no data)",
        ]
    )
    swatches = entries.locator(".legend-swatch")
    r, g, b = CASES["colormaps"][cmap]["rgb"]["0"]
    expect(swatches.nth(0)).to_have_css("background-color", f"rgb({r}, {g}, {b})")
    expect(swatches.nth(2)).to_have_css("background-color", "rgb({}, {}, {})".format(*SEPARATOR))
    # Epoch 1 has no dead channel: no mark, no dead entry.
    page.locator("#epoch-slider").focus()
    page.keyboard.press("ArrowRight")
    expect(page.locator('.panel[data-run="exp1"]')).to_have_attribute("data-epoch", "1")
    expect(marks).to_have_count(0)
    expect(entries).to_have_count(2)
    if not load_fast and cmap == "viridis":
        save_screenshot(page, "panels-separators.png")


@LOADERS
def test_probes_are_numbered_from_zero_everywhere(watched: Watched, servers: Servers, load_fast: bool) -> None:
    spec = servers.spec
    page = open_entry(watched.page, servers.url(load_fast), "run=exp1&layer=conv2d&epoch=1&probe=1")
    names = spec.class_names
    options = [f"probe {p} ({names[spec.label(p)]})" for p in range(spec.probes)]
    expect(page.locator("#probe-select option")).to_have_text(options)
    caption = page.locator('.panel[data-run="exp1"] .grid-figure figcaption')
    expect(caption).to_have_text("7 channels · 27×13 px · probe 1")
    page.locator('.panel[data-run="exp1"] canvas.grid-canvas').click(position={"x": 3, "y": 3})
    expect(page.locator(".drill-info")).to_contain_text("probe 1")
    page.locator('button.seg[data-kind="gradcam"]').click()
    expect(page.locator('.panel[data-run="exp1"] .panel-sub')).to_have_text("conv2d · epoch 1 · probe 1")
    aria = page.locator("canvas.cam-canvas").first.get_attribute("aria-label") or ""
    assert aria.endswith(" over probe 1"), aria
    text = page.locator(".featureviz").inner_text()
    assert "#" not in text, text


@LOADERS
def test_a_flat_gradcam_map_says_it_is_flat(watched: Watched, servers: Servers, load_fast: bool) -> None:
    page = open_entry(watched.page, servers.url(load_fast), "run=cam&kind=gradcam&layer=conv2d")
    figures = page.locator('.panel[data-run="cam"] .cam-figure')
    expect(figures).to_have_count(2)
    expect(figures.nth(0).locator(".cam-flat")).to_have_text(
        "Flat map: at this epoch no position in conv2d raises the score of cat (the gradient-weighted sum of its "
        "channels is zero or negative everywhere), so Grad-CAM points at nothing."
    )
    expect(figures.nth(0).locator("canvas.cam-canvas")).to_have_attribute("data-flat", "1")
    expect(figures.nth(1).locator(".cam-class")).to_have_text("dog")
    expect(figures.nth(1).locator(".cam-flat")).to_have_count(0)  # the ramp varies
    # A map of one value that is not zero says so too (the factory's heatmaps are constant squares).
    spec = servers.spec
    page.goto("about:blank")
    page = open_entry(page, servers.url(load_fast), "run=exp1&kind=gradcam&layer=conv2d&epoch=1&probe=0")
    value = spec.heat_value(1, 0, 0)
    assert value > 0
    cls = spec.class_names[spec.predicted(1, 0)]
    expect(page.locator('.panel[data-run="exp1"] .cam-figure').nth(0).locator(".cam-flat")).to_have_text(
        f"Flat map: at this epoch every position in conv2d weighs the same for {cls}, so Grad-CAM points at nothing."
    )


@LOADERS
def test_the_budget_line_says_what_the_epoch_drew_and_skipped(
    watched: Watched, servers: Servers, load_fast: bool
) -> None:
    page = watched.page
    plan_requests: list[tuple[str, str]] = []  # (run, step) of the plan records asked for (in /frame requests)

    def on_request(r: Any) -> None:
        if "/frame?q=" in r.url:
            items = json.loads(urllib.parse.parse_qs(urllib.parse.urlsplit(r.url).query)["q"][0])
            plan_requests.extend((run, str(step)) for run, tag, step, *_ in items if tag == "plan")

    page.on("request", on_request)
    open_entry(page, servers.url(load_fast), "run=exp1&run=solo&layer=conv2d&epoch=1")
    budget = page.locator('.panel[data-run="exp1"] .panel-budget')
    expect(budget.locator(".budget-text")).to_have_text(PLAN_LINES[1])
    expect(budget.locator(".budget-epoch")).to_have_text("epoch 1 · ")
    expect(budget.locator(".budget-details")).not_to_be_visible()  # the full list waits for a click
    # solo wrote no plan: no line and no request for one.
    expect(page.locator('.panel[data-run="solo"] .panel-budget')).to_be_hidden()
    page.locator("#epoch-slider").focus()
    page.keyboard.press("ArrowRight")
    expect(budget.locator(".budget-text")).to_have_text(PLAN_LINES[2])
    budget.locator("summary").click()
    expect(budget.locator(".budget-details li")).to_have_text(PLAN_DETAILS_2)
    # Epoch 0 has no plan record: the line goes, and nothing is asked for.
    page.keyboard.press("Home")
    expect(page.locator("#epoch-label")).to_have_text("Epoch 0")
    expect(budget).to_be_hidden()
    page.wait_for_timeout(300)
    assert sorted(set(plan_requests)) == [("exp1", "1"), ("exp1", "2")], plan_requests


@LOADERS
def test_the_filter_view_shows_one_relative_activation_figure(
    watched: Watched, servers: Servers, load_fast: bool
) -> None:
    spec = servers.spec
    page = open_entry(watched.page, servers.url(load_fast), "run=exp1&kind=filters&layer=conv2d&epoch=1")
    note = page.locator('.panel[data-run="exp1"] .relative-note')
    median = spec.filter_relative_median(1)
    assert median is not None
    expect(note).to_have_text(f"patterns {ratio_text(median)}× the probes' mean activation (median)")
    assert "median over the filters drawn" in (note.get_attribute("title") or "")
    # The filter grid's separators are neutral too.
    flay = spec.filter_layout
    sep = [(flay.tile_width, 0), (0, flay.tile_height)]
    assert canvas_pixels(page, '.panel[data-run="exp1"] canvas.grid-canvas', sep) == [SEPARATOR] * 2
    open_filter(page, 2)
    expect(page.locator(".drilldown h3")).to_have_text("Filter 2 of conv2d")
    own = spec.filter_relative(1, 2)
    assert own is not None
    expect(note).to_have_text(f"filter 2: pattern {ratio_text(own)}× the probes' mean activation")
    expect(page.locator(".relative-note")).to_have_count(1)
    info = page.locator(".drill-info")
    expect(info).to_contain_text("mean activation")
    assert "probes' mean activation" not in info.inner_text()  # the figure is in one place only
    # Epoch 0: filter 6's probes are silent.
    page.locator("button.close").click()
    page.locator("#epoch-slider").focus()
    page.keyboard.press("Home")
    expect(page.locator("#epoch-label")).to_have_text("Epoch 0")
    open_filter(page, 6)
    expect(page.locator(".drilldown h3")).to_have_text("Filter 6 of conv2d")
    expect(note).to_have_text("filter 6: the probes leave it silent, so it has no ratio")


@LOADERS
def test_the_epoch_readout_of_one_epoch_and_of_several(watched: Watched, servers: Servers, load_fast: bool) -> None:
    page = open_entry(watched.page, servers.url(load_fast), "run=solo&layer=conv2d")
    expect(page.locator(".epoch-readout")).to_have_text("Epoch 0 (the only one written)")
    page.goto("about:blank")
    open_entry(page, servers.url(load_fast), "run=exp1&layer=conv2d")
    expect(page.locator(".epoch-readout")).to_have_text("Epoch 2 of 0–2")


def ratio_text(v: float) -> str:
    """records.js ``ratioText``: one decimal from 1 to 10, none from 10, two below 1."""
    return f"{v:.{0 if v >= 10 else 1 if v >= 1 else 2}f}"
