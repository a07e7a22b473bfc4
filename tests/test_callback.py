"""FeatureVizCallback end to end: train a tiny model, read the event files back, check every value."""

from __future__ import annotations

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from tensorboard.compat.proto import summary_pb2

from tb_featureviz import FeatureVizCallback, compute, metadata, render
from tb_featureviz.writer.callback import select_probes
from tests.support.events import read_run
from tests.support.models import SIZE, tiny_data, tiny_model


def fit(model, log_dir, cb, epochs=2, initial_epoch=0, extra_callbacks=()):
    x, y = tiny_data()
    model.compile(
        optimizer=keras.optimizers.RMSprop(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    return model.fit(
        x,
        y,
        validation_data=(x[:8], y[:8]),
        epochs=epochs,
        initial_epoch=initial_epoch,
        batch_size=8,
        verbose=0,
        callbacks=[*extra_callbacks, cb],
    )


def test_round_trip_two_epochs_exact_tags_steps_pngs_and_metadata(tmp_path):
    model = tiny_model()
    x, y = tiny_data()
    probes, labels = x[:3], y[:3]
    cb = FeatureVizCallback(tmp_path, probes, probe_labels=labels, class_names=["a", "b"], filter_steps=5, budget=None)
    fit(model, tmp_path, cb)

    assert sorted(os.listdir(tmp_path)) == ["featureviz"]  # nothing spurious
    assert len(os.listdir(tmp_path / "featureviz")) == 1  # one event file
    run = read_run(tmp_path / "featureviz")
    fourd = ["c1", "p1", "c2"]
    expected_tags = (
        {f"activations/{n}" for n in fourd}
        | {"filters/c1", "filters/c2", "gradcam/c2", "probes", "run_info"}
        | {"epoch_loss", "epoch_accuracy", "epoch_val_loss", "epoch_val_accuracy"}
        | {f"health/dead_fraction/{n}" for n in fourd}
        | {"cost/activations_seconds", "cost/gradcam_seconds", "cost/filters_seconds", "cost/callback_seconds"}
        | {"faithfulness/deletion_auc", "faithfulness/insertion_auc", "sanity/randomization_spearman"}
        | {"cost/metrics_seconds", "sanity/drift_spearman", "plan"}
        | {f"exemplars/{n}" for n in fourd}
        | {"cost/exemplars_seconds", "sample"}
        | {"patterns/relative_activation/c1", "patterns/relative_activation/c2"}
    )
    assert set(run) == expected_tags
    for tag in expected_tags - {"probes", "sample", "run_info", "sanity/drift_spearman"}:
        assert set(run[tag].values) == {0, 1}, tag
    assert set(run["sanity/drift_spearman"].values) == {1}  # against the previous logged epoch
    assert set(run["probes"].values) == {0} and set(run["run_info"].values) == {0}

    # Metadata of the blob tags: plugin name, data class, versioned content with the layout.
    extractor_acts = {n: keras.Model(model.inputs[0], model.get_layer(n).output)(probes).numpy() for n in fourd}
    for n in fourd:
        meta = run[f"activations/{n}"].metadata
        assert meta.plugin_data.plugin_name == "featureviz"
        assert meta.data_class == summary_pb2.DATA_CLASS_BLOB_SEQUENCE
        content = metadata.parse_plugin_metadata(meta.plugin_data.content)
        assert (content.kind, content.layer) == ("activations", n)
        h, w, c = extractor_acts[n].shape[1:]
        assert content.layout == metadata.GridLayout(rows=1, cols=c, tile_height=h, tile_width=w, padding=1, count=c)
        # The last epoch's grids are exactly the rendering of the model's final activations.
        blobs = run[f"activations/{n}"].values[1]
        assert blobs.dtype == object and blobs.ndim == 1 and len(blobs) == 1 + 3
        record = json.loads(blobs[0])
        assert record["probes"] == 3 and record["shape"] == [h, w, c]
        for i in range(3):
            grid = render.decode_png(blobs[1 + i])
            assert grid.shape == (content.layout.height, content.layout.width)
            expected, _ = render.activation_grid(extractor_acts[n][i])
            np.testing.assert_allclose(grid.astype(int), expected.astype(int), atol=1)

    # Probe images, stored once, equal the probes.
    probe_blobs = run["probes"].values[0]
    assert json.loads(probe_blobs[0]) == {"labels": [0, 1, 0], "class_names": ["a", "b"]}
    for i in range(3):
        np.testing.assert_array_equal(render.decode_png(probe_blobs[1 + i]), render.to_uint8_image(probes)[i])

    # Grad-CAM: predicted and true targets per probe, a heatmap at input resolution; no stored overlay
    # (the viewers lay the heatmap over the probe image).
    gc = run["gradcam/c2"]
    content = metadata.parse_plugin_metadata(gc.metadata.plugin_data.content)
    assert content.extra == {"class_names": ["a", "b"], "targets": ["predicted", "true"]}
    blobs = gc.values[1]
    record = json.loads(blobs[0])
    probs = model.predict(probes, verbose=0)
    assert len(blobs) == 1 + 3 * 2
    for i, p in enumerate(record["probes"]):
        assert p["true"] == int(labels[i])
        assert p["predicted"] == int(np.argmax(probs[i]))
        np.testing.assert_allclose(p["probabilities"], probs[i], atol=1e-5)
        assert [t["target"] for t in p["targets"]] == ["predicted", "true"]
        assert [t["class"] for t in p["targets"]] == [p["predicted"], p["true"]]
        for t in p["targets"]:
            assert t["score"] == pytest.approx(float(probs[i][t["class"]]), abs=1e-5)
            assert render.decode_png(blobs[t["heatmap"]]).shape == (SIZE, SIZE)
            assert t["overlay"] is None

    # Filter patterns: one RGB grid per conv layer with one tile per filter.
    fblobs = run["filters/c2"].values[1]
    frecord = json.loads(fblobs[0])
    assert frecord["filters"] == list(range(6)) and len(frecord["activation"]) == 6
    flayout = metadata.parse_plugin_metadata(run["filters/c2"].metadata.plugin_data.content).layout
    assert flayout.count == 6 and flayout.tile_height == flayout.tile_width == frecord["size"]
    assert render.decode_png(fblobs[1]).shape == (flayout.height, flayout.width, 3)

    # Scalars: the epoch logs, health and cost.
    assert 0.0 <= float(run["health/dead_fraction/c1"].values[1]) <= 1.0
    assert float(run["cost/filters_seconds"].values[0]) > 0
    info = json.loads(run["run_info"].values[0][0])
    assert info["model"] == "tiny" and info["params"] == model.count_params()
    assert info["optimizer"]["class"] == "RMSprop" and info["optimizer"]["learning_rate"] == pytest.approx(1e-3)
    assert info["input_shape"] == [None, SIZE, SIZE, 3]


def test_every_n_epochs_filter_cadence_and_resumed_steps(tmp_path):
    model = tiny_model()
    x, _y = tiny_data()
    cb = FeatureVizCallback(tmp_path, x[:2], every_n_epochs=2, filter_every_n_epochs=2, filter_steps=2, budget=None)
    fit(model, tmp_path, cb, epochs=5)
    run = read_run(tmp_path / "featureviz")
    assert set(run["epoch_loss"].values) == {0, 1, 2, 3, 4}  # curves every epoch
    assert set(run["activations/c1"].values) == {0, 2, 4}  # first, every 2nd, last
    assert set(run["filters/c1"].values) == {0, 4}  # every 2nd logged epoch
    assert "gradcam/c2" in run and len(json.loads(run["gradcam/c2"].values[0][0])["probes"][0]["targets"]) == 1

    # Resumed training continues the steps in the same run.
    cb2 = FeatureVizCallback(tmp_path, x[:2], filter_patterns=False)
    fit(model, tmp_path, cb2, epochs=7, initial_epoch=5)
    run = read_run(tmp_path / "featureviz")
    assert set(run["activations/c1"].values) == {0, 2, 4, 5, 6}
    assert set(run["epoch_loss"].values) == set(range(7))


def test_probes_picked_class_balanced_from_fit_validation_data(tmp_path):
    model = tiny_model(num_classes=3)
    x, y = tiny_data(num_classes=3)
    cb = FeatureVizCallback(tmp_path, num_probes=4, filter_patterns=False, gradcam=True)
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy")
    val = tf.data.Dataset.from_tensor_slices((x[6:], y[6:])).batch(5)
    model.fit(x, y, validation_data=val, epochs=1, verbose=0, callbacks=[cb])
    run = read_run(tmp_path / "featureviz")
    probe_blobs = run["probes"].values[0]
    # x[6:] has labels 0,1,2,0,1,2...: round-robin over classes takes x[6], x[7], x[8], x[9].
    assert json.loads(probe_blobs[0])["labels"] == [0, 1, 2, 0]
    np.testing.assert_array_equal(render.decode_png(probe_blobs[1]), render.to_uint8_image(x[6:7])[0])
    np.testing.assert_array_equal(render.decode_png(probe_blobs[4]), render.to_uint8_image(x[9:10])[0])


def test_select_probes_forms():
    x = np.zeros((6, 4, 4, 3), np.float32)
    y = np.array([1, 1, 1, 0, 1, 0])
    imgs, labels = select_probes((x + np.arange(6)[:, None, None, None], y), 3)
    assert labels.tolist() == [0, 1, 0] and imgs[:, 0, 0, 0].tolist() == [3, 0, 5]
    onehot = np.eye(2)[y]
    assert select_probes((x, onehot), 2)[1].tolist() == [0, 1]
    ds = tf.data.Dataset.from_tensor_slices((x, y.astype(np.float32)[:, None])).batch(4)
    assert select_probes(ds, 4)[1].tolist() == [0, 1, 0, 1]
    assert select_probes(x, 2)[1] is None
    with pytest.raises(ValueError, match="empty"):
        select_probes(ds.take(0), 2)


def test_crash_mid_training_leaves_written_epochs_readable(tmp_path):
    class Boom(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 2:
                raise RuntimeError("boom")

    model = tiny_model()
    x, y = tiny_data()
    cb = FeatureVizCallback(tmp_path, x[:2], filter_patterns=False, budget=None)  # every epoch whole
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy")
    # Boom runs after the featureviz callback, so epoch 2 was written and flushed before the crash.
    with pytest.raises(RuntimeError, match="boom"):
        model.fit(x, y, epochs=5, verbose=0, callbacks=[cb, Boom()])
    # on_train_end never ran; the worker goes on writing what was queued.
    assert cb.flush(timeout=60)
    assert cb.written_epochs == [0, 1, 2]
    run = read_run(tmp_path / "featureviz")
    assert set(run["activations/c1"].values) == {0, 1, 2}


def test_curves_stay_with_keras_tensorboard_callback(tmp_path):
    model = tiny_model()
    x, _ = tiny_data()
    cb = FeatureVizCallback(tmp_path, x[:2], filter_patterns=False, gradcam=False)
    fit(model, tmp_path, cb, epochs=1, extra_callbacks=[keras.callbacks.TensorBoard(str(tmp_path))])
    assert sorted(os.listdir(tmp_path)) == ["featureviz", "train", "validation"]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"every_n_epochs": 0}, "every_n_epochs=0"),
        ({"filter_every_n_epochs": -1}, "filter_every_n_epochs=-1"),
        ({"num_probes": 0}, "num_probes=0"),
        ({"max_filters": 0}, "max_filters=0"),
        ({"filter_parameterization": "lucid"}, "filter_parameterization='lucid'"),
    ],
)
def test_bad_arguments_name_the_value(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        FeatureVizCallback(tmp_path, **kwargs)


@pytest.mark.parametrize("parameterization", ["fourier", "pixel"])
def test_filter_patterns_written_are_the_models_own(tmp_path, parameterization):
    """The last epoch's filter grid is the rendering of compute's patterns for the final weights."""
    model = tiny_model()
    x, _ = tiny_data()
    cb = FeatureVizCallback(
        tmp_path,
        x[:2],
        gradcam=False,
        filter_steps=6,
        filter_layers=["c2"],
        filter_parameterization=parameterization,
        budget=None,
    )
    fit(model, tmp_path, cb, epochs=1)
    run = read_run(tmp_path / "featureviz")
    blobs = run["filters/c2"].values[0]
    gen = compute.FilterPatternGenerator(model, "c2", steps=6, parameterization=parameterization)
    patterns, reached = gen()
    expected, _ = render.filter_grid(patterns)
    np.testing.assert_array_equal(render.decode_png(blobs[1]), expected)
    # Each pattern's activation relative to the probes' mean activation of its filter, and their median.
    relative, _ = gen.relative_activation(reached, x[:2])
    record = json.loads(blobs[0])
    want = [None if not np.isfinite(v) else pytest.approx(float(v), rel=1e-3) for v in relative]
    assert record["relative"] == want
    finite = relative[np.isfinite(relative)]
    assert record["relative_median"] == pytest.approx(float(np.median(finite)), rel=1e-3)
    assert float(run["patterns/relative_activation/c2"].values[0]) == pytest.approx(float(np.median(finite)), rel=1e-5)


def test_bad_log_dir_and_class_names(tmp_path):
    with pytest.raises(TypeError, match="log_dir"):
        FeatureVizCallback(None)
    with pytest.raises(TypeError, match="class_names"):
        FeatureVizCallback(tmp_path, class_names=[0, 1])


def test_wrong_probe_shape_is_a_clear_error(tmp_path):
    model = tiny_model()
    cb = FeatureVizCallback(tmp_path, np.zeros((2, 20, 20, 3), np.float32))
    with pytest.raises(ValueError, match=r"20, 20, 3"):
        cb.set_model(model)
    with pytest.raises(ValueError, match=r"\(2, 16, 16\)"):
        FeatureVizCallback(tmp_path, np.zeros((2, 16, 16), np.float32))


def test_unknown_layer_and_model_without_conv_layers(tmp_path):
    with pytest.raises(ValueError, match="nope"):
        FeatureVizCallback(tmp_path, layers=["nope"]).set_model(tiny_model())
    dense = keras.Sequential([keras.Input((8,)), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="4-D"):
        FeatureVizCallback(tmp_path).set_model(dense)
