"""metadata.py: the storage contract round-trips and rejects what it cannot read."""

import json

import pytest
from tensorboard.compat.proto import summary_pb2

from tb_featureviz import metadata
from tb_featureviz.metadata import GridLayout


def test_create_and_parse_round_trip():
    layout = GridLayout(rows=2, cols=16, tile_height=7, tile_width=7, padding=1, count=32)
    meta = metadata.create_summary_metadata("activations", layer="conv2d", layout=layout, extra={"a": 1})
    assert meta.plugin_data.plugin_name == "featureviz"
    assert meta.data_class == summary_pb2.DATA_CLASS_BLOB_SEQUENCE
    parsed = metadata.parse_plugin_metadata(meta.plugin_data.content)
    assert parsed == metadata.PluginContent(kind="activations", layer="conv2d", layout=layout, extra={"a": 1})
    assert json.loads(meta.plugin_data.content)["version"] == 1


def test_unknown_version_and_kind_are_clear_errors():
    with pytest.raises(ValueError, match="Unsupported featureviz metadata version 99"):
        metadata.parse_plugin_metadata(json.dumps({"version": 99, "kind": "activations"}).encode())
    with pytest.raises(ValueError, match="not valid JSON"):
        metadata.parse_plugin_metadata(b"\x08\x01")
    with pytest.raises(ValueError, match="kind='histogram'"):
        metadata.create_summary_metadata("histogram")


def test_layout_geometry_and_validation():
    layout = GridLayout(rows=2, cols=3, tile_height=4, tile_width=5, padding=1, count=5)
    assert (layout.width, layout.height) == (17, 9)
    assert layout.tile_origin(4) == (6, 5)
    with pytest.raises(ValueError, match="index=5"):
        layout.tile_origin(5)
    with pytest.raises(ValueError, match="count=7"):
        GridLayout(rows=2, cols=3, tile_height=4, tile_width=5, padding=1, count=7)
    with pytest.raises(ValueError, match="rows=0"):
        GridLayout(rows=0, cols=3, tile_height=4, tile_width=5, padding=1, count=1)


def test_tag_for():
    assert metadata.tag_for("gradcam", "conv2d_3") == "gradcam/conv2d_3"
    assert metadata.tag_for("probes") == "probes"
    with pytest.raises(ValueError, match="needs a layer"):
        metadata.tag_for("filters")
