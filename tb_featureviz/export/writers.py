"""Turning a ``Report`` into output files (in memory), and writing them atomically.

Each ``*_outputs`` function takes the report and the (checked) ``ExportOptions`` whole, and returns
``[(relative_name, bytes), ...]``; nothing touches the disk until ``write_outputs``, which writes each
file to a temporary name in the target directory and then ``os.replace``s it, so an interrupted export
never leaves a half-written file.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import os
import re
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from tb_featureviz.export.content import Figure, Report, RunExport
from tb_featureviz.export.errors import ExportOutputError
from tb_featureviz.export.figures import gif_animation, png_figure
from tb_featureviz.export.html import render_html
from tb_featureviz.export.options import ExportOptions
from tb_featureviz.export.progress import ProgressCallback

if TYPE_CHECKING:
    from tb_featureviz.metadata import Record


Output = tuple[str, bytes]
"""A file of an export: a ``/``-separated relative name and its bytes."""

MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1

EXTENSIONS = {"html": ".html", "pdf": ".pdf", "png": ".png", "svg": ".svg", "gif": ".gif", "zip": ".zip"}
MIMETYPES = {
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
    "png": "image/png",
    "svg": "image/svg+xml",
    "gif": "image/gif",
    "zip": "application/zip",
}

SINGLE_FILE_FORMATS = ("html", "pdf", "zip")
"""Formats whose export is one file; the others write a directory (or one file when it gives exactly one)."""


def safe_name(text: str) -> str:
    """A file-name-safe form of a run or layer name (``.`` becomes ``root``, odd characters ``_``)."""
    if text in ("", ".", ".."):
        return "root"
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "root"


def _figure_stem(fig: Figure, *, epoch: bool, channel: int | None) -> str:
    return "-".join([fig.kind, safe_name(fig.layer), *_figure_parts(fig, epoch=epoch, channel=channel)])


def _figure_parts(fig: Figure, *, epoch: bool, channel: int | None) -> list[str]:
    parts = []
    if epoch:
        parts.append(f"e{fig.epoch:03d}")
    if fig.probe is not None:
        parts.append(f"p{fig.probe}")
    if fig.target:
        parts.append(safe_name(fig.target))
    if fig.role == "heatmap":  # a Grad-CAM heatmap, beside its overlay
        parts.append("heatmap")
    if channel is not None and fig.per_channel:
        parts.append(f"c{channel}")
    return parts


def _claim(name: str, seen: set[str]) -> str:
    """``name``, or ``name-2``, ``name-3``... (before the extension) if taken; records the result."""
    stem, dot, ext = name.rpartition(".") if "." in name.rsplit("/", 1)[-1] else (name, "", "")
    candidate, n = name, 1
    while candidate in seen:
        n += 1
        candidate = f"{stem}-{n}{dot}{ext}"
    seen.add(candidate)
    return candidate


def _unique(outputs: list[Output]) -> list[Output]:
    """Disambiguates repeated names (two runs whose names sanitise alike) with ``-2``, ``-3``..."""
    seen: set[str] = set()
    return [(_claim(name, seen), data) for name, data in outputs]


def _drawn(
    drawings: Sequence[tuple[str, Callable[[], bytes]]], fmt: str, progress: ProgressCallback | None
) -> list[Output]:
    """``[(name, draw())]`` in order, names made unique, with ``progress`` called after each file."""
    outputs: list[Output] = []
    for i, (name, draw) in enumerate(drawings):
        outputs.append((name, draw()))
        if progress is not None:
            progress(i + 1, len(drawings), f"{fmt} {name}")
    return _unique(outputs)


def html_outputs(report: Report, options: ExportOptions, *, progress: ProgressCallback | None = None) -> list[Output]:
    """The full HTML report (every exported epoch of every layer) as one output named ``featureviz-<runs>.html``."""
    text = render_html(report, options, progress=progress)
    return [(default_filename(report, "html"), text.encode("utf-8"))]


def summary_outputs(
    report: Report, options: ExportOptions, *, progress: ProgressCallback | None = None
) -> list[Output]:
    """The summary report (``tb_featureviz.export.report``): one HTML page or one PDF, or each figure as its
    own PNG (300 dpi) or SVG (vector) file named ``fig-<n>-<title>.<ext>``, at the text width of an A4 page."""
    from tb_featureviz.export.charts import laid_out, render
    from tb_featureviz.export.html import render_summary_html
    from tb_featureviz.export.pdf import render_pdf
    from tb_featureviz.export.report import build_summary

    doc = build_summary(report, options)
    fmt = options.format
    if fmt == "html":
        return [(default_filename(report, "html"), render_summary_html(doc, progress=progress).encode("utf-8"))]
    if fmt == "pdf":
        return [(default_filename(report, "pdf"), render_pdf(doc))]
    drawings = [
        (
            f"fig-{b.number:02d}-{b.slug}{EXTENSIONS[fmt]}",
            functools.partial(render, b.draw, b.height, fmt, salt=b.anchor, constrained=laid_out(b.kind)),
        )
        for b in doc.figures
    ]
    return _drawn(drawings, fmt, progress)


def png_outputs(report: Report, options: ExportOptions, *, progress: ProgressCallback | None = None) -> list[Output]:
    """One PNG per shown figure: ``<run>/<kind>-<layer>-e<epoch>[-p<probe>][-<target>][-c<channel>].png``."""
    drawings = [
        (
            f"{safe_name(run.run)}/{_figure_stem(fig, epoch=True, channel=options.channel)}.png",
            functools.partial(png_figure, fig, options, run),
        )
        for run in report.runs
        for fig in run.shown_figures()
    ]
    return _drawn(drawings, "png", progress)


def gif_outputs(report: Report, options: ExportOptions, *, progress: ProgressCallback | None = None) -> list[Output]:
    """One animated GIF per image series (run, kind, layer, probe, target) across the exported epochs.

    Named ``<run>/<kind>-<layer>[-p<probe>][-<target>][-c<channel>].gif``.
    """
    series: list[tuple[RunExport, list[Figure]]] = []
    for run in report.runs:
        groups: dict[tuple[str, str, str, str, int | None, str | None], list[Figure]] = {}
        for fig in run.shown_figures():
            groups.setdefault(fig.series_key, []).append(fig)
        series.extend((run, sorted(figs, key=lambda f: f.epoch)) for figs in groups.values())
    drawings = [
        (
            f"{safe_name(run.run)}/{_figure_stem(frames[0], epoch=False, channel=options.channel)}.gif",
            functools.partial(gif_animation, frames, options, run),
        )
        for run, frames in series
    ]
    return _drawn(drawings, "gif", progress)


def zip_bytes(report: Report, *, progress: ProgressCallback | None = None) -> bytes:
    """The raw stored PNGs (byte for byte) plus ``manifest.json``, as a ZIP archive.

    Images the export composed (Grad-CAM overlays of runs that stored heatmaps only) are left out: the
    archive holds the heatmaps and probe images they are drawn from.

    Layout: ``<run>/<kind>/<layer>/e<epoch>[-p<probe>][-<target>][-heatmap].png``,
    ``<run>/probes/probe-<i>.png`` and ``manifest.json``::

        {"format": "tb-featureviz-export", "version": 1, "logdir": ..., "generated": ...,
         "runs": [{"run", "steps", "epochs", "class_names", "probe_labels", "probes": [file, ...],
                   "info": {...} | null, "curves": [{"metric", "split", "points": [[step, value]]}],
                   "checks": [{"tag", "points": [[step, value]]}]}],
         "files": [{"file", "run", "kind", "layer", "epoch", "role", "index", "probe", "layout", ...}],
         "damaged": [{"run", "kind", "layer", "epoch", "index", "reason"}]}

    ``damaged`` lists the stored images (``index`` >= 1) and records (``index`` 0: the whole step) left
    out because their bytes in the event files are damaged.

    Args:
        report: The export.
        progress: Called with ``(done, total, what)`` per file.

    Returns:
        The ZIP bytes (PNGs stored, the manifest deflated).
    """
    stamp = report.generated.timetuple()[:6]
    files: list[Record] = []
    runs_meta: list[Record] = []
    members: list[Output] = []
    seen: set[str] = set()
    for run in report.runs:
        rdir = _claim(safe_name(run.run), seen)
        probe_files = []
        for i, png in enumerate(run.probe_pngs):
            if not png:  # damaged: left out, listed under "damaged"
                continue
            probe_files.append(f"{rdir}/probes/probe-{i}.png")
            members.append((probe_files[-1], png))
        runs_meta.append(
            {
                "run": run.run,
                "directory": rdir,
                "steps": run.steps,
                "epochs": run.epochs,
                "class_names": run.class_names,
                "probe_labels": run.probe_labels,
                "probes": probe_files,
                "info": run.info,
                "curves": [
                    {"metric": c.metric, "split": c.split, "points": [[p.step, p.value] for p in c.points]}
                    for c in run.curves
                ],
                "checks": [{"tag": c.metric, "points": [[p.step, p.value] for p in c.points]} for c in run.checks],
            }
        )
        for fig in run.figures:
            if fig.index is None:  # composed by the export (an overlay the run did not store): not raw
                continue
            tail = "-".join(_figure_parts(fig, epoch=True, channel=None))
            name = _claim(f"{rdir}/{fig.kind}/{safe_name(fig.layer)}/{tail}.png", seen)
            members.append((name, fig.png))
            files.append({"file": name, **fig.manifest_entry()})
    manifest = {
        "format": "tb-featureviz-export",
        "version": MANIFEST_VERSION,
        "logdir": report.logdir,
        "generated": report.generated.isoformat(timespec="seconds"),
        "kinds": list(report.kinds),
        "runs": runs_meta,
        "files": files,
        "damaged": [d.manifest_entry() for d in report.damaged],
    }
    buf = io.BytesIO()
    total = len(members) + 1
    with zipfile.ZipFile(buf, "w") as zf:
        for i, (name, data) in enumerate(members):
            zf.writestr(zipfile.ZipInfo(name, date_time=stamp), data, compress_type=zipfile.ZIP_STORED)
            if progress is not None:
                progress(i + 1, total, f"zip {name}")
        info = zipfile.ZipInfo(MANIFEST_NAME, date_time=stamp)
        zf.writestr(info, json.dumps(manifest, indent=1, sort_keys=True), compress_type=zipfile.ZIP_DEFLATED)
        if progress is not None:
            progress(total, total, "zip manifest.json")
    return buf.getvalue()


def default_filename(report: Report, fmt: str) -> str:
    """``featureviz-<run>[-<run>...].<ext>`` (or ``featureviz-<n>runs`` for many runs)."""
    names = [safe_name(r.run) for r in report.runs]
    stem = "-".join(names) if len(names) <= 3 else f"{len(names)}runs"
    return f"featureviz-{stem}{EXTENSIONS[fmt]}"


def _nearest_existing(path: Path) -> Path:
    p = path
    while not p.exists():
        if p.parent == p:
            break
        p = p.parent
    return p


def check_writable(out: Path, *, directory: bool) -> None:
    """Fails early, before any reading, when ``out`` cannot be written.

    Args:
        out: The output path (a file, or a directory when ``directory``).
        directory: Whether ``out`` is to be a directory of files.

    Raises:
        ExportOutputError: with a one-line reason.
    """
    if out.exists():
        if directory and not out.is_dir():
            raise ExportOutputError(f"cannot write to {out}: it is a file, and this export writes a directory")
        if not directory and out.is_dir():
            return check_writable(out / "_", directory=False)
        target = out if out.is_dir() else out.parent
    else:
        target = _nearest_existing(out.parent)
        if not target.is_dir():
            raise ExportOutputError(f"cannot write to {out}: {target} is not a directory")
    if not os.access(target, os.W_OK | os.X_OK):
        raise ExportOutputError(f"cannot write to {out}: no write permission in {target}")
    return None


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_outputs(out: Path, outputs: Sequence[Output], *, fmt: str) -> list[Path]:
    """Writes an export's files under ``out``, each atomically.

    ``html``, ``pdf`` and ``zip`` exports are one file: written to ``out``, or into ``out`` under their
    default name when ``out`` is an existing directory. ``png``, ``svg`` and ``gif`` exports are written to
    ``out`` when it ends in their extension and there is exactly one file, else into the directory ``out``.

    Args:
        out: The output path.
        outputs: The files (``write_outputs`` keeps their relative names under a directory).
        fmt: The export format.

    Returns:
        The paths written.

    Raises:
        ExportOutputError: ``out`` cannot be written, or names one file for several.
    """
    ext = EXTENSIONS[fmt]
    single = fmt in SINGLE_FILE_FORMATS or out.suffix.lower() == ext
    if single and len(outputs) != 1:
        raise ExportOutputError(
            f"this selection gives {len(outputs)} {fmt.upper()} files and --out {out} names one file: "
            "give a directory, or narrow the selection (--layers, --epochs, --probe, --kinds)"
        )
    try:
        if single:
            target = out / outputs[0][0].rsplit("/", 1)[-1] if out.is_dir() else out
            target.parent.mkdir(parents=True, exist_ok=True)
            _write_atomic(target, outputs[0][1])
            return [target]
        written = []
        for name, data in outputs:
            target = out.joinpath(*name.split("/"))
            target.parent.mkdir(parents=True, exist_ok=True)
            _write_atomic(target, data)
            written.append(target)
        return written
    except OSError as e:
        if isinstance(e, ExportOutputError):
            raise
        reason = e.strerror or str(e)
        where = f" ({e.filename})" if e.filename and str(e.filename) != str(out) else ""
        raise ExportOutputError(f"cannot write to {out}: {reason}{where}") from e
