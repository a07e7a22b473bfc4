"""The callback on each Keras backend: its share of training time and its seconds per kind.

Trains the tutorial CNN on the embedded set as ``featureviz train`` does (150x150, batch 20, RMSprop 1e-4, the
default budget), once per backend, each in a process of its own (a backend is chosen once per process), and
reads each run back: the training seconds per epoch (from the ``plan`` records), the callback's own seconds
(``cost/callback_seconds``) and each kind's (``cost/<kind>_seconds``). Prints one table.

Then, in the same process, the filter patterns themselves (``--patterns``, on by default): the default tier's
seconds for every filter of the trained tutorial CNN's four convs, and for 16 filters of each default filter
layer of MobileNetV2 (``weights=None``, 224x224, the callback's ``max_filters=16`` pass), first call (which
compiles) and a second call. Prints a second table.

    python -m benchmarks.bench_backends [--epochs 3] [--budget 0.05|none] [--backends tensorflow,jax,torch]
                                        [--no-patterns]

Epoch 0 pays for compiling (TensorFlow's tracing, JAX's jit) and is shown apart from the later epochs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

KINDS = ("activations", "gradcam", "metrics", "exemplars", "filters")
ROOT = Path(__file__).resolve().parent.parent


def pattern_seconds(model: Any, filters: int | None) -> dict[str, Any]:
    """Seconds of the default tier's patterns of ``model``'s default filter layers: the first call (with the
    compile) and the second, summed over the layers; ``filters`` per layer (``None``: all)."""
    import time

    from tb_featureviz import compute
    from tb_featureviz.writer.stages import LayerInfo, filter_stage_layers

    infos = [LayerInfo(n, s, k, c, None, rf) for n, s, k, c, rf in compute.layer_table(model)]
    layers = filter_stage_layers(infos)
    first = again = 0.0
    count = 0
    for layer in layers:
        gen = compute.FilterPatternGenerator(model, layer)
        chosen = gen.filters[:filters] if filters else gen.filters
        t0 = time.perf_counter()
        gen(chosen)
        t1 = time.perf_counter()
        gen(chosen)
        first, again, count = first + t1 - t0, again + time.perf_counter() - t1, count + len(chosen)
    return {"layers": len(layers), "filters": count, "first": first, "again": again}


def measure(
    backend: str, logdir: str, epochs: int, budget: float | None, train_images: int, patterns: bool
) -> dict[str, Any]:
    """Runs in the backend's own process: trains, reads the run back, returns the figures."""
    import time

    from tb_featureviz.trainer.train import train
    from tests.support.events import read_run

    t0 = time.perf_counter()
    with open(os.devnull, "w") as quiet:
        result = train(
            logdir, backend=backend, epochs=epochs, budget=budget, verbose=0, out=quiet, synthetic_train=train_images
        )
    wall = time.perf_counter() - t0
    run = read_run(result.run_dir / "featureviz")
    plans = {step: json.loads(v[0]) for step, v in run["plan"].values.items()}
    train_seconds, previous = {}, 0.0
    for step in sorted(plans):  # the plan's train_seconds is cumulative
        train_seconds[step] = plans[step]["train_seconds"] - previous
        previous = plans[step]["train_seconds"]

    def value(tag: str, step: int) -> float:
        series = run.get(tag)
        return 0.0 if series is None or step not in series.values else float(series.values[step])

    import keras

    figures: dict[str, Any] = {}
    if patterns:
        cnn = result.model
        mobilenet = keras.applications.MobileNetV2(weights=None, input_shape=(224, 224, 3))
        figures = {"tutorial CNN": pattern_seconds(cnn, None), "MobileNetV2": pattern_seconds(mobilenet, 16)}
    return {
        "patterns": figures,
        "backend": keras.backend.backend(),
        "wall": wall,
        "epochs": {
            step: {
                "train": train_seconds[step],
                "callback": value("cost/callback_seconds", step),
                **{kind: value(f"cost/{kind}_seconds", step) for kind in KINDS},
            }
            for step in sorted(plans)
        },
        "val_accuracy": value("epoch_val_accuracy", max(plans)),
    }


def _row(name: str, epochs: list[dict[str, float]]) -> str:
    train = sum(e["train"] for e in epochs)
    callback = sum(e["callback"] for e in epochs)
    n = max(1, len(epochs))
    kinds = " ".join(f"{sum(e[k] for e in epochs) / n:>10.3f}" for k in KINDS)
    return f"{name:<22} {train / n:>8.2f} {callback / n:>9.3f} {callback / max(train, 1e-9):>6.1%} {kinds}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--budget", default="0.05", help="the callback's share of training time, or 'none'")
    parser.add_argument("--backends", default="tensorflow,jax,torch")
    parser.add_argument("--train-images", type=int, default=1000)
    parser.add_argument("--no-patterns", dest="patterns", action="store_false", help="skip the pattern table")
    parser.add_argument("--one", default=None, help=argparse.SUPPRESS)  # the child process: one backend
    parser.add_argument("--out", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    budget = None if args.budget.lower() == "none" else float(args.budget)
    if args.one is not None:
        with tempfile.TemporaryDirectory() as logdir:
            figures = measure(args.one, logdir, args.epochs, budget, args.train_images, args.patterns)
        Path(args.out).write_text(json.dumps(figures))
        return
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for backend in args.backends.split(","):
            out = Path(tmp) / f"{backend}.json"
            cmd = [sys.executable, "-m", "benchmarks.bench_backends", "--one", backend, "--out", str(out)]
            cmd += ["--epochs", str(args.epochs), "--budget", args.budget, "--train-images", str(args.train_images)]
            cmd += [] if args.patterns else ["--no-patterns"]
            proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
            if proc.returncode != 0:
                print(f"{backend}: failed\n{proc.stderr[-3000:]}", file=sys.stderr)
                continue
            results[backend] = json.loads(out.read_text())
    print(
        f"tutorial CNN (150x150, {args.train_images} training images, batch 20), {args.epochs} epochs, "
        f"budget {args.budget}; seconds per epoch"
    )
    print(f"{'backend, epochs':<22} {'train s':>8} {'callback':>9} {'share':>6} " + " ".join(f"{k:>10}" for k in KINDS))
    for backend, figures in results.items():
        epochs = [figures["epochs"][k] for k in sorted(figures["epochs"], key=int)]
        print(_row(f"{backend}, epoch 0", epochs[:1]))
        if len(epochs) > 1:
            print(_row(f"{backend}, epochs 1-{len(epochs) - 1}", epochs[1:]))
        print(_row(f"{backend}, all", epochs))
    print("val_accuracy at the last epoch:", {b: round(f["val_accuracy"], 3) for b, f in results.items()})
    if args.patterns:
        print("\nfilter patterns, default tier, seconds: first call (compiles) / second call")
        print(f"{'backend':<12} {'model':<14} {'layers':>6} {'filters':>7} {'first':>8} {'again':>8}")
        for backend, figures in results.items():
            for model, p in figures["patterns"].items():
                row = f"{backend:<12} {model:<14} {p['layers']:>6} {p['filters']:>7} {p['first']:>8.2f}"
                print(f"{row} {p['again']:>8.2f}")


if __name__ == "__main__":
    main()
