"""Reloads the conformance suite's saved models in a fresh process and runs what users run on them there.

``python -m tests.support.conformance_worker`` (``tests/test_conformance.py``) reads one job per line on its
standard input (it imports TensorFlow while the test process trains the first case).
A model loaded with ``keras.saving.load_model`` keeps its saved layer names (``add``, ``add_1``, ...) while
Keras' auto-name counter starts again at 0, so a layer that featureviz leaves to Keras' naming clashes with
them only in a new process; this is one. Starting a process costs seconds (TensorFlow's import), so one
process does every case, each after ``keras.backend.clear_session()`` (which restarts the counters, as a new
process would):

1. the notebook API on the reloaded checkpoint: ``fv.activations``, ``fv.grad_cam`` (predicted class and
   class 1) and ``fv.filter_patterns``, saved to ``<out>/notebook.npz``;
2. ``featureviz watch CKPT_DIR --logdir RUN --once [ARGS]`` through ``tb_featureviz.cli.main``, after
   another ``clear_session``: its exit status and output.

Each job (a JSON object) has ``name``, ``checkpoint``, ``checkpoint_dir``, ``images`` (``.npy``),
``activation_layers``, ``cam_layer``, ``filter_layer``, ``filters``, ``filter_steps``, ``notebook_kwargs``,
``watch_logdir``, ``watch_args`` and ``out``. Each writes ``<out>/result.json``: ``{"layers": [...],
"notebook_error": str | null, "watch_rc": int | null, "watch_output": str, "seconds": {...}}`` and prints
``done <name>``.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import time
import traceback
from typing import Any

import numpy as np


def run_job(job: dict[str, Any]) -> dict[str, Any]:
    import keras

    import tb_featureviz as fv
    from tb_featureviz import cli

    result: dict[str, Any] = {"layers": [], "notebook_error": None, "watch_rc": None, "watch_output": "", "seconds": {}}
    t0 = time.perf_counter()
    keras.backend.clear_session()
    try:
        model = keras.saving.load_model(job["checkpoint"], compile=False)
        result["layers"] = [layer.name for layer in model.layers]
        images = np.load(job["images"])
        acts = fv.activations(model, images, layers=job["activation_layers"])
        arrays = {f"act/{name}": value for name, value in acts.items()}
        arrays["cam"] = fv.grad_cam(model, images, layer=job["cam_layer"])
        arrays["cam_1"] = fv.grad_cam(model, images, class_index=1, layer=job["cam_layer"])
        arrays["patterns"] = fv.filter_patterns(
            model, job["filter_layer"], filters=job["filters"], steps=job["filter_steps"], **job["notebook_kwargs"]
        )
        np.savez(os.path.join(job["out"], "notebook.npz"), **arrays)
    except Exception:
        result["notebook_error"] = traceback.format_exc()
    result["seconds"]["notebook"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    keras.backend.clear_session()
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            argv = ["watch", job["checkpoint_dir"], "--logdir", job["watch_logdir"], "--once", *job["watch_args"]]
            result["watch_rc"] = cli.main(argv)
    except BaseException:  # SystemExit from argparse included
        result["watch_output"] = traceback.format_exc()
    result["watch_output"] = out.getvalue() + result["watch_output"]
    result["seconds"]["watch"] = time.perf_counter() - t0
    return result


def main() -> int:
    # Imported now, while the first case trains.
    import keras  # noqa: F401

    import tb_featureviz.cli
    import tb_featureviz.compute  # noqa: F401

    for line in sys.stdin:
        if not line.strip():
            continue
        job = json.loads(line)
        result = run_job(job)
        with open(os.path.join(job["out"], "result.json"), "w", encoding="utf-8") as f:
            json.dump(result, f)
        print(f"done {job['name']}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
