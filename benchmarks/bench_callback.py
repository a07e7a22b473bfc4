"""Training time with FeatureVizCallback at default settings / without it, and event bytes per epoch.

Both trainings run in this one process, on the reference CNN and the embedded synthetic data set, with
the same seed and Keras' TensorBoard callback in both, so the ratio is measured under the same load.

    python -m benchmarks.bench_callback [--epochs 5] [--train-images 1000] [--repeats 2]

It also prints the callback's own cost, from the ``cost/<kind>_seconds`` scalars it writes.
"""

from __future__ import annotations

import argparse
import glob
import os
import tempfile
import time

import keras
import tensorflow as tf
from tensorboard.backend.event_processing import event_file_loader

from tb_featureviz import FeatureVizCallback
from tb_featureviz.trainer.data import synthetic_datasets
from tb_featureviz.trainer.model import build_cnn, compile_like_tutorial


def timed_fit(log_dir: str, epochs: int, train_images: int, with_featureviz: bool) -> float:
    keras.utils.set_random_seed(0)
    train_ds, val_ds, names = synthetic_datasets(train=train_images, validation=200, seed=0)
    model = compile_like_tutorial(build_cnn())
    callbacks: list[keras.callbacks.Callback] = [keras.callbacks.TensorBoard(log_dir)]
    if with_featureviz:
        callbacks.append(FeatureVizCallback(log_dir, validation_data=val_ds, class_names=names))
    # One warm-up epoch outside the timing (graph tracing), then the timed epochs.
    model.fit(train_ds.take(2), epochs=1, verbose=0)
    t0 = time.perf_counter()
    model.fit(train_ds, validation_data=val_ds, epochs=epochs, callbacks=callbacks, verbose=0)
    return time.perf_counter() - t0


def read_back(log_dir: str) -> tuple[dict[str, float], dict[str, int]]:
    """The callback's own ``cost/<kind>_seconds`` summed over the epochs, and tensor bytes per tag prefix."""
    cost: dict[str, float] = {}
    size: dict[str, int] = {}
    for path in glob.glob(os.path.join(log_dir, "featureviz", "events.out.tfevents.*")):
        for event in event_file_loader.EventFileLoader(path).Load():
            for value in event.summary.value:
                prefix = value.tag.split("/", 1)[0]
                size[prefix] = size.get(prefix, 0) + value.tensor.ByteSize()
                if prefix == "cost":
                    kind = value.tag.removeprefix("cost/").removesuffix("_seconds")
                    cost[kind] = cost.get(kind, 0.0) + float(tf.make_ndarray(value.tensor))
    return cost, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--train-images", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=2, help="trainings of each kind, alternating")
    args = parser.parse_args()
    base: list[float] = []
    fviz: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        # Alternate (without, with, with, without, ...) so a drift in machine load hits both alike.
        for i in range(2 * args.repeats):
            with_featureviz = i % 4 in (1, 2)
            log_dir = os.path.join(tmp, f"{'fviz' if with_featureviz else 'base'}{i}")
            seconds = timed_fit(log_dir, args.epochs, args.train_images, with_featureviz)
            (fviz if with_featureviz else base).append(seconds)
            print(f"  {'with' if with_featureviz else 'without'} featureviz: {seconds:7.1f} s", flush=True)
        first = os.path.join(tmp, "fviz1")
        cost, by_tag = read_back(first)
        files = glob.glob(os.path.join(first, "featureviz", "events.out.tfevents.*"))
        size = sum(os.path.getsize(f) for f in files)
    b, f = sum(base) / len(base), sum(fviz) / len(fviz)
    print(f"reference CNN, {args.train_images} train images, {args.epochs} epochs, {os.cpu_count()} CPUs")
    print(f"  without featureviz: {b:8.1f} s (mean of {len(base)})")
    print(f"  with featureviz:    {f:8.1f} s (mean of {len(fviz)}; callback defaults: budget 0.05)")
    print(f"  ratio with/without: {f / b:8.3f}")
    parts = ", ".join(f"{k} {v:.1f} s" for k, v in sorted(cost.items()))
    print(f"  the callback's own cost ({args.epochs} epochs): {sum(cost.values()):.1f} s ({parts})")
    print(f"  own cost / training without: {sum(cost.values()) / b:.3f}")
    print(f"  featureviz event bytes per epoch: {size / args.epochs / 1e6:.2f} MB ({size} bytes in all)")
    parts = ", ".join(f"{k} {v / sum(by_tag.values()):.0%}" for k, v in sorted(by_tag.items(), key=lambda kv: -kv[1]))
    print(f"  summary bytes by tag prefix: {parts}")


if __name__ == "__main__":
    main()
