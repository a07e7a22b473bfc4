"""The dashboard's export: a query in, a downloadable file out.

The plugin wires ``handle_export`` to its ``/export`` route; it reads through the same
``FeatureVizReader`` as every other route. ``query_options`` turns the query's strings into numbers and
flags and makes one ``tb_featureviz.export.ExportOptions`` of them, which checks every value once; the
export below takes it whole.

Query parameters (all strings):

``run``       a run name, repeated for several runs (run names may hold commas)
``runs``      comma-separated run names (either this or ``run`` is required)
``kinds``     comma-separated, from ``activations``, ``filters``, ``gradcam`` (default all)
``layer``     a layer name, or comma-separated names (default all); ``layers`` is accepted too
``stage``     ``K/N``: runs of different architectures aligned by stage (each run's layer for stage K
              of an N-stage run; its Grad-CAM layer for Grad-CAM), instead of ``layer``
``layer@<run>``  the layer to export for that run (repeat per run), whatever ``layer``/``stage`` say
``epochs``    ``last`` (default; ``all`` for a summary), ``all``, or ``0,10,29`` / ``0-9``
``format``    ``html`` (default), ``pdf``, ``png``, ``svg``, ``gif`` or ``zip``
``detail``    ``full`` (default: the view on show, every chosen epoch and layer as stored) or ``summary`` (the
              summary-first report of numbered figures; the default for ``pdf`` and ``svg``)
``probe``     a probe image index (default all)
``colormap``  ``viridis``, ``magma``, ``inferno`` or ``gray``
``channel``   one channel (of the layer, not a tile) / filter index of the grids
``scale``     integer enlargement of png/gif images (default 1)
``caption``   ``0``/``false`` to leave out captions (default on)
``job``       an id the page picked, to follow the export with ``handle_export_progress``

A ``png``, ``svg`` or ``gif`` export that gives several images is answered as a ZIP of them.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Mapping
from typing import TYPE_CHECKING

from werkzeug.datastructures import MultiDict

from tb_featureviz.export.api import export_from_reader
from tb_featureviz.export.collect import Reader
from tb_featureviz.export.content import DamagedImage
from tb_featureviz.export.errors import ExportArgumentError
from tb_featureviz.export.options import ExportOptions
from tb_featureviz.export.writers import MIMETYPES, default_filename
from tb_featureviz.plugin.export_jobs import ExportJobs, JobProgress
from tb_featureviz.reader.integrity import clip

if TYPE_CHECKING:
    from tensorboard.context import RequestContext


def _int_param(query: Mapping[str, str], name: str, *, default: int | None) -> int | None:
    """The parameter as an int (its range is ``ExportOptions``' to check), or ``default`` when absent."""
    raw = query.get(name)
    if raw is None or str(raw).strip() == "":
        return default
    text = str(raw).strip()
    if not re.fullmatch(r"-?[0-9]{1,18}", text):
        raise ExportArgumentError(f"{name} must be a whole number of at most 18 digits. Received: {name}={clip(text)}")
    return int(text)


def _bool_param(query: Mapping[str, str], name: str, *, default: bool) -> bool:
    raw = query.get(name)
    if raw is None or str(raw).strip() == "":
        return default
    text = str(raw).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ExportArgumentError(f"{name} must be true or false. Received: {name}={clip(str(raw))}")


RUN_LAYER_PREFIX = "layer@"
"""``layer@<run>=<layer>``: the layer to export for one run (the dashboard's per-run choice)."""


def query_options(query: Mapping[str, str]) -> ExportOptions:
    """The ``ExportOptions`` of an ``/export`` query: strings turned into values, then checked once.

    Raises:
        tensorboard.errors.InvalidArgumentError: a missing or malformed parameter (400).
    """
    # Repeated `run` parameters, each one run name (names may hold commas); else `runs`, comma-separated.
    listed = query.getlist("run") if isinstance(query, MultiDict) else [str(query.get("run") or "")]
    runs: str | list[str] = [r for r in listed if r.strip()] or str(query.get("runs") or "").strip()
    if not runs:
        raise ExportArgumentError("missing query parameter 'run' (repeated) or 'runs' (comma-separated run names)")
    fmt = str(query.get("format") or "html").strip().lower()
    detail = str(query.get("detail") or "").strip().lower() or ("summary" if fmt in ("pdf", "svg") else "full")
    return ExportOptions.parse(
        runs,
        epochs=str(query.get("epochs")) if query.get("epochs") else None,
        detail=detail,
        kinds=query.get("kinds") or None,
        layers=query.get("layer") or query.get("layers") or None,
        format=fmt,
        colormap=str(query.get("colormap")).strip() if query.get("colormap") else None,
        scale=_int_param(query, "scale", default=1),
        caption=_bool_param(query, "caption", default=True),
        channel=_int_param(query, "channel", default=None),
        probe=_int_param(query, "probe", default=None),
        stage=str(query.get("stage")).strip() if query.get("stage") else None,
        run_layers=[(k[len(RUN_LAYER_PREFIX) :], str(query.get(k))) for k in query if k.startswith("layer@")],
    )


def handle_export(
    reader: Reader,
    ctx: RequestContext,
    query: Mapping[str, str],
    jobs: ExportJobs | None = None,
    damaged: list[DamagedImage] | None = None,
) -> tuple[bytes, str, str]:
    """Builds the export the dashboard asks for.

    Args:
        reader: The plugin's ``FeatureVizReader``.
        ctx: The request's ``RequestContext``.
        query: The query parameters (see the module docstring): ``request.args``, or a plain mapping
            (one ``run`` only).
        jobs: Where the progress of a ``job=<id>`` export is recorded.
        damaged: If given, the stored images left out because their bytes are damaged are appended to it
            (the plugin answers their count in ``X-FeatureViz-Damaged``).

    Returns:
        ``(body, mimetype, filename)``; serve with ``Content-Disposition: attachment; filename=...``.

    Raises:
        tensorboard.errors.InvalidArgumentError: a missing or malformed parameter (400).
        tensorboard.errors.NotFoundError: an unknown run, layer or epoch; the message lists what
            exists (404).

    Example:
        >>> body, mimetype, filename = handle_export(reader, ctx, {"runs": "exp1", "format": "html"})
    """
    options = query_options(query)
    job = str(query.get("job") or "").strip()
    if job and jobs is not None:
        read, render = jobs.start(job)  # raises ExportArgumentError (400) for a malformed id
        try:
            report, outputs = export_from_reader(reader, ctx, options, progress=read, render_progress=render)
        except BaseException:
            jobs.finish(job, ok=False)
            raise
        jobs.finish(job, ok=True)
    else:
        report, outputs = export_from_reader(reader, ctx, options)
    if damaged is not None:
        damaged.extend(report.damaged)
    if len(outputs) == 1:
        name, data = outputs[0]
        return data, MIMETYPES[options.format], name.rsplit("/", 1)[-1]
    buf = io.BytesIO()
    stamp = report.generated.timetuple()[:6]
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in outputs:
            zf.writestr(zipfile.ZipInfo(name, date_time=stamp), data, compress_type=zipfile.ZIP_STORED)
    filename = default_filename(report, "zip").removesuffix(".zip") + f"-{options.format}.zip"
    return buf.getvalue(), MIMETYPES["zip"], filename


def handle_export_progress(jobs: ExportJobs, query: Mapping[str, str]) -> JobProgress:
    """The progress of the export started with ``job=<id>``.

    Returns:
        ``{"job", "state": "running"|"done"|"failed", "phase": "read"|"render", "done", "total", "what"}``.

    Raises:
        tensorboard.errors.InvalidArgumentError: ``job`` is missing or malformed (400).
        tensorboard.errors.NotFoundError: no such job (404).
    """
    job = str(query.get("job") or "").strip()
    if not job:
        raise ExportArgumentError("missing query parameter 'job'")
    return jobs.get(job)
