"""Training time with FeatureVizCallback at default settings / without it, and event bytes per epoch.

Both trainings run in this one process, on the reference CNN and the embedded synthetic data set, with
the same seed and Keras' TensorBoard callback in both, so the ratio is measured under the same load.

    python benchmarks/bench_callback.py [--epochs 5] [--train-images 1000]
"""

from __future__ import annotations

import argparse
import glob
import os
import tempfile
import time

import keras

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--train-images", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = timed_fit(os.path.join(tmp, "base"), args.epochs, args.train_images, False)
        fviz = timed_fit(os.path.join(tmp, "fviz"), args.epochs, args.train_images, True)
        files = glob.glob(os.path.join(tmp, "fviz", "featureviz", "events.out.tfevents.*"))
        size = sum(os.path.getsize(f) for f in files)
    print(f"reference CNN, {args.train_images} train images, {args.epochs} epochs, {os.cpu_count()} CPUs")
    print(f"  without featureviz: {base:8.1f} s")
    print(f"  with featureviz:    {fviz:8.1f} s   (default settings: every epoch, filter patterns every 5th)")
    print(f"  ratio with/without: {fviz / base:8.3f}")
    print(f"  featureviz event bytes per epoch: {size / args.epochs / 1e6:.2f} MB ({size} bytes in all)")


if __name__ == "__main__":
    main()
