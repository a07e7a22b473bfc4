"""The callback's cost on real architectures: share of training time, bytes per epoch, set_model, sidecar.

For each model (keras.applications ResNet50, MobileNetV2 and EfficientNetB0 at 224x224 with
``weights=None``, the tutorial CNN at 150x150, and two models written as users write them: ``keras-example``,
Keras' "image classification from scratch" shape at 160x160 (0-255 pixels rescaled inside, unnamed layers,
residual ``add``, a ``Dense(1)`` logits head; ``tests/support/keras_example.py``), and ``mobilenetv2-frozen``,
a frozen ``MobileNetV2`` base (``weights=None``) called with ``training=False`` under a ``Dense(1)`` logits
head, fed "tf"-style [-1, 1] inputs preprocessed outside the model (the callback is told
``preprocess="tf"``)) on the embedded synthetic set, in this one process:
trainings without and with ``FeatureVizCallback`` at its defaults (4 probes, ``budget=0.05``) alternate
(without, with, with, without, ...), so a drift in machine load hits both alike. Then the final weights
are saved as two checkpoints and ``featureviz watch --once`` draws them (the sidecar, unlimited budget).

    python -m benchmarks.bench_zoo [--models resnet50,mobilenetv2,efficientnetb0,cnn,keras-example,mobilenetv2-frozen]
                                    [--epochs 4] [--train-images 256] [--repeats 2]

Printed per model: the callback's share of training time from the wall clock ((with - without) / without)
and from the time inside its hooks (hook seconds / (with - hook seconds)), featureviz event bytes per
logged epoch (mean and largest), ``set_model`` seconds, the layers and filters it drew, and the sidecar's
seconds per checkpoint (all stage layers, every filter pass: on a CPU the filter patterns of a 224x224
network are most of it), and the filter patterns' median activation relative to the probes' (the
``relative_activation/<layer>`` scalars of the callback's runs and of the sidecar's).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tb_featureviz import FeatureVizCallback
from tb_featureviz.sidecar.watch import watch
from tb_featureviz.trainer.data import synthetic_datasets
from tb_featureviz.trainer.model import build_cnn, compile_like_tutorial


def _app(factory: Callable[..., keras.Model]) -> Callable[[], keras.Model]:
    def build() -> keras.Model:
        model = factory(weights=None, input_shape=(224, 224, 3), classes=2)
        model.compile(optimizer=keras.optimizers.RMSprop(1e-4), loss="sparse_categorical_crossentropy")
        return model

    return build


def _keras_example() -> keras.Model:
    from tests.support.keras_example import example_model

    return example_model(160, width=32, blocks=3)


def _frozen_mobilenet() -> keras.Model:
    """Transfer learning as the Keras guide writes it: a frozen base called with training=False, a logits head."""
    base = keras.applications.MobileNetV2(input_shape=(160, 160, 3), include_top=False, weights=None)
    # Pretrained weights come with batch-norm statistics that fit their activations; untrained, the initial
    # ones (mean 0, variance 1) shrink the activations tenfold per block (out_relu ~1e-12: a dead network).
    # As a stand-in, each batch normalisation takes its statistics from one pass over seeded images.
    norms = [layer for layer in base.layers if isinstance(layer, keras.layers.BatchNormalization)]
    momentum = norms[0].momentum
    for layer in norms:
        layer.momentum = 0.0
    calibration = np.random.default_rng(1).uniform(-1.0, 1.0, size=(32, 160, 160, 3)).astype(np.float32)
    base(calibration, training=True)
    for layer in norms:
        layer.momentum = momentum
    base.trainable = False
    inputs = keras.Input((160, 160, 3))
    x = base(inputs, training=False)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dropout(0.2)(x)
    model = keras.Model(inputs, keras.layers.Dense(1)(x))
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=keras.losses.BinaryCrossentropy(from_logits=True))
    return model


MODELS: dict[str, tuple[Callable[[], keras.Model], int, int]] = {
    # name: (build, input size, batch size)
    "resnet50": (_app(keras.applications.ResNet50), 224, 16),
    "mobilenetv2": (_app(keras.applications.MobileNetV2), 224, 16),
    "efficientnetb0": (_app(keras.applications.EfficientNetB0), 224, 16),
    "cnn": (lambda: compile_like_tutorial(build_cnn()), 150, 20),
    "keras-example": (_keras_example, 160, 32),
    "mobilenetv2-frozen": (_frozen_mobilenet, 160, 32),
}

FEED: dict[str, Callable[[tf.Tensor], tf.Tensor]] = {
    "keras-example": lambda x: x * 255.0,  # 0-255 pixels; the model rescales inside
    "mobilenetv2-frozen": lambda x: x * 2.0 - 1.0,  # keras.applications.mobilenet_v2.preprocess_input, outside
}
"""How a model's inputs are made from the synthetic set's [0, 1] images (default: as they are)."""

CALLBACK_ARGS: dict[str, dict[str, Any]] = {"mobilenetv2-frozen": {"preprocess": "tf"}}
"""What the user tells the callback about the model's inputs (default: nothing; it learns them)."""


def datasets(name: str, train_images: int) -> tuple[tf.data.Dataset, tf.data.Dataset, list[str]]:
    _, size, batch = MODELS[name]
    train_ds, val_ds, names = synthetic_datasets(train=train_images, validation=64, size=size, batch_size=batch, seed=0)
    feed = FEED.get(name)
    if feed is not None:
        train_ds, val_ds = (ds.map(lambda x, y: (feed(x), y)) for ds in (train_ds, val_ds))
    if name in ("resnet50", "mobilenetv2", "efficientnetb0"):  # two-class softmax heads: integer labels
        train_ds, val_ds = (
            ds.map(lambda x, y: (x, tf.cast(tf.reshape(y, [-1]), tf.int32))) for ds in (train_ds, val_ds)
        )
    return train_ds, val_ds, names


def timed_fit(name: str, log_dir: str, epochs: int, train_images: int, with_featureviz: bool) -> dict[str, Any]:
    keras.utils.set_random_seed(0)
    train_ds, val_ds, names = datasets(name, train_images)
    model = MODELS[name][0]()
    model.fit(train_ds.take(2), epochs=1, verbose=0)  # trace the train step outside the timing
    callbacks: list[keras.callbacks.Callback] = []
    out: dict[str, Any] = {}
    cb = None
    if with_featureviz:
        cb = FeatureVizCallback(log_dir, validation_data=val_ds, class_names=names, **CALLBACK_ARGS.get(name, {}))
        t0 = time.perf_counter()
        cb.set_model(model)
        out["set_model"] = time.perf_counter() - t0
        callbacks.append(cb)
    t0 = time.perf_counter()
    model.fit(train_ds, validation_data=val_ds, epochs=epochs, callbacks=callbacks, verbose=0)
    out["seconds"] = time.perf_counter() - t0
    out["model"] = model
    if cb is not None:
        out["hook"] = cb.hook_seconds
        out["plans"] = read_plans(log_dir)
        files = glob.glob(os.path.join(log_dir, "featureviz", "events.out.tfevents.*"))
        out["bytes"] = sum(os.path.getsize(f) for f in files)
        out["written"] = cb.written_epochs
        out["relative"] = relative_activations(log_dir)
    return out


def relative_activations(log_dir: str) -> dict[str, list[float]]:
    """Each filter layer's ``relative_activation/<layer>`` scalars (the patterns' median activation over the
    probes'), in step order."""
    from tensorboard.backend.event_processing import event_file_loader

    from tb_featureviz import metadata

    found: dict[str, list[tuple[int, float]]] = {}
    for path in sorted(glob.glob(os.path.join(log_dir, "featureviz", "events.out.tfevents.*"))):
        for event in event_file_loader.EventFileLoader(path).Load():
            for value in event.summary.value:
                if value.tag.startswith(metadata.RELATIVE_ACTIVATION_PREFIX):
                    layer = value.tag[len(metadata.RELATIVE_ACTIVATION_PREFIX) :]
                    found.setdefault(layer, []).append((event.step, float(tf.make_ndarray(value.tensor))))
    return {layer: [v for _, v in sorted(points)] for layer, points in found.items()}


def read_plans(log_dir: str) -> list[dict[str, Any]]:
    from tensorboard.backend.event_processing import event_file_loader

    plans = []
    for path in sorted(glob.glob(os.path.join(log_dir, "featureviz", "events.out.tfevents.*"))):
        for event in event_file_loader.EventFileLoader(path).Load():
            for value in event.summary.value:
                if value.tag == "plan":
                    plans.append(json.loads(tf.make_ndarray(value.tensor).reshape(-1)[0]))
    return plans


def epoch_bytes(log_dir: str) -> dict[int, int]:
    """Serialized bytes of each step's featureviz events."""
    from tensorboard.backend.event_processing import event_file_loader

    sizes: dict[int, int] = {}
    for path in glob.glob(os.path.join(log_dir, "featureviz", "events.out.tfevents.*")):
        for event in event_file_loader.EventFileLoader(path).Load():
            sizes[event.step] = sizes.get(event.step, 0) + event.ByteSize()
    return sizes


SIDECAR_FILTERS = 16
"""Filters per pass in the sidecar measurement (16 fixed + 16 rotating per layer): 128 would take most of an
hour per ResNet50 checkpoint on 2 CPU cores."""


def sidecar(name: str, model: keras.Model, tmp: str) -> tuple[list[float], dict[str, float]]:
    """``watch --once`` over one checkpoint of the final weights: seconds, and seconds per task."""
    ckpts = os.path.join(tmp, f"{name}-ckpts")
    os.makedirs(ckpts, exist_ok=True)
    model.save(os.path.join(ckpts, "ckpt-001.keras"))
    times: list[float] = []
    _, val_ds, names = datasets(name, 32)
    from tb_featureviz.writer.probes import select_probes

    images, labels = select_probes(val_ds, 4)
    overrides: dict[str, Any] = {"max_filters": SIDECAR_FILTERS, **CALLBACK_ARGS.get(name, {})}
    watch(
        ckpts,
        os.path.join(tmp, f"{name}-sidecar"),
        probes=images,
        labels=labels,
        class_names=names,
        once=True,
        overrides=overrides,
        on_step=lambda step, path, seconds: times.append(seconds),
    )
    plans = read_plans(os.path.join(tmp, f"{name}-sidecar"))
    costs = dict(plans[-1]["epoch_costs"]) if plans else {}
    for layer, values in relative_activations(os.path.join(tmp, f"{name}-sidecar")).items():
        costs[f"relative {layer}"] = values[-1]
    return times, costs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="resnet50,mobilenetv2,efficientnetb0,cnn,keras-example,mobilenetv2-frozen")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--train-images", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=2, help="trainings of each kind, alternating")
    parser.add_argument("--no-sidecar", action="store_true")
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs, {args.epochs} epochs of {args.train_images} images, 4 probes, callback defaults")
    for name in args.models.split(","):
        base: list[float] = []
        runs: list[dict[str, Any]] = []
        with tempfile.TemporaryDirectory() as tmp:
            for i in range(2 * args.repeats):
                with_fv = i % 4 in (1, 2)
                log_dir = os.path.join(tmp, f"{name}{i}")
                out = timed_fit(name, log_dir, args.epochs, args.train_images, with_fv)
                if with_fv:
                    out["epoch_bytes"] = epoch_bytes(log_dir)
                    runs.append(out)
                else:
                    base.append(out["seconds"])
                print(f"  {name} {'with' if with_fv else 'without'}: {out['seconds']:.1f} s", flush=True)
            side, side_costs = ([], {}) if args.no_sidecar else sidecar(name, runs[-1]["model"], tmp)
        b = sum(base) / len(base)
        w = sum(r["seconds"] for r in runs) / len(runs)
        hook = sum(r["hook"] for r in runs) / len(runs)
        per_epoch = [v for r in runs for v in r["epoch_bytes"].values()]
        plans = runs[0]["plans"]
        filters: dict[str, list[str]] = {}
        for p in plans:
            for layer, f in p["filters"].items():
                filters.setdefault(layer, []).append(f"e{p['epoch']}:{f['window'][0]}-{f['window'][1]}/{f['of']}")
        print(f"{name}:")
        print(f"  training without {b:.1f} s, with {w:.1f} s (means of {len(base)} and {len(runs)})")
        print(f"  share from wall clock ((with - without) / without): {(w - b) / b:.3f}")
        print(f"  share from the hooks (hook / (with - hook)): {hook / (w - hook):.3f} ({hook:.2f} s in hooks)")
        last = runs[0]["plans"][-1]
        if last.get("train_seconds"):
            print(
                f"  the callback's own accounting (hooks + warm-up CPU + writer CPU) / training: "
                f"{last['spent_seconds'] / last['train_seconds']:.3f} (warm-up {last.get('warm_up_seconds', 0):.2f} s, "
                f"writer {last.get('writer_seconds', 0):.2f} s)"
            )
        mean_mb, max_mb = sum(per_epoch) / len(per_epoch) / 1e6, max(per_epoch) / 1e6
        print(f"  bytes per logged epoch: mean {mean_mb:.3f} MB, max {max_mb:.3f} MB")
        print(f"  set_model: {max(r['set_model'] for r in runs):.2f} s")
        print(f"  layers: {', '.join(plans[-1]['activations'])}")
        grids = {k: v for k, v in plans[-1]["grids"].items() if v["channels"] is not None or v["scale"] > 1}
        print(f"  reduced grids: {grids or 'none'}")
        print(f"  filter passes: {filters or 'none'}")
        relative = {k: v for r in runs for k, v in r["relative"].items()}
        if relative:
            shown = ", ".join(f"{k} {' '.join(f'{v:.2f}' for v in vals)}" for k, vals in relative.items())
            print(f"  patterns' median activation relative to the probes' (callback): {shown}")
        skipped = plans[-1]["skipped"]
        if skipped:
            print(f"  skipped at the last epoch: {skipped}")
        if side:
            parts = ", ".join(f"{k} {v:.1f}" for k, v in side_costs.items())
            print(
                f"  sidecar (watch --once, unlimited budget, max_filters={SIDECAR_FILTERS}): "
                f"{side[0]:.1f} s per checkpoint ({parts})"
            )
        sys.stdout.flush()


if __name__ == "__main__":
    main()
