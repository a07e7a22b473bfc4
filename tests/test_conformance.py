"""Conformance (issue 17, "bring your own model"): the model shapes users write, end to end.

Each case of ``tests/support/conformance.CASES`` is trained for 2 epochs with the callback (budget lifted, so
every kind is drawn), with ``ModelCheckpoint`` and a ``visualize=False`` callback beside it (the sidecar's
inputs); then one fresh process (``tests/support/conformance_worker.py``) reloads every checkpoint and runs the
notebook API and ``featureviz watch --once`` on it. The module fixture does all of that once; each test
checks one property on every case:

- the exact tag set, every layer name in it the model's own, and the Grad-CAM layer's tag;
- ``run_info["input_space"]``: 0-255 for a model that rescales inside, the preprocessing style for inputs
  preprocessed outside it, the probes' [0, 1] otherwise;
- the written probe images are the original pixels (the model's input deprocessed) within one grey level;
- the filter patterns' median relative activation per layer (>= 1.5 where the case says so);
- the reloaded model's activations, Grad-CAM maps and filter patterns equal the trained model's;
- ``watch --once`` exits 0 and writes the callback's tags, input space and probe images;
- on a hand-set model (``Rescaling(1/255)``, a hand-set convolution, global pooling, a one-unit logits head)
  the Grad-CAM heatmaps, written and recomputed after reload, equal a float64 NumPy reference.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest

import tb_featureviz as fv
from tb_featureviz import FeatureVizCallback, metadata, render
from tests.support.conformance import CASES, HANDSET, Case, handset_weights, raw_images
from tests.support.events import TIMING_TAGS, read_run
from tests.support.handset import conv_relu_f64, resize_bilinear_half_pixel_f64

ROOT = Path(__file__).resolve().parents[1]
IMAGES = 16
PROBES = 4
EPOCHS = 2
NOTEBOOK_FILTERS = [0, 1]
NOTEBOOK_STEPS = 8

RUN_TAGS = {"probes", "run_info", "plan", "sample"}


@dataclass
class Outcome:
    """What one case produced: its runs, the trained model's own results, the fresh process's."""

    case: Case
    root: Path
    raw: np.ndarray | None = None
    fed: np.ndarray | None = None
    labels: np.ndarray | None = None
    layer_names: set[str] = field(default_factory=set)
    reference: dict[str, np.ndarray] = field(default_factory=dict)
    probabilities: np.ndarray | None = None
    error: str | None = None
    worker: dict[str, Any] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def check(self) -> None:
        if self.error:
            pytest.fail(f"{self.case.name}: training with the callback failed:\n{self.error}")


def model_layer_names(model: keras.Model) -> set[str]:
    """Every layer name of the model, nested models' layers included."""
    names = set()
    for layer in model.layers:
        names.add(layer.name)
        if isinstance(layer, keras.Model):
            names |= model_layer_names(layer)
    return names


def train_case(case: Case, root: Path) -> Outcome:
    out = Outcome(case, root)
    keras.backend.clear_session()  # Keras' auto-names restart: the residual model's adds are add, add_1
    keras.utils.set_random_seed(0)
    raw, labels = raw_images(IMAGES)
    fed = case.feed(raw)
    out.raw, out.fed, out.labels = raw[:PROBES], fed[:PROBES], labels[:PROBES]
    model = case.compile(case.build())
    out.layer_names = model_layer_names(model)
    common: dict[str, Any] = {
        "probe_labels": labels[:PROBES],
        "class_names": [f"class {i}" for i in range(case.classes)],
        "budget": None,
        "max_filters": 4,
        "exemplar_images": 8,
        **case.callback_kwargs,
        **case.fit_kwargs,
    }
    full = FeatureVizCallback(root / "A", fed[:PROBES], **common)
    source = FeatureVizCallback(root / "B", fed[:PROBES], visualize=False, **common)
    ckpt = keras.callbacks.ModelCheckpoint(str(root / "ckpts" / "ckpt-{epoch:03d}.keras"))
    t0 = time.perf_counter()
    model.fit(
        fed,
        labels,
        validation_data=(fed, labels),
        epochs=EPOCHS,
        batch_size=8,
        verbose=0,
        callbacks=[full, source, ckpt],
    )
    out.seconds["fit"] = time.perf_counter() - t0
    # The trained model's own notebook results, for the reloaded model's to equal.
    t0 = time.perf_counter()
    acts = fv.activations(model, out.fed, layers=list(case.layers_in_tags))
    out.reference = {f"act/{name}": value for name, value in acts.items()}
    out.reference["cam"] = fv.grad_cam(model, out.fed, layer=case.gradcam_layer)
    out.reference["cam_1"] = fv.grad_cam(model, out.fed, class_index=1, layer=case.gradcam_layer)
    out.reference["patterns"] = fv.filter_patterns(
        model, case.filter_layer, filters=NOTEBOOK_FILTERS, steps=NOTEBOOK_STEPS, **case.notebook_kwargs
    )
    scores = np.asarray(model.predict(out.fed, verbose=0), np.float64)
    if case.single_unit:  # one logit: class 1 is sigmoid(logit)
        p = 1.0 / (1.0 + np.exp(-scores[:, 0]))
        scores = np.stack([1.0 - p, p], axis=1)
    out.probabilities = scores
    out.seconds["notebook"] = time.perf_counter() - t0
    return out


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    """Every case trained and checkpointed here, reloaded and watched in one fresh process.

    The worker process starts first, so that its TensorFlow import overlaps the first training, and takes the
    cases (one JSON line each on its standard input) once they are all trained.
    """
    base = tmp_path_factory.mktemp("conformance")
    log = open(base / "worker.log", "w+", encoding="utf-8")  # noqa: SIM115  (closed below)
    worker = subprocess.Popen(
        [sys.executable, "-m", "tests.support.conformance_worker"],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert worker.stdin is not None
    results: dict[str, Outcome] = {}
    jobs: list[dict[str, Any]] = []
    t_start = time.perf_counter()
    try:
        for case in (*CASES, HANDSET):
            root = base / case.name
            root.mkdir()
            try:
                outcome = train_case(case, root)
            except Exception:
                outcome = Outcome(case, root, error=traceback.format_exc())
            results[case.name] = outcome
            if outcome.error:
                continue
            np.save(root / "probes.npy", outcome.fed)
            job = {
                "name": case.name,
                "checkpoint": str(root / "ckpts" / f"ckpt-{EPOCHS:03d}.keras"),
                "checkpoint_dir": str(root / "ckpts"),
                "images": str(root / "probes.npy"),
                "activation_layers": list(case.layers_in_tags),
                "cam_layer": case.gradcam_layer,
                "filter_layer": case.filter_layer,
                "filters": NOTEBOOK_FILTERS,
                "filter_steps": NOTEBOOK_STEPS,
                "notebook_kwargs": case.notebook_kwargs,
                "watch_logdir": str(root / "B"),
                "watch_args": list(case.watch_args),
                "out": str(root),
            }
            jobs.append(job)
        # All at once: on 2 cores, reloading one case while training the next slowed both down.
        worker.stdin.write("".join(json.dumps(job) + "\n" for job in jobs))
        worker.stdin.close()
        rc = worker.wait(timeout=600)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
        log.seek(0)
        output = log.read()
        log.close()
    assert rc == 0, output[-5000:]
    total = time.perf_counter() - t_start
    for outcome in results.values():
        path = outcome.root / "result.json"
        if path.exists():
            outcome.worker = json.loads(path.read_text())
        elif not outcome.error:
            outcome.error = f"the worker wrote no result for {outcome.case.name}:\n{output[-5000:]}"
    timings = {name: {**o.seconds, **o.worker.get("seconds", {})} for name, o in results.items()}
    (base / "timings.json").write_text(json.dumps({"total": total, "cases": timings}, indent=1))
    return results


ALL = [case.name for case in (*CASES, HANDSET)]


def blobs(run: dict, tag: str, step: int) -> list[bytes]:
    return list(run[tag].values[step])


def record(run: dict, tag: str, step: int) -> dict[str, Any]:
    return metadata.decode_record(run[tag].values[step][0])


@pytest.mark.parametrize("name", ALL)
def test_exact_tags_are_the_models_layers(outcomes, name):
    out = outcomes[name]
    out.check()
    case = out.case
    run = read_run(out.root / "A" / "featureviz")
    plans = [record(run, "plan", step) for step in range(EPOCHS)]
    assert set(run["plan"].values) == set(range(EPOCHS))
    acts = set().union(*(p["activations"] for p in plans))
    filters = set().union(*(p["filters"] for p in plans))
    cams = {p["gradcam"] for p in plans}
    exemplars = {t.removeprefix("exemplars/") for t in run if t.startswith("exemplars/")}
    metrics = {"loss", "val_loss", *(["binary_accuracy", "val_binary_accuracy"] if case.single_unit else [])}
    if not case.single_unit:
        metrics |= {"accuracy", "val_accuracy"}
    expected = (
        RUN_TAGS
        | TIMING_TAGS
        | {f"epoch_{m}" for m in metrics}
        | {f"activations/{n}" for n in acts}
        | {f"health/dead_fraction/{n}" for n in acts}
        | {f"filters/{n}" for n in filters}
        | {f"{metadata.RELATIVE_ACTIVATION_PREFIX}{n}" for n in filters}
        | {f"gradcam/{n}" for n in cams}
        | {f"exemplars/{n}" for n in exemplars}
        | {"faithfulness/deletion_auc", "faithfulness/insertion_auc", "sanity/randomization_spearman"}
        | {"sanity/drift_spearman"}
    )
    assert set(run) == expected
    # Every layer named in a tag is the model's own (no featureviz_ helper, no renamed copy).
    named = acts | filters | cams | exemplars
    assert named <= out.layer_names, named - out.layer_names
    assert not any("featureviz" in n for n in named)
    assert cams == {case.gradcam_layer}
    assert f"gradcam/{case.gradcam_layer}" in run
    assert set(case.layers_in_tags) <= acts
    assert exemplars <= acts and filters  # patterns were drawn
    for tag, series in run.items():  # each tag's metadata names its own layer
        if series.metadata is not None and series.metadata.plugin_data.plugin_name == "featureviz":
            content = metadata.parse_plugin_metadata(series.metadata.plugin_data.content)
            if content.kind in metadata.TAG_PREFIX:
                assert tag == metadata.tag_for(content.kind, content.layer)


@pytest.mark.parametrize("name", ALL)
def test_input_space_in_run_info(outcomes, name):
    out = outcomes[name]
    out.check()
    run = read_run(out.root / "A" / "featureviz")
    space = record(run, "run_info", 0)["input_space"]
    want = out.case.space
    assert space["style"] == want["style"]
    assert space["order"] == want["order"]
    np.testing.assert_allclose(space["scale"], want["scale"], rtol=1e-4)
    np.testing.assert_allclose(space["offset"], want["offset"], rtol=1e-4, atol=1e-4)
    assert out.case.source in space["source"], space
    assert space["description"]


@pytest.mark.parametrize("name", ALL)
def test_probe_images_written_are_the_original_pixels(outcomes, name):
    out = outcomes[name]
    out.check()
    run = read_run(out.root / "A" / "featureviz")
    pngs = blobs(run, "probes", 0)[1:]
    assert len(pngs) == PROBES
    for i, png in enumerate(pngs):
        shown = render.decode_png(png).astype(int)
        assert shown.shape == out.raw[i].shape
        assert np.abs(shown - out.raw[i].astype(int)).max() <= 1, (name, i)


@pytest.mark.parametrize("name", ALL)
def test_filter_patterns_relative_activation(outcomes, name, record_property):
    out = outcomes[name]
    out.check()
    run = read_run(out.root / "A" / "featureviz")
    measured = {
        tag.removeprefix(metadata.RELATIVE_ACTIVATION_PREFIX): float(run[tag].values[EPOCHS - 1])
        for tag in run
        if tag.startswith(metadata.RELATIVE_ACTIVATION_PREFIX)
    }
    record_property("relative_activation", json.dumps(measured))
    print(f"{name}: relative activation {json.dumps({k: round(v, 2) for k, v in measured.items()})}")
    assert measured
    for layer, value in measured.items():  # the scalar is the record's median
        assert value == pytest.approx(
            record(run, f"filters/{layer}", EPOCHS - 1)["relative_median"], rel=1e-3
        )  # 4 digits
    if out.case.min_relative is not None:
        held = {k: v for k, v in measured.items() if k not in out.case.relative_exempt}
        assert held
        low = {k: v for k, v in held.items() if v < out.case.min_relative}
        assert not low, f"{name}: patterns drive these layers' filters under {out.case.min_relative}x: {low}"


@pytest.mark.parametrize("name", ALL)
def test_gradcam_written_is_the_models_own(outcomes, name):
    """The last epoch's Grad-CAM record: the model's probabilities (a one-unit logits head through a
    sigmoid), the predicted and true classes, and heatmaps equal to ``fv.grad_cam`` within one grey level."""
    out = outcomes[name]
    out.check()
    run = read_run(out.root / "A" / "featureviz")
    seq = blobs(run, f"gradcam/{out.case.gradcam_layer}", EPOCHS - 1)
    rec = metadata.decode_record(seq[0])
    assert len(rec["probes"]) == PROBES
    for i, probe in enumerate(rec["probes"]):
        np.testing.assert_allclose(probe["probabilities"], out.probabilities[i], atol=1e-5)
        assert probe["predicted"] == int(np.argmax(out.probabilities[i]))
        assert probe["true"] == int(out.labels[i])
        predicted, true = probe["targets"]
        assert (predicted["target"], true["target"]) == ("predicted", "true")
        heat = render.decode_png(seq[predicted["heatmap"]]).astype(int)
        assert np.abs(heat - np.round(out.reference["cam"][i] * 255)).max() <= 1, i
        if true["class"] == 1:
            heat = render.decode_png(seq[true["heatmap"]]).astype(int)
            assert np.abs(heat - np.round(out.reference["cam_1"][i] * 255)).max() <= 1, i


@pytest.mark.parametrize("name", ALL)
def test_reloaded_in_a_fresh_process_the_notebook_api_agrees(outcomes, name):
    out = outcomes[name]
    out.check()
    assert out.worker["notebook_error"] is None, out.worker["notebook_error"]
    if name == "residual_add":  # the names that clashed with Grad-CAM's own tap before
        assert {"add", "add_1"} <= set(out.worker["layers"])
    got = np.load(out.root / "notebook.npz")
    assert set(got.files) == set(out.reference)
    for key, want in out.reference.items():
        np.testing.assert_allclose(got[key], want, atol=1e-4, err_msg=f"{name} {key}")
    assert out.reference["cam"].max() > 0.5  # not all-zero maps


@pytest.mark.parametrize("name", ALL)
def test_watch_once_writes_what_the_callback_wrote(outcomes, name):
    out = outcomes[name]
    out.check()
    assert out.worker["watch_rc"] == 0, out.worker["watch_output"]
    a = read_run(out.root / "A" / "featureviz")
    b = read_run(out.root / "B" / "featureviz")
    assert set(b) == set(a)
    assert record(b, "run_info", 0)["input_space"] == record(a, "run_info", 0)["input_space"]
    assert blobs(b, "probes", 0) == blobs(a, "probes", 0)
    for tag in a:
        if tag.startswith("activations/"):  # same weights, same grids
            assert blobs(b, tag, EPOCHS - 1)[1:] == blobs(a, tag, EPOCHS - 1)[1:], tag


# -- the hand-set case: Grad-CAM against float64 ---------------------------------------------------------------


def handset_cam_f64(raw: np.ndarray, weights: list[np.ndarray], classes: list[int]) -> np.ndarray:
    """Grad-CAM of ``conformance.handset`` in float64: ``Rescaling(1/255)``, conv + relu, global average
    pooling, ``Dense(1)`` logits. The logit is linear in the conv output ``A`` (``[h, w, K]``): its gradient at
    every position is ``dense[k] / (h * w)``, so ``alpha_k = dense[k] / (h * w)`` (negated for class 0)."""
    kernel, bias, dense, _ = (np.asarray(w, np.float64) for w in weights)
    a = conv_relu_f64(raw.astype(np.float64) / 255.0, kernel, bias)
    h, w = a.shape[1:3]
    maps = []
    for n, c in enumerate(classes):
        alpha = dense[:, 0] / (h * w) * (1.0 if c == 1 else -1.0)
        maps.append(np.maximum((a[n] * alpha).sum(axis=-1), 0.0))
    up = resize_bilinear_half_pixel_f64(np.stack(maps), raw.shape[1], raw.shape[2])
    peak = up.max(axis=(1, 2), keepdims=True)
    return np.where(peak > 1e-7, up / np.maximum(peak, 1e-7), 0.0)


def test_handset_grad_cam_equals_float64_reference(outcomes):
    out = outcomes[HANDSET.name]
    out.check()

    weights = handset_weights()
    kernel, bias, dense, dense_bias = (np.asarray(w, np.float64) for w in weights)
    a = conv_relu_f64(out.raw.astype(np.float64) / 255.0, kernel, bias)
    logits = a.mean(axis=(1, 2)) @ dense[:, 0] + dense_bias[0]
    p1 = 1.0 / (1.0 + np.exp(-logits))
    predicted = (logits > 0).astype(int)
    assert set(predicted) == {0, 1}  # both classes' maps are compared
    ref_predicted = handset_cam_f64(out.raw, weights, list(predicted))
    ref_1 = handset_cam_f64(out.raw, weights, [1] * PROBES)
    assert ref_predicted.max(axis=(1, 2)).min() > 0.5

    # The notebook API, in this process and on the model reloaded in a fresh one.
    np.testing.assert_allclose(out.reference["cam"], ref_predicted, atol=1e-5)
    np.testing.assert_allclose(out.reference["cam_1"], ref_1, atol=1e-5)
    got = np.load(out.root / "notebook.npz")
    np.testing.assert_allclose(got["cam"], ref_predicted, atol=1e-5)
    np.testing.assert_allclose(got["cam_1"], ref_1, atol=1e-5)

    # What the callback wrote (the learning rate is 0: the weights are the hand-set ones at every epoch),
    # and what watch wrote from the checkpoint: heatmaps within one grey level, scores and classes exact.
    labels = out.labels
    for run_dir in ("A", "B"):
        run = read_run(out.root / run_dir / "featureviz")
        for step in range(EPOCHS):
            seq = blobs(run, f"gradcam/{HANDSET.gradcam_layer}", step)
            rec = metadata.decode_record(seq[0])
            for i, probe in enumerate(rec["probes"]):
                assert probe["predicted"] == predicted[i] and probe["true"] == labels[i]
                np.testing.assert_allclose(probe["probabilities"], [1 - p1[i], p1[i]], atol=1e-5)
                for target in probe["targets"]:
                    c = target["class"]
                    ref = handset_cam_f64(out.raw[i : i + 1], weights, [c])[0]
                    heat = render.decode_png(seq[target["heatmap"]]).astype(float)
                    assert np.abs(heat - np.round(ref * 255)).max() <= 1, (run_dir, step, i, c)
