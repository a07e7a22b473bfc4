"""The README's map ("How it is built") names every module of the package and every frontend file."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "tb_featureviz"


def _map_text() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    return readme.split("## How it is built", 1)[1].split("\n## ", 1)[0]


def _files() -> list[Path]:
    found = [*PACKAGE.rglob("*.py"), *(PACKAGE / "frontend").glob("*.js")]
    return sorted(p for p in found if p.name != "__init__.py" and "__pycache__" not in p.parts)


def test_the_map_names_every_module_and_folder() -> None:
    text = _map_text()
    missing = [str(p.relative_to(ROOT)) for p in _files() if not re.search(rf"\b{re.escape(p.name)}\b", text)]
    assert missing == []
    folders = sorted({p.parent.relative_to(ROOT).as_posix() for p in _files()} - {"tb_featureviz"})
    assert [f for f in folders if f"{f}/" not in text] == []


def test_the_map_names_no_module_that_is_gone() -> None:
    other = {"__init__.py", "README.md", "http_api.md", "adding-a-kind.md", "test_readme_map.py"}
    names = {p.name for p in _files()} | other
    named = set(re.findall(r"\b([A-Za-z_][\w-]*\.(?:py|js|md))\b", _map_text()))
    assert sorted(named - names) == []
