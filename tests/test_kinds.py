"""The registry of summary kinds (``tb_featureviz.kinds``) and the tables derived from it."""

from __future__ import annotations

import ast
import dataclasses
import importlib
import os
import subprocess
import sys
import typing

import pytest

from tb_featureviz import kinds, metadata
from tb_featureviz.export import content, html
from tb_featureviz.kinds import RECORDS, REGISTRY, Kind
from tb_featureviz.reader import documents

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_registry_lists_each_kind_once_in_display_order() -> None:
    assert list(REGISTRY) == ["activations", "filters", "gradcam", "exemplars", "checks", "probes"]
    assert list(RECORDS) == ["sample", "run_info", "plan", "status"]
    every = [*REGISTRY.values(), *RECORDS.values()]
    assert all(isinstance(k, Kind) for k in every)
    assert all(name == k.name for name, k in {**REGISTRY, **RECORDS}.items())
    assert len({k.name for k in every}) == len(every)
    assert len({k.label for k in REGISTRY.values()}) == len(REGISTRY)
    with pytest.raises(dataclasses.FrozenInstanceError):
        REGISTRY["filters"].label = "x"  # type: ignore[misc]


def test_kind_modules_are_one_per_kind() -> None:
    for name, kind in REGISTRY.items():
        module = importlib.import_module(f"tb_featureviz.kinds.{name}")
        assert module.KIND is kind


def test_tag_prefixes_are_the_metadata_tags() -> None:
    layered = {name: k.tag_prefix for name, k in REGISTRY.items() if k.stored and k.layered}
    assert layered == metadata.TAG_PREFIX
    assert all(prefix == f"{name}/" for name, prefix in layered.items())
    for kind in [*REGISTRY.values(), *RECORDS.values()]:
        if kind.stored:
            layer = "conv2d" if kind.layered else None
            assert kind.tag(layer) == metadata.tag_for(kind.name, layer)
    assert len({k.tag_prefix for k in REGISTRY.values() if k.stored}) == len([k for k in REGISTRY.values() if k.stored])


def test_metadata_kinds_are_the_stored_kinds_then_the_records() -> None:
    assert metadata.KINDS == (
        "activations",
        "filters",
        "gradcam",
        "exemplars",
        "probes",
        "sample",
        "run_info",
        "plan",
        "status",
    )
    assert "checks" not in metadata.KINDS  # scalars, not a blob summary
    assert REGISTRY["checks"].scalar_prefixes == (metadata.FAITHFULNESS_PREFIX, metadata.SANITY_PREFIX)
    assert REGISTRY["checks"].scalar_prefixes == documents.CHECK_PREFIXES


def test_reader_and_export_tables_come_from_the_registry() -> None:
    assert documents.GRID_KINDS == ("activations", "filters", "gradcam")
    assert documents.INDEX_KINDS == ("activations", "filters", "gradcam", "exemplars")
    assert content.EXPORT_KINDS == kinds.export_kinds() == ("activations", "filters", "gradcam")
    assert html.KIND_TITLES == {"activations": "Activations", "filters": "Filter patterns", "gradcam": "Grad-CAM"}
    assert set(html.KIND_NOTES) == set(content.EXPORT_KINDS)


def test_every_export_kind_has_its_drawing() -> None:
    for name in content.EXPORT_KINDS:
        drawing = REGISTRY[name].export
        assert drawing is not None, name
        assert callable(drawing.figures)
        assert drawing.note
        assert drawing.caption is not None and drawing.html_caption is not None and drawing.manifest is not None
        assert drawing.summary_final is not None and drawing.summary_changes is not None
    for name, kind in REGISTRY.items():
        if kind.export is not None:
            assert name in content.EXPORT_KINDS


def test_summary_ops_exist() -> None:
    """Each declared writer is a function of its module (read from the source: ``summary`` needs TensorFlow)."""
    for kind in [*REGISTRY.values(), *RECORDS.values()]:
        if kind.summary_op is None:
            assert not kind.stored, kind.name
            continue
        module, _, function = kind.summary_op.partition(":")
        path = os.path.join(ROOT, *module.split(".")) + ".py"
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read())
        names = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
        assert function in names, kind.summary_op


def test_record_schemas_are_typed_dicts() -> None:
    for kind in [*REGISTRY.values(), *RECORDS.values()]:
        if kind.record is not None:
            assert typing.is_typeddict(kind.record), kind.name
            assert typing.get_type_hints(kind.record), kind.name
    assert set(REGISTRY["probes"].index_fields) <= set(typing.get_type_hints(REGISTRY["probes"].record))


def test_view_kinds_are_the_dashboards() -> None:
    """The kinds with a dashboard view (``tests/test_kind_table.py`` checks them against ``frontend/kinds.js``)."""
    assert [name for name, k in REGISTRY.items() if k.view] == [
        "activations",
        "filters",
        "gradcam",
        "exemplars",
        "checks",
    ]
    assert {name: k.noun for name, k in REGISTRY.items() if k.view} == {
        "activations": "activation grids",
        "filters": "filter patterns",
        "gradcam": "Grad-CAM heatmaps",
        "exemplars": "exemplars",
        "checks": "Grad-CAM checks",
    }


def test_kinds_import_without_tensorflow_or_tensorboard() -> None:
    script = (
        "import sys\n"
        "for name in ('tensorflow', 'keras', 'tensorboard'):\n"
        "    sys.modules[name] = None  # importing it raises ImportError\n"
        "import tb_featureviz.kinds as k\n"
        "assert len(k.REGISTRY) == 6\n"
        "print(sorted(n for n in sys.modules if n.split('.')[0] in ('tensorflow', 'keras', 'tensorboard', 'numpy')"
        " and sys.modules[n] is not None))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]"
