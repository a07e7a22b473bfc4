"""``tb_featureviz.export.export`` end to end: typed errors, a logdir that grows between exports, no TensorFlow."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile

import pytest
from tensorboard import errors as tb_errors

from tb_featureviz.export import ExportArgumentError, ExportNotFoundError, ExportOutputError, export
from tests.support import logdir_factory


def test_api_errors_are_typed(spec, tmp_path):
    with pytest.raises(ExportNotFoundError, match="runs: exp1, exp2"):
        export(spec.root, "exp9", out=tmp_path / "r.html")
    with pytest.raises(ExportArgumentError, match="unknown format"):
        export(spec.root, "exp1", format="docx", out=tmp_path / "r.docx")
    with pytest.raises(ExportArgumentError, match="Unknown colour map"):
        export(spec.root, "exp1", colormap="jet", out=tmp_path / "r.html")
    with pytest.raises(ExportArgumentError, match=r"channels 0\.\.5"):
        export(spec.root, "exp1", kinds="activations", channel=6, format="gif", out=tmp_path / "g")
    with pytest.raises(ExportArgumentError, match=r"probes 0\.\.3"):
        export(spec.root, "exp1", kinds="activations", probe=4, format="png", out=tmp_path / "p")
    with pytest.raises(ExportOutputError, match="names one file"):
        export(spec.root, "exp1", format="png", out=tmp_path / "one.png")
    with pytest.raises(ExportNotFoundError, match="does not exist"):
        export(tmp_path / "missing", "exp1", out=tmp_path / "r.html")
    assert isinstance(ExportNotFoundError("x"), tb_errors.NotFoundError)
    assert list(tmp_path.iterdir()) == []


def test_export_sees_epochs_appended_between_exports(tmp_path):
    spec = logdir_factory.write_logdir(tmp_path / "logs", runs=("live",), epochs=2)
    first = export(spec.root, "live", epochs="all", format="zip", out=tmp_path / "a.zip")
    with logdir_factory.RunWriter(spec, "live") as writer:
        logdir_factory.append_epoch(spec, "live", writer=writer)  # still open, as during training
        second = export(spec.root, "live", epochs="all", format="zip", out=tmp_path / "b.zip")
        last = export(spec.root, "live", epochs="last", kinds="filters", format="zip", out=tmp_path / "c.zip")
    with zipfile.ZipFile(first) as zf:
        assert json.loads(zf.read("manifest.json"))["runs"][0]["epochs"] == [0, 1]
    with zipfile.ZipFile(second) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        assert manifest["runs"][0]["epochs"] == [0, 1, 2]
        entry = next(f for f in manifest["files"] if f["epoch"] == 2 and f["kind"] == "filters")
        assert zf.read(entry["file"]) == spec.filter_png("live", 2, entry["layer"])
    with zipfile.ZipFile(last) as zf:
        assert {f["epoch"] for f in json.loads(zf.read("manifest.json"))["files"]} == {2}


def test_export_package_does_not_import_tensorflow():
    code = (
        "import sys\n"
        "import tb_featureviz.export, tb_featureviz.export.cli, tb_featureviz.plugin.export_route\n"
        "assert 'tensorflow' not in sys.modules, 'tensorflow imported'\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
