"""Stage alignment of runs of different architectures (``tb_featureviz.reader.alignment``), from hand-set
values and from a real logdir read through both loaders."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tb_featureviz.reader import FeatureVizReader, alignment, documents
from tests.support import architectures, logdir_factory
from tests.support.architectures import MOBILENET, RESNET
from tests.support.server import make_provider


def test_align_stage_by_relative_depth() -> None:
    assert [alignment.align_stage(k, 5, 4) for k in range(1, 6)] == [1, 2, 3, 3, 4]
    assert [alignment.align_stage(k, 4, 5) for k in range(1, 5)] == [1, 2, 4, 5]
    assert [alignment.align_stage(k, 5, 5) for k in range(1, 6)] == [1, 2, 3, 4, 5]
    assert [alignment.align_stage(k, 8, 5) for k in range(1, 9)] == [1, 2, 2, 3, 3, 4, 4, 5]
    assert [alignment.align_stage(k, 3, 2) for k in range(1, 4)] == [1, 2, 2]  # 1.5 rounds up
    assert alignment.align_stage(1, 1, 4) == 4  # a one-stage run's only stage is its deepest
    assert alignment.align_stage(2, 3, 1) == 1
    assert alignment.align_stage(2, 3, 0) is None
    for bad in ((0, 3, 2), (4, 3, 2), (1, 0, 2), (1, 3, -1)):
        with pytest.raises(ValueError, match="align_stage needs"):
            alignment.align_stage(*bad)


def test_parse_stage() -> None:
    assert alignment.parse_stage("3/5") == (3, 5)
    assert alignment.parse_stage(" 3 of 5 ") == (3, 5)
    for bad in ("0/5", "6/5", "3", "x/5", "3/5/7", ""):
        with pytest.raises(ValueError, match="A stage is written K/N"):
            alignment.parse_stage(bad)


def test_run_stages_groups_by_size_largest_first() -> None:
    stages = alignment.run_stages(
        [
            ("conv1", (8, 8)),
            ("pad", None),  # size unknown: no stage
            ("pool1", (4, 4)),
            ("conv2", (4, 4)),
            ("gap", (1, 1)),  # 1x1: no stage
            ("late", (8, 8)),  # added by the budget after the first epoch: not in the model order
        ],
        model_order=["conv1", "pool1", "conv2", "gap"],
        filter_layers=["conv1", "conv2", "mystery"],  # mystery: no activation grid, size unknown
        gradcam_layers=["conv2"],
    )
    assert stages == {
        "count": 2,
        "list": [
            {
                "stage": 1,
                "height": 8,
                "width": 8,
                "layers": ["conv1", "late"],
                "activations": "conv1",
                "filters": "conv1",
            },
            {
                "stage": 2,
                "height": 4,
                "width": 4,
                "layers": ["pool1", "conv2"],
                "activations": "conv2",
                "filters": "conv2",
            },
        ],
        "gradcam": "conv2",
    }
    # Without a model order (older logs), the last layer of a stage in the index's order.
    assert alignment.run_stages([("a", (6, 4)), ("b", (6, 4)), ("c", (5, 5))])["list"] == [
        {"stage": 1, "height": 5, "width": 5, "layers": ["c"], "activations": "c", "filters": None},
        {"stage": 2, "height": 6, "width": 4, "layers": ["a", "b"], "activations": "b", "filters": None},
    ]
    assert alignment.run_stages([]) == {"count": 0, "list": [], "gradcam": None}
    assert alignment.align_table(4, [5, 4, 0, 5]) == {"4": [1, 2, 3, 4], "5": [1, 2, 3, 3, 4]}


def test_layer_size_from_record_else_layout() -> None:
    layout = {"rows": 1, "cols": 4, "tile_height": 7, "tile_width": 5, "padding": 1, "count": 4}
    assert documents.layer_size({"layout": layout}, {"shape": [28, 28, 64], "scale": 4}) == (28, 28)
    assert documents.layer_size({"layout": layout}, {"scale": 4}) == (28, 20)  # a record of an older writer
    assert documents.layer_size({"layout": layout}, None) == (7, 5)  # record unreadable
    assert documents.layer_size({"layout": None}, None) is None


@pytest.fixture(scope="module")
def arch_logdir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, logdir_factory.LogdirSpec]]:
    root = tmp_path_factory.mktemp("architectures")
    return root, architectures.write_architectures(root)


@pytest.mark.parametrize("kind", ["python", "rust"])
def test_index_stages_and_aligned_layers(kind: str, arch_logdir: tuple[Path, Any]) -> None:
    root, specs = arch_logdir
    dp, close = make_provider(str(root), kind)
    try:
        index = FeatureVizReader(dp).index(None)
    finally:
        close()
    assert logdir_factory.mask_blobs(index) == architectures.expected_index(specs)
    entries = {e["run"]: e for e in index["runs"]}
    resnet, mobilenet = entries[RESNET], entries[MOBILENET]
    assert resnet["stages"]["list"][2] == {
        "stage": 3,
        "height": 6,
        "width": 6,
        "layers": ["conv3_block1_out", "conv3_block4_out"],
        "activations": "conv3_block4_out",
        "filters": "conv3_block4_out",
    }
    assert resnet["stages"]["align"] == {"4": [1, 2, 4, 5], "5": [1, 2, 3, 4, 5]}
    assert mobilenet["stages"]["align"] == {"4": [1, 2, 3, 4], "5": [1, 2, 3, 3, 4]}
    shown = {
        (stage, run): alignment.aligned_layer(entries[run], "activations", (stage, 5))
        for stage in range(1, 6)
        for run in (RESNET, MOBILENET)
    }
    assert shown == {
        (1, RESNET): "conv1_relu",
        (1, MOBILENET): "block_1_expand_relu",
        (2, RESNET): "conv2_block3_out",
        (2, MOBILENET): "block_3_expand_relu",
        (3, RESNET): "conv3_block4_out",
        (3, MOBILENET): "block_6_expand_relu",
        (4, RESNET): "conv4_block6_out",
        (4, MOBILENET): "block_6_expand_relu",
        (5, RESNET): "conv5_block3_out",
        (5, MOBILENET): "out_relu",
    }
    assert alignment.aligned_layer(mobilenet, "filters", (2, 5)) is None  # its stage 2 has no filter layer
    assert alignment.aligned_layer(mobilenet, "filters", (4, 4)) == "out_relu"
    assert alignment.aligned_layer(resnet, "filters", (3, 4)) == "conv4_block6_out"
    assert alignment.aligned_layer(resnet, "gradcam", None) == "conv5_block3_out"
    assert alignment.aligned_layer(mobilenet, "gradcam", (1, 5)) == "out_relu"
    assert alignment.aligned_layer({"run": "old"}, "activations", (1, 1)) is None  # an entry without stages
    with pytest.raises(ValueError, match="kind must be"):
        alignment.aligned_layer(resnet, "probes", (1, 1))
