"""Summary ops: what they write, byte for byte and pixel for pixel, read back from the event file."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tensorflow as tf
from tensorboard.compat.proto import summary_pb2

from tb_featureviz import metadata, render, summary
from tests.support.events import read_run


@pytest.fixture
def writer(tmp_path):
    w = tf.summary.create_file_writer(str(tmp_path))
    with w.as_default():
        yield w
    w.close()


def test_activations_writes_record_and_one_grid_per_probe(tmp_path, writer):
    rng = np.random.default_rng(0)
    a = rng.normal(size=(2, 3, 4, 5)).astype(np.float32)
    a[..., 2] = 0.0  # a dead channel
    assert summary.activations("conv", a, step=3)
    writer.flush()
    series = read_run(tmp_path)["activations/conv"]
    assert series.metadata.data_class == summary_pb2.DATA_CLASS_BLOB_SEQUENCE
    content = metadata.parse_plugin_metadata(series.metadata.plugin_data.content)
    assert content.layout == metadata.GridLayout(rows=1, cols=5, tile_height=3, tile_width=4, padding=1, count=5)
    blobs = series.values[3]
    assert json.loads(blobs[0]) == {"probes": 2, "shape": [3, 4, 5], "dead": [2]}
    for i in range(2):
        np.testing.assert_array_equal(render.decode_png(blobs[1 + i]), render.activation_grid(a[i])[0])


def test_filter_patterns_writes_rgb_grid(tmp_path, writer):
    p = np.linspace(0, 1, 3 * 4 * 4 * 3).reshape(3, 4, 4, 3)
    summary.filter_patterns("c", p, step=0, filters=[4, 5, 6], activation=[1.0, 2.0, 3.5])
    writer.flush()
    blobs = read_run(tmp_path)["filters/c"].values[0]
    assert json.loads(blobs[0]) == {"filters": [4, 5, 6], "activation": [1.0, 2.0, 3.5], "size": 4}
    grid = render.decode_png(blobs[1])
    np.testing.assert_array_equal(grid[:, 5:9], np.round(p[1] * 255).astype(np.uint8))
    with pytest.raises(ValueError, match="filters must have 3 entries"):
        summary.filter_patterns("c", p, step=0, filters=[1, 2])


def test_filter_patterns_relative_median_counts_each_filter_once(tmp_path, writer):
    # A pass whose fixed subset and window overlap shows filters 2 and 0 twice; the median is over filters
    # 0, 1, 2, 3 (3 is silent on the probes): median(1.0, 2.0, 10.0) = 2.0, not the 5 finite tiles' 10.0.
    p = np.zeros((6, 4, 4, 3), np.float32)
    relative = [10.0, 1.0, 2.0, np.nan, 10.0, 10.0]
    summary.filter_patterns("c", p, step=0, filters=[2, 0, 1, 3, 2, 0], relative=relative)
    writer.flush()
    record = json.loads(read_run(tmp_path)["filters/c"].values[0][0])
    assert record["relative"] == [10.0, 1.0, 2.0, None, 10.0, 10.0]
    assert record["relative_median"] == 2.0


def test_gradcam_record_indices_and_overlay_pixels(tmp_path, writer):
    images = np.zeros((2, 4, 4, 3), np.float32)
    heat = np.zeros((2, 2, 4, 4), np.float32)
    heat[0, 0, :, :2] = 1.0
    probs = np.array([[0.2, 0.8], [0.6, 0.4]])
    summary.gradcam(
        "c",
        images,
        heat,
        step=1,
        target_classes=[[1, 0], [0, 1]],
        probabilities=probs,
        labels=[0, 1],
        class_names=["cat", "dog"],
        colormap="gray",
        alpha=0.5,
    )
    writer.flush()
    series = read_run(tmp_path)["gradcam/c"]
    assert metadata.parse_plugin_metadata(series.metadata.plugin_data.content).extra == {
        "class_names": ["cat", "dog"],
        "targets": ["predicted", "true"],
    }
    blobs = series.values[1]
    record = json.loads(blobs[0])
    assert record["probes"][0] == {
        "probe": 0,
        "true": 0,
        "predicted": 1,
        "probabilities": [0.2, 0.8],
        "targets": [
            {"target": "predicted", "class": 1, "score": 0.8, "heatmap": 1, "overlay": 2},
            {"target": "true", "class": 0, "score": 0.2, "heatmap": 3, "overlay": 4},
        ],
    }
    assert record["probes"][1]["targets"][1]["overlay"] == 8 and len(blobs) == 9
    np.testing.assert_array_equal(render.decode_png(blobs[1])[:, :2], 255)
    np.testing.assert_array_equal(render.decode_png(blobs[1])[:, 2:], 0)
    overlay = render.decode_png(blobs[2])
    np.testing.assert_array_equal(overlay[:, :2], 128)  # black image, white heat, alpha 0.5
    np.testing.assert_array_equal(overlay[:, 2:], 0)
    with pytest.raises(ValueError, match="labels"):
        summary.gradcam("c", images, heat, step=1, target_classes=[[1, 0], [0, 1]], probabilities=probs, labels=[0])


def test_probes_and_run_info(tmp_path, writer):
    images = np.full((2, 3, 3, 3), 0.5, np.float32)
    summary.probes(images, step=0, labels=[1, 0], class_names=["a", "b"])
    summary.run_info({"model": "m", "params": 3}, step=0)
    writer.flush()
    run = read_run(tmp_path)
    blobs = run["probes"].values[0]
    assert json.loads(blobs[0]) == {"labels": [1, 0], "class_names": ["a", "b"]}
    np.testing.assert_array_equal(render.decode_png(blobs[2]), 128)
    assert json.loads(run["run_info"].values[0][0]) == {"model": "m", "params": 3}


def test_no_default_writer_returns_false():
    assert summary.run_info({"a": 1}, step=0) is False
