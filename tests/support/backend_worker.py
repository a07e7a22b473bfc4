"""Runs featureviz's writer side on one Keras backend, in a process of its own, and saves what it computed.

A Keras backend is chosen once per process (``KERAS_BACKEND`` before ``import keras``), so the backend tests
run this module as ``python -m tests.support.backend_worker OUT_DIR BACKEND`` once per backend, and compare the
saved results in the test process (``tests/test_backends.py``). One process does every check of its backend:
starting one costs seconds (TensorFlow, JAX or PyTorch imports). Its first check is ``featureviz train
--backend BACKEND``, which chooses the backend (the process starts without ``KERAS_BACKEND``).

It writes ``OUT_DIR/arrays.npz`` (the compute API's outputs on the hand-set models of ``tests.support.handset``),
``OUT_DIR/results.json`` (errors, eager-TensorFlow-op counts, facts), ``OUT_DIR/logs`` (a callback run) and
``OUT_DIR/sidecar`` (``featureviz watch --once`` on a checkpoint of that run's model).

Every TensorFlow eager op executed is counted per thread (on TensorFlow too, which shows that the count
works), so the tests can check that on JAX and PyTorch the compute API and the training thread never enter
TensorFlow's runtime (the writer thread does: it writes the event files through ``tf.summary``). With
``--guard`` (JAX, PyTorch) TensorFlow's compute entry points (``tf.GradientTape``, ``tf.function``,
``tf.image.resize``, ...) also raise.
"""

from __future__ import annotations

import collections
import json
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

COMPUTE_ENTRY_POINTS = (
    "GradientTape",
    "function",
    "einsum",
    "gather",
    "matmul",
    "reduce_sum",
    "reduce_mean",
    "reduce_max",
    "where",
    "concat",
    "reshape",
    "sigmoid",
    "image.resize",
    "nn.relu",
    "nn.softmax",
)
"""``tf.<name>`` replaced by functions that raise in a guarded process."""

SHORT_STEPS = 20
"""Ascent steps of the filter patterns compared within 1e-4 across backends."""

SEED_WEIGHTS = 3
"""Seed of the hand-set weights of the callback's model (``tests.support.models.tiny_model``)."""


class EagerOps:
    """Counts TensorFlow eager op executions, by thread name, while ``counting`` is set."""

    def __init__(self) -> None:
        self.counts: collections.Counter[str] = collections.Counter()
        self.counting = False
        from tensorflow.python import pywrap_tfe
        from tensorflow.python.eager import execute

        def counted(fn: Callable[..., Any]) -> Callable[..., Any]:
            def run(*args: Any, **kwargs: Any) -> Any:
                if self.counting:
                    self.counts[threading.current_thread().name] += 1
                return fn(*args, **kwargs)

            return run

        pywrap_tfe.TFE_Py_FastPathExecute = counted(pywrap_tfe.TFE_Py_FastPathExecute)
        execute.quick_execute = counted(execute.quick_execute)
        execute.execute = counted(execute.execute)

    @contextmanager
    def count(self, into: dict[str, Any], key: str) -> Iterator[None]:
        self.counts.clear()
        self.counting = True
        try:
            yield
        finally:
            self.counting = False
            into[key] = dict(self.counts)


def guard_tensorflow_compute() -> None:
    """Makes TensorFlow's compute entry points raise (the JAX and PyTorch paths must not call them)."""
    import tensorflow as tf

    def forbidden(name: str) -> Callable[..., Any]:
        def fail(*args: Any, **kwargs: Any) -> Any:
            raise AssertionError(f"tf.{name} called on the {os.environ.get('KERAS_BACKEND')} backend")

        return fail

    for name in COMPUTE_ENTRY_POINTS:
        owner: Any = tf
        *path, leaf = name.split(".")
        for part in path:
            owner = getattr(owner, part)
        setattr(owner, leaf, forbidden(name))


def set_handset_weights(model: Any, seed: int) -> None:
    """Every weight from a seeded NumPy generator: the same model on every backend."""
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0.0, 0.15, size=w.shape).astype(np.float32) for w in model.get_weights()])


def compute_checks(arrays: dict[str, np.ndarray], results: dict[str, Any], eager: EagerOps | None) -> None:
    from tb_featureviz import compute
    from tb_featureviz.compute.exemplars import top_exemplars
    from tests.support import handset

    x = handset.images()
    ctx = eager.count(results["eager_ops"], "compute") if eager is not None else _nothing()
    with ctx:
        for units, activation in ((4, "softmax"), (1, "sigmoid")):
            model = handset.tiny_model(units, activation)
            key = f"{activation}{units}"
            arrays[f"acts_{key}"] = compute.activations(model, x)["conv"]
            cam = compute.GradCAM(model)
            arrays[f"probs_{key}"] = cam.class_probabilities(x)
            arrays[f"cam_{key}"] = np.stack([cam(x, class_index=c) for c in range(cam.num_classes)], axis=1)
            arrays[f"cam_predicted_{key}"] = compute.grad_cam(model, x)
            # The GradCAM built once follows new weights (the compiled step reads the variables' values).
            model.set_weights([w.astype(np.float32) for w in handset.weights(99, units)])
            arrays[f"cam_reweighted_{key}"] = cam(x, class_index=units - 1 if units > 1 else 1)
            results["steps"][key] = {"maps": cam._maps.traces(), "probs": cam._probs.traces()}
            model.set_weights([w.astype(np.float32) for w in handset.weights(1, units)])
            checks = compute.MapChecks(cam, draws=2)
            predicted = np.argmax(arrays[f"probs_{key}"], axis=1)
            results["checks"][key] = checks(x, arrays[f"cam_predicted_{key}"], predicted)
        arrays["exemplars"] = top_exemplars(arrays["acts_softmax4"], 2, input_hw=(handset.H, handset.W)).images
        pattern_checks(arrays, results)


def pattern_checks(arrays: dict[str, np.ndarray], results: dict[str, Any]) -> None:
    """Filter patterns of the zero-mean two-conv model from the same seeded starts: up to ``SHORT_STEPS``
    steps (``patterns_*``, every parameterisation and the diversity term) and ``c1``'s 48 default steps
    (``long_*``), where float roundoff has more steps to grow in."""
    from tb_featureviz import compute
    from tests.support.models import zero_mean_conv_model

    model = zero_mean_conv_model(32)
    traces = {}
    for layer in ("c1", "c2"):
        gen = compute.FilterPatternGenerator(model, layer, steps=SHORT_STEPS)
        arrays[f"patterns_{layer}"], arrays[f"patterns_reached_{layer}"] = gen()
        # Windows of other sizes, as the callback's passes draw them: TensorFlow keeps its one graph, JAX pads
        # 3 filters to 4 and compiles a program for 2 and for 4.
        for window in ([1, 0], [2, 1, 0], [3, 2, 1, 0]):
            arrays[f"patterns_window{len(window)}_{layer}"] = gen(filters=window)[0]
        traces[layer] = gen._ascend.traces()
    pixel = compute.FilterPatternGenerator(model, "c2", parameterization="pixel", steps=SHORT_STEPS)
    arrays["patterns_pixel"], arrays["patterns_reached_pixel"] = pixel.optimize()
    # The model's input space on every backend: caffe's BGR order and per-channel offsets, in both ascents. Five
    # steps: with inputs of +-150 the backends' roundoff grows faster than in [0, 1] (after 20 Fourier steps the
    # activation reached differs by 3% between TensorFlow and JAX, as 48 steps do in [0, 1]).
    caffe = compute.InputSpace.from_style("caffe")
    for parameterization in ("fourier", "pixel"):
        gen = compute.FilterPatternGenerator(model, "c2", steps=5, input_space=caffe, parameterization=parameterization)
        arrays[f"patterns_caffe_{parameterization}"], reached = gen()
        arrays[f"patterns_reached_caffe_{parameterization}"] = reached / 255.0  # the activation scale of 0-255
    diverse = compute.FilterPatternGenerator(model, "c2", filters=[0, 3], steps=12)
    arrays["patterns_diverse"], arrays["patterns_reached_diverse"] = diverse.diverse(count=2)
    probes = np.random.default_rng(0).random((4, 32, 32, 3)).astype(np.float32)
    arrays["patterns_probe_activation"] = diverse.probe_activation(probes)
    default = compute.FilterPatternGenerator(model, "c1")
    arrays["long_patterns_c1"], arrays["long_reached_c1"] = default()
    results["pattern_traces"] = traces
    results["pattern_steps"] = default.steps


@contextmanager
def _nothing() -> Iterator[None]:
    yield


def callback_run(out: str, results: dict[str, Any], eager: EagerOps | None) -> None:
    """``model.fit`` with ``FeatureVizCallback`` and a learning rate of 0: the hand-set weights stay, so every
    backend draws the same pictures."""
    import keras

    from tb_featureviz import FeatureVizCallback
    from tests.support.models import tiny_data, tiny_model

    model = tiny_model()
    set_handset_weights(model, SEED_WEIGHTS)
    x, y = tiny_data()
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    cb = FeatureVizCallback(
        os.path.join(out, "logs"),
        x[:3],
        probe_labels=y[:3],
        class_names=["a", "b"],
        filter_steps=5,
        budget=None,
    )
    ctx = eager.count(results["eager_ops"], "fit") if eager is not None else _nothing()
    t0 = time.perf_counter()
    with ctx:
        model.fit(x, y, validation_data=(x[:8], y[:8]), epochs=2, batch_size=8, verbose=0, callbacks=[cb])
    results["fit_seconds"] = time.perf_counter() - t0
    results["plan"] = cb.plan
    sidecar_run(out, model, x[:3], y[:3])


def sidecar_run(out: str, model: Any, probes: np.ndarray, labels: np.ndarray) -> None:
    """``featureviz watch --once`` on a checkpoint of the callback run's model (unlimited budget: every kind)."""
    from tb_featureviz.sidecar.watch import watch

    checkpoints = os.path.join(out, "checkpoints")
    os.makedirs(checkpoints)
    model.save(os.path.join(checkpoints, "ckpt-002.keras"))
    watch(
        checkpoints,
        os.path.join(out, "sidecar"),
        probes=probes,
        labels=labels,
        class_names=["a", "b"],
        overrides={"filter_steps": 5},
        once=True,
    )


def error_checks(results: dict[str, Any]) -> None:
    """The errors a user meets: a channels_first model, and (on an unsupported backend) any model."""
    import keras

    from tb_featureviz import compute

    def message(fn: Callable[[], Any]) -> str:
        try:
            fn()
        except Exception as e:
            return f"{type(e).__name__}: {e}"
        return ""

    keras.config.set_image_data_format("channels_first")
    try:
        first = keras.Sequential([keras.Input((3, 8, 8)), keras.layers.Conv2D(2, 3, name="conv_cf")])
    finally:
        keras.config.set_image_data_format("channels_last")
    results["errors_expected"]["channels_first"] = message(lambda: compute.activations(first, np.zeros((1, 3, 8, 8))))


def trainer_run(out: str, backend: str, results: dict[str, Any]) -> None:
    """``featureviz train --backend BACKEND`` on a few small synthetic images, before Keras is imported."""
    from tb_featureviz.cli import main
    from tests.support.events import read_run

    assert "keras" not in sys.modules
    logdir = os.path.join(out, "runs")
    args = ["train", "--backend", backend, "--logdir", logdir, "--run", "r", "--epochs", "1", "--budget", "none"]
    args += ["--train-images", "8", "--validation-images", "4", "--image-size", "46", "--batch-size", "4"]
    code = main(args)
    run = read_run(os.path.join(logdir, "r", "featureviz"))
    info = json.loads(run["run_info"].values[0][0]) if "run_info" in run else {}
    results["trainer"] = {"code": code, "tags": sorted(run), "hparams": info.get("hparams")}


def run(out: str, backend_name: str, guard: bool) -> None:
    results: dict[str, Any] = {
        "backend": None,
        "errors": {},
        "errors_expected": {},
        "eager_ops": {},
        "steps": {},
        "checks": {},
    }
    arrays: dict[str, np.ndarray] = {}
    try:
        trainer_run(out, backend_name, results)
    except Exception:
        results["errors"]["trainer"] = traceback.format_exc()
    eager = EagerOps()
    if guard:
        guard_tensorflow_compute()
    import keras

    results["backend"] = keras.backend.backend()
    for name, check in (
        ("compute", lambda: compute_checks(arrays, results, eager)),
        ("callback", lambda: callback_run(out, results, eager)),
        ("errors", lambda: error_checks(results)),
    ):
        try:
            check()
        except Exception:
            results["errors"][name] = traceback.format_exc()
    np.savez(os.path.join(out, "arrays.npz"), **arrays)
    with open(os.path.join(out, "results.json"), "w", encoding="utf-8") as f:
        json.dump(results, f, default=str)


if __name__ == "__main__":
    run(sys.argv[1], sys.argv[2], guard="--guard" in sys.argv[3:])
