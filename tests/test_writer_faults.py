"""Writer-side faults: a diverged model, NaN probes and subclassed models get marked output or clear errors."""

from __future__ import annotations

import json
import logging

import keras
import numpy as np
import pytest

from tb_featureviz import FeatureVizCallback, compute, metadata, render
from tests.support.events import read_run
from tests.support.models import SIZE, tiny_data, tiny_model


def test_a_nan_in_the_weights_never_stops_training_and_is_marked(tmp_path, caplog):
    """One NaN pixel in a training batch makes the kernels NaN; training goes on, and so do the summaries."""
    model = tiny_model()
    x, y = tiny_data()
    x[0, 0, 0, 0] = np.nan
    probes = tiny_data()[0][:2]  # finite probes
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy")
    cb = FeatureVizCallback(tmp_path, probes, probe_labels=y[:2], budget=None, filter_steps=2)
    with caplog.at_level(logging.WARNING, logger="tb_featureviz"):
        history = model.fit(x, y, epochs=2, batch_size=8, verbose=0, callbacks=[cb])
    assert len(history.history["loss"]) == 2 and np.isnan(model.get_layer("c1").kernel.numpy()).any()
    assert sum("NaN or inf" in r.getMessage() for r in caplog.records) == 1  # one warning per run
    assert "could not be visualised" not in caplog.text

    run = read_run(tmp_path / "featureviz")
    assert set(run["plan"].values) == {0, 1}
    for step in (0, 1):
        acts = run["activations/c1"].values[step]
        record = json.loads(acts[0])
        # TensorFlow's relu maps NaN to 0: every channel of c1 reads as dead, drawn black.
        assert record["dead"] == [0, 1, 2, 3] and "nonfinite" not in record
        np.testing.assert_array_equal(render.decode_png(acts[1]), render.activation_grid(np.zeros((14, 14, 4)))[0])
        filters = json.loads(run["filters/c1"].values[step][0])
        assert filters["activation"] == [None] * 4 and filters["nonfinite"] >= 4
        assert json.loads(run["gradcam/c2"].values[step][0])["probes"]  # relu(NaN) = 0 in c1: c2 on is finite


def test_gradcam_record_with_nan_scores_and_maps_is_written_with_nulls(tmp_path):
    import tensorflow as tf

    from tb_featureviz import summary

    images = np.zeros((2, 4, 4, 3), np.float32)
    heat = np.full((2, 4, 4), 0.5, np.float32)
    heat[1] = np.nan
    probs = np.array([[0.25, 0.75], [np.nan, np.nan]])
    with tf.summary.create_file_writer(str(tmp_path)).as_default():
        assert summary.gradcam("c", images, heat, 0, target_classes=[[1], [0]], probabilities=probs)
    blobs = read_run(tmp_path)["gradcam/c"].values[0]
    record = json.loads(blobs[0])
    assert record["nonfinite"] == 16 + 2
    assert record["probes"][0]["probabilities"] == [0.25, 0.75] and record["probes"][0]["targets"][0]["score"] == 0.75
    assert record["probes"][1]["probabilities"] == [None, None] and record["probes"][1]["targets"][0]["score"] is None
    assert not render.decode_png(blobs[record["probes"][1]["targets"][0]["heatmap"]]).any()  # drawn as 0


def test_nan_probe_images_are_a_clear_error(tmp_path):
    model = tiny_model()
    probes = np.zeros((3, SIZE, SIZE, 3), np.float32)
    probes[1, 2, 3] = [np.nan, np.inf, 0.0]
    with pytest.raises(ValueError, match=r"non-finite values \(NaN or inf\) in image 1: 2$"):
        FeatureVizCallback(tmp_path, probes).set_model(model)
    with pytest.raises(ValueError, match="image 1: 2"):
        compute.grad_cam(model, probes)


def test_subclassed_model_message_says_what_is_supported():
    class Net(keras.Model):
        def __init__(self):
            super().__init__(name="net")
            self.conv = keras.layers.Conv2D(2, 3)
            self.pool = keras.layers.GlobalAveragePooling2D()

        def call(self, x):
            return self.pool(self.conv(x))

    net = Net()
    net.build((None, 8, 8, 3))
    with pytest.raises(ValueError, match=r"'net' is a subclassed model .*Sequential and functional.*keras\.Input"):
        compute.activations(net, np.zeros((1, 8, 8, 3), np.float32))
    with pytest.raises(ValueError, match=r"Sequential model .* is not built"):
        compute.conv_layers(keras.Sequential([keras.layers.Conv2D(2, 3)]))


def test_nonfinite_is_documented_in_the_storage_format():
    assert '"nonfinite": n' in (metadata.__doc__ or "")
