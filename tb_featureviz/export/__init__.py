"""Exports for reports: a self-contained HTML report, PNG figures, GIFs across epochs, a ZIP of raw PNGs.

Reads a logdir through TensorBoard's data provider with the plugin's ``FeatureVizReader`` (the same code
path as the dashboard); needs ``tensorboard``, not TensorFlow. Colour maps and overlays come from
``tb_featureviz.render``.

Example:
    >>> from tb_featureviz.export import export
    >>> export("runs", "exp1", epochs="0,10,29", format="html", out="exp1.html")
    PosixPath('exp1.html')
"""

from tb_featureviz.export.api import check_options, export, export_from_reader, render_outputs
from tb_featureviz.export.collect import collect, parse_epochs
from tb_featureviz.export.errors import ExportArgumentError, ExportNotFoundError, ExportOutputError
from tb_featureviz.export.model import EXPORT_KINDS, FORMATS, Curve, CurvePoint, Figure, Report, RunExport
from tb_featureviz.export.progress import ProgressBar

__all__ = [
    "EXPORT_KINDS",
    "FORMATS",
    "Curve",
    "CurvePoint",
    "ExportArgumentError",
    "ExportNotFoundError",
    "ExportOutputError",
    "Figure",
    "ProgressBar",
    "Report",
    "RunExport",
    "check_options",
    "collect",
    "export",
    "export_from_reader",
    "parse_epochs",
    "render_outputs",
]
