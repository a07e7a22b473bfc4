"""``frontend/layout.js`` in real headless Chromium against Python's ``tb_featureviz.metadata.GridLayout``.

The module is served from ``tb_featureviz/frontend/`` through Playwright's request routing under a made-up origin (ES
modules need one; no server and no TensorBoard), imported with ``import()``, and asked for every tile's
origin and size, the image's width and height, and the tile under every pixel of the image and a border
around it. Python's answer for a pixel is worked out from ``tile_origin`` alone, so the two
implementations are checked against one definition: the pixel lies inside exactly one tile's rectangle.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("playwright.sync_api")

from tb_featureviz.metadata import GridLayout
from tests.support.browser import module_page

pytestmark = pytest.mark.browser


LAYOUTS = {
    "padded": GridLayout(rows=2, cols=4, tile_height=4, tile_width=4, padding=1, count=8),
    "padding 0": GridLayout(rows=3, cols=3, tile_height=5, tile_width=5, padding=0, count=9),
    "partial last row": GridLayout(rows=3, cols=4, tile_height=6, tile_width=6, padding=1, count=10),
    "padding 0, partial last row": GridLayout(rows=2, cols=5, tile_height=3, tile_width=3, padding=0, count=7),
    "non-square tiles, wide padding": GridLayout(rows=3, cols=2, tile_height=7, tile_width=3, padding=2, count=5),
    "one tile": GridLayout(rows=1, cols=1, tile_height=2, tile_width=9, padding=3, count=1),
}

BORDER = 3
"""Pixels checked outside the image on every side."""


def python_tile_at(layout: GridLayout, x: int, y: int) -> int | None:
    """The tile whose rectangle holds pixel ``(x, y)``, from ``GridLayout.tile_origin`` alone."""
    hits = []
    for k in range(layout.count):
        x0, y0 = layout.tile_origin(k)
        if x0 <= x < x0 + layout.tile_width and y0 <= y < y0 + layout.tile_height:
            hits.append(k)
    assert len(hits) <= 1, f"tiles overlap at {(x, y)}: {hits}"
    return hits[0] if hits else None


@pytest.fixture(scope="module")
def layout_page(browser: Any) -> Iterator[Any]:
    """A page whose ``window.layout`` is the module ``frontend/layout.js``."""
    with module_page(browser, {"layout": "layout.js"}, "layout.js") as page:
        yield page


def js_geometry(page: Any, layout: GridLayout) -> dict[str, Any]:
    """Everything layout.js says about ``layout``: size, every tile's origin and rect, tile per pixel."""
    return page.evaluate(
        """([layout, border]) => {
            const L = window.layout;
            const width = L.gridWidth(layout);
            const height = L.gridHeight(layout);
            const origins = [];
            const rects = [];
            for (let k = 0; k < layout.count; k++) {
                origins.push(L.tileOrigin(layout, k));
                rects.push(L.tileRect(layout, k));
            }
            const at = [];
            const atHalf = [];
            for (let y = -border; y < height + border; y++) {
                const row = [];
                const rowHalf = [];
                for (let x = -border; x < width + border; x++) {
                    row.push(L.tileAt(layout, x, y));
                    rowHalf.push(L.tileAt(layout, x + 0.5, y + 0.5));
                }
                at.push(row);
                atHalf.push(rowHalf);
            }
            const refused = [-1, layout.count, 0.5, NaN].map((k) => {
                try {
                    L.tileOrigin(layout, k);
                    return null;
                } catch (e) {
                    return e.name;
                }
            });
            return {width, height, origins, rects, at, atHalf, refused};
        }""",
        [layout.to_json(), BORDER],
    )


@pytest.mark.parametrize("name", list(LAYOUTS))
def test_layout_js_matches_grid_layout(layout_page: Any, name: str) -> None:
    layout = LAYOUTS[name]
    got = js_geometry(layout_page, layout)

    assert (got["width"], got["height"]) == (layout.width, layout.height)
    assert [tuple(o) for o in got["origins"]] == [layout.tile_origin(k) for k in range(layout.count)]
    assert [tuple(r) for r in got["rects"]] == [
        (*layout.tile_origin(k), layout.tile_width, layout.tile_height) for k in range(layout.count)
    ]

    expected = [
        [python_tile_at(layout, x, y) for x in range(-BORDER, layout.width + BORDER)]
        for y in range(-BORDER, layout.height + BORDER)
    ]
    assert got["at"] == expected
    # A click lands between pixel centres: a fractional coordinate belongs to the pixel it falls in.
    assert got["atHalf"] == expected
    # Python raises ValueError for a tile that does not exist; layout.js throws RangeError.
    assert got["refused"] == ["RangeError"] * 4
    with pytest.raises(ValueError):
        layout.tile_origin(layout.count)


def test_partial_last_row_and_padding_are_not_tiles(layout_page: Any) -> None:
    """Spot checks a reader can follow: the empty end of a partial row and the padding between tiles."""
    layout = LAYOUTS["partial last row"]  # 3 rows of 4 tiles of 6 px, padding 1, 10 tiles
    at = layout_page.evaluate(
        "([l, pts]) => pts.map(([x, y]) => window.layout.tileAt(l, x, y))",
        [layout.to_json(), [[0, 0], [6, 0], [7, 0], [27, 20], [14, 14], [20, 14], [21, 14], [27, 14], [0, 14]]],
    )
    # (6, 0) is padding; (27, y) is past the right edge; tile 9 is the last one (row 2, col 1 at x 7..12), so
    # (14, 14) and (21, 14), where tiles 10 and 11 would be, are no tile.
    assert at == [0, None, 1, None, None, None, None, None, 8]
    assert layout_page.evaluate("(l) => window.layout.tileAt(l, 7, 14)", layout.to_json()) == 9
    assert layout_page.evaluate("(l) => window.layout.tileAt(l, 12.9, 19.9)", layout.to_json()) == 9


def test_crop_box_js_matches_metadata_crop_box(layout_page: Any) -> None:
    """``layout.js`` ``cropBox`` against ``metadata.crop_box`` (the exemplar crops) on every centre of small
    images, inside and outside them, crop sides from 1 to larger than the image; bad sizes throw."""
    from tb_featureviz.metadata import crop_box

    cases = [
        (y, x, size, h, w)
        for h, w in ((8, 8), (5, 9), (1, 4))
        for size in (1, 2, 3, 4, 5, 10)
        for y in range(-2, h + 2)
        for x in range(-2, w + 2)
    ]
    got = layout_page.evaluate("(cs) => cs.map(([y, x, s, h, w]) => window.layout.cropBox(y, x, s, h, w))", cases)
    assert [tuple(b) for b in got] == [crop_box(y, x, size, (h, w)) for y, x, size, h, w in cases]
    refused = layout_page.evaluate(
        """() => [[0, 8, 8], [4, 0, 8], [4, 8, 2.5]].map(([s, h, w]) => {
            try { window.layout.cropBox(1, 1, s, h, w); return null; } catch (e) { return e.name; } })"""
    )
    assert refused == ["RangeError"] * 3
