"""The self-contained HTML report.

One file, every image embedded as a ``data:`` URI, styles inline, charts as inline SVG, no scripts and
no external requests (a Content-Security-Policy ``<meta>`` forbids them). It prints cleanly: the
browser's "Save as PDF" gives a report with one section per exported epoch.
"""

from __future__ import annotations

import base64
import datetime
import functools
import json
import re
from collections.abc import Sequence
from html import escape
from typing import TYPE_CHECKING

from tb_featureviz.export.content import EXPORT_KINDS, ExemplarSet, Figure, Report, RunExport
from tb_featureviz.export.figures import figure_pixels
from tb_featureviz.export.options import ExportOptions
from tb_featureviz.export.progress import ProgressCallback
from tb_featureviz.export.report import Document, FigureBlock, TableBlock, TextBlock
from tb_featureviz.kinds import REGISTRY
from tb_featureviz.render import encode_png

if TYPE_CHECKING:
    from tb_featureviz.metadata import Record


KIND_TITLES = {name: REGISTRY[name].label for name in EXPORT_KINDS}
"""The heading of each exported kind: its label (``tb_featureviz.kinds``), as the dashboard shows it."""

KIND_NOTES = {name: drawing.note for name in EXPORT_KINDS if (drawing := REGISTRY[name].export) is not None}
"""The paragraph under each exported kind's heading (its ``export.note``)."""

CHECKS_NOTE = (
    "How far the Grad-CAM maps can be trusted, per epoch. Faithfulness: deletion AUC low, insertion AUC and the "
    "pointing game high are good. Sanity: a randomisation correlation near 1 is bad (the map does not depend on "
    "the learned weights; a trained model should be at most 0.3); drift near 1 means the attention has settled."
)

_EXEMPLAR_PX = 72
"""Exemplar crops are shown about this many CSS pixels across."""

_TARGET_DISPLAY_WIDTH = 480
"""Small grids are enlarged (integer factor, crisp pixels) to about this many CSS pixels."""

CSS = """
:root { --ink: #1f2933; --muted: #52606d; --faint: #7b8794; --rule: #d9e2ec; --panel: #f5f7fa;
        --accent: #2457a6; }
* { box-sizing: border-box; }
html { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
body { margin: 0; color: var(--ink); background: #fff; line-height: 1.45; font-size: 14px;
       font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1180px; margin: 0 auto; padding: 28px 32px 40px; }
header.report { border-bottom: 3px solid var(--accent); padding-bottom: 14px; margin-bottom: 22px; }
header.report .eyebrow { text-transform: uppercase; letter-spacing: .08em; font-size: 11px; color: var(--accent);
                         font-weight: 600; margin: 0 0 4px; }
header.report h1 { font-size: 26px; margin: 0 0 6px; font-weight: 650; }
header.report .meta { color: var(--muted); font-size: 12.5px; margin: 0; }
header.report .meta span + span::before { content: "·"; margin: 0 .55em; color: var(--faint); }
nav.toc { font-size: 12.5px; color: var(--muted); margin: 0 0 18px; }
nav.toc a { color: var(--accent); text-decoration: none; margin-right: .8em; }
h2 { font-size: 19px; margin: 0 0 10px; font-weight: 650; }
h3 { font-size: 15px; margin: 18px 0 4px; font-weight: 650; }
h4 { font-size: 12px; margin: 12px 0 6px; font-weight: 600; text-transform: uppercase; letter-spacing: .05em;
     color: var(--muted); }
p.note { color: var(--muted); font-size: 12.5px; margin: 0 0 10px; max-width: 80ch; }
.cols { display: grid; grid-template-columns: repeat(var(--n, 1), minmax(0, 1fr)); gap: 18px; }
.run-card { border: 1px solid var(--rule); border-radius: 6px; padding: 14px 16px; background: #fff; }
.run-card h2 { display: flex; align-items: baseline; gap: 10px; }
.run-card h2 .tag { font-size: 11px; font-weight: 600; color: #fff; background: var(--accent);
                    border-radius: 3px; padding: 1px 7px; }
table.facts { border-collapse: collapse; width: 100%; font-size: 12.5px; }
table.facts th { text-align: left; color: var(--muted); font-weight: 500; padding: 2px 12px 2px 0;
                 white-space: nowrap; vertical-align: top; width: 1%; }
table.facts td { padding: 2px 0; font-variant-numeric: tabular-nums; overflow-wrap: anywhere; }
table.facts tr + tr > * { border-top: 1px solid #eef2f6; }
.chart svg { display: block; width: 100%; max-width: 640px; height: auto; }
details.summary { margin-top: 10px; }
details.summary summary { cursor: pointer; font-size: 12px; font-weight: 600; color: var(--muted); }
pre.model { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "DejaVu Sans Mono", monospace;
            font-size: 10.5px; line-height: 1.3; background: var(--panel); border: 1px solid var(--rule);
            border-radius: 4px; padding: 8px 10px; overflow-x: auto; margin: 6px 0 0; }
section.epoch { margin-top: 30px; }
section.epoch > h2 { border-bottom: 1px solid var(--rule); padding-bottom: 4px; }
section.kind { margin-bottom: 8px; }
.layer-block { margin: 4px 0 16px; }
h4.layer { text-transform: none; letter-spacing: 0; font-size: 13px; color: var(--ink); margin: 10px 0 6px;
           font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "DejaVu Sans Mono", monospace; }
.cell { min-width: 0; }
.cell-head { font-size: 12px; font-weight: 600; color: var(--accent); margin: 0 0 4px; }
.figs { display: flex; flex-wrap: wrap; gap: 12px 14px; align-items: flex-start; }
figure { display: table; margin: 0; break-inside: avoid; page-break-inside: avoid; }
figure img { display: block; max-width: 100%; height: auto; border: 1px solid var(--rule); background: #fff; }
figure img.pixelated { image-rendering: pixelated; image-rendering: crisp-edges; }
figcaption { display: table-caption; caption-side: bottom; font-size: 11px; line-height: 1.35;
             color: var(--muted); padding-top: 3px; }
figcaption b { color: var(--ink); font-weight: 600; }
figcaption .cap-main, figcaption .cap-detail { display: block; }
figcaption .score { font-variant-numeric: tabular-nums; }
.missing { font-size: 12px; color: var(--faint); font-style: italic; }
.exemplars { margin-top: 8px; }
.exemplars .cell-head { color: var(--ink); }
.exemplars figure img { image-rendering: pixelated; image-rendering: crisp-edges; }
.exemplars figcaption { white-space: nowrap; }
figcaption .nonfinite { color: #b42318; font-weight: 600; }
figcaption .wrong { color: #fff; background: #b42318; font-weight: 700; border-radius: 3px; padding: 0 4px; }
.damaged { border: 1px solid #e3a008; background: #fffbea; border-radius: 6px; padding: 8px 12px; font-size: 12.5px;
           margin: 0 0 18px; }
.damaged ul { margin: 4px 0 0; padding-left: 18px; }
footer { margin-top: 36px; padding-top: 8px; border-top: 1px solid var(--rule); font-size: 11px;
         color: var(--faint); }
@page { size: A4; margin: 14mm 12mm 16mm; }
@media print {
  body { font-size: 10.5pt; }
  main { max-width: none; padding: 0; }
  nav.toc { display: none; }
  details.summary summary { list-style: none; }
  details.summary summary::-webkit-details-marker { display: none; }
  .run-card { border-color: #c7d0d9; }
  section.epoch { break-before: page; page-break-before: always; margin-top: 0; }
  h2, h3, h4, .cell-head { break-after: avoid; page-break-after: avoid; }
  .keep { break-inside: avoid; page-break-inside: avoid; }
  h4.layer { break-after: avoid; page-break-after: avoid; }
  pre.model { overflow: hidden; white-space: pre; font-size: 7pt; }
  a { color: inherit; text-decoration: none; }
}
"""


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _fmt_time(value: float | str | None) -> str | None:
    if value is None:
        return None
    try:
        if isinstance(value, str):
            dt = datetime.datetime.fromisoformat(value)
        else:
            dt = datetime.datetime.fromtimestamp(float(value), tz=datetime.timezone.utc)
    except (ValueError, OverflowError, OSError):
        return str(value)
    if dt.tzinfo is not None:
        dt = dt.astimezone(datetime.timezone.utc)
        return dt.strftime("%Y-%m-%d %H:%M UTC")
    return dt.strftime("%Y-%m-%d %H:%M")


def _fmt_value(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (list, tuple)):
        return "(" + ", ".join("None" if v is None else str(v) for v in value) + ")"
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return str(value)


def _epoch_list(epochs: Sequence[int]) -> str:
    return ", ".join(str(e) for e in epochs) if epochs else "none"


def _facts_table(rows: Sequence[tuple[str, object]]) -> str:
    body = "".join(
        f"<tr><th>{escape(k)}</th><td>{escape(_fmt_value(v))}</td></tr>" for k, v in rows if v not in (None, "", {})
    )
    return f'<table class="facts">{body}</table>' if body else ""


def _run_card(run: RunExport) -> str:
    info = run.info or {}
    optimizer: Record = info["optimizer"] if isinstance(info.get("optimizer"), dict) else {}
    opt_text = None
    if optimizer:
        name = optimizer.get("name")
        rest = ", ".join(f"{k}={_fmt_value(v)}" for k, v in optimizer.items() if k != "name" and k != "learning_rate")
        lr = optimizer.get("learning_rate")
        opt_text = " ".join(
            x for x in (str(name) if name else None, f"lr={_fmt_value(lr)}" if lr is not None else None) if x
        )
        if rest:
            opt_text = f"{opt_text} ({rest})" if opt_text else rest
    params = info.get("params")
    logged = None
    first, last = _fmt_time(run.first_wall_time), _fmt_time(run.last_wall_time)
    if first and last:
        logged = first if first == last else f"{first} – {last}"
    facts = _facts_table(
        [
            ("Model", info.get("model")),
            ("Parameters", f"{params:,}" if isinstance(params, int) else params),
            ("Input shape", info.get("input_shape")),
            ("Input pixels", (info.get("input_space") or {}).get("description")),
            ("Optimizer", opt_text),
            ("Classes", ", ".join(map(str, run.class_names)) if run.class_names else None),
            ("Started", _fmt_time(info.get("started"))),
            ("Logged", logged),
            ("Epochs recorded", f"{len(run.steps)} ({run.steps[0]}–{run.steps[-1]})" if run.steps else None),
            ("Exported epochs", _epoch_list(run.epochs)),
        ]
    )
    hparams: Record = info["hparams"] if isinstance(info.get("hparams"), dict) else {}
    fit: Record = info["params_fit"] if isinstance(info.get("params_fit"), dict) else {}
    hp_rows = [(str(k), v) for k, v in sorted(hparams.items())]
    hp_rows += [(f"fit {k}", v) for k, v in sorted(fit.items()) if k not in hparams]
    hp_html = f"<h4>Hyper-parameters</h4>{_facts_table(hp_rows)}" if hp_rows else ""
    from tb_featureviz.export import charts

    epochs = list(run.steps)
    charts_html = ""
    if run.curves:
        draw = functools.partial(charts.draw_curves, runs=[(run.run, run.curves)], epochs=epochs)
        svg = inline_svg(charts.render(draw, 2.3, "svg", salt=f"curves-{run.run}"))
        charts_html = f'<h4>Training curves</h4><div class="chart" data-chart="curves">{svg}</div>'
    if run.checks:
        draw = functools.partial(charts.draw_checks, runs=[(run.run, run.checks)], epochs=epochs)
        svg = inline_svg(charts.render(draw, 2.3, "svg", salt=f"checks-{run.run}"))
        note = f'<p class="note">{escape(CHECKS_NOTE)}</p>'
        charts_html += f'<h4>Grad-CAM checks</h4>{note}<div class="chart" data-chart="checks">{svg}</div>'
    summary = info.get("summary")
    summary_html = (
        f'<details class="summary" open><summary>Model summary</summary><pre class="model">{escape(str(summary))}</pre>'
        "</details>"
        if summary
        else ""
    )
    return (
        f'<article class="run-card" data-run="{escape(run.run)}">'
        f'<h2>{escape(run.run)}<span class="tag">run</span></h2>'
        f"{facts}{hp_html}{charts_html}{summary_html}</article>"
    )


def _caption(run: RunExport, fig: Figure, channel: int | None) -> str:
    head = f'<span class="cap-main"><b>{escape(fig.layer)}</b> · epoch {fig.epoch}</span>'
    probe: list[str] = []
    if fig.probe is not None:
        label = run.probe_label(fig.probe) or fig.true_class
        probe.append(f"probe {fig.probe}" + (f" ({escape(label)})" if label else ""))
    drawing = fig.drawing
    parts = drawing.html_caption(run, fig, channel, probe) if drawing is not None and drawing.html_caption else probe
    if fig.nonfinite:
        parts.append(f'<span class="nonfinite">{fig.nonfinite} non-finite values (NaN/inf, drawn as 0)</span>')
    return head + (f' <span class="cap-detail">{" · ".join(parts)}</span>' if parts else "")


def _figure_html(run: RunExport, fig: Figure, options: ExportOptions) -> str:
    pixels = figure_pixels(fig, options, run)
    h, w = pixels.shape[:2]
    drawing = fig.drawing
    if drawing is None or drawing.pixel_grid:  # small tiles: enlarged, crisp
        factor = max(1, min(8, _TARGET_DISPLAY_WIDTH // max(w, 1)))
    else:  # an input-size map: at least 150 CSS pixels across
        factor = max(1, 150 // w) if w < 150 else 1
    png = encode_png(pixels)
    cls = ' class="pixelated"' if factor > 1 else ""
    alt = escape(fig.caption())
    attrs = (
        f'data-run="{escape(fig.run)}" data-kind="{fig.kind}" data-layer="{escape(fig.layer)}" '
        f'data-epoch="{fig.epoch}" data-role="{fig.role}"'
        + (f' data-probe="{fig.probe}"' if fig.probe is not None else "")
        + (f' data-target="{escape(fig.target)}"' if fig.target else "")
    )
    cap = f"<figcaption>{_caption(run, fig, options.channel)}</figcaption>" if options.caption else ""
    return (
        f'<figure {attrs}><img{cls} src="{_data_uri(png)}" alt="{alt}" width="{w * factor}" height="{h * factor}">'
        f"{cap}</figure>"
    )


def _has(run: RunExport, kind: str, layer: str, epoch: int) -> bool:
    return any(f.kind == kind and f.layer == layer and f.epoch == epoch for f in run.shown_figures())


def _exemplars_html(ex: ExemplarSet) -> str:
    """A channel's exemplars: a heading and one small figure per crop, best first, its response as caption."""
    noun = f"channel {ex.channel}"
    since = "" if ex.step == ex.epoch else f" (exemplars of epoch {ex.step})"
    head = f'<p class="cell-head">Natural images {noun} likes best{since}</p>'
    if not ex.crops:
        return f'<div class="exemplars">{head}<p class="missing">their sample images are damaged</p></div>'
    figs = []
    for rank, c in enumerate(ex.crops):
        w, h = c.box[2] - c.box[0], c.box[3] - c.box[1]
        factor = max(1, _EXEMPLAR_PX // max(w, h, 1))
        value = "non-finite" if c.value is None else f"{c.value:.4g}"
        attrs = (
            f'data-kind="exemplar" data-run="{escape(ex.run)}" data-layer="{escape(ex.layer)}" '
            f'data-epoch="{ex.epoch}" data-channel="{ex.channel}" data-rank="{rank}" data-image="{c.image}"'
        )
        alt = f"{ex.layer} {noun} exemplar {rank + 1}: sample image {c.image}, response {value} at ({c.y}, {c.x})"
        figs.append(
            f'<figure {attrs}><img src="{_data_uri(c.png)}" alt="{escape(alt)}" width="{w * factor}" '
            f'height="{h * factor}"><figcaption>{value} · image {c.image}</figcaption></figure>'
        )
    return f'<div class="exemplars">{head}<div class="figs">{"".join(figs)}</div></div>'


class _Progress:
    """Counts the figures rendered and reports each one to ``progress``."""

    def __init__(self, total: int, progress: ProgressCallback | None) -> None:
        self.total, self.done, self.progress = total, 0, progress

    def tick(self, fig: Figure) -> None:
        self.done += 1
        if self.progress is not None:
            self.progress(self.done, self.total, f"html {fig.run} {fig.kind}/{fig.layer} epoch {fig.epoch}")


def render_html(
    report: Report, options: ExportOptions, *, title: str | None = None, progress: ProgressCallback | None = None
) -> str:
    """Renders a report as one self-contained HTML document.

    Args:
        report: The runs, epochs and figures to show.
        options: The colour map of grayscale images (default viridis; Grad-CAM overlays keep their stored
            colours unless a colour map is given), captions, and the one channel (activations) or filter
            (filters) of each grid to show, if any.
        title: The document title (default "Feature visualisation report").
        progress: Called with ``(done, total, what)`` after each figure.

    Returns:
        The HTML text (UTF-8 safe, no external references).
    """
    title = title or "Feature visualisation report"
    runs = report.runs
    epochs = sorted({e for r in runs for e in r.epochs})
    counter = _Progress(sum(len(r.shown_figures()) for r in runs), progress)
    out: list[str] = [*_head(report, options, title, epochs)]
    if report.damaged:
        out.append(_damaged_html(report))
    if len(epochs) > 1:
        links = "".join(f'<a href="#epoch-{e}">Epoch {e}</a>' for e in epochs)
        out.append(f'<nav class="toc">Sections: <a href="#overview">Overview</a>{links}</nav>')
    out.append(f'<section id="overview" class="cols" style="--n: {max(1, len(runs))}">')
    out.extend(_run_card(r) for r in runs)
    out.append("</section>")
    for epoch in epochs:
        out.append(f'<section class="epoch" id="epoch-{epoch}"><h2>Epoch {epoch}</h2>')
        for kind in report.kinds:
            out.extend(_kind_section(report, kind, epoch, options, counter))
        out.append("</section>")
    from tb_featureviz import __version__

    out.append(
        f"<footer>Generated by tb-featureviz {escape(__version__)} on "
        f"{escape(report.generated.strftime('%Y-%m-%d %H:%M UTC'))} from logdir {escape(report.logdir)}.</footer>"
    )
    out.append("</main></body></html>")
    return "\n".join(out)


def _head(report: Report, options: ExportOptions, title: str, epochs: Sequence[int]) -> list[str]:
    """The document's head and the report's header: title, runs, logdir, epochs, colour maps."""
    runs = report.runs
    n = max(1, len(runs))
    meta = [
        f"<span>{'Run' if n == 1 else 'Runs'} {escape(', '.join(r.run for r in runs))}</span>",
        f"<span>logdir {escape(report.logdir)}</span>",
        f"<span>{'Epoch' if len(epochs) == 1 else 'Epochs'} {escape(_epoch_list(epochs))}</span>",
        f"<span>generated {escape(report.generated.strftime('%Y-%m-%d %H:%M UTC'))}</span>",
    ]
    for name in EXPORT_KINDS:  # the colour map each kind is drawn in
        drawing = REGISTRY[name].export
        if drawing is not None and drawing.colour_note is not None:
            note = drawing.colour_note(options.colormap, any(f.kind == name for f in report.figures))
            meta.extend([f"<span>{escape(note)}</span>"] if note else [])
    return [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'\">",
        '<meta name="generator" content="tb-featureviz">',
        f"<title>{escape(title)} — {escape(', '.join(r.run for r in runs))}</title>",
        f"<style>{CSS}</style></head><body><main>",
        '<header class="report"><p class="eyebrow">tb-featureviz</p>'
        f'<h1>{escape(title)}</h1><p class="meta">{"".join(meta)}</p></header>',
    ]


def _damaged_html(report: Report) -> str:
    """The note that lists (the first 20 of) the damaged images left out."""
    items = "".join(f"<li>{escape(d.describe())}</li>" for d in report.damaged[:20])
    more = f"<li>... and {len(report.damaged) - 20} more</li>" if len(report.damaged) > 20 else ""
    return (
        f'<aside class="damaged" role="note"><b>{len(report.damaged)} damaged image(s) left out.</b> The event '
        f"files hold bytes that do not decode; everything else is shown.<ul>{items}{more}</ul></aside>"
    )


def _kind_section(report: Report, kind: str, epoch: int, options: ExportOptions, counter: _Progress) -> list[str]:
    """The section of one kind at one epoch: its title and note, then a block per layer (none: no layer has it)."""
    layers: list[str] = []
    for r in report.runs:
        for f in r.shown_figures():
            if f.kind == kind and f.epoch == epoch and f.layer not in layers:
                layers.append(f.layer)
    if not layers:
        return []
    n = max(1, len(report.runs))
    out = [f'<section class="kind" data-kind="{kind}">']
    intro = f'<h3>{KIND_TITLES[kind]}</h3><p class="note">{escape(KIND_NOTES[kind])}</p>'
    for i, layer in enumerate(layers):
        cells = "".join(_cell(report, r, kind, layer, epoch, options, counter) for r in report.runs)
        block = (
            f'<div class="layer-block" data-layer="{escape(layer)}"><h4 class="layer">{escape(layer)}</h4>'
            f'<div class="cols" style="--n: {n}">{cells}</div></div>'
        )
        out.append(f'<div class="keep">{intro}{block}</div>' if i == 0 else block)
    out.append("</section>")
    return out


def _cell(
    report: Report, r: RunExport, kind: str, layer: str, epoch: int, options: ExportOptions, counter: _Progress
) -> str:
    """One run's cell of a layer block: its figures (and, with the layer's first exported kind, its exemplars)."""
    figs = [f for f in r.shown_figures() if f.kind == kind and f.epoch == epoch and f.layer == layer]
    head = f'<p class="cell-head">{escape(r.run)}</p>' if len(report.runs) > 1 else ""
    if not figs:
        body = '<p class="missing">not written at this epoch</p>'
    else:
        parts = []
        for f in figs:
            parts.append(_figure_html(r, f, options))
            counter.tick(f)
        body = f'<div class="figs">{"".join(parts)}</div>'
        ex = r.exemplars_at(layer, epoch)
        if ex is not None and kind == next(k for k in report.kinds if _has(r, k, layer, epoch)):
            body += _exemplars_html(ex)  # once per layer: with its first exported kind
    return f'<div class="cell" data-run="{escape(r.run)}">{head}{body}</div>'


SUMMARY_CSS = """
:root { --ink: #1f2933; --muted: #52606d; --faint: #7b8794; --rule: #d9e2ec; --accent: #2457a6; }
* { box-sizing: border-box; }
html { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
body { margin: 0; color: var(--ink); background: #fff; line-height: 1.45; font-size: 14px;
       font-family: "DejaVu Sans", system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; }
main { max-width: 820px; margin: 0 auto; padding: 28px 24px 40px; }
header.report { border-bottom: 3px solid var(--accent); padding-bottom: 10px; margin-bottom: 14px; }
header.report .eyebrow { text-transform: uppercase; letter-spacing: .08em; font-size: 11px; color: var(--accent);
                         font-weight: 600; margin: 0 0 2px; }
header.report h1 { font-size: 24px; margin: 0 0 4px; }
header.report .meta { color: var(--muted); font-size: 12px; margin: 0; }
nav.toc { font-size: 12.5px; margin: 0 0 16px; }
nav.toc h2 { font-size: 14px; margin: 0 0 4px; border: 0; }
nav.toc ol { margin: 0; padding-left: 18px; }
nav.toc ol ol { list-style: none; padding-left: 12px; color: var(--muted); }
nav.toc a { color: var(--accent); text-decoration: none; }
section.part > h2 { font-size: 19px; margin: 22px 0 8px; border-bottom: 1px solid var(--rule); padding-bottom: 3px; }
figure.fig { margin: 10px 0 16px; break-inside: avoid; page-break-inside: avoid; }
figure.fig svg { display: block; width: 100%; height: auto; }
figure.fig figcaption, .table-caption { font-size: 12px; color: var(--muted); margin-top: 4px; }
figure.fig figcaption b, .table-caption b { color: var(--ink); }
table.facts { border-collapse: collapse; width: 100%; font-size: 12px; margin: 4px 0 12px; }
table.facts th, table.facts td { text-align: left; padding: 2px 10px 2px 0; border-top: 1px solid #eef2f6;
                                 vertical-align: top; overflow-wrap: anywhere; }
table.facts th { color: var(--muted); font-weight: 500; white-space: nowrap; }
table.facts thead th { color: var(--ink); font-weight: 600; border-top: 0; }
p.note { color: var(--muted); font-size: 12px; }
.damaged { border: 1px solid #e3a008; background: #fffbea; border-radius: 6px; padding: 8px 12px; font-size: 12.5px; }
footer { margin-top: 30px; padding-top: 8px; border-top: 1px solid var(--rule); font-size: 11px; color: var(--faint); }
@page { size: A4; margin: 16mm 18mm 16mm; }
@media print {
  body { font-size: 10pt; }
  main { max-width: none; padding: 0; }
  section.part + section.part { break-before: page; page-break-before: always; }
  section.part > h2 { margin-top: 0; }
  h2, .table-caption { break-after: avoid; page-break-after: avoid; }
  footer { break-before: avoid; page-break-before: avoid; margin-top: 8px; }
  a { color: inherit; text-decoration: none; }
}
"""


def _svg(block: FigureBlock) -> str:
    """A figure as inline SVG (text stays text), without its XML prolog."""
    from tb_featureviz.export import charts

    svg = charts.render(block.draw, block.height, "svg", salt=block.anchor, constrained=charts.laid_out(block.kind))
    return inline_svg(svg)


def inline_svg(data: bytes) -> str:
    """matplotlib's SVG made fit to sit inside an HTML page: no XML prolog, comments or metadata, and no
    namespace URLs (HTML knows ``svg`` and ``xlink:href``), so the page names no address at all."""
    text = data.decode("utf-8")
    text = text[text.index("<svg") :]
    text = re.sub(r"<!--.*?-->", "", text, flags=re.S)
    text = re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.S)
    return re.sub(r'\s+xmlns(:xlink)?="[^"]*"', "", text, count=2)


def _table_html(block: TableBlock) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in block.header)
    body = "".join(
        "<tr>" + f"<th>{escape(row[0])}</th>" + "".join(f"<td>{escape(c)}</td>" for c in row[1:]) + "</tr>"
        for row in block.rows
    )
    return (
        f'<div class="table" id="{block.anchor}"><p class="table-caption"><b>Table {block.number}.</b> '
        f'{escape(block.title)}</p><table class="facts"><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )


def render_summary_html(doc: Document, *, progress: ProgressCallback | None = None) -> str:
    """The summary report as one self-contained HTML page: a table of contents linking every figure and table,
    then the sections, each figure an inline SVG drawn with matplotlib and a numbered caption.

    Args:
        doc: The report (``tb_featureviz.export.report.build_summary``).
        progress: Called with ``(done, total, what)`` after each figure.

    Returns:
        The HTML text (no scripts, no external references; prints on A4 with one section per page group).
    """
    from tb_featureviz import __version__

    figures = doc.figures
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'\">",
        '<meta name="generator" content="tb-featureviz">',
        f"<title>{escape(doc.title)}</title><style>{SUMMARY_CSS}</style></head><body><main>",
        '<header class="report"><p class="eyebrow">tb-featureviz</p>'
        f'<h1>{escape(doc.title)}</h1><p class="meta">{escape(" · ".join(doc.meta))}</p></header>',
    ]
    if doc.damaged:
        items = "".join(f"<li>{escape(d)}</li>" for d in doc.damaged[:20])
        out.append(
            f'<aside class="damaged" role="note"><b>{len(doc.damaged)} damaged image(s) left out.</b>'
            f"<ul>{items}</ul></aside>"
        )
    toc: list[str] = ['<nav class="toc" aria-label="Contents"><h2>Contents</h2><ol>']
    open_sub = False
    for level, anchor, text in doc.contents():
        if level == 1:
            if open_sub:
                toc.append("</ol></li>")
            toc.append(f'<li><a href="#{anchor}">{escape(text)}</a><ol>')
            open_sub = True
        else:
            toc.append(f'<li><a href="#{anchor}">{escape(text)}</a></li>')
    if open_sub:
        toc.append("</ol></li>")
    toc.append("</ol></nav>")
    out.append("".join(toc))
    done = 0
    for section in doc.sections:
        out.append(f'<section class="part" id="{section.anchor}"><h2>{escape(section.title)}</h2>')
        for block in section.blocks:
            if isinstance(block, FigureBlock):
                out.append(
                    f'<figure class="fig" id="{block.anchor}" data-kind="{block.kind}">{_svg(block)}'
                    f"<figcaption><b>Figure {block.number}.</b> {escape(block.caption)}</figcaption></figure>"
                )
                done += 1
                if progress is not None:
                    progress(done, len(figures), f"html figure {block.number}")
            elif isinstance(block, TableBlock):
                out.append(_table_html(block))
            elif isinstance(block, TextBlock):
                cls = ' class="note"' if block.style == "note" else ""
                out.append(f"<p{cls}>{escape(block.text)}</p>")
        out.append("</section>")
    out.append(f"<footer>Generated by tb-featureviz {escape(__version__)} · {escape(' · '.join(doc.meta))}</footer>")
    out.append("</main></body></html>")
    return "\n".join(out)
