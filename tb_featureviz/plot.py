"""Notebook helpers: the report's figures as matplotlib ``Figure`` objects, read from a logdir.

Each helper reads the runs through the same reader and drawing code as ``featureviz export``, and returns a
``matplotlib.figure.Figure`` (shown inline by Jupyter; ``fig.savefig("curves.pdf")`` writes it). Needs
``tensorboard`` and ``matplotlib``, not TensorFlow.

Example:
    >>> import tb_featureviz as fv
    >>> fig = fv.plot.curves("runs", ["exp1", "exp2"])
    >>> fig.savefig("curves.pdf")
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from matplotlib.figure import Figure

from tb_featureviz.export import charts
from tb_featureviz.export.report import FigureBlock, build_summary

__all__ = ["activations", "checks", "curves", "figures", "filmstrips", "filters", "gradcam"]


def _blocks(
    logdir: str | os.PathLike[str],
    runs: str | Iterable[str],
    *,
    epochs: str | Iterable[int] | None = None,
    probe: int | None = None,
    channel: int | None = None,
    colormap: str | None = None,
    load_fast: bool = False,
) -> list[FigureBlock]:
    from tb_featureviz.export.api import read_logdir
    from tb_featureviz.export.options import ExportOptions

    options = ExportOptions.parse(
        [runs] if isinstance(runs, str) else list(runs),
        epochs=epochs if epochs is None or isinstance(epochs, str) else list(epochs),
        format="html",
        detail="summary",
        probe=probe,
        channel=channel,
        colormap=colormap,
    )
    return build_summary(read_logdir(logdir, options, load_fast=load_fast), options).figures


def figures(
    logdir: str | os.PathLike[str],
    runs: str | Iterable[str],
    *,
    epochs: str | Iterable[int] | None = None,
    probe: int | None = None,
    channel: int | None = None,
    colormap: str | None = None,
    load_fast: bool = False,
) -> dict[str, Figure]:
    """Every figure of the summary report, by title (``"Training curves"``, ``"Grad-CAM at pool4"``, ...).

    Args:
        logdir: The TensorBoard log directory.
        runs: A run name or several (drawn side by side).
        epochs: The epochs to read (default every epoch; filmstrips show at most six).
        probe: The probe image of the activation grids and channel filmstrips (default 0).
        channel: Follow this channel (or filter) in the filmstrips instead of the ones that changed most.
        colormap: Colour map of activation grids and heatmaps (default viridis).
        load_fast: Read with TensorBoard's Rust data server.

    Returns:
        ``{title: figure}`` in the report's order.

    Raises:
        ExportArgumentError, ExportNotFoundError: as ``tb_featureviz.export.export``.
    """
    blocks = _blocks(logdir, runs, epochs=epochs, probe=probe, channel=channel, colormap=colormap, load_fast=load_fast)
    return {block.title: _figure(block) for block in blocks}


def _figure(block: FigureBlock) -> Figure:
    with charts.style():
        fig = charts.new_figure(block.height, constrained=charts.laid_out(block.kind))
        block.draw(fig)
    return fig


def _kind(kind: str, blocks: list[FigureBlock]) -> list[Figure]:
    """The figures of one kind (``FigureBlock.kind``) among a report's blocks, drawn."""
    return [_figure(b) for b in blocks if b.kind == kind]


def curves(logdir: str | os.PathLike[str], runs: str | Iterable[str], *, load_fast: bool = False) -> Figure:
    """The loss, metric and learning-rate curves of ``runs`` (one chart per metric, the learning rate on a log
    axis), as in the report's Figure 1."""
    return _kind("curves", _blocks(logdir, runs, epochs="last", load_fast=load_fast))[0]


def checks(logdir: str | os.PathLike[str], runs: str | Iterable[str], *, load_fast: bool = False) -> Figure:
    """The Grad-CAM checks (faithfulness and sanity), a marker at each measured epoch.

    Raises:
        ValueError: no run measured any check.
    """
    found = _kind("checks", _blocks(logdir, runs, epochs="last", load_fast=load_fast))
    if not found:
        raise ValueError(f"no Grad-CAM checks were measured in {runs!r} of {os.fspath(logdir)!r}")
    return found[0]


def activations(
    logdir: str | os.PathLike[str],
    run: str,
    *,
    epoch: int | None = None,
    probe: int = 0,
    colormap: str | None = None,
    load_fast: bool = False,
) -> Figure:
    """One activation grid per resolution stage for one probe image, at ``epoch`` (default the last)."""
    epochs = "last" if epoch is None else [epoch]
    blocks = _blocks(logdir, run, epochs=epochs, probe=probe, colormap=colormap, load_fast=load_fast)
    found = _kind("activations", blocks)
    if not found:
        raise ValueError(f"run {run!r} has no activation grids at epoch {'last' if epoch is None else epoch}")
    return found[0]


def filters(
    logdir: str | os.PathLike[str], run: str, *, epoch: int | None = None, load_fast: bool = False
) -> list[Figure]:
    """The filter patterns of each filter layer at ``epoch`` (default the last): one figure per layer."""
    return _kind("filters", _blocks(logdir, run, epochs="last" if epoch is None else [epoch], load_fast=load_fast))


def gradcam(logdir: str | os.PathLike[str], run: str, *, epoch: int | None = None, load_fast: bool = False) -> Figure:
    """Every probe's Grad-CAM for the predicted and the true class at ``epoch`` (default the last), wrong
    predictions badged."""
    found = _kind("gradcam", _blocks(logdir, run, epochs="last" if epoch is None else [epoch], load_fast=load_fast))
    if not found:
        raise ValueError(f"run {run!r} has no Grad-CAM at epoch {'last' if epoch is None else epoch}")
    return found[0]


def filmstrips(
    logdir: str | os.PathLike[str],
    run: str,
    *,
    epochs: str | Iterable[int] | None = None,
    channel: int | None = None,
    load_fast: bool = False,
) -> list[Figure]:
    """How the run changed: channels, filters and every probe's Grad-CAM across at most six of ``epochs``."""
    return _kind("filmstrip", _blocks(logdir, run, epochs=epochs, channel=channel, load_fast=load_fast))
