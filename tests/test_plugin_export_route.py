"""The dashboard's /export route, with both data providers: files that download and hold what was written."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import numpy as np
import pytest
from tensorboard import errors as tb_errors

from tb_featureviz.render import SEPARATOR_RGB, separator_mask
from tests.support.logdir_factory import decode_png
from tests.support.routes import q
from tests.support.wsgi import Client


def test_export_zip_holds_the_written_pngs_and_a_manifest(client: Client, provider: tuple[str, Any, Any]) -> None:
    spec = provider[2]
    resp = client.get("/export?" + q(runs="exp1", kinds="activations", layer="conv2d", epochs="all", format="zip"))
    assert resp.status_code == 200, resp.data[:300]
    assert resp.content_type == "application/zip"
    assert resp.headers["Content-Disposition"].startswith("attachment; filename=")
    with zipfile.ZipFile(io.BytesIO(resp.data)) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        entries = [e for e in manifest["files"] if e["kind"] == "activations"]
        assert {e["layer"] for e in entries} == {"conv2d"} and {e["probe"] for e in entries} == set(range(spec.probes))
        assert sorted({e["epoch"] for e in entries}) == sorted(spec.steps["exp1"])
        for e in entries:
            assert zf.read(e["file"]) == spec.activation_png("exp1", e["epoch"], "conv2d", e["probe"])


def test_export_html_is_one_self_contained_file(client: Client) -> None:
    resp = client.get("/export?" + q(runs="exp1", format="html", epochs="last"))
    assert resp.status_code == 200
    assert resp.content_type.startswith("text/html")
    assert resp.headers["Content-Disposition"].rstrip('"').endswith(".html")
    body = resp.data.decode("utf-8")
    assert "data:image/png;base64," in body and "<svg" in body
    assert "http://" not in body.replace("http://www.w3.org/2000/svg", "")


def test_export_png_of_one_grid_has_the_written_pixels(client: Client, provider: tuple[str, Any, Any]) -> None:
    spec = provider[2]
    last = max(spec.steps["exp1"])
    resp = client.get(
        "/export?"
        + q(runs="exp1", kinds="activations", layer="conv2d", epochs=str(last), probe=0, format="png", colormap="gray")
        + "&caption=0"
    )
    assert resp.status_code == 200, resp.data[:300]
    assert resp.content_type == "image/png"
    got = decode_png(resp.data)
    expected = decode_png(spec.activation_png("exp1", last, "conv2d", 0))
    assert got.shape[:2] == expected.shape[:2]
    gray = got if got.ndim == 2 else got[..., 0]
    tiles = ~separator_mask(spec.layout)  # separators and empty cells are drawn neutral grey
    np.testing.assert_array_equal(gray[tiles], expected[tiles])
    assert (got[~tiles] == SEPARATOR_RGB).all()


def test_export_bad_queries_are_400_or_404_json(client: Client) -> None:
    assert "runs" in client.json("/export", status=400)["error"]
    assert "format" in client.json("/export?" + q(runs="exp1", format="pdfx"), status=400)["error"]
    err = client.json("/export?" + q(runs="nope", format="html"), status=404)["error"]
    assert "exp1" in err  # lists the runs that exist
    err = client.json("/export?" + q(runs="exp1", epochs="999", format="html"), status=404)["error"]
    assert "0" in err and "999" in err


def test_export_progress_of_a_job(client: Client) -> None:
    """``job=<id>`` on /export records its progress; /export_progress reports it, 400/404 on bad ids."""
    assert "j1" in client.json("/export_progress?" + q(job="j1"), status=404)["error"]
    resp = client.get(
        "/export?" + q(runs="exp1", kinds="activations", layer="conv2d", epochs="all", format="zip", job="j1")
    )
    assert resp.status_code == 200, resp.data[:300]
    with zipfile.ZipFile(io.BytesIO(resp.data)) as zf:
        files = len(zf.namelist())
    assert client.json("/export_progress?" + q(job="j1")) == {
        "job": "j1",
        "state": "done",
        "phase": "render",
        "done": files,
        "total": files,
        "what": "zip manifest.json",
    }
    client.json("/export?" + q(runs="nope", format="html", job="j2"), status=404)
    failed = client.json("/export_progress?" + q(job="j2"))
    assert (failed["state"], failed["phase"], failed["done"]) == ("failed", "read", 0)
    assert "job" in client.json("/export_progress", status=400)["error"]
    assert "a/b" in client.json("/export_progress?" + q(job="a/b"), status=400)["error"]
    assert "job" in client.json("/export?" + q(runs="exp1", format="html", job="x" * 65), status=400)["error"]


def test_handle_export_validates_and_serves(spec):
    from tensorboard.context import RequestContext

    from tb_featureviz.plugin.export_route import handle_export
    from tb_featureviz.reader import open_logdir

    with open_logdir(spec.root) as reader:
        ctx = RequestContext()
        body, mime, name = handle_export(
            reader, ctx, {"runs": "exp1", "kinds": "filters", "layer": "conv2d", "epochs": "1", "format": "png"}
        )
        assert mime == "image/png" and name == "filters-conv2d-e001.png"
        grid = decode_png(spec.filter_png("exp1", 1, "conv2d"))
        np.testing.assert_array_equal(decode_png(body)[: grid.shape[0], : grid.shape[1]], grid)

        body, mime, name = handle_export(reader, ctx, {"runs": "exp1,exp2", "format": "html"})
        assert mime.startswith("text/html") and name == "featureviz-exp1-exp2.html"
        assert b"<!DOCTYPE html>" in body[:100]

        body, mime, name = handle_export(reader, ctx, {"runs": "exp2", "kinds": "gradcam", "format": "gif"})
        assert mime == "application/zip" and name == "featureviz-exp2-gif.zip"
        assert len(zipfile.ZipFile(io.BytesIO(body)).namelist()) == 8

        # The summary report: pdf and svg are summaries by default, html when asked (detail=summary).
        body, mime, name = handle_export(reader, ctx, {"runs": "exp1", "format": "pdf"})
        assert mime == "application/pdf" and name == "featureviz-exp1.pdf" and body.startswith(b"%PDF-")
        body, mime, name = handle_export(reader, ctx, {"runs": "exp1", "format": "svg"})
        assert mime == "application/zip" and name == "featureviz-exp1-svg.zip"
        names = zipfile.ZipFile(io.BytesIO(body)).namelist()
        assert names[0] == "fig-01-training-curves.svg" and all(n.endswith(".svg") for n in names)
        body, _, _ = handle_export(reader, ctx, {"runs": "exp1", "format": "html", "detail": "summary"})
        assert b'<figure class="fig" id="fig-1"' in body
        with pytest.raises(tb_errors.InvalidArgumentError, match="unknown detail 'brief'"):
            handle_export(reader, ctx, {"runs": "exp1", "detail": "brief"})

        with pytest.raises(tb_errors.InvalidArgumentError, match="runs"):
            handle_export(reader, ctx, {})
        with pytest.raises(tb_errors.InvalidArgumentError, match="unknown format"):
            handle_export(reader, ctx, {"runs": "exp1", "format": "docx"})
        with pytest.raises(tb_errors.InvalidArgumentError, match="channel must be a whole number"):
            handle_export(reader, ctx, {"runs": "exp1", "channel": "x"})
        with pytest.raises(tb_errors.NotFoundError, match="exp1, exp2"):
            handle_export(reader, ctx, {"runs": "nope"})
        with pytest.raises(tb_errors.NotFoundError, match="its epochs are 0, 1"):
            handle_export(reader, ctx, {"runs": "exp1", "epochs": "5"})
