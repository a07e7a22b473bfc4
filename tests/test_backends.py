"""featureviz on every Keras backend: TensorFlow, JAX and PyTorch, each in a process of its own.

A backend is chosen once per process, so ``tests/support/backend_worker.py`` runs the compute API and a
callback training run on one backend and saves what it computed; the three run side by side once per session
(``workers``), and the tests compare what they saved:

* against the float64 NumPy reference of ``tests/support/handset.py`` (activations, Grad-CAM maps and class
  probabilities of hand-set tiny models), on each backend;
* across backends, for the same weights: activations, maps, probabilities and filter patterns of up to 20
  ascent steps within 1e-4, longer ascents within stated bounds, and the callback's event files with the same
  tags, steps and metadata, the same records, and PNGs within one grey level;
* that on JAX and PyTorch the compute API and the training thread run no TensorFlow op (the event writer
  thread does: it writes through ``tf.summary``), with TensorFlow's compute entry points made to raise.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.support import handset

BACKENDS = ("tensorflow", "jax", "torch")
OTHERS = ("jax", "torch")
ROOT = Path(__file__).resolve().parent.parent
WORKER_TIMEOUT = 600

TIMING_KEYS = {
    "started",
    "costs",
    "epoch_costs",
    "hook_seconds",
    "train_seconds",
    "spent_seconds",
    "room_seconds",
    "reserved_seconds",
    "warm_up_seconds",
    "writer_seconds",
    "estimates",
}
"""Record fields that hold clock readings, which differ from run to run on any backend."""


@dataclass
class Worker:
    backend: str
    results: dict[str, Any]
    arrays: dict[str, np.ndarray]
    logs: Path
    output: str


def _available(backend: str) -> bool:
    return backend == "tensorflow" or importlib.util.find_spec(backend) is not None


def _env(backend: str | None) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2")
    env.pop("KERAS_BACKEND", None)
    if backend is not None:
        env["KERAS_BACKEND"] = backend
    return env


@pytest.fixture(scope="session")
def workers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Worker]:
    """Each available backend's worker, run side by side, once per session."""
    procs = {}
    for backend in BACKENDS:
        if not _available(backend):
            continue
        out = tmp_path_factory.mktemp(f"backend_{backend}")
        cmd = [sys.executable, "-m", "tests.support.backend_worker", str(out), backend]
        if backend != "tensorflow":
            cmd.append("--guard")
        # No KERAS_BACKEND: the worker's first step, `featureviz train --backend`, chooses it.
        procs[backend] = (
            out,
            subprocess.Popen(
                cmd, cwd=ROOT, env=_env(None), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
            ),
        )
    found = {}
    for backend, (out, proc) in procs.items():
        output, _ = proc.communicate(timeout=WORKER_TIMEOUT)
        assert proc.returncode == 0, f"the {backend} worker failed:\n{output[-5000:]}"
        results = json.loads((out / "results.json").read_text())
        with np.load(out / "arrays.npz") as npz:
            arrays = {k: npz[k] for k in npz.files}
        found[backend] = Worker(backend, results, arrays, out / "logs" / "featureviz", output)
    return found


@pytest.fixture(params=BACKENDS)
def worker(request: pytest.FixtureRequest, workers: dict[str, Worker]) -> Worker:
    return _get(workers, request.param)


def _get(workers: dict[str, Worker], backend: str) -> Worker:
    if backend not in workers:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"CI=true but {backend} is not installed (pip install -e '.[test]')")
        pytest.skip(f"{backend} is not installed")
    return workers[backend]


def test_each_backend_ran_every_check(worker: Worker):
    assert worker.results["backend"] == worker.backend
    assert worker.results["errors"] == {}, "\n".join(worker.results["errors"].values())


def test_featureviz_train_backend_flag(worker: Worker):
    """`featureviz train --backend X` trains the tutorial CNN on X and writes the tutorial's summaries."""
    trainer = worker.results["trainer"]
    assert trainer["code"] == 0 and trainer["hparams"]["backend"] == worker.backend
    tags = set(trainer["tags"])
    # At 46 px pool4's map is 1x1 (a constant heatmap): Grad-CAM takes conv4 (2x2), and pool4 is no stage.
    layers = {f"conv{i}" for i in range(1, 5)} | {f"pool{i}" for i in range(1, 4)}
    assert {t for t in tags if t.startswith("activations/")} == {f"activations/{n}" for n in layers}
    assert {"gradcam/conv4", "probes", "run_info", "plan", "epoch_loss", "faithfulness/pointing_game"} <= tags
    assert {t for t in tags if t.startswith("filters/")}  # filter patterns on every backend


# -- the float64 reference, on each backend -------------------------------------------------------------------


def _softmax_f64(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _reference(units: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Activations and class probabilities of ``handset.tiny_model(units, ...)`` in float64."""
    kernel, bias, dense, dense_bias = handset.weights(seed, units)
    acts = handset.conv_relu_f64(handset.images().astype(np.float64), kernel, bias)
    logits = acts.reshape(len(acts), -1) @ dense + dense_bias
    if units == 1:
        p = 1.0 / (1.0 + np.exp(-logits[:, 0]))
        return acts, np.stack([1.0 - p, p], axis=1)
    return acts, _softmax_f64(logits)


def test_activations_and_probabilities_match_float64_reference(worker: Worker):
    for units, key in ((4, "softmax4"), (1, "sigmoid1")):
        acts, probs = _reference(units)
        np.testing.assert_allclose(worker.arrays[f"acts_{key}"], acts, atol=1e-5)
        np.testing.assert_allclose(worker.arrays[f"probs_{key}"], probs, atol=1e-6)


def test_gradcam_matches_float64_reference(worker: Worker):
    x = handset.images()
    for units, key, sigmoid in ((4, "softmax4", False), (1, "sigmoid1", True)):
        maps = worker.arrays[f"cam_{key}"]  # [N, classes, H, W]
        classes = 2 if sigmoid else units
        assert maps.shape == (len(x), classes, handset.H, handset.W) and maps.dtype == np.float32
        lit = 0
        for c in range(classes):
            ref = handset.grad_cam_f64(x, handset.weights(1, units), [c] * len(x), sigmoid=sigmoid)
            assert np.abs(maps[:, c] - ref).max() < 1e-5, (key, c)
            lit += int((ref.max(axis=(1, 2)) > 0.5).sum())
        assert lit >= 3  # not a comparison of all-zero maps
        predicted = list(np.argmax(_reference(units)[1], axis=1))
        ref = handset.grad_cam_f64(x, handset.weights(1, units), predicted, sigmoid=sigmoid)
        np.testing.assert_allclose(worker.arrays[f"cam_predicted_{key}"], ref, atol=1e-5)
        # The GradCAM built once followed new weights.
        target = 1 if sigmoid else units - 1
        ref = handset.grad_cam_f64(x, handset.weights(99, units), [target] * len(x), sigmoid=sigmoid)
        np.testing.assert_allclose(worker.arrays[f"cam_reweighted_{key}"], ref, atol=1e-5)


def test_compiled_once_where_the_backend_compiles(worker: Worker):
    expected = 0 if worker.backend == "torch" else 1  # PyTorch runs eagerly: nothing compiled
    for steps in worker.results["steps"].values():
        assert steps == {"maps": expected, "probs": expected}
    # A layer's ascent over windows of 5 or 6, 2, 3 and 4 filters: one TensorFlow graph; JAX programs for the
    # whole layer, 2 and 4 (3 is padded to 4).
    expected = {"tensorflow": 1, "jax": 3, "torch": 0}[worker.backend]
    assert worker.results["pattern_traces"] == {"c1": expected, "c2": expected}


def test_filter_patterns_do_not_depend_on_their_window(worker: Worker):
    """A filter's pattern is the same whichever filters share its chunk (on JAX: padded to a power of two), to
    1e-4: XLA's CPU kernels round differently at other batch sizes."""
    for layer in ("c1", "c2"):
        whole = worker.arrays[f"patterns_{layer}"]
        for n in (2, 3, 4):
            window = worker.arrays[f"patterns_window{n}_{layer}"]
            np.testing.assert_allclose(window, whole[list(range(n))[::-1]], atol=1e-4, err_msg=(layer, n))


# -- the same weights give the same pictures --------------------------------------------------------------------


@pytest.mark.parametrize("backend", OTHERS)
def test_same_weights_same_arrays_as_tensorflow(workers: dict[str, Worker], backend: str):
    tf_arrays, other = _get(workers, "tensorflow").arrays, _get(workers, backend).arrays
    assert set(other) == set(tf_arrays)
    assert {k for k in tf_arrays if k.startswith("patterns_")} >= {"patterns_c1", "patterns_diverse"}
    for key, expected in tf_arrays.items():
        if key.startswith("long_"):  # test_long_ascents_agree_closely
            continue
        if key == "exemplars":
            np.testing.assert_array_equal(other[key], expected)
        else:
            np.testing.assert_allclose(other[key], expected, atol=1e-4, rtol=0, err_msg=key)
    # MapChecks' scalars (deletion, insertion, randomisation) from the same maps.
    checks = _get(workers, backend).results["checks"]
    for model, values in _get(workers, "tensorflow").results["checks"].items():
        assert checks[model] == pytest.approx(values, abs=1e-3)


@pytest.mark.parametrize("backend", OTHERS)
def test_long_ascents_agree_closely(workers: dict[str, Worker], backend: str):
    """48 steps (``c1``'s default): each backend's kernels round differently, and the ascent, whose steps are
    normalised gradients, lets the difference grow where the sigmoid of the Fourier image saturates. The
    activations the patterns reach still agree within 1e-4 (relative); 99% of the pixels within 0.01 (2.5 grey
    levels), the mean within 0.001, all within 0.1 (measured: 0.05 on JAX, 0.024 on PyTorch, on one filter)."""
    ours, theirs = _get(workers, "tensorflow"), _get(workers, backend)
    assert theirs.results["pattern_steps"] == ours.results["pattern_steps"] == 48
    reached, expected = theirs.arrays["long_reached_c1"], ours.arrays["long_reached_c1"]
    assert np.abs(reached - expected).max() <= 1e-4 * np.abs(expected).max()
    diff = np.abs(theirs.arrays["long_patterns_c1"] - ours.arrays["long_patterns_c1"])
    assert diff.mean() < 1e-3 and np.percentile(diff, 99) < 0.01 and diff.max() < 0.1, (diff.mean(), diff.max())


def _same_record(a: Any, b: Any, where: str, ignore: set[str]) -> None:
    if isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), where
        for k in a:
            if k not in ignore:
                _same_record(a[k], b[k], f"{where}.{k}", ignore)
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same_record(x, y, f"{where}[{i}]", ignore)
    elif isinstance(a, float) and not isinstance(b, bool):
        assert b == pytest.approx(a, rel=1e-3, abs=1e-4), where
    else:
        assert a == b, where


def _comparable(tag: str, blob: bytes) -> Any:
    record = json.loads(blob)
    if tag == "run_info":  # Keras counts an optimizer's step as int64 on TensorFlow, int32 elsewhere: bytes differ
        lines = record["summary"].splitlines()
        record["summary"] = [re.sub(r" \([\d.]+ [KMG]?B\)", "", line) for line in lines if "Optimizer" not in line]
    return record


@pytest.mark.parametrize("backend", OTHERS)
def test_callback_writes_the_same_summaries_as_tensorflow(workers: dict[str, Worker], backend: str):
    required = {"activations/c1", "filters/c1", "gradcam/c2", "plan", "faithfulness/deletion_auc", "exemplars/c2"}
    pngs = _same_run(_get(workers, "tensorflow").logs, _get(workers, backend).logs, required)
    assert pngs >= 3 * (3 + 2 * 2)  # every probe's grids and heatmaps were compared, at each step


@pytest.mark.parametrize("backend", OTHERS)
def test_sidecar_writes_the_same_summaries_as_tensorflow(workers: dict[str, Worker], backend: str):
    """``featureviz watch --once`` on a checkpoint saved by each backend (no exemplars: no sample was given)."""
    ours, theirs = (_get(workers, b).logs.parent.parent / "sidecar" / "featureviz" for b in ("tensorflow", backend))
    required = {"activations/c1", "filters/c1", "filters/c2", "gradcam/c2", "plan", "faithfulness/deletion_auc"}
    pngs = _same_run(ours, theirs, required, steps={1})  # ckpt-002: Keras' 1-based epoch 2
    assert pngs >= 3 + 2 + 2 + 2  # the probes, two grids, two filter grids and the heatmaps


def _same_run(expected_dir: Path, got_dir: Path, required: set[str], steps: set[int] | None = None) -> int:
    """The same tags, metadata, steps and records in two runs, and PNGs within one grey level; returns the
    number of PNGs compared."""
    from tb_featureviz import render
    from tests.support.events import read_run

    expected, got = read_run(expected_dir), read_run(got_dir)
    tags = set(expected)
    ignore = set(TIMING_KEYS)
    assert set(got) == tags and required <= tags, (tags ^ set(got), required - tags)
    if steps is not None:
        assert set(expected["filters/c1"].values) == steps
    pngs = 0
    for tag in sorted(tags):
        a, b = expected[tag], got[tag]
        assert b.metadata.SerializeToString() == a.metadata.SerializeToString(), tag
        assert set(b.values) == set(a.values), tag
        for step, va in a.values.items():
            vb = b.values[step]
            if not (isinstance(va, np.ndarray) and va.dtype == object):  # a scalar
                if not tag.startswith("cost/"):
                    assert float(vb) == pytest.approx(float(va), rel=1e-4, abs=1e-4), (tag, step)
                continue
            assert len(vb) == len(va), (tag, step)
            for i, (x, y) in enumerate(zip(va, vb, strict=True)):
                if x[:4] == b"\x89PNG":
                    diff = np.abs(render.decode_png(x).astype(int) - render.decode_png(y).astype(int))
                    assert diff.max() <= 1, (tag, step, i, int(diff.max()))  # one grey level at most
                    pngs += 1
                else:
                    _same_record(_comparable(tag, x), _comparable(tag, y), f"{tag}@{step}[{i}]", ignore)
    return pngs


# -- no TensorFlow runtime for compute on JAX and PyTorch ---------------------------------------------------


def test_the_eager_op_count_sees_tensorflow(workers: dict[str, Worker]):
    """On TensorFlow the same count is not zero: the JAX and PyTorch zeros below are measured, not missed."""
    ops = _get(workers, "tensorflow").results["eager_ops"]
    assert ops["compute"].get("MainThread", 0) > 0 and ops["fit"].get("MainThread", 0) > 0


@pytest.mark.parametrize("backend", OTHERS)
def test_no_tensorflow_compute_on_jax_and_torch(workers: dict[str, Worker], backend: str):
    ops = _get(workers, backend).results["eager_ops"]
    assert ops["compute"] == {}  # activations, Grad-CAM, probabilities, MapChecks, exemplars, filter patterns
    # The whole model.fit with the callback: only the writer thread runs TensorFlow ops (tf.summary).
    assert set(ops["fit"]) == {"featureviz-writer"}, ops["fit"]


# -- errors ----------------------------------------------------------------------------------------------------


def test_channels_first_model_gets_the_same_error_on_every_backend(worker: Worker):
    message = worker.results["errors_expected"]["channels_first"]
    assert message == (
        "ValueError: featureviz supports channels_last models only. Received: layer 'conv_cf' (Conv2D) with "
        "data_format='channels_first'"
    )


UNSUPPORTED = """
import numpy as np
from tb_featureviz import FeatureVizCallback, compute
from tests.support.models import tiny_model
model = tiny_model()
x = np.zeros((1, 16, 16, 3))
calls = (
    lambda: compute.activations(model, x),
    lambda: compute.grad_cam(model, x),
    lambda: FeatureVizCallback("unused").set_model(model),
)
for call in calls:
    try:
        call()
        print("no error")
    except compute.backend.BackendError as e:
        print(e)
"""


def test_unsupported_backend_gets_a_clear_error():
    proc = subprocess.run(
        [sys.executable, "-c", UNSUPPORTED],
        cwd=ROOT,
        env=_env("numpy"),
        capture_output=True,
        text=True,
        timeout=WORKER_TIMEOUT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 3 and "Traceback" not in proc.stdout
    for line in lines:
        assert line == (
            "featureviz: tb_featureviz.compute (activations, filter patterns, Grad-CAM) is not supported on the "
            "Keras 'numpy' backend. Supported backends: tensorflow, jax, torch (set KERAS_BACKEND before "
            "importing keras)."
        )


# -- in this process (TensorFlow) ------------------------------------------------------------------------------


def test_probes_from_any_iterable_of_batches():
    """A torch DataLoader, Keras' NumPy iterator on JAX/PyTorch, a generator: batches of (x, y)."""
    from tb_featureviz.writer.probes import check_probe_array, select_probes

    x = np.arange(6, dtype=np.float32)[:, None, None, None] * np.ones((6, 2, 2, 1), np.float32)
    y = np.array([1, 1, 0, 1, 0, 0])

    def batches():
        for i in range(0, 6, 4):
            yield x[i : i + 4], y[i : i + 4]

    images, labels = select_probes(batches(), 3)
    assert labels.tolist() == [0, 1, 0] and images[:, 0, 0, 0].tolist() == [2, 0, 4]
    assert check_probe_array(batches(), None) is None  # a source to pick from, not an array


def test_train_refuses_a_second_backend_in_one_process(tmp_path):
    from tb_featureviz.cli import main
    from tb_featureviz.trainer import train

    with pytest.raises(ValueError, match=r"already runs on the 'tensorflow' backend.*backend='jax'"):
        train.train(tmp_path, backend="jax")
    with pytest.raises(ValueError, match=r"backend='mxnet'"):
        train.train(tmp_path, backend="mxnet")
    assert main(["train", "--logdir", str(tmp_path), "--backend", "torch"]) == 2
    train.use_backend("tensorflow")  # the running one: nothing to do
