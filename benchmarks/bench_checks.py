"""The README's quick start, measured: what the Grad-CAM checks and the exemplars cost, and what they say.

Trains the tutorial CNN on the embedded set exactly as ``featureviz train`` does (1000 training images,
150x150, batch 20, RMSprop 1e-4, the default budget), then reads the run back and prints, per epoch, the
training seconds, the seconds of each extra (``cost/metrics_seconds``, ``cost/exemplars_seconds``) and
their share, and the measures themselves; then the shares over the run.

    python -m benchmarks.bench_checks [--epochs 10]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile

from tb_featureviz.trainer.train import train
from tests.support.events import read_run

MEASURES = (
    "faithfulness/deletion_auc",
    "faithfulness/insertion_auc",
    "faithfulness/pointing_game",
    "sanity/randomization_spearman",
    "sanity/drift_spearman",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--budget", type=float, default=0.05)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as logdir, open(os.devnull, "w") as quiet:
        result = train(logdir, epochs=args.epochs, budget=args.budget, verbose=0, out=quiet)
        run = read_run(result.run_dir / "featureviz")
    plans = {step: json.loads(v[0]) for step, v in run["plan"].values.items()}
    # The plan's train_seconds is cumulative: the epoch's own is the difference.
    train_total, previous = {}, 0.0
    for step in sorted(plans):
        train_total[step] = plans[step]["train_seconds"] - previous
        previous = plans[step]["train_seconds"]

    def value(tag: str, step: int) -> float | None:
        series = run.get(tag)
        return None if series is None or step not in series.values else float(series.values[step])

    short = [t.split("/")[1].replace("_spearman", "").replace("_auc", "") for t in MEASURES]
    print(f"tutorial CNN, {args.epochs} epochs, budget {args.budget}: val_accuracy, seconds, measures")
    print(
        f"{'epoch':>5} {'val_acc':>7} {'train s':>8} {'metrics s':>9} {'exempl s':>8} "
        + " ".join(f"{s:>9}" for s in short)
    )
    sums = {"train": 0.0, "metrics": 0.0, "exemplars": 0.0, "callback": 0.0}
    for step in sorted(plans):
        m, e = value("cost/metrics_seconds", step), value("cost/exemplars_seconds", step)
        sums["train"] += train_total[step]
        sums["metrics"] += m or 0.0
        sums["exemplars"] += e or 0.0
        sums["callback"] += value("cost/callback_seconds", step) or 0.0
        cells = [value(t, step) for t in MEASURES]
        print(
            f"{step:>5} {value('epoch_val_accuracy', step) or 0:7.3f} {train_total[step]:8.2f} "
            f"{'-' if m is None else f'{m:.3f}':>9} {'-' if e is None else f'{e:.3f}':>8} "
            + " ".join(f"{'-' if c is None else f'{c:.3f}':>9}" for c in cells)
        )
    steady = [s for s in plans if s > 0]
    steady_train = sum(train_total[s] for s in steady)
    steady_metrics = sum(value("cost/metrics_seconds", s) or 0.0 for s in steady)
    print(
        f"share of training time over the run: callback {sums['callback'] / sums['train']:.3f}, "
        f"metrics {sums['metrics'] / sums['train']:.3f}, exemplars {sums['exemplars'] / sums['train']:.3f}; "
        f"metrics after epoch 0 {steady_metrics / max(steady_train, 1e-9):.3f}"
    )
    print("extras drawn per epoch:", {s: plans[s]["extras"] for s in sorted(plans)})


if __name__ == "__main__":
    main()
