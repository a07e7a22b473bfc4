"""``/frame`` (issue 19: one request per scrubbed epoch) and the validators of ``/frame`` and ``/blob``.

FeatureVizPlugin in TensorBoardWSGI over real event files with both data providers (``client``), and a real
TensorBoard over HTTP (``tb_server``) for the revalidation a browser makes: the exact JSON header of a
bundle, its image bytes against ``/blob``'s, per-item errors inside a 200 frame, the 400s of a bad ``q``,
``ETag`` + ``Cache-Control`` and the 304 of ``If-None-Match``.
"""

from __future__ import annotations

import json
import struct
import urllib.parse
import urllib.request
from typing import Any

import pytest

from tb_featureviz.plugin.plugin import BLOB_CACHE_CONTROL
from tests.support import logdir_factory
from tests.support.routes import PLUGIN_ROUTE, http_get
from tests.support.server import make_provider
from tests.support.wsgi import Client

FRAME_TYPE = "application/x-featureviz-frame"


def frame_url(items: list[Any]) -> str:
    return "/frame?q=" + urllib.parse.quote(json.dumps(items), safe="")


def unpack(body: bytes) -> tuple[dict[str, Any], bytes]:
    """``(header, image bytes)`` of a bundle: a 4-byte big-endian length, the JSON header, the images."""
    (n,) = struct.unpack(">I", body[:4])
    return json.loads(body[4 : 4 + n]), body[4 + n :]


def get_frame(client: Client, items: list[Any]) -> tuple[Any, dict[str, Any], bytes]:
    resp = client.get(frame_url(items))
    assert resp.status_code == 200, resp.data[:300]
    assert resp.content_type == FRAME_TYPE
    header, data = unpack(resp.data)
    return resp, header, data


def test_frame_header_exact_and_bytes_equal_blob(client: Client, provider: tuple[str, Any, Any]) -> None:
    spec = provider[2]
    items = [
        ["exp1", "activations/conv2d", 5, [0, 2]],
        ["group/exp2", "filters/conv2d_1", 7, [0]],
        ["group/exp2", "exemplars/max_pooling2d", 4, []],
        ["exp1", "activations/conv2d", 11],  # no image list: the record and URLs only
    ]
    resp, header, data = get_frame(client, items)
    steps = [client.json("/step?" + urllib.parse.urlencode({"run": r, "tag": t, "step": s})) for r, t, s, *_ in items]
    blobs = [client.get("/" + steps[0]["images"][0]).data, client.get("/" + steps[0]["images"][2]).data]
    blobs.append(client.get("/" + steps[1]["images"][0]).data)
    sizes = [len(b) for b in blobs]
    assert all(b.startswith(b"\x89PNG") for b in blobs)
    assert header == {
        "items": [
            {
                "status": 200,
                "doc": steps[0],
                "images": [
                    {"index": 0, "status": 200, "offset": 0, "length": sizes[0], "type": "image/png"},
                    {"index": 2, "status": 200, "offset": sizes[0], "length": sizes[1], "type": "image/png"},
                ],
            },
            {
                "status": 200,
                "doc": steps[1],
                "images": [
                    {"index": 0, "status": 200, "offset": sizes[0] + sizes[1], "length": sizes[2], "type": "image/png"}
                ],
            },
            {"status": 200, "doc": steps[2], "images": []},
            {"status": 200, "doc": steps[3], "images": []},
        ]
    }
    # The documents are /step's, exactly (as the route tests check them against the factory).
    assert logdir_factory.mask_blobs(steps[0]) == {
        "run": "exp1",
        "tag": "activations/conv2d",
        "step": 5,
        "wall_time": spec.wall_time("exp1", 5),
        "record": spec.activation_record("exp1", 5, "conv2d"),
        "images": [logdir_factory.ANY_BLOB] * spec.probes,
    }
    assert steps[2]["record"] == spec.exemplars_record("group/exp2", 4, "max_pooling2d")
    assert data == b"".join(blobs)
    # The pixels: probe 2's grid of exp1 at epoch 5.
    pixels = logdir_factory.decode_png(data[sizes[0] : sizes[0] + sizes[1]])
    x, y = spec.layout.tile_origin(1)
    assert pixels[y, x] == spec.activation_value("exp1", 5, "conv2d", 2, 1)
    # Every item found: cached by the browser for good, with a validator.
    assert resp.headers["Cache-Control"] == BLOB_CACHE_CONTROL
    assert resp.headers["ETag"].startswith('"fvf1-')


def test_frame_missing_items_are_404_inside_a_200_frame(client: Client) -> None:
    items = [
        ["nope", "activations/conv2d", 0, [0]],
        ["exp1", "activations/nope", 0, [0]],
        ["exp1", "activations/conv2d", 99, [0]],
        ["exp1", "activations/conv2d", 1, [0, 7]],
    ]
    resp, header, data = get_frame(client, items)
    found = header["items"][3]
    assert found["doc"]["step"] == 1 and found["images"][0]["status"] == 200
    assert found["images"][1] == {
        "index": 7,
        "status": 404,
        "error": "Not found: Run 'exp1' tag 'activations/conv2d' step 1 has 4 image(s); no index 7.",
    }
    assert header["items"][:3] == [
        {"status": 404, "error": "Not found: Unknown run 'nope'. Existing runs: ['exp1', 'group/exp2']"},
        {
            "status": 404,
            "error": "Not found: Run 'exp1' has no featureviz tag 'activations/nope'. Existing tags: "
            "['activations/conv2d', 'activations/conv2d_1', 'activations/max_pooling2d', 'exemplars/conv2d', "
            "'exemplars/conv2d_1', 'exemplars/max_pooling2d', 'filters/conv2d', 'filters/conv2d_1', "
            "'gradcam/conv2d_1', 'probes', 'run_info', 'sample']",
        },
        {
            "status": 404,
            "error": "Not found: Run 'exp1' tag 'activations/conv2d' has no step 99. Existing steps: "
            "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]",
        },
    ]
    assert len(data) == found["images"][0]["length"]
    # Something was missing (it may be written later): no validator, not cached.
    assert "ETag" not in resp.headers
    assert resp.headers["Cache-Control"] == "no-cache, must-revalidate"


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("", "Invalid argument: Missing query parameter 'q'."),
        (
            "q=%5B",
            "Invalid argument: Query parameter 'q' must be a JSON list of [run, tag, step, [image indices]]. "
            "Received: q='['",
        ),
        (
            "q=%7B%7D",
            "Invalid argument: Query parameter 'q' must be a JSON list of [run, tag, step, [image indices]]. "
            "Received: q='{}'",
        ),
        (
            "q=" + urllib.parse.quote(json.dumps([["exp1", "activations/conv2d", "3", [0]]])),
            "Invalid argument: Item 0 of query parameter 'q' must be [run, tag, step, [image indices]] (strings, an "
            'integer step, image indices >= 0). Received: \'["exp1", "activations/conv2d", "3", [0]]\'',
        ),
        (
            "q=" + urllib.parse.quote(json.dumps([["exp1", "activations/conv2d", 3, [0]], ["exp1", "t", 1, [-1]]])),
            "Invalid argument: Item 1 of query parameter 'q' must be [run, tag, step, [image indices]] (strings, an "
            'integer step, image indices >= 0). Received: \'["exp1", "t", 1, [-1]]\'',
        ),
        (
            "q=" + urllib.parse.quote(json.dumps([["exp1", "activations/conv2d", s, [0]] for s in range(65)])),
            "Invalid argument: Query parameter 'q' has 65 items; a frame holds at most 64.",
        ),
        (
            "q=" + urllib.parse.quote(json.dumps([["exp1", "activations/conv2d", 0, list(range(17))]])),
            "Invalid argument: Item 0 of query parameter 'q' asks for 17 images; an item asks for at most 16.",
        ),
        (
            "q=" + "x" * 70_000,
            "Invalid argument: Query parameter 'q' is 70000 characters, more than 65536; ask for fewer items.",
        ),
    ],
    ids=["missing", "not-json", "not-a-list", "string-step", "negative-index", "65-items", "17-images", "too-long"],
)
def test_frame_bad_queries_are_400(client: Client, query: str, error: str) -> None:
    assert client.json("/frame?" + query, status=400) == {"error": error}


def test_frame_and_blob_validators_in_process(client: Client) -> None:
    items = [["exp1", "activations/conv2d", 2, [1]]]
    resp = client.get(frame_url(items))
    etag = resp.headers["ETag"]
    again = client.client.get(PLUGIN_ROUTE + frame_url(items), headers={"If-None-Match": etag})
    assert (again.status_code, again.data, again.headers["ETag"]) == (304, b"", etag)
    assert again.headers["Cache-Control"] == BLOB_CACHE_CONTROL
    other = client.client.get(PLUGIN_ROUTE + frame_url(items), headers={"If-None-Match": '"fvf1-0"'})
    assert other.status_code == 200 and other.headers["ETag"] == etag
    url = unpack(resp.data)[0]["items"][0]["doc"]["images"][1]
    blob = client.get("/" + url)
    assert blob.headers["Cache-Control"] == BLOB_CACHE_CONTROL
    tag = blob.headers["ETag"]
    assert tag.startswith('"b-') and len(tag) == 36
    revalidated = client.client.get(PLUGIN_ROUTE + "/" + url, headers={"If-None-Match": tag})
    assert (revalidated.status_code, revalidated.data) == (304, b"")
    # A forged key is still a 404, whatever the client says it holds.
    forged = client.client.get(PLUGIN_ROUTE + "/blob?key=AAAA", headers={"If-None-Match": tag})
    assert forged.status_code == 404


def test_frame_and_blob_revalidate_over_http(tb_server: Any) -> None:
    """A real TensorBoard: what a browser's revalidation gets (ETag, Cache-Control, then 304, no body)."""
    url = tb_server.url.rstrip("/") + PLUGIN_ROUTE
    status, headers, body = http_get(url + frame_url([["group/exp2", "gradcam/conv2d_1", 3, [0, 1]]]))
    assert (status, headers["Content-Type"], headers["Cache-Control"]) == (200, FRAME_TYPE, BLOB_CACHE_CONTROL)
    header, _ = unpack(body)
    blob_url = url + "/" + header["items"][0]["doc"]["images"][0]
    for target, etag in (
        (url + frame_url([["group/exp2", "gradcam/conv2d_1", 3, [0, 1]]]), headers["ETag"]),
        (blob_url, http_get(blob_url)[1]["ETag"]),
    ):
        request = urllib.request.Request(target, headers={"If-None-Match": etag})
        try:
            with urllib.request.urlopen(request, timeout=10) as resp:
                raise AssertionError(f"expected 304, got {resp.status}")
        except urllib.error.HTTPError as e:
            assert (e.code, e.headers["ETag"], e.read()) == (304, etag, b"")


@pytest.fixture(scope="module", params=["python", "rust"])
def damaged_client(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    spec = logdir_factory.write_logdir(
        tmp_path_factory.mktemp("frame_damaged"),
        runs=("exp1",),
        epochs=2,
        layers=("conv2d",),
        probes=2,
        channels=4,
        damaged=(("exp1", 1, "activations/conv2d", 2), ("exp1", 0, "filters/conv2d", 0)),
    )
    dp, close = make_provider(spec.root, request.param)
    try:
        yield Client(dp, spec.root)
    finally:
        close()


def test_frame_damaged_blobs_stay_in_their_item(damaged_client: Client) -> None:
    items = [["exp1", "activations/conv2d", 1, [0, 1]], ["exp1", "filters/conv2d", 0, [0]]]
    resp, header, data = get_frame(damaged_client, items)
    grid, filters = header["items"]
    assert grid["status"] == 200 and grid["images"][0]["status"] == 200
    assert grid["images"][1] == {
        "index": 1,
        "status": 404,
        "error": grid["images"][1]["error"],
        "damaged": True,
    }
    assert "is damaged" in grid["images"][1]["error"]
    assert filters == {"status": 404, "error": filters["error"], "damaged": True}
    assert "record" in filters["error"] and "damaged" in filters["error"]
    assert data == damaged_client.get("/" + grid["doc"]["images"][0]).data
    assert "ETag" not in resp.headers
