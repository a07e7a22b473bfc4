"""The summary report as a vector PDF, laid out on A4 pages with matplotlib (no browser).

Blocks flow down the page in order; a figure never splits across pages, and each section after the first
starts a new page. Text stays text (TrueType fonts embedded), charts stay vectors, and the pictures are
embedded at their stored resolution. The table of contents on page 1 gives each figure's page.
"""

from __future__ import annotations

import datetime
import io
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure, SubFigure
from matplotlib.layout_engine import ConstrainedLayoutEngine
from matplotlib.lines import Line2D

from tb_featureviz.export import charts
from tb_featureviz.export.report import Block, Document, FigureBlock, TableBlock, TextBlock

PAGE_IN = (8.27, 11.69)
"""A4 in inches."""

MARGIN_IN = (0.98, 0.8)
"""Left/right and top/bottom margins: the text is :data:`~tb_featureviz.export.charts.TEXT_WIDTH_IN` wide."""

_BODY = 8.5
_CAPTION = 7.5
_LINE = 1.38 / 72  # inches per point of font size, with leading
_INK, _MUTED, _ACCENT = "#1f2933", "#52606d", "#2457a6"


def _wrap(text: str, size: float, width_in: float = charts.TEXT_WIDTH_IN) -> list[str]:
    per_line = max(20, int(width_in * 72 / (size * 0.5)))
    return textwrap.wrap(text, per_line) or [""]


@dataclass
class _Item:
    """A block (or the title, a heading) measured for the page: its height and how to draw it."""

    height: float
    draw: Callable[[SubFigure], None]
    anchor: str | None = None
    new_page: bool = False


def _text_item(lines: Sequence[tuple[str, float, str, str]], gap: float = 0.06) -> _Item:
    """Lines of ``(text, size, colour, weight)``."""
    height = sum(size * _LINE for _, size, _, _ in lines) + gap

    def draw(sub: SubFigure) -> None:
        y = 1.0
        for text, size, color, weight in lines:
            sub.text(0.0, y, text, ha="left", va="top", fontsize=size, color=color, fontweight=weight)
            y -= size * _LINE / height

    return _Item(height, draw)


def _paragraph(text: str, size: float = _BODY, color: str = _INK) -> _Item:
    return _text_item([(line, size, color, "normal") for line in _wrap(text, size)], gap=0.08)


def _table(block: TableBlock) -> list[_Item]:
    caption = _text_item([(f"Table {block.number}. {block.title}", _CAPTION + 0.5, _INK, "bold")], gap=0.03)
    rows = [block.header, *block.rows]
    if len(block.header) == 2:  # one run: two facts per line
        half = (len(block.rows) + 1) // 2
        left, right = block.rows[:half], block.rows[half:]
        rows = [(*a, *(right[i] if i < len(right) else ("", ""))) for i, a in enumerate(left)]
        widths = [0.17, 0.33, 0.17, 0.33]
    else:
        first = 0.3
        widths = [first] + [(1 - first) / (len(block.header) - 1)] * (len(block.header) - 1)
    chars = [max(8, int(w * charts.TEXT_WIDTH_IN * 72 / (_CAPTION * 0.5))) for w in widths]
    wrapped = [[textwrap.wrap(str(c), chars[j])[:3] or [""] for j, c in enumerate(row)] for row in rows]
    heights = [max(len(c) for c in row) * _CAPTION * _LINE + 0.025 for row in wrapped]
    total = sum(heights)

    def draw(sub: SubFigure) -> None:
        y = 1.0
        for i, row in enumerate(wrapped):
            x = 0.0
            for j, cell in enumerate(row):
                weight = "bold" if i == 0 and j > 0 and len(widths) != 4 else "normal"
                color = _MUTED if (j % 2 == 0 and len(widths) == 4) or j == 0 else _INK
                sub.text(
                    x,
                    y,
                    "\n".join(cell),
                    ha="left",
                    va="top",
                    fontsize=_CAPTION,
                    color=color,
                    fontweight=weight,
                    linespacing=1.2,
                )
                x += widths[j]
            y -= heights[i] / total
            sub.add_artist(Line2D([0, 1], [y, y], color="#e4e7eb", linewidth=0.5, transform=sub.transSubfigure))

    body = _Item(total + 0.28, draw, anchor=block.anchor)
    return [caption, body]


def _figure_items(block: FigureBlock) -> list[_Item]:
    caption_lines = _wrap(f"Figure {block.number}. {block.caption}", _CAPTION)
    cap = _text_item([(line, _CAPTION, _MUTED, "normal") for line in caption_lines], gap=0.12)

    def draw(sub: SubFigure) -> None:
        block.draw(sub)

    return [_Item(block.height, draw, anchor=block.anchor), cap]


def _shorten(text: str, width: int) -> str:
    """``text`` cut in the middle to ``width`` characters (the page number at the end stays)."""
    if len(text) <= width:
        return text
    keep = width - 1
    return text[: keep - 12] + "…" + text[-11:]


def _contents(doc: Document, pages: dict[str, int] | None) -> _Item:
    """The table of contents in two columns, each entry with its page (once the pages are known)."""
    lines: list[tuple[str, float, str, str]] = []
    for level, anchor, text in doc.contents():
        page = f"  ..... {pages[anchor]}" if pages and anchor in pages else ""
        indent = "" if level == 1 else "   "
        lines.append(
            (
                f"{indent}{text}{page}",
                _CAPTION - 0.5,
                _INK if level == 1 else _MUTED,
                "bold" if level == 1 else "normal",
            )
        )
    half = (len(lines) + 1) // 2
    fit = int(charts.TEXT_WIDTH_IN / 2 * 72 / ((_CAPTION - 0.5) * 0.55)) - 2  # characters in half the width
    lines = [(_shorten(text, fit), size, color, weight) for text, size, color, weight in lines]
    columns = [lines[:half], lines[half:]]
    line_h = (_CAPTION - 0.5) * _LINE
    height = _BODY * _LINE + half * line_h + 0.12

    def draw(sub: SubFigure) -> None:
        sub.text(0.0, 1.0, "Contents", ha="left", va="top", fontsize=_BODY, color=_INK, fontweight="bold")
        for c, column in enumerate(columns):
            y = 1.0 - _BODY * _LINE / height
            for text, size, color, weight in column:
                sub.text(0.5 * c, y, text, ha="left", va="top", fontsize=size, color=color, fontweight=weight)
                y -= line_h / height

    return _Item(height, draw)


def _items(doc: Document, pages: dict[str, int] | None) -> list[_Item]:
    items: list[_Item] = []
    head = [
        ("tb-featureviz", 7.5, _ACCENT, "bold"),
        (doc.title, 16.0, _INK, "bold"),
        *((line, 7.5, _MUTED, "normal") for line in _wrap(" · ".join(doc.meta), 7.5)),
    ]
    items.append(_text_item(head, gap=0.1))
    if doc.damaged:
        text = f"{len(doc.damaged)} damaged image(s) left out: " + "; ".join(doc.damaged[:5])
        items.append(_paragraph(text, _CAPTION, "#b42318"))
    items.append(_contents(doc, pages))
    for i, section in enumerate(doc.sections):
        heading = _text_item([(section.title, 12.0, _INK, "bold")], gap=0.08)
        heading.anchor = section.anchor
        heading.new_page = i > 0
        items.append(heading)
        for block in section.blocks:
            items.extend(_block_items(block))
    return items


def _block_items(block: Block) -> list[_Item]:
    if isinstance(block, FigureBlock):
        return _figure_items(block)
    if isinstance(block, TableBlock):
        return _table(block)
    assert isinstance(block, TextBlock)
    return [
        _paragraph(block.text, _CAPTION if block.style == "note" else _BODY, _MUTED if block.style == "note" else _INK)
    ]


def _paginate(items: Sequence[_Item]) -> list[list[_Item]]:
    """Items onto pages: a figure stays with its caption, a heading with the block after it."""
    usable = PAGE_IN[1] - 2 * MARGIN_IN[1]
    pages: list[list[_Item]] = [[]]
    used = 0.0
    for k, item in enumerate(items):
        keep = items[k + 1].height if item.anchor is not None and k + 1 < len(items) else 0.0
        if pages[-1] and (item.new_page or used + item.height + keep > usable):
            pages.append([])
            used = 0.0
        pages[-1].append(item)
        used += item.height
    return pages


def _draw_page(pdf: PdfPages, items: Sequence[_Item], number: int, total: int, footer: str) -> None:
    with charts.style():
        page = Figure(figsize=PAGE_IN)
        page.set_layout_engine(ConstrainedLayoutEngine(w_pad=0.0, h_pad=0.0, hspace=0.0, wspace=0.0))
        usable = PAGE_IN[1] - 2 * MARGIN_IN[1]
        rest = max(usable - sum(i.height for i in items), 0.01)
        frame: Any = page.subfigures(
            3,
            3,
            width_ratios=[MARGIN_IN[0], charts.TEXT_WIDTH_IN, MARGIN_IN[0]],
            height_ratios=[MARGIN_IN[1], usable, MARGIN_IN[1]],
            wspace=0,
            hspace=0,
        )
        body = frame[1][1]
        subs: Any = body.subfigures(len(items) + 1, 1, height_ratios=[*(i.height for i in items), rest], hspace=0)
        for item, sub in zip(items, subs, strict=False):
            item.draw(sub)
        frame[2][1].text(0.0, 0.6, footer, fontsize=6.5, color=_MUTED, va="center")
        frame[2][1].text(1.0, 0.6, f"{number} / {total}", fontsize=6.5, color=_MUTED, va="center", ha="right")
        pdf.savefig(page)


def render_pdf(doc: Document, *, generated: datetime.datetime | None = None) -> bytes:
    """Lays the document out on A4 pages and returns the PDF's bytes.

    Args:
        doc: The report (:func:`tb_featureviz.export.report.build_summary`).
        generated: The creation date written into the PDF (default: none, so equal inputs give equal bytes).

    Returns:
        The PDF.
    """
    pages_of: dict[str, int] = {}
    for _ in range(2):  # the contents' page numbers can move what follows them: settle in two passes
        pages = _paginate(_items(doc, pages_of))
        pages_of = {it.anchor: n + 1 for n, page in enumerate(pages) for it in page if it.anchor}
    buf = io.BytesIO()
    from tb_featureviz import __version__

    meta = {"Title": doc.title, "Creator": f"tb-featureviz {__version__}", "CreationDate": generated}
    footer = f"{doc.title} · {' · '.join(doc.meta[:1])}"
    with charts.style(), PdfPages(buf, metadata=meta) as pdf:  # fonts are written on close: keep the style
        for n, page in enumerate(pages):
            _draw_page(pdf, page, n + 1, len(pages), footer)
    return buf.getvalue()
