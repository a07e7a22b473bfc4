"""The registry of summary kinds: one module per kind, one line per kind here, in display order.

Each kind module declares in one place its name, tag prefix and record schema, its label and noun as the
dashboard and the export show them, the summary op that writes it, and its per-kind reading and drawing
(:class:`~tb_featureviz.kinds.base.Kind`). ``metadata``, ``reader.documents`` and the export derive their
tables from :data:`REGISTRY`; the dashboard's twin is ``frontend/kinds.js`` (``KIND_VIEWS``, one entry per
kind whose ``view`` is true, with the same ``name``, ``label`` and ``noun``). ``docs/adding-a-kind.md`` walks
through adding one.

Importable without TensorFlow (and without ``tensorboard``): the per-kind hooks import what they need when
called.
"""

from __future__ import annotations

from tb_featureviz.kinds import activations, checks, exemplars, filters, gradcam, probes, records
from tb_featureviz.kinds.base import ExportDrawing, FigureCommon, Kind

__all__ = ["RECORDS", "REGISTRY", "ExportDrawing", "FigureCommon", "Kind", "export_kinds", "kind_of"]

REGISTRY: dict[str, Kind] = {
    k.name: k
    for k in (
        activations.KIND,
        filters.KIND,
        gradcam.KIND,
        exemplars.KIND,
        checks.KIND,
        probes.KIND,
    )
}
"""Every summary kind by name, in display order."""

RECORDS: dict[str, Kind] = {k.name: k for k in (records.SAMPLE, records.RUN_INFO, records.PLAN, records.STATUS)}
"""The run's records that are not kinds (``sample``, ``run_info``, ``plan``, ``status``), in the order
``metadata.KINDS`` lists them."""


def export_kinds() -> tuple[str, ...]:
    """The kinds an export holds as figures (those with an ``export`` drawing), in display order."""
    return tuple(name for name, k in REGISTRY.items() if k.export is not None)


def kind_of(name: str) -> Kind:
    """The kind (or record) called ``name``.

    Raises:
        KeyError: no such kind.
    """
    return REGISTRY[name] if name in REGISTRY else RECORDS[name]
