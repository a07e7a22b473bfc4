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


def test_crop_box_moves_the_crop_inside_the_image() -> None:
    """``crop_box`` (the exemplars' crops): centred where it fits, moved, never shrunk, at the border."""
    assert metadata.crop_box(4, 4, 4, (8, 8)) == (2, 2, 6, 6)
    assert metadata.crop_box(0, 0, 4, (8, 8)) == (0, 0, 4, 4)
    assert metadata.crop_box(7, 7, 4, (8, 8)) == (4, 4, 8, 8)
    assert metadata.crop_box(1, 9, 3, (8, 10)) == (7, 0, 10, 3)
    assert metadata.crop_box(1, 7, 3, (8, 10)) == (6, 0, 9, 3)  # fits: centred
    assert metadata.crop_box(2, 2, 20, (5, 9)) == (0, 0, 9, 5)  # a side longer than the image is the image's
    for bad in (0, -1):
        with pytest.raises(ValueError, match="size must be a positive int"):
            metadata.crop_box(1, 1, bad, (8, 8))
    with pytest.raises(TypeError):
        metadata.crop_box(1, 1, 2.5, (8, 8))
