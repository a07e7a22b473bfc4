"""Browser tests of issue 11 in the dashboard: the Grad-CAM measures' curves, the filter patterns' activation
relative to the probes', and a channel's exemplars in its enlarged view.

The real stack over the session ``tb_server`` (both loaders, ``tests.support.server.TB_SERVER_LOGDIR``): the
factory writes three measures (``logdir_factory.CHECK_TAGS``), ``relative``/``relative_median`` in every
filter record, and a ``sample`` of six images whose pixel values encode their position, with
``exemplars/<layer>`` records that place each exemplar; the tests read the crops back from the canvases.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import numpy as np
import pytest

pytest.importorskip("playwright.sync_api")
from playwright.sync_api import expect

from tb_featureviz.metadata import crop_box
from tests.support import logdir_factory
from tests.support.browser import Watched, open_entry, open_tab, plugin_frame

pytestmark = pytest.mark.browser

GROUP_OF = {"faithfulness": "check:faithfulness", "sanity": "check:sanity"}


def ratio_text(v: float) -> str:
    """``records.js`` ``ratioText``: one decimal from 1 to 10, none from 10, two below 1 (ties away from 0, as
    JavaScript's ``toFixed`` rounds an exact binary tie)."""
    places = 0 if v >= 10 else 1 if v >= 1 else 2
    return str(Decimal(v).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


def sig3(v: float) -> str:
    """``exemplars.js`` ``valueText``: 3 significant digits, trailing zeros dropped, ties away from 0."""
    q = Decimal(v).quantize(Decimal(1).scaleb(Decimal(abs(v)).adjusted() - 2), rounding=ROUND_HALF_UP)
    return f"{float(q):g}"


def canvas_pixels(target: Any, selector: str) -> list[Any]:
    """``[width, height, [r, g, b, ...]]`` of every canvas matching ``selector``, in document order."""
    return target.evaluate(
        """(sel) => [...document.querySelectorAll(sel)].map((c) => {
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            const rgb = [];
            for (let i = 0; i < d.length; i += 4) rgb.push(d[i], d[i + 1], d[i + 2]);
            return [c.width, c.height, rgb];
        })""",
        selector,
    )


def test_check_curves_one_line_per_run_and_measure(watched: Watched, tb_server: Any) -> None:
    """TensorBoard's page: a faithfulness and a sanity chart beside loss and accuracy, one point per epoch for
    each run and measure, in the run's colour, with a key that says how to read each measure; the epoch
    cursor and click-to-pick work as on the loss chart."""
    spec = tb_server.spec
    page = watched.page
    frame = open_tab(page, tb_server.url, "p.featureviz.run=exp1&p.featureviz.run=group%2Fexp2")
    last = spec.epochs - 1
    expect(frame.locator("#epoch-label")).to_have_text(f"Epoch {last}")
    expect(frame.locator(".panel")).to_have_count(2)
    charts = frame.locator("figure.chart")
    captions = [c.strip() for c in frame.locator("figure.chart > figcaption").all_inner_texts()]
    assert captions == ["loss", "accuracy", "Grad-CAM faithfulness", "Grad-CAM sanity"]
    for run in spec.runs:
        for tag in logdir_factory.CHECK_TAGS:
            chart = frame.locator(f'figure.chart[data-chart="{GROUP_OF[tag.split("/")[0]]}"]')
            points = chart.locator(f'g.series[data-run="{run}"][data-tag="{tag}"] circle.pt')
            expect(points).to_have_count(spec.epochs)
        # The run's colour: the same as its loss curve.
        loss_stroke = charts.first.locator(f'g.series[data-run="{run}"] polyline').first.evaluate(
            "el => getComputedStyle(el).stroke"
        )
        check_strokes = frame.locator(f'figure.chart[data-chart^="check:"] g.series[data-run="{run}"] polyline')
        assert set(check_strokes.evaluate_all("els => els.map((el) => getComputedStyle(el).stroke)")) == {loss_stroke}
    # The points sit where the values are: the y of each deletion point orders like the factory's values.
    f = plugin_frame(page)
    ys = f.evaluate(
        "(s) => [...document.querySelectorAll(s)].map((c) => [Number(c.dataset.step), Number(c.getAttribute('cy'))])",
        'figure.chart[data-chart="check:faithfulness"] '
        'g.series[data-run="exp1"][data-tag="faithfulness/deletion_auc"] circle.pt',
    )
    values = [spec.scalar("exp1", "faithfulness/deletion_auc", e) for e in range(spec.epochs)]
    assert [s for s, _ in ys] == list(range(spec.epochs))
    assert np.argsort([-y for _, y in ys]).tolist() == np.argsort(values).tolist()  # SVG y grows downwards
    # The y axes cover the measures' ranges: [0, 1] and [-1, 1].
    for chart_id, lo, hi in (("check:faithfulness", "0", "1"), ("check:sanity", "-1", "1")):
        ticks = frame.locator(f'figure.chart[data-chart="{chart_id}"] text.tick').evaluate_all(
            "els => els.map((e) => e.textContent)"
        )
        assert lo in ticks and hi in ticks, (chart_id, ticks)
    # The key names the measures and says how to read them.
    key = frame.locator('figure.chart[data-chart="check:faithfulness"] .check-item')
    expect(key).to_have_text(["deletion AUC", "insertion AUC"])
    assert "lower is better" in (key.first.get_attribute("title") or "")
    sanity_key = frame.locator('figure.chart[data-chart="check:sanity"] .check-item')
    expect(sanity_key).to_have_text(["randomisation"])
    assert "near 1 is BAD" in (sanity_key.first.get_attribute("title") or "")
    # The cursor is on the newest epoch; clicking a point picks its epoch. (Both runs have the same values
    # here: group/exp2's point, drawn last, is the one on top.)
    sanity = frame.locator('figure.chart[data-chart="check:sanity"]')
    point = sanity.locator('g.series[data-run="group/exp2"] circle.pt[data-step="4"]')
    cursor = sanity.locator("line.cursor")
    last_x = sanity.locator(f'g.series[data-run="exp1"] circle.pt[data-step="{last}"]').get_attribute("cx")
    assert abs(float(cursor.get_attribute("x1") or "nan") - float(last_x or "nan")) < 0.01
    point.hover()
    names = ["exp1 · randomisation", "group/exp2 · randomisation"]
    expect(sanity.locator(".chart-tooltip .tt-name")).to_have_text(names)
    point.click()
    expect(frame.locator("#epoch-label")).to_have_text("Epoch 4")
    # The panels sit below the charts, out of view: they load the epoch once scrolled in (issue 19).
    frame.locator('.panel[data-run="exp1"]').scroll_into_view_if_needed()
    expect(frame.locator('.panel[data-run="exp1"]')).to_have_attribute("data-epoch", "4")
    assert abs(float(cursor.get_attribute("x1") or "nan") - float(point.get_attribute("cx") or "nan")) < 0.01
    loss_cursor = charts.first.locator("line.cursor").get_attribute("x1")
    loss_point = charts.first.locator('g.series[data-run="exp1"] circle.pt[data-step="4"]').first
    assert abs(float(loss_cursor or "nan") - float(loss_point.get_attribute("cx") or "nan")) < 0.01


def test_filter_grid_and_drilldown_show_relative_activation(watched: Watched, tb_server: Any) -> None:
    spec = tb_server.spec
    page = open_entry(watched.page, tb_server.url, "run=exp1&kind=filters&layer=conv2d_1&epoch=7")
    note = page.locator('.panel[data-run="exp1"] .relative-note')
    median = spec.filter_relative_median(7)
    expect(note).to_have_text(f"patterns {ratio_text(median)}× the probes' mean activation (median)")
    canvas = page.locator('.panel[data-run="exp1"] canvas.grid-canvas')
    canvas.focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Enter")
    expect(page.locator(".drilldown h3")).to_have_text("Filter 2 of conv2d_1")
    # One figure per view: the open filter's own ratio takes the median's place.
    own = "the probes' mean activation"
    expect(note).to_have_text(f"filter 2: pattern {ratio_text(spec.filter_relative(7, 2) or 0)}× {own}")
    # Epoch 0: the last filter's probes are silent (null ratio); the median leaves it out.
    page.locator("#epoch-slider").focus()
    page.keyboard.press("Home")
    expect(page.locator("#epoch-label")).to_have_text("Epoch 0")
    expect(note).to_have_text(f"filter 2: pattern {ratio_text(spec.filter_relative(0, 2) or 0)}× {own}")
    page.locator("button.close").click()
    median = spec.filter_relative_median(0)
    expect(note).to_have_text(f"patterns {ratio_text(median)}× the probes' mean activation (median)")
    canvas.focus()
    page.keyboard.press("End")  # the grid owns its keys: End is not the epoch's
    for _ in range(spec.channels - 1):
        page.keyboard.press("ArrowRight")
    page.keyboard.press("Enter")
    expect(page.locator(".drilldown h3")).to_have_text(f"Filter {spec.channels - 1} of conv2d_1")
    expect(note).to_have_text(f"filter {spec.channels - 1}: the probes leave it silent, so it has no ratio")


@pytest.mark.parametrize(
    ("kind", "layer", "channel", "epoch"), [("activations", "max_pooling2d", 5, 6), ("filters", "conv2d", 1, 11)]
)
def test_drilldown_shows_exemplar_crops_pixel_exact(
    watched: Watched, tb_server: Any, kind: str, layer: str, channel: int, epoch: int
) -> None:
    """Clicking a tile opens the channel's enlarged view with its k exemplars: each the crop of its sample
    image around the response (moved inside the image), pixel for pixel, with the response as caption."""
    spec = tb_server.spec
    run = "group/exp2"
    hash_params = f"run={run}&layer={layer}&epoch={epoch}" + ("&kind=filters" if kind == "filters" else "")
    page = open_entry(watched.page, tb_server.url, hash_params)
    canvas = page.locator(f'.panel[data-run="{run}"] canvas.grid-canvas')
    expect(canvas).to_be_visible()
    expect(page.locator(".panel-sub")).to_contain_text(f"epoch {epoch}")
    layout = spec.layout if kind == "activations" else spec.filter_layout
    x, y = layout.tile_origin(channel)
    box = canvas.bounding_box()
    assert box
    scale = box["width"] / layout.width
    canvas.click(position={"x": (x + layout.tile_width / 2) * scale, "y": (y + layout.tile_height / 2) * scale})
    noun = "Channel" if kind == "activations" else "Filter"
    expect(page.locator(".drilldown h3")).to_have_text(f"{noun} {channel} of {layer}")
    crops = page.locator(".drilldown .exemplars canvas.exemplar-canvas")
    expect(crops).to_have_count(spec.exemplar_k)
    expect(page.locator(".drilldown .exemplars-head")).to_have_text("Natural images it likes best")
    values = page.locator(".drilldown .exemplar-value").all_inner_texts()
    assert values == [sig3(spec.exemplar(run, epoch, layer, channel, j)[3]) for j in range(spec.exemplar_k)]
    got = canvas_pixels(page, ".drilldown canvas.exemplar-canvas")
    moved = 0
    for rank, (w, h, rgb) in enumerate(got):
        want = spec.exemplar_crop(run, epoch, layer, channel, rank)
        assert (h, w) == want.shape[:2] == (spec.exemplar_size, spec.exemplar_size)
        np.testing.assert_array_equal(np.array(rgb, dtype=np.uint8).reshape(h, w, 3), want)
        image, cy, cx, _ = spec.exemplar(run, epoch, layer, channel, rank)
        x0, y0, _, _ = crop_box(cy, cx, spec.exemplar_size, (spec.image_size, spec.image_size))
        moved += (x0, y0) != (cx - spec.exemplar_size // 2, cy - spec.exemplar_size // 2)
        assert page.locator(".drilldown figure.exemplar").nth(rank).get_attribute("data-image") == str(image)
    assert moved >= 1  # a crop at the border was moved inside the image, and still matches
    # The exemplars stand beside the enlarged tile, above the filmstrip.
    big = page.locator(".drilldown .drill-big").bounding_box()
    ex = page.locator(".drilldown .drill-exemplars").bounding_box()
    strip = page.locator(".drilldown .filmstrip").bounding_box()
    assert big and ex and strip and ex["x"] >= big["x"] + big["width"] - 1 and ex["y"] < strip["y"]
    # Another epoch: its own exemplars.
    page.locator(".drilldown .frame").first.click()
    expect(page.locator("#epoch-label")).to_have_text("Epoch 0")
    page.wait_for_function(
        "(v) => document.querySelector('.drilldown .exemplar-value')?.textContent === v",
        arg=sig3(spec.exemplar(run, 0, layer, channel, 0)[3]),
    )
    w, h, rgb = canvas_pixels(page, ".drilldown canvas.exemplar-canvas")[0]
    np.testing.assert_array_equal(
        np.array(rgb, dtype=np.uint8).reshape(h, w, 3), spec.exemplar_crop(run, 0, layer, channel, 0)
    )
