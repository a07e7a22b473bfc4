"""Browser tests of a 20-run comparison (issue 19, "a 20-run comparison is readable").

* The pure parts, imported from ``tb_featureviz/frontend/facts.js`` and ``state.js`` in headless Chromium
  (``tests.support.browser.module_page``): 20 selected runs get 20 distinct (colour, dash) pairs, slots stay put
  while a run stays selected, the run filter (substring or ``/regex/``, an invalid one filtering nothing), the
  ``run_info`` keys the run list can be grouped by and the groups, and the URL keys of the new view state.
* The real stack with either loader: a logdir of 20 small runs x 2 epochs whose ``run_info`` differs in one
  hyper-parameter (``learning_rate``), a real TensorBoard, the plugin's frontend in TensorBoard's own page at
  1400x900: the loss chart draws 20 train lines with 20 distinct computed stroke + dasharray pairs (the run's
  colour in the check charts too), the compact layout puts the 20 panels inside the plugin iframe's viewport,
  pointing at a line or a run list entry draws that run bold and fades the others, a regex filter leaves the
  right runs listed (an invalid one says so), and grouping by ``learning_rate`` shows one header per value.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("playwright.sync_api")
from playwright.sync_api import Frame, expect

from tests.support import logdir_factory
from tests.support.browser import Watched, module_page, open_tab, plugin_frame, save_screenshot
from tests.support.server import LoaderServers

pytestmark = pytest.mark.browser

LOADERS = pytest.mark.parametrize("load_fast", [False, True], ids=["python", "rust"])
RUNS = [f"lr{lr}_seed{k}" for lr in ("1e-3", "1e-4") for k in range(10)]
LEARNING_RATE = {run: 0.001 if run.startswith("lr1e-3") else 0.0001 for run in RUNS}
# facts.js PALETTE and DASHES, as computed styles: slot k is colour k % 10, dash k // 10.
PALETTE_RGB = [
    "rgb(31, 119, 180)",
    "rgb(255, 127, 14)",
    "rgb(44, 160, 44)",
    "rgb(214, 39, 40)",
    "rgb(148, 103, 189)",
    "rgb(140, 86, 75)",
    "rgb(227, 119, 194)",
    "rgb(127, 127, 127)",
    "rgb(188, 189, 34)",
    "rgb(23, 190, 207)",
]
DASH_CSS = ["none", "10px, 3px, 2px, 3px", "2px, 3px"]
GROUP_SHADES = [0.0, -0.4, 0.4, 0.65]  # facts.js GROUP_SHADES


def group_rgb(group: int, member: int) -> str:
    """facts.js ``groupSlotStyle(group, member).color`` as a computed style."""
    base = [int(v) for v in PALETTE_RGB[group][4:-1].split(", ")]
    t = GROUP_SHADES[member // 3 % 4]
    target = 0 if t < 0 else 255
    return "rgb({}, {}, {})".format(*(math.floor(v + (target - v) * abs(t) + 0.5) for v in base))


# -- the pure parts, in the browser ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def modules_page(browser: Any) -> Iterator[Any]:
    with module_page(browser, {"facts": "facts.js", "state": "state.js"}) as page:
        yield page


def test_twenty_runs_get_twenty_distinct_colour_and_dash_pairs(modules_page: Any) -> None:
    got = modules_page.evaluate(
        """(runs) => {
            const slots = facts.assignSlots(null, runs);
            const styles = runs.map((r) => facts.slotStyle(slots[r]));
            return {slots: runs.map((r) => slots[r]), pairs: styles.map((s) => [s.color, s.dasharray]),
                    s29: facts.slotStyle(29), s30: facts.slotStyle(30)};
        }""",
        RUNS,
    )
    assert got["slots"] == list(range(20))
    assert len({tuple(p) for p in got["pairs"]}) == 20
    assert got["pairs"][0] == ["#1f77b4", ""]
    assert got["pairs"][12] == ["#2ca02c", "10 3 2 3"]
    assert got["s29"] == {"slot": 29, "color": "#17becf", "dash": "dotted", "dasharray": "2 3"}
    assert got["s30"] == {"slot": 30, "color": "#1f77b4", "dash": "solid", "dasharray": ""}  # round again


def test_a_run_keeps_its_slot_while_selected(modules_page: Any) -> None:
    got = modules_page.evaluate(
        """() => {
            const a = facts.assignSlots(null, ['a', 'b', 'c', 'd']);
            const b = facts.assignSlots(a, ['a', 'c', 'd']);          // b deselected: the others keep theirs
            const c = facts.assignSlots(b, ['a', 'c', 'd', 'e', 'f']);  // e takes b's free slot, f the next
            return [a, b, c, facts.UNSELECTED_COLOR, facts.slotStyle(c.e).color];
        }"""
    )
    assert got == [
        {"a": 0, "b": 1, "c": 2, "d": 3},
        {"a": 0, "c": 2, "d": 3},
        {"a": 0, "c": 2, "d": 3, "e": 1, "f": 4},
        "#c4c9cf",  # a run not selected: the neutral swatch
        "#ff7f0e",
    ]


def test_grouped_runs_share_a_hue_and_differ_in_dash_and_shade(modules_page: Any) -> None:
    got = modules_page.evaluate(
        """(runs) => {
            const groups = [runs.slice(10), runs.slice(0, 10)];
            const slots = facts.groupedSlots(null, groups);
            const styles = runs.map((r) => facts.groupSlotStyle(...slots[r]));
            const again = facts.groupedSlots(slots, [groups[0].slice(1), groups[1]]);  // one deselected
            return {slots: runs.map((r) => slots[r]), pairs: styles.map((s) => [s.color, s.dasharray]),
                    kept: again[runs[0]], tooMany: facts.groupedSlots(null, [runs]),
                    shade: facts.shade('#1f77b4', 0.5)};
        }""",
        RUNS,
    )
    assert got["slots"] == [[1, k] for k in range(10)] + [[0, k] for k in range(10)]
    assert len({tuple(p) for p in got["pairs"]}) == 20
    assert [p[0] for p in got["pairs"][:4]] == ["#ff7f0e", "#ff7f0e", "#ff7f0e", "#994c08"]  # one hue, then darker
    assert [p[1] for p in got["pairs"][:4]] == ["", "10 3 2 3", "2 3", ""]
    assert got["kept"] == [1, 0]
    assert got["tooMany"] is None  # 20 runs in one group: more than 12 styles of one hue, the plain slots
    assert got["shade"] == "#8fbbda"


def test_the_run_filter_takes_text_or_a_regex(modules_page: Any) -> None:
    got = modules_page.evaluate(
        """(runs) => [
            facts.filterRuns(runs, 'SEED1'),
            facts.filterRuns(runs, '/seed[0-2]$/'),
            facts.filterRuns(runs, '/^LR1E-4_seed[89]/i'),
            facts.filterRuns(runs, ''),
        ].map((f) => f.runs).concat([facts.filterRuns(runs, '/seed[/')])""",
        RUNS,
    )
    assert got[0] == ["lr1e-3_seed1", "lr1e-4_seed1"]
    assert got[1] == [r for r in RUNS if r[-1] in "012"]
    assert got[2] == ["lr1e-4_seed8", "lr1e-4_seed9"]
    assert got[3] == RUNS
    invalid = got[4]
    assert invalid["runs"] == RUNS  # an invalid expression filters nothing
    assert invalid["error"].startswith("Invalid regular expression: /seed[/"), invalid


def test_the_run_list_groups_by_a_key_that_differs(modules_page: Any) -> None:
    index = {
        "runs": [
            {"run": run, "run_info": logdir_factory.LogdirSpec.run_info_record(_spec_for_records(), run)}
            for run in RUNS
        ]
        + [{"run": "curves_only", "run_info": None}]
    }
    got = modules_page.evaluate(
        """(index) => [facts.groupKeys(index), facts.groupRuns(index, 'learning_rate'),
                       facts.groupRuns(index, 'learning_rate', ['lr1e-3_seed1', 'lr1e-4_seed2'])]""",
        index,
    )
    # "run" and "model" differ in every run, the optimizer's learning rate and "params" in none.
    assert got[0] == ["learning_rate"]
    assert got[1] == [
        {"value": 0.0001, "label": "learning_rate = 0.0001", "runs": RUNS[10:]},
        {"value": 0.001, "label": "learning_rate = 0.001", "runs": RUNS[:10]},
        {"value": None, "label": "learning_rate: not recorded", "runs": ["curves_only"]},
    ]
    assert [g["runs"] for g in got[2]] == [["lr1e-4_seed2"], ["lr1e-3_seed1"]]


def test_filter_group_and_compact_are_kept_in_the_url(modules_page: Any) -> None:
    got = modules_page.evaluate(
        """() => {
            const s = {...state.defaultState(), runs: ['a'], filter: '/seed[0-2]$/', group: 'learning_rate',
                       compact: false};
            const text = state.toParams(s).toString();
            return [text, state.fromParams(new URLSearchParams(text)), state.toParams(state.defaultState()).toString()];
        }"""
    )
    assert got[0] == "run=a&filter=%2Fseed%5B0-2%5D%24%2F&group=learning_rate&compact=0"
    assert got[1] == {"runs": ["a"], "filter": "/seed[0-2]$/", "group": "learning_rate", "compact": False}
    assert got[2] == ""  # defaults write nothing: no filter, no group, compact automatic


def _spec_for_records() -> logdir_factory.LogdirSpec:
    """A spec whose ``run_info_record`` is the module logdir's (nothing written)."""
    return logdir_factory.LogdirSpec(
        root="",
        runs=tuple(RUNS),
        epochs=2,
        layers=("conv2d",),
        probes=2,
        channels=6,
        tile=4,
        cols=4,
        padding=1,
        filter_size=5,
        image_size=8,
        class_names=("cat", "dog"),
        filter_layers=("conv2d",),
        gradcam_layers=("conv2d",),
        keras_curves=False,
        images_plugin=False,
        hparams={run: {"learning_rate": LEARNING_RATE[run], "batch_size": 32} for run in RUNS},
    )


# -- the real stack ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoaderServers]:
    root = tmp_path_factory.mktemp("many_runs")
    logdir_factory.write_logdir(
        root,
        runs=RUNS,
        epochs=2,
        layers=("conv2d",),
        probes=2,
        keras_curves=False,
        exemplar_layers=(),
        hparams={run: {"learning_rate": LEARNING_RATE[run], "batch_size": 32} for run in RUNS},
    )
    s = LoaderServers(root, {run: [0, 1] for run in RUNS})
    try:
        yield s
    finally:
        s.stop()


def _series_styles(frame: Frame, chart: str, split: str) -> dict[str, list[str]]:
    """Run -> [computed stroke, stroke-dasharray, stroke-opacity] of its line in ``chart`` (``data-chart``)."""
    return frame.evaluate(
        """([chart, split]) => Object.fromEntries([...document.querySelectorAll(
              `figure.chart[data-chart="${chart}"] g.series[data-split="${split}"]`)].map((g) => {
            const cs = getComputedStyle(g.querySelector('polyline.line'));
            return [g.dataset.run, [cs.stroke, cs.strokeDasharray, cs.strokeOpacity]];
        }))""",
        [chart, split],
    )


def _panels_outside_viewport(frame: Frame) -> list[str]:
    return frame.evaluate(
        """() => [...document.querySelectorAll('.panel')].filter((p) => {
            const r = p.getBoundingClientRect();
            return r.left < 0 || r.top < 0 || r.right > innerWidth || r.bottom > innerHeight;
        }).map((p) => p.dataset.run)"""
    )


def _point_on_line(watched: Watched, frame: Frame, run: str) -> tuple[float, float]:
    """A point of the page halfway along ``run``'s train loss line (between its two points)."""
    x, y = frame.evaluate(
        """(run) => {
            const line = document.querySelector(
                `figure.chart[data-chart="loss"] g.series.train[data-run="${run}"] polyline.line`);
            const [a, b] = line.getAttribute('points').split(' ').map((p) => p.split(',').map(Number));
            const svg = line.ownerSVGElement;
            const pt = svg.createSVGPoint();
            pt.x = (a[0] + b[0]) / 2;
            pt.y = (a[1] + b[1]) / 2;
            const q = pt.matrixTransform(svg.getScreenCTM());
            return [q.x, q.y];
        }""",
        run,
    )
    box = watched.page.locator("iframe").bounding_box()
    assert box
    return box["x"] + x, box["y"] + y


@LOADERS
def test_twenty_runs_side_by_side(watched: Watched, servers: LoaderServers, load_fast: bool) -> None:
    """20 selected runs: 20 distinct line styles, 20 panels on one screen, hover highlight."""
    page = watched.page
    tab = open_tab(page, servers.url(load_fast), f"p.featureviz.run={RUNS[0]}")
    expect(tab.locator(".panel")).to_have_count(1)
    tab.locator("button.select-shown").click()
    expect(tab.locator(".panel")).to_have_count(20)
    frame = plugin_frame(page)
    expect(tab.locator('figure.chart[data-chart="loss"] g.series[data-split="train"]')).to_have_count(20)

    # Slot k (selection order: the URL's run, then the list's order) is colour k % 10, dash k // 10.
    train = _series_styles(frame, "loss", "train")
    assert train == {run: [PALETTE_RGB[k % 10], DASH_CSS[k // 10], "1"] for k, run in enumerate(RUNS)}
    assert len({(s[0], s[1]) for s in train.values()}) == 20
    validation = _series_styles(frame, "loss", "validation")
    assert validation[RUNS[1]] == [PALETTE_RGB[1], "5px, 4px", "1"]  # a solid run: its validation dashed
    assert validation[RUNS[11]] == [PALETTE_RGB[1], DASH_CSS[1], "0.55"]  # a dash-dot run: faded
    # The run's colour everywhere: its Grad-CAM check lines, panel border, run list swatch.
    checks = frame.evaluate(
        """(run) => [...document.querySelectorAll(
              `figure.chart[data-chart^="check:"] g.series[data-run="${run}"] polyline.line`)]
            .map((l) => getComputedStyle(l).stroke)""",
        RUNS[13],
    )
    assert checks and set(checks) == {PALETTE_RGB[3]}, checks
    border = tab.locator(f'.panel[data-run="{RUNS[13]}"]').evaluate("el => getComputedStyle(el).borderTopColor")
    swatch = tab.locator(f'.run-item[data-run="{RUNS[13]}"] .swatch').evaluate(
        "el => getComputedStyle(el).backgroundColor"
    )
    assert border == swatch == PALETTE_RGB[3]
    expect(tab.locator(f'.run-item[data-run="{RUNS[13]}"] svg.dash-sample')).to_have_attribute("data-dash", "dashdot")

    # Compact by itself for 20 runs: every panel inside the plugin iframe's viewport; not without it.
    expect(tab.locator(".featureviz")).to_have_class("featureviz compact")
    expect(tab.locator(".panel canvas.grid-canvas")).to_have_count(20)
    assert _panels_outside_viewport(frame) == []
    heights = tab.locator(".panel canvas.grid-canvas").evaluate_all(
        "els => els.map((c) => c.getBoundingClientRect().height)"
    )
    assert min(heights) > 0 and max(heights) <= 120, heights
    if not load_fast:
        save_screenshot(page, "many-runs-compact.png", full_page=False)
    tab.locator("input.compact-check").uncheck()
    expect(tab.locator(".featureviz")).to_have_class("featureviz")
    assert len(_panels_outside_viewport(frame)) > 10
    assert "p.featureviz.compact=0" in page.url
    tab.locator("input.compact-check").check()
    expect(tab.locator(".featureviz")).to_have_class("featureviz compact")

    # Hover: a run list entry, then the line itself, draws the run bold and fades the others.
    loss = tab.locator('figure.chart[data-chart="loss"]')
    tab.locator(f'.run-item[data-run="{RUNS[5]}"] .run-name').hover()
    expect(loss.locator("g.series.highlighted")).to_have_count(2)  # its train and validation lines
    expect(loss.locator(f'g.series.train[data-run="{RUNS[5]}"]')).to_have_css("opacity", "1")
    expect(loss.locator(f'g.series.train[data-run="{RUNS[5]}"] polyline.line')).to_have_css("stroke-width", "3.5px")
    expect(loss.locator(f'g.series.train[data-run="{RUNS[6]}"]')).to_have_css("opacity", "0.15")
    # The lowest train line (nothing drawn over it), pointed at halfway between its points.
    loss.locator("svg.chart-svg").scroll_into_view_if_needed()
    x, y = _point_on_line(watched, frame, RUNS[19])
    page.mouse.move(x, y)
    expect(loss.locator("g.series.highlighted")).to_have_count(2)
    expect(loss.locator(f'g.series.train[data-run="{RUNS[19]}"]')).to_have_class("series train run-dashed highlighted")
    expect(tab.locator(".run-item.hovered")).to_have_attribute("data-run", RUNS[19])
    expect(tab.locator('figure.chart[data-chart="accuracy"] g.series.highlighted')).to_have_count(2)  # every chart
    if not load_fast:
        save_screenshot(page, "many-runs-hover.png", full_page=False)
    page.mouse.move(5, 5)
    expect(loss.locator("g.series.highlighted")).to_have_count(0)
    expect(loss.locator("svg.chart-svg")).not_to_have_class("chart-svg has-highlight")

    # Grouped by learning rate: a hue per group (0.0001 first), the members told apart by dash and shade.
    tab.locator("select.group-select").select_option("learning_rate")
    expect(tab.locator(".run-group-label")).to_have_count(2)
    # Members in selection order: lr1e-3_seed<k> is member k of group 1, lr1e-4_seed<k> member k of group 0.
    want = {run: [group_rgb(0 if k >= 10 else 1, k % 10), DASH_CSS[k % 10 % 3], "1"] for k, run in enumerate(RUNS)}
    expect(loss.locator(f'g.series.train[data-run="{RUNS[13]}"] polyline.line')).to_have_css(
        "stroke", want[RUNS[13]][0]
    )
    train = _series_styles(frame, "loss", "train")
    assert train == want
    assert len({(s[0], s[1]) for s in train.values()}) == 20
    border = tab.locator(f'.panel[data-run="{RUNS[13]}"]').evaluate("el => getComputedStyle(el).borderTopColor")
    swatch = tab.locator(f'.run-item[data-run="{RUNS[13]}"] .swatch').evaluate(
        "el => getComputedStyle(el).backgroundColor"
    )
    assert border == swatch == want[RUNS[13]][0] == group_rgb(0, 3)

    # Compact Grad-CAM panels fit too: both heatmaps side by side, at most 120 px high.
    tab.locator('button.seg[data-kind="gradcam"]').click()
    expect(tab.locator(".panel canvas.cam-canvas")).to_have_count(40)
    assert _panels_outside_viewport(frame) == []
    heights = tab.locator(".panel canvas.cam-canvas").evaluate_all(
        "els => els.map((c) => c.getBoundingClientRect().height)"
    )
    assert min(heights) > 0 and max(heights) <= 120, heights


@LOADERS
def test_filter_and_group_the_run_list(watched: Watched, servers: LoaderServers, load_fast: bool) -> None:
    """A regex filter lists the matching runs (an invalid one says so and filters nothing); grouping by the
    hyper-parameter that differs shows a header per value; both are kept in TensorBoard's URL."""
    page = watched.page
    tab = open_tab(page, servers.url(load_fast), f"p.featureviz.run={RUNS[0]}")
    items = tab.locator(".run-list .run-item")
    expect(items).to_have_count(20)
    box = tab.locator("input.run-filter")
    box.fill("/seed[0-2]$/")
    expect(items).to_have_count(6)
    expect(tab.locator(".run-filter-note")).to_be_hidden()  # the selected run matches
    assert items.evaluate_all("els => els.map((e) => e.dataset.run)") == [r for r in RUNS if r[-1] in "012"]
    assert "p.featureviz.filter=%2Fseed%5B0-2%5D%24%2F" in page.url
    box.fill("/seed[/")
    expect(tab.locator(".run-filter-error")).to_be_visible()
    expect(tab.locator(".run-filter-error")).to_contain_text("Invalid regular expression")
    expect(items).to_have_count(20)
    box.fill("SEED1")
    expect(items).to_have_count(2)
    expect(tab.locator(".run-filter-error")).to_be_hidden()
    expect(tab.locator(".run-filter-note")).to_have_text("1 selected run hidden by the filter")  # {RUNS[0]}

    # Group by the one hyper-parameter that differs (the menu lists only it).
    select = tab.locator("select.group-select")
    expect(select.locator("option")).to_have_text(["nothing", "learning_rate"])
    select.select_option("learning_rate")
    expect(tab.locator(".run-group-label")).to_have_text(["learning_rate = 0.0001", "learning_rate = 0.001"])
    expect(tab.locator(".run-group-count")).to_have_text(["(1)", "(1)"])
    assert items.evaluate_all("els => els.map((e) => e.dataset.run)") == ["lr1e-4_seed1", "lr1e-3_seed1"]
    assert "p.featureviz.group=learning_rate" in page.url
    box.fill("")
    expect(tab.locator(".run-group-count")).to_have_text(["(10)", "(10)"])
    # A group's "select" selects its runs; the filter hides selected runs and says how many.
    tab.locator(".run-group-head", has_text="learning_rate = 0.0001").locator("button").click()
    expect(tab.locator(".panel")).to_have_count(11)
    box.fill("/^lr1e-3/")
    expect(tab.locator(".run-filter-note")).to_have_text("10 selected runs hidden by the filter")
