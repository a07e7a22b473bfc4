"""Runs of different architectures through a real TensorBoard, with each loader: the stages in ``/index``
and the export aligned by stage (``/export?stage=K/N``, ``layer@<run>``)."""

from __future__ import annotations

import io
import json
import urllib.parse
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import architectures, logdir_factory
from tests.support.architectures import MOBILENET, RESNET
from tests.support.routes import PLUGIN_ROUTE, http_get
from tests.support.server import start_tensorboard, wait_for_featureviz


@pytest.fixture(scope="module", params=[False, True], ids=["python", "rust"])
def arch_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any]]:
    with architectures.served(tmp_path_factory, bool(request.param)) as (url, specs):
        yield url.rstrip("/") + PLUGIN_ROUTE, specs


def q(**params: Any) -> str:
    return urllib.parse.urlencode(params, doseq=True)


def _zip(base: str, **params: Any) -> tuple[dict[str, Any], zipfile.ZipFile]:
    status, headers, body = http_get(base + "/export?" + q(**params))
    assert status == 200, body[:300]
    assert headers["Content-Type"] == "application/zip"
    zf = zipfile.ZipFile(io.BytesIO(body))
    return json.loads(zf.read("manifest.json")), zf


def test_index_has_each_runs_stages(arch_server: tuple[str, Any]) -> None:
    base, specs = arch_server
    status, headers, body = http_get(base + "/index")
    assert status == 200 and headers["Content-Type"] == "application/json"
    index = json.loads(body)
    assert logdir_factory.mask_blobs(index) == architectures.expected_index(specs)
    stages = {e["run"]: e["stages"] for e in index["runs"]}
    assert stages[MOBILENET] == {
        "count": 4,
        "list": [
            {"stage": 1, "height": 16, "width": 16, "layers": ["block_1_expand_relu"],
             "activations": "block_1_expand_relu", "filters": "block_1_expand_relu"},
            {"stage": 2, "height": 8, "width": 8, "layers": ["block_3_expand_relu"],
             "activations": "block_3_expand_relu", "filters": None},
            {"stage": 3, "height": 4, "width": 4, "layers": ["block_6_expand_relu"],
             "activations": "block_6_expand_relu", "filters": "block_6_expand_relu"},
            {"stage": 4, "height": 2, "width": 2, "layers": ["out_relu"], "activations": "out_relu",
             "filters": "out_relu"},
        ],
        "gradcam": "out_relu",
        "align": {"4": [1, 2, 3, 4], "5": [1, 2, 3, 3, 4]},
    }  # fmt: skip


def test_export_aligned_by_stage(arch_server: tuple[str, Any]) -> None:
    base, specs = arch_server
    manifest, zf = _zip(base, run=[RESNET, MOBILENET], kinds="activations", stage="3/5", format="zip")
    got = sorted({(e["run"], e["layer"]) for e in manifest["files"]})
    assert got == [(MOBILENET, "block_6_expand_relu"), (RESNET, "conv3_block4_out")]
    for e in manifest["files"]:
        assert zf.read(e["file"]) == specs[e["run"]].activation_png(e["run"], e["epoch"], e["layer"], e["probe"])
    # Filters: stage 2 of 5 is mobilenet's stage 2, which has no filter layer: resnet's only.
    manifest, _ = _zip(base, run=[RESNET, MOBILENET], kinds="filters", stage="2/5", format="zip")
    assert sorted({(e["run"], e["layer"]) for e in manifest["files"]}) == [(RESNET, "conv2_block3_out")]
    # Grad-CAM: each run's own layer.
    manifest, _ = _zip(base, run=[RESNET, MOBILENET], kinds="gradcam", stage="1/5", format="zip")
    assert sorted({(e["run"], e["layer"]) for e in manifest["files"]}) == [
        (MOBILENET, "out_relu"),
        (RESNET, "conv5_block3_out"),
    ]
    # A per-run choice wins over the stage.
    params = {"layer@" + MOBILENET: "out_relu"}
    manifest, _ = _zip(base, run=[RESNET, MOBILENET], kinds="activations", stage="3/5", format="zip", **params)
    got = sorted({(e["run"], e["layer"]) for e in manifest["files"]})
    assert got == [(MOBILENET, "out_relu"), (RESNET, "conv3_block4_out")]


@pytest.mark.parametrize(
    ("params", "code", "message"),
    [
        ({"stage": "6/5"}, 400, "A stage is written K/N with 1 <= K <= N"),
        ({"stage": "3/5", "layer": "conv1_relu"}, 400, "give layers or stage, not both"),
        ({"layer@" + RESNET: "out_relu"}, 404, "layer 'out_relu' not found in run 'resnet'"),
        ({"layer@nope": "out_relu"}, 404, "a layer is chosen for run 'nope', which is not exported"),
    ],
)
def test_export_alignment_errors(arch_server: tuple[str, Any], params: dict[str, str], code: int, message: str) -> None:
    base, _ = arch_server
    status, headers, body = http_get(base + "/export?" + q(run=[RESNET, MOBILENET], format="zip", **params))
    assert status == code and headers["Content-Type"] == "application/json"
    assert message in json.loads(body)["error"]


def test_stages_of_a_log_without_shapes_or_model_order(tmp_path: Path) -> None:
    """An older log: same layer names in both runs, no run_info "layers": one stage per tile size."""
    spec = logdir_factory.write_logdir(tmp_path, runs=("a", "b"), epochs=1, layer_tiles={"conv2d": 8})
    url, stop = start_tensorboard(tmp_path, False)
    try:
        wait_for_featureviz(url, spec)
        _, _, body = http_get(url.rstrip("/") + PLUGIN_ROUTE + "/index")
    finally:
        stop()
    assert logdir_factory.mask_blobs(json.loads(body)) == spec.expected_index()
    stages = json.loads(body)["runs"][0]["stages"]
    assert [(s["stage"], s["height"], s["activations"], s["filters"]) for s in stages["list"]] == [
        (1, 8, "conv2d", "conv2d"),
        (2, 4, "max_pooling2d", "conv2d_1"),  # no model order: the last of the stage by name
    ]
