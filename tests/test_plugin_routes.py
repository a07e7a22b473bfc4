"""Route tests: FeatureVizPlugin in TensorBoardWSGI over real event files, with both data providers."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from tensorboard.backend import application
from tensorboard.plugins import base_plugin
from werkzeug import test as werkzeug_test
from werkzeug import wrappers

from tb_featureviz.plugin import plugin as plugin_lib
from tests.support import logdir_factory
from tests.support.routes import PLUGIN_ROUTE, q
from tests.support.wsgi import Client


def test_plugins_listing_shows_featureviz_enabled(client: Client) -> None:
    listing = client.json("/data/plugins_listing")
    assert listing["featureviz"] == {
        "disable_reload": False,
        "enabled": True,
        "remove_dom": False,
        "tab_name": "FeatureViz",
        "loading_mechanism": {"type": "IFRAME", "module_path": "/data/plugin/featureviz/static/index.js"},
    }


def test_plugin_entry_html(client: Client) -> None:
    resp = client.get("/data/plugin_entry.html?name=featureviz")
    assert resp.status_code == 200
    assert resp.content_type.startswith("text/html")
    assert b'<base href="plugin/featureviz/" />' in resp.data or b'base href="plugin/featureviz/"' in resp.data
    assert b"/static/index.js" in resp.data


def test_index_exact(client: Client, provider: tuple[str, Any, Any]) -> None:
    spec = provider[2]
    index = client.json("/index")
    assert logdir_factory.mask_blobs(index) == spec.expected_index()
    # 12 epochs written, all kept (TensorBoard's default would keep 10).
    assert all(r["steps"] == list(range(12)) for r in index["runs"])


def test_step_exact_record_and_pixels(client: Client, provider: tuple[str, Any, Any]) -> None:
    spec = provider[2]
    for run in spec.runs:
        for epoch in (0, 5, 11):
            doc = client.json("/step?" + q(run=run, tag="activations/conv2d", step=epoch))
            images = doc.pop("images")
            assert doc == {
                "run": run,
                "tag": "activations/conv2d",
                "step": epoch,
                "wall_time": spec.wall_time(run, epoch),
                "record": spec.activation_record(run, epoch, "conv2d"),
            }
            assert len(images) == spec.probes
            lay = spec.layout
            for probe, url in enumerate(images):
                pixels = client.png(url)
                assert pixels.shape == (lay.height, lay.width)
                for ch in range(spec.channels):
                    x, y = lay.tile_origin(ch)
                    tile = pixels[y : y + lay.tile_height, x : x + lay.tile_width]
                    assert (tile == spec.activation_value(run, epoch, "conv2d", probe, ch)).all()


def test_gradcam_step(client: Client, provider: tuple[str, Any, Any]) -> None:
    spec = provider[2]
    doc = client.json("/step?" + q(run="exp1", tag="gradcam/conv2d_1", step=3))
    assert doc["record"] == spec.gradcam_record(3)
    target = doc["record"]["probes"][2]["targets"][1]  # probe 2, true class
    heat = client.png(doc["images"][target["heatmap"] - 1])
    overlay = client.png(doc["images"][target["overlay"] - 1])
    assert heat.shape == (spec.image_size, spec.image_size)
    assert (heat == spec.heat_value(3, 2, 1)).all()
    assert (overlay == np.array(spec.overlay_value(3, 2, 1), dtype=np.uint8)).all()


def test_filters_and_probes_pixels(client: Client, provider: tuple[str, Any, Any]) -> None:
    spec = provider[2]
    doc = client.json("/step?" + q(run="group/exp2", tag="filters/conv2d_1", step=7))
    assert doc["record"] == spec.filter_record(7)
    assert doc["record"]["relative"] == [spec.filter_relative(7, f) for f in range(spec.channels)]
    assert doc["record"]["relative_median"] == spec.filter_relative_median(7)
    epoch0 = client.json("/step?" + q(run="exp1", tag="filters/conv2d", step=0))["record"]
    assert epoch0["relative"][-1] is None and epoch0["relative_median"] == spec.filter_relative_median(0)
    grid = client.png(doc["images"][0])
    lay = spec.filter_layout
    x, y = lay.tile_origin(3)
    assert (
        grid[y : y + lay.tile_height, x : x + lay.tile_width] == spec.filter_value("group/exp2", 7, "conv2d_1", 3)
    ).all()
    index = client.json("/index")
    probes = index["runs"][0]["probes"]
    assert (client.png(probes["images"][1]) == np.array(spec.probe_value(1), dtype=np.uint8)).all()


def test_exemplars_step_and_sample_pixels(client: Client, provider: tuple[str, Any, Any]) -> None:
    """``exemplars/<layer>``: the record exactly; the ``sample`` of the index: its pixels, and the crop of an
    exemplar cut from them with ``metadata.crop_box`` is what the factory predicts."""
    from tb_featureviz import metadata

    spec = provider[2]
    doc = client.json("/step?" + q(run="group/exp2", tag="exemplars/max_pooling2d", step=4))
    assert doc == {
        "run": "group/exp2",
        "tag": "exemplars/max_pooling2d",
        "step": 4,
        "wall_time": spec.wall_time("group/exp2", 4),
        "record": spec.exemplars_record("group/exp2", 4, "max_pooling2d"),
        "images": [],
    }
    entry = next(r for r in client.json("/index")["runs"] if r["run"] == "group/exp2")
    sample = entry["sample"]
    assert logdir_factory.mask_blobs(sample) == spec.expected_index_entry("group/exp2")["sample"]
    assert sample["count"] == spec.sample_count == len(sample["images"])
    pixels = [client.png(url) for url in sample["images"]]
    for m, img in enumerate(pixels):
        np.testing.assert_array_equal(img, spec.sample_pixels(m))
    for channel in range(spec.channels):
        for rank, (image, y, x, value) in enumerate(doc["record"]["exemplars"][channel]):
            x0, y0, x1, y1 = metadata.crop_box(y, x, doc["record"]["size"], pixels[image].shape[:2])
            crop = pixels[image][y0:y1, x0:x1]
            np.testing.assert_array_equal(crop, spec.exemplar_crop("group/exp2", 4, "max_pooling2d", channel, rank))
            assert value == spec.exemplar("group/exp2", 4, "max_pooling2d", channel, rank)[3]


def test_series(client: Client, provider: tuple[str, Any, Any]) -> None:
    spec = provider[2]
    doc = client.json("/series?" + q(run="exp1", tag="activations/max_pooling2d", index=2))
    images = doc.pop("images")
    assert doc == {
        "run": "exp1",
        "tag": "activations/max_pooling2d",
        "index": 2,
        "steps": list(range(12)),
        "wall_times": [spec.wall_time("exp1", e) for e in range(12)],
    }
    pixels = client.png(images[9])
    x, y = spec.layout.tile_origin(1)
    assert pixels[y, x] == spec.activation_value("exp1", 9, "max_pooling2d", 2, 1)
    # index defaults to 0
    assert len(client.json("/series?" + q(run="exp1", tag="probes"))["images"]) == 1


def test_blob_headers(client: Client) -> None:
    doc = client.json("/step?" + q(run="exp1", tag="activations/conv2d", step=0))
    resp = client.get("/" + doc["images"][0])
    assert resp.status_code == 200
    assert resp.content_type == "image/png"
    assert resp.headers["Cache-Control"] == "private, max-age=31536000, immutable"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"


def test_scalars_exact(client: Client, provider: tuple[str, Any, Any]) -> None:
    spec = provider[2]
    for run in spec.runs:
        assert client.json("/scalars?" + q(run=run)) == spec.expected_scalars(run)


@pytest.mark.parametrize(
    "path",
    [
        "/step",
        "/step?run=exp1&tag=activations/conv2d",
        "/step?run=exp1&tag=activations/conv2d&step=x",
        "/step?run=exp1&tag=activations/conv2d&step=1.5",
        "/step?run=exp1&step=1",
        "/step?run=&tag=probes&step=0",
        "/series?run=exp1",
        "/series?run=exp1&tag=probes&index=-1",
        "/series?run=exp1&tag=probes&index=a",
        "/blob",
        "/blob?key=",
        "/scalars",
    ],
)
def test_bad_query_is_400_json(client: Client, path: str) -> None:
    body = client.json(path, status=400)
    assert set(body) == {"error"} and body["error"]


@pytest.mark.parametrize(
    ("path", "needle"),
    [
        ("/step?run=nope&tag=probes&step=0", "Existing runs: ['exp1', 'group/exp2']"),
        ("/step?run=exp1&tag=activations/nope&step=0", "Existing tags:"),
        ("/step?run=exp1&tag=activations/conv2d&step=12", "Existing steps: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]"),
        ("/step?run=exp1&tag=probes&step=1", "Existing steps: [0]"),
        ("/series?run=exp1&tag=filters/conv2d&index=1", "no image index 1"),
        ("/series?run=nope&tag=probes", "Unknown run 'nope'"),
        ("/scalars?run=nope", "Unknown run 'nope'"),
        ("/blob?key=WyIiLCJub3BlIiwibm9wZSIsMCwxXQ", "No blob"),  # well-formed, unknown
        ("/blob?key=abc", "No blob"),  # not base64 JSON
        ("/blob?key=%25%25%25", "Malformed blob key"),
        ("/blob?key=" + "A" * 5000, "Malformed blob key"),
        ("/blob?key=WyIiLCJleHAxL2ZlYXR1cmV2aXoiLCJwcm9iZXMiLDAsOTld", "No blob"),  # index out of range
    ],
)
def test_unknown_is_404_json(client: Client, path: str, needle: str) -> None:
    body = client.json(path, status=404)
    assert needle in body["error"]


@pytest.mark.parametrize(
    "path",
    [
        "/static/../plugin.py",
        "/static/%2e%2e/plugin.py",
        "/static/%2E%2E/%2E%2E/setup.py",
        "/static/..%2fsetup.py",
        "/static/..%2Fsetup.py",
        "/static/%2fetc/passwd",
        "/static//etc/passwd",
        "/static/..\\setup.py",
        "/static/%5c..%5csetup.py",
        "/static/__init__.py",
        "/static/",
        "/static/nope.js",
        "/static/.hidden.js",
        "/static/model.js%00.png",
    ],
)
def test_static_traversal_is_404(client: Client, path: str) -> None:
    resp = client.get(path)
    assert resp.status_code == 404, (path, resp.data[:200])
    assert b"root:" not in resp.data and b"setup(" not in resp.data


def test_static_serves_frontend_js(client: Client, tmp_path: Any) -> None:
    root = plugin_lib.frontend_dir()
    assert root is not None
    js = sorted(p.name for p in root.glob("*.js"))
    if not js:
        pytest.skip("the frontend has no .js files yet")
    resp = client.get("/static/" + js[0])
    assert resp.status_code == 200
    assert resp.content_type.split(";")[0] == "text/javascript"
    assert resp.data == (root / js[0]).read_bytes()


def test_sampling_hint_zero_keeps_all_and_positive_downsamples(provider: tuple[str, Any, Any]) -> None:
    _, dp, spec = provider
    assert Client(dp, spec.root, {"featureviz": 0}).json("/index")["runs"][0]["steps"] == list(range(12))
    run = Client(dp, spec.root, {"featureviz": 3}).json("/index")["runs"][0]
    steps = run["kinds"]["activations"][0]["steps"]
    assert len(steps) == 3 and steps[-1] == 11  # the last step is always kept


def test_missing_data_provider_is_404_not_500() -> None:
    ctx = base_plugin.TBContext(logdir="/nonexistent", data_provider=None, sampling_hints={})
    plugin = plugin_lib.FeatureVizPlugin(ctx)
    app = werkzeug_test.Client(application.TensorBoardWSGI([plugin]), wrappers.Response)
    resp = app.get(PLUGIN_ROUTE + "/index")
    assert resp.status_code == 404
    assert "data provider" in json.loads(resp.data)["error"]


def test_index_gzip_matches_plain(client: Client) -> None:
    import gzip

    plain = client.get("/index")
    zipped = client.client.get(PLUGIN_ROUTE + "/index", headers={"Accept-Encoding": "gzip, deflate"})
    assert zipped.status_code == 200 and zipped.headers["Content-Encoding"] == "gzip"
    assert zipped.content_type == "application/json"
    assert json.loads(gzip.decompress(zipped.data)) == json.loads(plain.data)
