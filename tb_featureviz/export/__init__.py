"""Exports for reports: a self-contained HTML report, PNG figures, GIFs across epochs, a ZIP of raw PNGs.

Reads a logdir through TensorBoard's data provider with ``tb_featureviz.reader`` (the same code
path as the dashboard); needs ``tensorboard``, not TensorFlow. Colour maps and overlays come from
``tb_featureviz.render``. Never imports ``tb_featureviz.plugin``: the plugin's ``/export`` route imports this.

An export is one :class:`ExportOptions`, checked once where it enters (``export``/``collect``, the
``featureviz export`` command, or the plugin's route), then planned (``plan.py``), read (``collect.py``)
and rendered (``writers.py``, ``html.py``, ``figures.py``), each step taking the options whole.

Example:
    >>> from tb_featureviz.export import export
    >>> export("runs", "exp1", epochs="0,10,29", format="html", out="exp1.html")
    PosixPath('exp1.html')
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tb_featureviz.export.api import (
        ExportResult,
        export,
        export_from_reader,
        render_outputs,
        write_export,
    )
    from tb_featureviz.export.content import EXPORT_KINDS, FORMATS, Curve, CurvePoint, Figure, Report, RunExport
    from tb_featureviz.export.errors import ExportArgumentError, ExportNotFoundError, ExportOutputError
    from tb_featureviz.export.options import EpochSelection, ExportOptions, parse_epochs
    from tb_featureviz.export.progress import ProgressBar

# The submodule ``collect`` is bound to this package when it is first imported, which would shadow the
# function ``collect`` that __getattr__ serves: import it first, then define the function over it.
from tb_featureviz.export import collect as _collect_module  # noqa: F401


def collect(*args: Any, **kwargs: Any) -> Any:
    """:func:`tb_featureviz.export.api.collect`, imported on first use."""
    from tb_featureviz.export.api import collect as collect_report

    return collect_report(*args, **kwargs)


_HOMES = {
    "api": ("ExportResult", "export", "export_from_reader", "render_outputs", "write_export"),
    "errors": ("ExportArgumentError", "ExportNotFoundError", "ExportOutputError"),
    "model": ("EXPORT_KINDS", "FORMATS", "Curve", "CurvePoint", "Figure", "Report", "RunExport"),
    "options": ("EpochSelection", "ExportOptions", "parse_epochs"),
    "progress": ("ProgressBar",),
}
_MODULE_OF = {name: module for module, names in _HOMES.items() for name in names}


def __getattr__(name: str) -> Any:
    """The public names, imported on first use: a TensorBoard that only browses (the plugin imports
    ``export.errors``) never loads the renderers and matplotlib behind ``api``."""
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "EXPORT_KINDS",
    "FORMATS",
    "Curve",
    "CurvePoint",
    "EpochSelection",
    "ExportArgumentError",
    "ExportNotFoundError",
    "ExportOptions",
    "ExportOutputError",
    "ExportResult",
    "Figure",
    "ProgressBar",
    "Report",
    "RunExport",
    "collect",
    "export",
    "export_from_reader",
    "parse_epochs",
    "render_outputs",
    "write_export",
]
