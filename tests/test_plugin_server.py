"""A real TensorBoard (``program.TensorBoard`` with entry-point plugins), with each loader."""

from __future__ import annotations

import json
import time
import urllib.parse

import numpy as np
import pytest

from tests.support import logdir_factory
from tests.support.routes import PLUGIN_ROUTE, http_get, http_json
from tests.support.server import TBServer, data_server_available, start_tensorboard, wait_for_featureviz


def test_plugins_listing_and_entry(tb_server: TBServer) -> None:
    status, _, body = tb_server.get("/data/plugins_listing")
    assert status == 200
    entry = json.loads(body)["featureviz"]
    assert entry["enabled"] is True
    assert entry["tab_name"] == "FeatureViz"
    assert entry["loading_mechanism"] == {"type": "IFRAME", "module_path": "/data/plugin/featureviz/static/index.js"}
    status, headers, body = tb_server.get("/data/plugin_entry.html?name=featureviz")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert b"/static/index.js" in body


def test_routes_through_real_server(tb_server: TBServer) -> None:
    spec = tb_server.spec
    status, headers, body = tb_server.get(PLUGIN_ROUTE + "/index")
    assert status == 200 and headers["Content-Type"] == "application/json"
    assert logdir_factory.mask_blobs(json.loads(body)) == spec.expected_index()  # every one of 12 epochs kept

    query = urllib.parse.urlencode({"run": "group/exp2", "tag": "activations/conv2d_1", "step": 10})
    step = http_json(tb_server.url.rstrip("/") + PLUGIN_ROUTE + "/step?" + query)
    assert step["record"] == spec.activation_record("group/exp2", 10, "conv2d_1")
    status, headers, png = tb_server.get(PLUGIN_ROUTE + "/" + step["images"][3])
    assert status == 200 and headers["Content-Type"] == "image/png"
    assert "immutable" in headers["Cache-Control"]
    pixels = logdir_factory.decode_png(png)
    x, y = spec.layout.tile_origin(4)
    assert pixels[y, x] == spec.activation_value("group/exp2", 10, "conv2d_1", 3, 4)

    status, _, body = tb_server.get(PLUGIN_ROUTE + "/scalars?run=exp1")
    assert status == 200 and json.loads(body) == spec.expected_scalars("exp1")

    # Also under /experiment/<id>/ (relative URLs must keep working there).
    status, _, _ = tb_server.get("/experiment/some-id" + PLUGIN_ROUTE + "/index")
    assert status == 200

    for path, code in [
        ("/step?run=exp1&tag=probes&step=x", 400),
        ("/step?run=zzz&tag=probes&step=0", 404),
        ("/blob?key=abc", 404),
        ("/blob?key=%25%25", 404),
        ("/static/%2e%2e/plugin.py", 404),
        ("/static/..%2fplugin.py", 404),
    ]:
        status, headers, body = tb_server.get(PLUGIN_ROUTE + path)
        assert status == code, (path, status, body[:200])
        assert headers["Content-Type"] == "application/json" and "error" in json.loads(body)


@pytest.mark.parametrize("load_fast", [False, True], ids=["python", "rust"])
@pytest.mark.parametrize("keep_open", [True, False], ids=["kept-open-writer", "new-file"])
def test_live_training_shows_new_epoch(tmp_path: object, load_fast: bool, keep_open: bool) -> None:
    if load_fast and not data_server_available():
        pytest.skip("tensorboard-data-server is not installed")
    spec = logdir_factory.write_logdir(str(tmp_path), runs=("live",), epochs=2, keras_curves=False)
    writer = logdir_factory.RunWriter(spec, "live") if keep_open else None
    if writer is not None:  # the kept-open writer needs its own file before TensorBoard starts
        writer.write_epoch(2)
    url, stop = start_tensorboard(spec.root, load_fast)
    try:
        wait_for_featureviz(url, spec)
        base = url.rstrip("/") + PLUGIN_ROUTE
        for _ in range(2):
            epoch = logdir_factory.append_epoch(spec, "live", writer=writer)
            t0 = time.monotonic()
            index = wait_for_featureviz(url, spec, timeout_s=10)
            seen_after = time.monotonic() - t0
            assert index["runs"][0]["steps"] == list(range(epoch + 1))
            # TensorBoard's own reload (1 s here) plus our cache's freshness window (1 s).
            assert seen_after < 4.0, seen_after
            query = urllib.parse.urlencode({"run": "live", "tag": "activations/conv2d", "step": epoch})
            step = http_json(f"{base}/step?{query}")
            assert step["record"] == spec.activation_record("live", epoch, "conv2d")
            # /scalars has its own cached snapshot with the same freshness window: poll it within the same bound.
            deadline = t0 + 4.0
            while True:
                scalars = http_json(f"{base}/scalars?run=live")
                loss = next(s for s in scalars["series"] if s["metric"] == "loss" and s["split"] == "train")
                if loss["points"][-1][0] == epoch or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            assert loss["points"][-1] == [
                epoch,
                spec.wall_time("live", epoch),
                spec.scalar("live", "epoch_loss", epoch),
            ]
            _, _, png = http_get(f"{base}/{step['images'][0]}")
            assert np.asarray(logdir_factory.decode_png(png)).max() > 0
    finally:
        if writer is not None:
            writer.close()
        stop()
