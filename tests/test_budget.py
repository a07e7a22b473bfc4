"""The callback at a fixed budget: bounded bytes, the writer worker, crash safety, chief-only, real models."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

from tb_featureviz import FeatureVizCallback, compute, metadata, render
from tb_featureviz.writer.distributed import chief_task, is_chief
from tests.support.events import read_run

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def wide_model() -> keras.Model:
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            keras.layers.Conv2D(512, 3, activation="relu", name="wide"),
            keras.layers.GlobalAveragePooling2D(name="gap"),
            keras.layers.Dense(2, activation="softmax", name="head"),
        ],
        name="wide",
    )


def test_a_wide_layer_is_reduced_to_the_pixel_cap_and_an_epoch_stays_under_1_mb(tmp_path):
    model = wide_model()
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (16, 32, 32, 3)).astype(np.float32)
    y = np.arange(16) % 2
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy")
    cb = FeatureVizCallback(tmp_path, x[:4], probe_labels=y[:4], budget=None, filter_steps=2)
    model.fit(x, y, epochs=2, batch_size=8, verbose=0, callbacks=[cb])

    # 512 channels of 30x30: tiles shrink to 8x8 (factor 4), then the 400 most variable channels fit.
    assert render.grid_reduction((30, 30, 512), 32_768) == (400, 4)
    run = read_run(tmp_path / "featureviz")
    content = metadata.parse_plugin_metadata(run["activations/wide"].metadata.plugin_data.content)
    assert (content.layout.count, content.layout.tile_height, content.layout.tile_width) == (400, 8, 8)
    assert content.layout.width * content.layout.height <= 32_768
    acts = compute.activations(model, x[:4], layers=["wide"])["wide"]  # the final weights = step 1
    for step in (0, 1):
        record = json.loads(run["activations/wide"].values[step][0])
        assert record["scale"] == 4 and record["shape"] == [30, 30, 512]
        assert len(record["channels"]) == 400 and record["channels"] == sorted(record["channels"])
    # The channels were chosen at the first epoch and kept: the same tiles at every step.
    assert json.loads(run["activations/wide"].values[0][0])["channels"] == record["channels"]
    grid = render.decode_png(run["activations/wide"].values[1][1])
    expected, _ = render.activation_grid(acts[0], channels=record["channels"], scale=4)
    np.testing.assert_allclose(grid.astype(int), expected.astype(int), atol=1)

    # Filters: 16 fixed + a window of 128 of the 512, rotating; the grid shrunk to the cap.
    f0, f1 = (json.loads(run["filters/wide"].values[s][0]) for s in (0, 1))
    assert f0["schedule"]["window"] == [0, 127] and f1["schedule"]["window"] == [128, 255]
    assert f0["schedule"]["of"] == 512 and f0["schedule"]["fixed"] == 16 and f0["schedule"]["next"] == [128, 255]
    assert f0["filters"][:16] == f1["filters"][:16] and f0["filters"][16:] == list(range(128))
    assert len(f0["filters"]) == 144

    # Grad-CAM stores heatmaps only; the whole epoch, probes and run info included, is under 1 MB.
    assert all(
        t["overlay"] is None for p in json.loads(run["gradcam/wide"].values[0][0])["probes"] for t in p["targets"]
    )
    sizes = cb._viz.worker.bytes_written if cb._viz else {}
    assert set(sizes) == {0, 1} and max(sizes.values()) < 1_000_000


def test_max_grid_pixels_none_writes_full_resolution(tmp_path):
    model = wide_model()
    x = np.random.default_rng(1).uniform(0, 1, (4, 32, 32, 3)).astype(np.float32)
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy")
    cb = FeatureVizCallback(tmp_path, x[:1], max_grid_pixels=None, filter_patterns=False, gradcam=False)
    model.fit(x, np.array([0, 1, 0, 1]), epochs=1, verbose=0, callbacks=[cb])
    run = read_run(tmp_path / "featureviz")
    layout = metadata.parse_plugin_metadata(run["activations/wide"].metadata.plugin_data.content).layout
    assert (layout.count, layout.tile_height) == (512, 30)
    assert "channels" not in json.loads(run["activations/wide"].values[0][0])


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"budget": 0}, ValueError, "budget=0"),
        ({"budget": "5%"}, TypeError, "budget='5%'"),
        ({"budget_seconds": -1}, ValueError, "budget_seconds=-1"),
        ({"max_grid_pixels": 0}, ValueError, "max_grid_pixels=0"),
        ({"max_bytes_per_epoch": 0}, ValueError, "max_bytes_per_epoch=0"),
        ({"layers": []}, ValueError, "layers=\\[\\]"),
    ],
)
def test_bad_budget_arguments_name_the_value(tmp_path, kwargs, error, match):
    with pytest.raises(error, match=match):
        FeatureVizCallback(tmp_path, **kwargs)


def test_the_budget_bounds_the_callbacks_time_and_the_plan_says_why(tmp_path):
    """A tiny budget: activations and Grad-CAM at every epoch, no filter pass, and the plan records it."""
    model = wide_model()
    x = np.random.default_rng(2).uniform(0, 1, (16, 32, 32, 3)).astype(np.float32)
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy")
    cb = FeatureVizCallback(tmp_path, x[:2], budget_seconds=1e-4, filter_steps=2)
    model.fit(x, np.arange(16) % 2, epochs=3, batch_size=8, verbose=0, callbacks=[cb])
    run = read_run(tmp_path / "featureviz")
    assert "filters/wide" not in run
    assert set(run["activations/wide"].values) == set(run["gradcam/wide"].values) == {0, 1, 2}
    plans = [json.loads(run["plan"].values[s][0]) for s in (0, 1, 2)]
    assert all(p["filters"] == {} and set(p["skipped"]) == {"wide", "metrics", "exemplars"} for p in plans)
    # The last epoch draws the measures only when the run can pay for them; this one cannot, and says so.
    assert plans[2]["extras"] == [] and plans[2]["skipped"]["metrics"].startswith("the run's budget has 0.00 s left")
    assert all(p["budget"] == {"fraction": None, "seconds_per_epoch": 1e-4} for p in plans)
    assert plans[0]["over_budget"] and plans[0]["activations"] == ["wide"] and plans[0]["gradcam"] == "wide"
    assert plans[2]["spent_seconds"] > plans[0]["spent_seconds"] > 0


def test_an_error_in_the_callbacks_own_work_never_stops_training(tmp_path, caplog):
    model = wide_model()
    x = np.random.default_rng(3).uniform(0, 1, (8, 32, 32, 3)).astype(np.float32)
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy")
    cb = FeatureVizCallback(tmp_path, x[:2], filter_patterns=False)

    def broken(*args, **kwargs):
        raise RuntimeError("render failed")

    cb.set_model(model)
    assert cb._viz is not None
    cb._viz._write_gradcam = broken  # type: ignore[method-assign]
    history = model.fit(x, np.arange(8) % 2, epochs=2, verbose=0, callbacks=[cb])
    assert len(history.history["loss"]) == 2
    assert "epoch 0 could not be visualised" in caplog.text


def test_a_filter_layer_that_fails_is_dropped_and_the_epoch_keeps_its_other_summaries(tmp_path, caplog):
    model = wide_model()
    x = np.random.default_rng(7).uniform(0, 1, (8, 32, 32, 3)).astype(np.float32)
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy")
    cb = FeatureVizCallback(tmp_path, x[:2], budget=None, filter_steps=2)
    cb.set_model(model)
    assert cb._viz is not None

    def broken(layer, input_space=None):
        raise ValueError("Negative dimension size")

    cb._viz._filter_task.generator = broken  # type: ignore[method-assign,union-attr]
    model.fit(x, np.arange(8) % 2, epochs=2, verbose=0, callbacks=[cb])
    run = read_run(tmp_path / "featureviz")
    assert "filters/wide" not in run and set(run["activations/wide"].values) == {0, 1}
    plans = [json.loads(run["plan"].values[s][0]) for s in (0, 1)]
    assert plans[0]["skipped"] == {"wide": "failed: ValueError"} and plans[0]["filters"] == {}
    assert plans[1]["skipped"] == {} and plans[1]["filters"] == {}  # dropped, not retried every epoch
    assert caplog.text.count("no filter patterns for layer 'wide': Negative dimension size") == 1


TRAIN_SCRIPT = textwrap.dedent(
    """
    import logging, sys
    import keras, numpy as np
    from tb_featureviz import FeatureVizCallback

    class Boom(keras.callbacks.Callback):  # "crash": raise out of fit at epoch 3
        def on_epoch_end(self, epoch, logs=None):
            if sys.argv[2] == "crash" and epoch == 3:
                raise RuntimeError("boom")

    logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(message)s", force=True)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((16, 16, 3)), keras.layers.Conv2D(4, 3, name="c1"),
                              keras.layers.Flatten(), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy")
    x = np.random.default_rng(0).uniform(0, 1, (8, 16, 16, 3)).astype("float32")
    model.fit(x, np.arange(8) % 2, epochs=10000, verbose=0,
              callbacks=[FeatureVizCallback(sys.argv[1], x[:2], filter_patterns=False), Boom()])
    """
)


def _train_command(tmp_path, mode: str) -> tuple[list[str], dict[str, str]]:
    script = tmp_path / "train.py"
    script.write_text(TRAIN_SCRIPT)
    env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="3")
    return [sys.executable, str(script), str(tmp_path / "run"), mode], env


def test_every_epoch_reported_written_survives_sigkill(tmp_path):
    command, env = _train_command(tmp_path, "forever")
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    reported: list[int] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("featureviz: epoch ") and " written to " in line:
                reported.append(int(line.split()[2]))
                if len(reported) == 3:
                    proc.kill()  # SIGKILL: no cleanup, no flush, nothing
                    break
    finally:
        proc.kill()
        proc.wait(timeout=60)
    assert reported == [0, 1, 2]
    run = read_run(tmp_path / "run" / "featureviz")
    assert set(reported) <= set(run["activations/c1"].values) and set(reported) <= set(run["plan"].values)
    for step in reported:
        blobs = run["activations/c1"].values[step]
        assert render.decode_png(blobs[1]).shape == (1 * 14, 4 * 14 + 3)


def test_an_exception_out_of_fit_still_writes_every_queued_epoch_before_the_process_exits(tmp_path):
    """on_train_end never runs; the worker thread finishes the queue, then lets the interpreter exit."""
    command, env = _train_command(tmp_path, "crash")
    proc = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 1 and "RuntimeError: boom" in proc.stderr
    run = read_run(tmp_path / "run" / "featureviz")
    assert set(run["activations/c1"].values) == set(run["plan"].values) == {0, 1, 2, 3}


@pytest.mark.parametrize(
    "task_type, task_id, cluster, chief",
    [
        (None, None, {}, True),
        ("chief", 0, {"chief": ["a:1"], "worker": ["b:1"]}, True),
        ("worker", 0, {"chief": ["a:1"], "worker": ["b:1"]}, False),
        ("worker", 0, {"worker": ["a:1", "b:1"]}, True),
        ("worker", 1, {"worker": ["a:1", "b:1"]}, False),
        ("ps", 0, {"worker": ["a:1"], "ps": ["c:1"]}, False),
        ("evaluator", 0, {"worker": ["a:1"]}, False),
    ],
)
def test_chief_task(task_type, task_id, cluster, chief):
    assert chief_task(task_type, task_id, cluster) is chief


def _tf_config(monkeypatch, task_type: str, index: int) -> tf.distribute.cluster_resolver.ClusterResolver:
    cluster = {"worker": ["localhost:12345", "localhost:12346"]}
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": task_type, "index": index}}))
    return tf.distribute.cluster_resolver.TFConfigClusterResolver()


def test_only_the_chief_of_a_multi_worker_cluster_writes(tmp_path, monkeypatch):
    """The decision comes from the cluster resolver MultiWorkerMirroredStrategy is built on (Keras 3 cannot
    fit under that strategy: keras-team/keras#20585)."""
    assert is_chief(resolver=_tf_config(monkeypatch, "worker", 0))
    resolver = _tf_config(monkeypatch, "worker", 1)
    assert not is_chief(resolver=resolver)

    import tb_featureviz.writer.callback as callback_module

    monkeypatch.setattr(callback_module, "is_chief", lambda model: is_chief(resolver=resolver))
    model = wide_model()
    x = np.random.default_rng(4).uniform(0, 1, (4, 32, 32, 3)).astype(np.float32)
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy")
    cb = FeatureVizCallback(tmp_path / "worker1", x[:2])
    model.fit(x, np.arange(4) % 2, epochs=2, verbose=0, callbacks=[cb])
    assert not (tmp_path / "worker1").exists() and cb.hook_seconds < 0.05 and cb._viz is None


def test_mirrored_strategy_writes_what_a_single_device_writes(tmp_path):
    x = np.random.default_rng(5).uniform(0, 1, (8, 32, 32, 3)).astype(np.float32)
    y = np.arange(8) % 2
    grids = []
    for name, strategy in (("single", None), ("mirrored", tf.distribute.MirroredStrategy(["/cpu:0"]))):
        scope = strategy.scope() if strategy is not None else tf.distribute.get_strategy().scope()
        with scope:
            model = wide_model()
            model.compile(optimizer=keras.optimizers.SGD(0.0), loss="sparse_categorical_crossentropy")
        cb = FeatureVizCallback(tmp_path / name, x[:2], filter_patterns=False)
        model.fit(x, y, epochs=1, verbose=0, callbacks=[cb])
        run = read_run(tmp_path / name / "featureviz")
        grids.append((run["activations/wide"].values[0][1:], run["gradcam/wide"].values[0][1:]))
    assert [list(g) for g in grids[0]] == [list(g) for g in grids[1]]


def test_set_model_on_resnet50_is_cheap_and_picks_its_five_stages(tmp_path):
    model = keras.applications.ResNet50(weights=None, input_shape=(224, 224, 3), classes=2)
    cb = FeatureVizCallback(tmp_path)
    t0 = time.perf_counter()
    cb.set_model(model)
    seconds = time.perf_counter() - t0
    assert seconds < 2.0
    assert cb._viz is not None and cb._viz.planner is not None
    assert cb._viz.activation_layers == [
        "conv1_relu",
        "conv2_block3_out",
        "conv3_block4_out",
        "conv4_block6_out",
        "conv5_block3_out",
    ]
    assert list(cb._viz.planner.rotations) == cb._viz.activation_layers
    assert cb._viz._filter_task.generators == {}  # filter-pattern generators are built at their first pass


@pytest.mark.slow
def test_mobilenetv2_at_defaults_writes_its_stages_under_1_mb(tmp_path):
    keras.utils.set_random_seed(0)
    model = keras.applications.MobileNetV2(weights=None, input_shape=(96, 96, 3), alpha=0.35, classes=2)
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy")
    x = np.random.default_rng(6).uniform(0, 1, (16, 96, 96, 3)).astype(np.float32)
    y = np.arange(16) % 2
    # Bytes, not time: a 2-epoch run of 16 images is too short for 5% to pay for growing the layer set (the
    # budget holds layers back while the callback is over it), so it runs without a time budget; and without
    # the exemplars, whose image sample (written once) would fill the first epoch's 1 MB, and the filter
    # patterns, whose writing would still be going on when the short second epoch decides what to grow.
    cb = FeatureVizCallback(tmp_path, x[:4], probe_labels=y[:4], budget=None, exemplars=0, filter_patterns=False)
    model.fit(x, y, epochs=2, batch_size=8, verbose=0, callbacks=[cb])
    run = read_run(tmp_path / "featureviz")
    stages = ["block_1_expand_relu", "block_3_expand_relu", "block_6_expand_relu", "block_13_expand_relu", "out_relu"]
    plans = [json.loads(run["plan"].values[s][0]) for s in (0, 1)]
    assert plans[0]["activations"] == stages
    # At 96x96 and alpha 0.35 the stages leave room: layers are added in model order after the first epoch.
    added = [n for n in plans[1]["activations"] if n not in stages]
    assert added and plans[1]["activations"][: len(added)] == added  # the earliest layers come first
    assert {t for t in run if t.startswith("activations/")} == {f"activations/{n}" for n in plans[1]["activations"]}
    assert set(run["gradcam/out_relu"].values) == {0, 1}
    assert cb._viz is not None and max(cb._viz.worker.bytes_written.values()) < 1_000_000


def _skip_rules() -> list[re.Pattern[str]]:
    """One pattern per rule of ``SKIP_REASONS``, its numbers and names as wildcards."""
    from tb_featureviz.writer.planner import SKIP_REASONS

    out = []
    for template in SKIP_REASONS.values():
        pattern = re.escape(template)
        for field in ("cost", "left", "reserved", "spent", "allowed"):
            pattern = pattern.replace(rf"\{{{field}\}}", r"\d+\.\d\d")
        out.append(re.compile(pattern.replace(r"\{blocker\}", r"\w+")))
    return out


@pytest.mark.slow
def test_the_budget_holds_on_an_example_model_counting_the_warm_up_the_writer_and_the_final_measures(tmp_path):
    """Keras' "image classification from scratch" shape, which featureviz was not designed for: 0-255 pixels
    rescaled inside, unnamed convolutions, residual adds, a one-unit logits head, trained for real (no waiting
    input: the training uses the CPU the callback competes for). Over 4 epochs at the default budget, what the
    callback costs (its hooks on the training thread, first epoch and final wait included, the background
    warm-up's CPU and the writer thread's CPU on the same cores) stays within 5% + 1 point of the training time,
    by its hook clock and by its own accounting; every skip names a rule of SKIP_REASONS and never says it needs
    less than is left; the final measures are drawn within what earlier epochs kept aside, or skipped by the
    rule. About 40 s of training on 2 CPU cores."""
    from tests.support.keras_example import example_data, example_model

    model = example_model(96)
    x, y = example_data(1344, 96)  # ~40 s of training: at 928 images (~28 s) it measured 0.049-0.060
    xv, yv = example_data(32, 96, seed=1)
    model.fit(x[:64], y[:64], batch_size=32, epochs=1, verbose=0)  # the train step's own tracing is not ours
    cb = FeatureVizCallback(tmp_path, class_names=["noise", "square"])
    model.fit(x, y, batch_size=32, validation_data=(xv, yv), epochs=4, verbose=0, callbacks=[cb])
    run = read_run(tmp_path / "featureviz")
    plans = [json.loads(run["plan"].values[s][0]) for s in range(4)]
    last = plans[-1]
    train = last["train_seconds"]
    assert last["warm_up_seconds"] > 0 and last["writer_seconds"] > 0
    assert cb.writer_seconds >= last["writer_seconds"] - 1e-4  # the record's is one epoch late (and rounded)
    assert last["spent_seconds"] <= 0.06 * train, last
    total = cb.hook_seconds + last["warm_up_seconds"] + cb.writer_seconds
    print(f"callback {total:.2f} s ({total / train:.3f}) of {train:.1f} s of training; hooks {cb.hook_seconds:.2f} s")
    assert total <= 0.06 * train, (cb.hook_seconds, cb.writer_seconds, last)
    if "metrics" in last["extras"]:
        assert 0 < last["epoch_costs"]["metrics"] <= min(p["reserved_seconds"] for p in plans[:-1])
    else:
        assert last["skipped"]["metrics"].startswith("the run's budget has ")
    rules = _skip_rules()
    for plan in plans:
        for reason in plan["skipped"].values():
            assert any(rule.fullmatch(reason) for rule in rules), reason
            needs = re.search(r"needs ~(\d+\.\d+) s,? (?:while )?the budget has (\d+\.\d+) s left", reason)
            assert needs is None or float(needs[1]) > float(needs[2]), reason
            final = re.search(r"has (\d+\.\d+) s left, which cannot pay for the final measures \(~(\d+\.\d+) s", reason)
            assert final is None or float(final[2]) > float(final[1]), reason
