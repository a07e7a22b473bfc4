"""The dashboard's /export route, with both data providers: files that download and hold what was written."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import numpy as np

from tests.logdir_factory import decode_png
from tests.test_plugin_routes import Client, client, q  # noqa: F401  (client is a fixture)


def test_export_zip_holds_the_written_pngs_and_a_manifest(client: Client, provider: tuple[str, Any, Any]) -> None:  # noqa: F811
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


def test_export_html_is_one_self_contained_file(client: Client) -> None:  # noqa: F811
    resp = client.get("/export?" + q(runs="exp1", format="html", epochs="last"))
    assert resp.status_code == 200
    assert resp.content_type.startswith("text/html")
    assert resp.headers["Content-Disposition"].rstrip('"').endswith(".html")
    body = resp.data.decode("utf-8")
    assert "data:image/png;base64," in body and "<svg" in body
    assert "http://" not in body.replace("http://www.w3.org/2000/svg", "")


def test_export_png_of_one_grid_has_the_written_pixels(client: Client, provider: tuple[str, Any, Any]) -> None:  # noqa: F811
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
    np.testing.assert_array_equal(gray, expected)


def test_export_bad_queries_are_400_or_404_json(client: Client) -> None:  # noqa: F811
    assert "runs" in client.json("/export", status=400)["error"]
    assert "format" in client.json("/export?" + q(runs="exp1", format="pdfx"), status=400)["error"]
    err = client.json("/export?" + q(runs="nope", format="html"), status=404)["error"]
    assert "exp1" in err  # lists the runs that exist
    err = client.json("/export?" + q(runs="exp1", epochs="999", format="html"), status=404)["error"]
    assert "0" in err and "999" in err


def test_export_progress_of_a_job(client: Client) -> None:  # noqa: F811
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
