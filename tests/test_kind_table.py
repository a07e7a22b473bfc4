"""The dashboard's table of summary kinds (``frontend/kinds.js`` ``KIND_VIEWS``) against the Python registry.

The table is read as text: one line per kind, ``{name: '...', label: '...', noun: '...', place: '...', view: x}``,
and its ``import * as x from './view-....js'`` lines. Where Node.js is installed the module itself is imported too,
and must say the same as the text (so the parsing here cannot drift from what the browser runs).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

FRONTEND = Path(__file__).resolve().parents[1] / "tb_featureviz" / "frontend"
TABLE = FRONTEND / "kinds.js"

_ENTRY = re.compile(
    r"^\s*\{name: '(?P<name>[^']+)', label: '(?P<label>[^']+)', noun: '(?P<noun>[^']+)', "
    r"place: '(?P<place>[^']+)', view: (?P<view>\w+)\},?\s*$"
)
_IMPORT = re.compile(r"^import \* as (?P<ident>\w+) from '\./(?P<file>[^']+)';$", re.MULTILINE)
_FROM = re.compile(r"^\s*(?:import|export)\b[^;]*?\bfrom '\./(?P<file>[^']+)';", re.MULTILINE)

BEFORE = ["activations", "filters", "gradcam"]
"""The kinds the toolbar switched between before the table (state.js ``KINDS``), in their order."""


def table() -> list[dict[str, str]]:
    """The entries of ``KIND_VIEWS``, in order, read from the text of ``kinds.js``."""
    text = TABLE.read_text(encoding="utf-8")
    m = re.search(r"^export const KIND_VIEWS = \[\n(?P<body>.*?)\n\];$", text, re.MULTILINE | re.DOTALL)
    assert m, "kinds.js declares `export const KIND_VIEWS = [` ... `];`"
    entries = []
    for line in m.group("body").splitlines():
        e = _ENTRY.match(line)
        assert e, f"one kind per line, as {{name: '...', label: '...', noun: '...', place: '...', view: x}}: {line!r}"
        entries.append(e.groupdict())
    return entries


def test_table_lists_the_kinds_the_dashboard_shows() -> None:
    entries = table()
    names = [e["name"] for e in entries]
    assert len(names) == len(set(names)), names
    # The toolbar's kinds stay those (and in that order) of before the table; exemplars sit in the drill-down
    # of a grid, the Grad-CAM checks in charts beside the curves.
    assert [e["name"] for e in entries if e["place"] == "tab"] == BEFORE
    assert names == [*BEFORE, "exemplars", "checks"]
    assert {e["place"] for e in entries} <= {"tab", "drilldown", "charts"}
    # The strings the page shows (a test of the DOM would catch a change; this names where they live).
    labels = {e["name"]: e["label"] for e in entries}
    assert labels == {
        "activations": "Activations",
        "filters": "Filter patterns",
        "gradcam": "Grad-CAM",
        "exemplars": "Exemplars",
        "checks": "Grad-CAM checks",
    }


def test_every_view_module_exists_and_is_imported() -> None:
    text = TABLE.read_text(encoding="utf-8")
    imports = {m["ident"]: m["file"] for m in _IMPORT.finditer(text)}
    for e in table():
        assert e["view"] in imports, f"{e['name']}: its view `{e['view']}` is imported in kinds.js"
        file = imports[e["view"]]
        assert file == f"view-{e['name']}.js", f"{e['name']}: one view module per kind, named after it ({file})"
        assert (FRONTEND / file).is_file(), file
    # Every relative import of every frontend module names a file that exists (flat: tests/support/browser.py
    # module_page serves the folder's own files only).
    for module in sorted(FRONTEND.glob("*.js")):
        for m in _FROM.finditer(module.read_text(encoding="utf-8")):
            assert "/" not in m["file"], f"{module.name} imports {m['file']}: the frontend is one flat folder"
            assert (FRONTEND / m["file"]).is_file(), f"{module.name} imports a missing ./{m['file']}"


def test_table_text_matches_the_module_node_runs() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed: the table's text is checked, not the module")
    script = (
        "const k = await import('./kinds.js'); const s = await import('./state.js');"
        "console.log(JSON.stringify({views: k.KIND_VIEWS.map((e) => ({name: e.name, label: e.label, noun: e.noun,"
        " place: e.place, members: Object.keys(e.view)})), kinds: s.KINDS}));"
    )
    out = subprocess.run(
        [node, "--input-type=module", "-e", script], cwd=FRONTEND, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    assert [{k: v for k, v in e.items() if k != "members"} for e in got["views"]] == [
        {k: v for k, v in e.items() if k != "view"} for e in table()
    ]
    assert got["kinds"] == BEFORE
    # What each place asks of a view module (kinds.js).
    needs = {
        "tab": {"fields", "tileNoun", "stage", "colormap", "needs", "render"},
        "drilldown": {"fillDrilldown"},
        "charts": {"chartSpecs"},
    }
    # A grid kind (gridpanel.js, grid.js) also reads its own record.
    grid = {"imageIndex", "damagedWhat", "tiles", "deadChannels", "gridSummary", "relativeNote", "tileShape"}
    grid |= {"tileDetails", "opensDrilldown", "missingTile", "stripWithoutTile", "fillFilmstrip"}
    for e in got["views"]:
        wanted = needs[e["place"]] | (grid if "tiles" in e["members"] else set())
        missing = wanted - set(e["members"])
        assert not missing, f"view-{e['name']}.js lacks {sorted(missing)}"


def test_table_strings_match_the_python_registry() -> None:
    kinds = pytest.importorskip("tb_featureviz.kinds")
    for e in table():
        assert e["name"] in kinds.REGISTRY, f"{e['name']} is a kind of tb_featureviz.kinds.REGISTRY"
        kind = kinds.REGISTRY[e["name"]]
        assert kind.name == e["name"]
        assert (kind.label, kind.noun) == (e["label"], e["noun"]), e["name"]


def test_table_holds_the_registry_kinds_with_a_view() -> None:
    """``Kind.view`` is true exactly for the kinds the dashboard shows: those of the table, whatever their place
    (exemplars in a grid's drill-down and the Grad-CAM checks' charts have view modules too)."""
    kinds = pytest.importorskip("tb_featureviz.kinds")
    shown = [name for name, kind in kinds.REGISTRY.items() if getattr(kind, "view", False)]
    assert sorted(shown) == sorted(e["name"] for e in table())
