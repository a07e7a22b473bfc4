"""The wheel carries the frontend and the trainer under tb_featureviz, and no top-level 'trainer'."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    # A clean copy: no egg-info or build dirs that could hide a broken package_dir mapping.
    shutil.copytree(
        ROOT,
        src,
        ignore=shutil.ignore_patterns(
            ".git", "*.egg-info", "build", "dist", "__pycache__", ".*_cache", "artifacts", "runs", "node_modules"
        ),
    )
    out = tmp / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(src)],
        check=True,
    )
    (whl,) = out.glob("tb_featureviz-*.whl")
    return zipfile.ZipFile(whl)


def test_wheel_holds_frontend_trainer_plugin_and_entry_points(wheel):
    names = set(wheel.namelist())
    frontend = {Path(n).name for n in names if n.startswith("tb_featureviz/frontend/")}
    frontend_src = {
        p.name for p in (ROOT / "tb_featureviz" / "frontend").iterdir() if p.suffix in {".js", ".css", ".html"}
    }
    assert frontend_src, "the frontend has files"
    assert frontend_src <= frontend
    for module in ("trainer/train.py", "trainer/data.py", "trainer/model.py", "plugin/loader.py", "py.typed"):
        assert f"tb_featureviz/{module}" in names, module
    assert "tb_featureviz/plugin/http_api.md" in names
    assert not any(n.startswith("trainer/") for n in names), "no top-level 'trainer' package"
    assert not any(n.startswith("tests/") for n in names)
    (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
    text = wheel.read(entry_points).decode()
    assert "featureviz = tb_featureviz.plugin.loader:FeatureVizLoader" in text
    assert "featureviz = tb_featureviz.cli:main" in text
