"""Does the budget hold on a model featureviz was not designed for? The callback's share of training time.

The model is Keras' "image classification from scratch" shape (``tests/support/keras_example.py``): 0-255
pixels with ``Rescaling(1/255)`` inside, unnamed convolutions, residual ``add`` layers, a ``Dense(1)`` logits
head. Trainings without and with ``FeatureVizCallback`` (defaults: 4 probes, ``budget=0.05``) alternate in
this one process (without, with, with, without, ...), one at a time.

    python -m benchmarks.bench_budget [--epochs 4] [--train-images 200] [--size 96] [--repeats 1]

Printed for each training with the callback: the share from its hooks (hook seconds / (with - hook)), the
background warm-up's CPU seconds (``time.thread_time`` of the warm-up thread), the writer thread's CPU seconds
while training ran (``FeatureVizCallback.writer_seconds``) and the share with them, the
callback's own accounting (the last ``plan`` record's ``spent_seconds`` against ``allowed_seconds``), the epochs
with the Grad-CAM checks (and, per epoch, whether full or light), and the skipped reasons of every plan record;
then the share from the wall clock ((with - without) / without).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from typing import Any

import keras
import numpy as np

from benchmarks.bench_zoo import read_plans
from tb_featureviz import FeatureVizCallback
from tb_featureviz.writer import visualizer as visualizer_module
from tests.support.keras_example import example_data, example_model

_warm_up_cpu: list[float] = []


def _count_warm_up_cpu() -> None:
    """Wraps the warm-up so its thread's CPU time is known with any version of the callback."""
    trace = visualizer_module.Visualizer._trace

    def timed(self: Any) -> None:
        t0 = time.thread_time()
        try:
            trace(self)
        finally:
            _warm_up_cpu.append(time.thread_time() - t0)

    visualizer_module.Visualizer._trace = timed  # type: ignore[method-assign]


def timed_fit(log_dir: str, args: argparse.Namespace, with_featureviz: bool) -> dict[str, Any]:
    model = example_model(args.size)
    x, y = example_data(args.train_images, args.size)
    xv, yv = example_data(64, args.size, seed=1)
    model.fit(x[:64], y[:64], batch_size=32, epochs=1, verbose=0)  # trace the train step outside the timing
    callbacks: list[keras.callbacks.Callback] = []
    cb = None
    if with_featureviz:
        cb = FeatureVizCallback(log_dir, class_names=["noise", "square"])
        callbacks.append(cb)
    _warm_up_cpu.clear()
    cpu0, t0 = time.process_time(), time.perf_counter()
    model.fit(x, y, batch_size=32, validation_data=(xv, yv), epochs=args.epochs, callbacks=callbacks, verbose=0)
    out: dict[str, Any] = {"seconds": time.perf_counter() - t0, "cpu": time.process_time() - cpu0}
    if cb is not None:
        out["hook"] = cb.hook_seconds
        out["warm_up_cpu"] = sum(_warm_up_cpu)
        out["writer_cpu"] = getattr(cb, "writer_seconds", 0.0)
        out["plans"] = read_plans(log_dir)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--train-images", type=int, default=200)
    parser.add_argument("--size", type=int, default=96)
    parser.add_argument("--repeats", type=int, default=1, help="trainings of each kind, alternating")
    args = parser.parse_args()
    _count_warm_up_cpu()
    print(f"{os.cpu_count()} CPUs, {args.epochs} epochs of {args.train_images} images at {args.size}x{args.size}")
    base: list[float] = []
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(2 * args.repeats):
            with_fv = i % 4 in (1, 2)
            out = timed_fit(os.path.join(tmp, f"run{i}"), args, with_fv)
            print(f"  {'with' if with_fv else 'without'}: {out['seconds']:.1f} s ({out['cpu']:.1f} s CPU)", flush=True)
            if not with_fv:
                base.append(out["seconds"])
                continue
            runs.append(out)
            hook, warm, writer = out["hook"], out["warm_up_cpu"], out["writer_cpu"]
            train = out["seconds"] - hook
            last = out["plans"][-1]
            print(f"    hooks {hook:.2f} s: share {hook / train:.3f} of {train:.1f} s of training")
            share = (hook + warm + writer) / train
            print(f"    warm-up CPU {warm:.2f} s, writer CPU {writer:.2f} s: share with them {share:.3f}")
            print(
                f"    the callback's accounting: spent {last['spent_seconds']:.2f} s of "
                f"{last['allowed_seconds']:.2f} s allowed ({last['spent_seconds'] / last['train_seconds']:.3f})"
            )
            checked = [p["epoch"] for p in out["plans"] if "metrics" in p["extras"]]
            print(f"    Grad-CAM checks at {len(checked)} of {len(out['plans'])} epochs: {checked}")
            for plan in out["plans"]:
                costs = ", ".join(f"{k} {v:.2f}" for k, v in plan["epoch_costs"].items())
                checks = plan.get("checks")
                drawn = f", checks {checks['variant']}" if checks else ""
                print(f"    epoch {plan['epoch']}: hook {plan['hook_seconds']:.2f} s ({costs}){drawn}")
                for task, why in plan["skipped"].items():
                    print(f"      skipped {task}: {why}")
    b = float(np.mean(base))
    w = float(np.mean([r["seconds"] for r in runs]))
    print(f"without {b:.1f} s, with {w:.1f} s (means of {len(base)} and {len(runs)})")
    print(f"share from the wall clock ((with - without) / without): {(w - b) / b:.3f}")
    hook = float(np.mean([r["hook"] for r in runs]))
    warm = float(np.mean([r["warm_up_cpu"] for r in runs]))
    writer = float(np.mean([r["writer_cpu"] for r in runs]))
    print(
        f"share from the hooks: {hook / (w - hook):.3f}; with the warm-up's CPU: {(hook + warm) / (w - hook):.3f}; "
        f"with the warm-up's and the writer's: {(hook + warm + writer) / (w - hook):.3f}"
    )


if __name__ == "__main__":
    main()
