"""The export verb: logdir in, a report file (or a directory of images) out."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tb_featureviz.export.collect import EpochSpec, ProgressCallback, Reader, collect, parse_epochs, parse_kinds
from tb_featureviz.export.errors import ExportArgumentError, ExportNotFoundError
from tb_featureviz.export.figures import check_colormap
from tb_featureviz.export.model import FORMATS, DamagedImage, Report
from tb_featureviz.export.writers import (
    EXTENSIONS,
    Output,
    check_writable,
    default_filename,
    gif_outputs,
    html_outputs,
    png_outputs,
    write_outputs,
    zip_bytes,
)
from tb_featureviz.plugin.integrity import clip


def check_options(*, format: str, colormap: str | None, scale: int) -> None:
    """Validates the format-level options.

    Raises:
        ExportArgumentError: an unknown format or colour map, or a scale that is not an int >= 1.
    """
    if format not in FORMATS:
        raise ExportArgumentError(f"unknown format {clip(str(format))}; choose from {', '.join(FORMATS)}")
    try:
        check_colormap(colormap)
    except ValueError as e:
        raise ExportArgumentError(str(e)) from e
    if not isinstance(scale, int) or isinstance(scale, bool) or not 1 <= scale <= 64:
        raise ExportArgumentError(f"scale must be an int from 1 to 64. Received: scale={clip(repr(scale))}")


def render_outputs(
    report: Report,
    *,
    format: str = "html",
    colormap: str | None = None,
    scale: int = 1,
    caption: bool = True,
    channel: int | None = None,
    progress: ProgressCallback | None = None,
) -> list[Output]:
    """Renders a collected report in one format, in memory.

    Args:
        report: What ``collect`` read.
        format: ``html``, ``png``, ``gif`` or ``zip``.
        colormap: Colour map of grayscale images; see ``tb_featureviz.export.figures.figure_pixels``.
        scale: Integer enlargement of PNG and GIF images (nearest neighbour).
        caption: Caption strips under PNGs and captions under the HTML figures.
        channel: Show one channel (activations) or filter (filters) of each grid.
        progress: Called with ``(done, total, what)``.

    Returns:
        ``[(relative_name, bytes)]``: one file for html and zip, one per figure (png) or image series (gif).
    """
    check_options(format=format, colormap=colormap, scale=scale)
    if format == "html":
        return html_outputs(report, colormap=colormap, caption=caption, channel=channel, progress=progress)
    if format == "png":
        return png_outputs(report, colormap=colormap, scale=scale, caption=caption, channel=channel, progress=progress)
    if format == "gif":
        return gif_outputs(report, colormap=colormap, scale=scale, channel=channel, progress=progress)
    return [(default_filename(report, "zip"), zip_bytes(report, progress=progress))]


def export_from_reader(
    reader: Reader,
    ctx: Any,
    runs: str | Iterable[str],
    *,
    epochs: EpochSpec = "last",
    kinds: str | Iterable[str] | None = None,
    layers: str | Iterable[str] | None = None,
    format: str = "html",
    colormap: str | None = None,
    scale: int = 1,
    caption: bool = True,
    channel: int | None = None,
    probe: int | None = None,
    logdir: str = "",
    progress: ProgressCallback | None = None,
    render_progress: ProgressCallback | None = None,
) -> tuple[Report, list[Output]]:
    """Collects and renders an export from an open ``FeatureVizReader`` (no files written).

    Used by ``export`` (offline) and by the plugin's ``/export`` route (``tb_featureviz.export.http``).
    Arguments as in ``export`` and ``collect``; ``progress`` follows the reading, then the rendering,
    unless ``render_progress`` is given for the rendering.

    Returns:
        ``(report, outputs)``.
    """
    check_options(format=format, colormap=colormap, scale=scale)
    report = collect(
        reader,
        ctx,
        runs,
        epochs=epochs,
        kinds=kinds,
        layers=layers,
        probe=probe,
        channel=channel,
        logdir=logdir,
        progress=progress,
    )
    outputs = render_outputs(
        report,
        format=format,
        colormap=colormap,
        scale=scale,
        caption=caption,
        channel=channel,
        progress=render_progress or progress,
    )
    return report, outputs


def export(
    logdir: str | os.PathLike[str],
    runs: str | Iterable[str],
    *,
    out: str | os.PathLike[str],
    epochs: EpochSpec = "last",
    kinds: str | Iterable[str] | None = None,
    layers: str | Iterable[str] | None = None,
    format: str = "html",
    colormap: str | None = None,
    scale: int = 1,
    caption: bool = True,
    channel: int | None = None,
    probe: int | None = None,
    progress: ProgressCallback | None = None,
    load_fast: bool = False,
    written_paths: list[Path] | None = None,
    damaged: list[DamagedImage] | None = None,
) -> Path:
    """Exports featureviz summaries of a logdir as an HTML report, PNGs, GIFs or a ZIP.

    Reads through TensorBoard's data provider with the plugin's ``FeatureVizReader`` (no TensorFlow
    needed). A logdir that training is still writing is fine: the export holds the epochs written so
    far. Files are written to a temporary name beside the target and renamed into place, so an
    interrupted export leaves no partial file.

    Args:
        logdir: The TensorBoard log directory.
        runs: Run name(s) as the plugin shows them (``exp1``; ``.`` for the logdir itself), a list or
            a comma-separated string. Several runs are shown side by side in HTML.
        out: Output path. ``html``/``zip``: a file (or an existing directory to put
            ``featureviz-<runs>.<ext>`` in). ``png``/``gif``: a directory, or a ``.png``/``.gif`` file
            when the selection gives exactly one image.
        epochs: ``"last"`` (default: each run's last written epoch), ``"all"``, ``"0,10,29"``,
            ``"0-9"`` or a list of ints.
        kinds: Some of ``activations``, ``filters``, ``gradcam`` (default all).
        layers: Layer names to keep (default all).
        format: ``html``, ``png``, ``gif`` or ``zip``.
        colormap: Colour map of activation grids and heatmaps (``viridis`` when None; also
            ``magma``, ``inferno``, ``gray``). Grad-CAM overlays keep their stored colours when None
            and are recomputed with the map otherwise.
        scale: Integer enlargement of PNG and GIF images, nearest neighbour.
        caption: Caption strip under each PNG (run, layer, epoch); captions in HTML.
        channel: Show only this channel of activation grids / this filter of filter grids (the tile
            is cut out using the recorded grid layout). Grad-CAM images are not affected.
        probe: Only this probe image (activations and Grad-CAM); default all.
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
    check_options(format=format, colormap=colormap, scale=scale)
    parse_epochs(epochs)  # a bad selection fails before the logdir is read
    parse_kinds(kinds)
    out_path = Path(out)
    directory = format in ("png", "gif") and out_path.suffix.lower() != EXTENSIONS[format]
    check_writable(out_path, directory=directory)
    logdir_str = os.fspath(logdir)
    if not os.path.isdir(logdir_str):
        raise ExportNotFoundError(f"logdir {logdir_str!r} does not exist or is not a directory")

    from tensorboard.context import RequestContext

    from tb_featureviz.plugin.reader import open_logdir

    with open_logdir(logdir_str, load_fast=load_fast) as reader:
        report, outputs = export_from_reader(
            reader,
            RequestContext(),
            runs,
            epochs=epochs,
            kinds=kinds,
            layers=layers,
            format=format,
            colormap=colormap,
            scale=scale,
            caption=caption,
            channel=channel,
            probe=probe,
            logdir=logdir_str,
            progress=progress,
        )
    written = write_outputs(out_path, outputs, fmt=format)
    if written_paths is not None:
        written_paths.extend(written)
    if damaged is not None:
        damaged.extend(report.damaged)
    if directory:
        return out_path
    return written[0]
