"""The registry of summary kinds (``tb_featureviz.kinds``) and the tables derived from it."""

from __future__ import annotations

import ast
import dataclasses
import importlib
import os
import re
import subprocess
import sys
import typing

import pytest

from tb_featureviz import kinds, metadata
from tb_featureviz.export import content, html
from tb_featureviz.kinds import RECORDS, REGISTRY, Kind
from tb_featureviz.reader import documents

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FRONTEND = os.path.join(ROOT, "tb_featureviz", "frontend")


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


def _js_table(path: str, name: str) -> dict[str, str]:
    with open(path, encoding="utf-8") as f:
        text = f.read()
    match = re.search(rf"export const {name} = \{{([^}}]*)\}};", text)
    assert match, f"{name} not found in {path}"
    return dict(re.findall(r"(\w+): '([^']*)'", match.group(1)))


def test_view_kinds_have_the_dashboard_labels_and_nouns() -> None:
    """The view kinds' labels and nouns are the dashboard's strings (``frontend/kinds.js`` where it exists)."""
    views = {name: (k.label, k.noun) for name, k in REGISTRY.items() if k.view}
    table = os.path.join(FRONTEND, "kinds.js")
    if os.path.exists(table):
        with open(table, encoding="utf-8") as f:
            text = f.read()
        found = re.findall(r"name: '([^']*)', label: '([^']*)', noun: '([^']*)'", text)
        assert {n: (label, noun) for n, label, noun in found} == views
    else:
        labels = _js_table(os.path.join(FRONTEND, "views.js"), "KIND_LABELS")
        nouns = _js_table(os.path.join(FRONTEND, "facts.js"), "KIND_NOUN")
        assert {n: (labels[n], nouns[n]) for n in labels} == views


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
