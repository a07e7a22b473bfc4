"""``tb_featureviz.export.collect``: run names with commas, taken whole by the CLI, the API and the route."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from tensorboard import errors as tb_errors

from tests.support import logdir_factory
from tests.support.exports import run_cli as _cli


def test_run_names_with_commas_export_from_cli_api_and_route(tmp_path):
    """``lr=1e-4,bs=20`` is one run: taken whole by the CLI, the API and the route's repeated ``run``."""
    from tensorboard.context import RequestContext
    from werkzeug.datastructures import MultiDict

    from tb_featureviz.export.selection import parse_run_names
    from tb_featureviz.plugin.export_route import handle_export
    from tb_featureviz.reader import open_logdir

    comma = "lr=1e-4,bs=20"
    spec = logdir_factory.write_logdir(tmp_path / "logs", runs=(comma, "exp2"), epochs=2, layers=("conv2d",))
    known = [comma, "exp2"]
    assert parse_run_names(comma, known) == [comma]
    assert parse_run_names([comma, "exp2"], known) == [comma, "exp2"]
    assert parse_run_names("exp2, " + comma, known) == ["exp2", "lr=1e-4", "bs=20"]  # a list in one string splits
    assert parse_run_names(["exp2,exp2", " exp2 "], known) == ["exp2"]

    assert _cli(["--logdir", str(spec.root), "--run", comma, "--run", "exp2", "--format", "zip",
                 "--out", str(tmp_path / "both.zip")]) == 0  # fmt: skip
    with zipfile.ZipFile(tmp_path / "both.zip") as zf:
        assert [r["run"] for r in json.loads(zf.read("manifest.json"))["runs"]] == [comma, "exp2"]

    with open_logdir(spec.root) as reader:
        ctx = RequestContext()
        query = MultiDict([("run", comma), ("run", "exp2"), ("kinds", "activations"), ("format", "zip")])
        body, _, _ = handle_export(reader, ctx, query)
        manifest = json.loads(zipfile.ZipFile(io.BytesIO(body)).read("manifest.json"))
        assert [r["run"] for r in manifest["runs"]] == [comma, "exp2"]
        entry = next(e for e in manifest["files"] if e["run"] == comma and e["epoch"] == 1 and e["probe"] == 0)
        assert zipfile.ZipFile(io.BytesIO(body)).read(entry["file"]) == spec.activation_png(comma, 1, "conv2d", 0)
        with pytest.raises(tb_errors.NotFoundError, match="'lr=1e-4'"):
            handle_export(reader, ctx, {"runs": "lr=1e-4"})
