"""The export verbs, and the steps under them: options in, a report in memory, files out.

The Python entries take keyword arguments and build one checked
:class:`~tb_featureviz.export.options.ExportOptions`; everything under them takes that object whole:

- :func:`export`: logdir in, files out (the command line's ``featureviz export`` builds its options from
  argv and calls :func:`write_export`, the same step without the keyword arguments);
- :func:`read_logdir`: a logdir and options in, a ``Report`` out (nothing rendered): what :func:`write_export`
  and the notebook helpers in ``tb_featureviz.plot`` read;
- :func:`collect`: an open reader in, a ``Report`` out (nothing rendered);
- :func:`export_from_reader`: an open reader and options in, the report and its files (in memory) out;
  the plugin's ``/export`` route calls it with the options it built from the query;
- :func:`render_outputs`: a report and options in, the files (in memory) out.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from tb_featureviz.export.collect import Reader, read_plan
from tb_featureviz.export.content import DamagedImage, Report
from tb_featureviz.export.errors import ExportArgumentError, ExportNotFoundError
from tb_featureviz.export.options import EpochSpec, ExportOptions, parse_names
from tb_featureviz.export.progress import ProgressCallback
from tb_featureviz.export.selection import plan_export
from tb_featureviz.export.writers import (
    EXTENSIONS,
    SINGLE_FILE_FORMATS,
    Output,
    check_writable,
    default_filename,
    gif_outputs,
    html_outputs,
    png_outputs,
    summary_outputs,
    write_outputs,
    zip_bytes,
)
from tb_featureviz.reader import open_logdir

if TYPE_CHECKING:
    from tensorboard.context import RequestContext

    from tb_featureviz.metadata import RecordView


@dataclasses.dataclass(frozen=True)
class ExportResult:
    """What :func:`write_export` wrote.

    Attributes:
        path: The file written, or the directory the files were written to.
        files: Every file written.
        damaged: The stored images left out because their bytes are damaged.
    """

    path: Path
    files: tuple[Path, ...]
    damaged: tuple[DamagedImage, ...]


def render_outputs(report: Report, options: ExportOptions, *, progress: ProgressCallback | None = None) -> list[Output]:
    """Renders a collected report in ``options.format``, in memory.

    Args:
        report: What :func:`collect` read.
        options: How to draw it (format, colour map, scale, captions, channel).
        progress: Called with ``(done, total, what)``.

    Returns:
        ``[(relative_name, bytes)]``: one file for html and zip, one per figure (png) or image series (gif).
    """
    if options.detail == "summary":
        return summary_outputs(report, options, progress=progress)
    if options.format == "html":
        return html_outputs(report, options, progress=progress)
    if options.format == "png":
        return png_outputs(report, options, progress=progress)
    if options.format == "gif":
        return gif_outputs(report, options, progress=progress)
    return [(default_filename(report, "zip"), zip_bytes(report, progress=progress))]


def export_from_reader(
    reader: Reader,
    ctx: RequestContext,
    options: ExportOptions,
    *,
    logdir: str = "",
    progress: ProgressCallback | None = None,
    render_progress: ProgressCallback | None = None,
) -> tuple[Report, list[Output]]:
    """Plans, reads and renders an export from an open ``FeatureVizReader`` (no files written).

    Used by :func:`write_export` (offline) and by the plugin's ``/export`` route.

    Args:
        reader: A ``tb_featureviz.reader.FeatureVizReader``.
        ctx: The ``RequestContext`` to pass to the reader.
        options: What to export and how.
        logdir: Shown in error messages and the report.
        progress: Called with ``(done, total, what)`` as the reading, then the rendering, advance.
        render_progress: Called for the rendering instead of ``progress``, if given.

    Returns:
        ``(report, outputs)``.

    Raises:
        ExportArgumentError: ``probe`` or ``channel`` out of a layer's range.
        ExportNotFoundError: an unknown run or layer, an epoch that is not written, or nothing to export.
    """
    report = read_plan(
        reader, ctx, plan_export(_index(reader, ctx, options), options, logdir=logdir), progress=progress
    )
    return report, render_outputs(report, options, progress=render_progress or progress)


def _index(reader: Reader, ctx: RequestContext, options: ExportOptions) -> RecordView:
    """The index with the exported runs read in full (a sweep's other runs may be listed only): each name as
    given and each comma-separated part of it, as ``plan_export`` matches them."""
    names = list(dict.fromkeys([*options.runs, *(parse_names(options.runs) or [])]))
    most = getattr(reader, "detail_runs", None)
    if isinstance(most, int) and len(parse_names(options.runs) or []) > most:
        raise ExportArgumentError(
            f"this TensorBoard reads at most {most} runs in full at a time (--featureviz_full_runs); export at "
            f"most {most} runs, or use `featureviz export`. Received: {len(parse_names(options.runs) or [])} runs"
        )
    return reader.index(ctx, runs=names)


def collect(
    reader: Reader,
    ctx: RequestContext,
    runs: str | Iterable[str],
    *,
    epochs: EpochSpec = "last",
    kinds: str | Iterable[str] | None = None,
    layers: str | Iterable[str] | None = None,
    probe: int | None = None,
    channel: int | None = None,
    logdir: str = "",
    progress: ProgressCallback | None = None,
) -> Report:
    """Reads the selected runs, epochs, kinds and layers into a ``Report`` (nothing rendered).

    Args:
        reader: A ``tb_featureviz.reader.FeatureVizReader`` (or anything with its ``index``/``step``/``blob``/
            ``scalars`` methods).
        ctx: The ``RequestContext`` to pass to the reader.
        runs, epochs, kinds, layers, probe, channel: As in :func:`export`. Filter grids of epochs whose
            rotation did not draw filter ``channel`` are left out (it fails when no epoch drew it).
        logdir: Shown in error messages and the report.
        progress: Called with ``(done, total, what)`` as steps are read.

    Returns:
        The report, with figures in display order (kind, layer, epoch, probe, target).

    Raises:
        ExportArgumentError: a bad selection (kinds, epochs syntax, probe or channel out of range).
        ExportNotFoundError: an unknown run or layer, an epoch that is not written, or nothing to
            export; the message lists what exists.
    """
    options = ExportOptions.parse(runs, epochs=epochs, kinds=kinds, layers=layers, probe=probe, channel=channel)
    return read_plan(reader, ctx, plan_export(_index(reader, ctx, options), options, logdir=logdir), progress=progress)


def read_logdir(
    logdir: str | os.PathLike[str],
    options: ExportOptions,
    *,
    progress: ProgressCallback | None = None,
    load_fast: bool = False,
) -> Report:
    """Reads what ``options`` select from a logdir into a ``Report`` (nothing rendered), through
    TensorBoard's data provider.

    Raises:
        ExportNotFoundError: the logdir, a run, an epoch or a layer does not exist (the message lists what
            does).
    """
    logdir_str = os.fspath(logdir)
    if not os.path.isdir(logdir_str):
        raise ExportNotFoundError(f"logdir {logdir_str!r} does not exist or is not a directory")

    from tensorboard.context import RequestContext

    with open_logdir(logdir_str, load_fast=load_fast) as reader:
        ctx = RequestContext()
        return read_plan(
            reader, ctx, plan_export(_index(reader, ctx, options), options, logdir=logdir_str), progress=progress
        )


def write_export(
    logdir: str | os.PathLike[str],
    out: str | os.PathLike[str],
    options: ExportOptions,
    *,
    progress: ProgressCallback | None = None,
    load_fast: bool = False,
) -> ExportResult:
    """Reads a logdir and writes the export ``options`` describe to ``out``, each file atomically.

    Arguments and errors as in :func:`export`, with the options already checked.
    """
    out_path = Path(out)
    directory = options.format not in SINGLE_FILE_FORMATS and out_path.suffix.lower() != EXTENSIONS[options.format]
    check_writable(out_path, directory=directory)
    report = read_logdir(logdir, options, progress=progress, load_fast=load_fast)
    outputs = render_outputs(report, options, progress=progress)
    written = write_outputs(out_path, outputs, fmt=options.format)
    path = out_path if directory else written[0]
    return ExportResult(path=path, files=tuple(written), damaged=tuple(report.damaged))


def export(
    logdir: str | os.PathLike[str],
    runs: str | Iterable[str],
    *,
    out: str | os.PathLike[str],
    epochs: EpochSpec = None,
    kinds: str | Iterable[str] | None = None,
    layers: str | Iterable[str] | None = None,
    format: str = "html",
    detail: str | None = None,
    colormap: str | None = None,
    scale: int = 1,
    caption: bool = True,
    channel: int | None = None,
    probe: int | None = None,
    stage: str | tuple[int, int] | None = None,
    run_layers: Mapping[str, str] | None = None,
    progress: ProgressCallback | None = None,
    load_fast: bool = False,
    written_paths: list[Path] | None = None,
    damaged: list[DamagedImage] | None = None,
) -> Path:
    """Exports featureviz summaries of a logdir as an HTML report, PNGs, GIFs or a ZIP.

    Reads through TensorBoard's data provider with ``tb_featureviz.reader`` (no TensorFlow
    needed). A logdir that training is still writing is fine: the export holds the epochs written so
    far. Files are written to a temporary name beside the target and renamed into place, so an
    interrupted export leaves no partial file. Every option is checked before the logdir is read.

    Args:
        logdir: The TensorBoard log directory.
        runs: Run name(s) as the plugin shows them (``exp1``; ``.`` for the logdir itself), a list or
            a comma-separated string. Several runs are shown side by side in HTML.
        out: Output path. ``html``/``zip``: a file (or an existing directory to put
            ``featureviz-<runs>.<ext>`` in). ``png``/``gif``: a directory, or a ``.png``/``.gif`` file
            when the selection gives exactly one image.
        epochs: None (default: every epoch for a summary, each run's last written epoch for ``detail="full"``),
            ``"last"``, ``"all"``, ``"0,10,29"``,
            ``"0-9"`` or a list of ints.
        kinds: Some of ``activations``, ``filters``, ``gradcam`` (default all).
        layers: Layer names to keep (default all).
        format: ``html``, ``pdf``, ``png``, ``svg``, ``gif`` or ``zip``.
        detail: ``"summary"`` (the default for ``html``, ``pdf``, ``png`` and ``svg``): a summary-first report of
            numbered figures (``png``: each at 300 dpi; ``svg``: vector), or ``"full"`` (the default for ``gif``
            and ``zip``): every exported epoch of every layer, each stored image as it is.
        colormap: Colour map of activation grids and heatmaps (``viridis`` when None; also
            ``magma``, ``inferno``, ``gray``). Grad-CAM overlays keep their stored colours when None
            and are recomputed with the map otherwise.
        scale: Integer enlargement of PNG and GIF images, nearest neighbour (1 to 64).
        caption: Caption strip under each PNG (run, layer, epoch); captions in HTML.
        channel: Show only this channel of activation grids / this filter of filter grids (the tile
            is cut out using the recorded grid layout). Grad-CAM images are not affected.
        probe: Only this probe image (activations and Grad-CAM); default all.
        stage: Runs of different architectures aligned by stage: ``"3/5"`` exports each run's own layer
            for stage 3 of a 5-stage run (its Grad-CAM layer for Grad-CAM; see ``ExportOptions.stage``).
            Not with ``layers``.
        run_layers: ``{run: layer}``: the layer to export for a run in the kinds it has, whatever
            ``layers``/``stage`` say; the run's other kinds follow them.
        progress: Called with ``(done, total, what)`` as the export advances
            (``tb_featureviz.export.ProgressBar`` draws a bar on stderr).
        load_fast: Read with TensorBoard's Rust data server instead of the Python multiplexer.
        written_paths: If given, every file written is appended to it.
        damaged: If given, every stored image left out because its bytes are damaged is appended to it
            (the export holds everything else; HTML says so, a ZIP's manifest lists them).

    Returns:
        The file written, or the directory the files were written to.

    Raises:
        ExportArgumentError: a bad option (format, kinds, epochs, colour map, scale, probe, channel).
        ExportNotFoundError: the logdir, a run, an epoch or a layer does not exist (the message lists
            what does).
        ExportOutputError: ``out`` cannot be written.

    Example:
        >>> from tb_featureviz.export import export
        >>> export("runs", ["exp1", "exp2"], epochs="0,10,29", format="html", out="report.html")
        PosixPath('report.html')
    """
    options = ExportOptions.parse(
        runs,
        epochs=epochs,
        kinds=kinds,
        layers=layers,
        format=format,
        detail=detail,
        colormap=colormap,
        scale=scale,
        caption=caption,
        channel=channel,
        probe=probe,
        stage=stage,
        run_layers=dict(run_layers or {}),
    )
    result = write_export(logdir, out, options, progress=progress, load_fast=load_fast)
    if written_paths is not None:
        written_paths.extend(result.files)
    if damaged is not None:
        damaged.extend(result.damaged)
    return result.path
