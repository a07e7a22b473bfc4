"""Do the filter patterns hold up? featureviz's patterns against Chollet's, on the tutorial CNN, every conv layer.

For the tutorial CNN untrained and trained on the embedded synthetic set (``--epochs``), and for every conv
layer, this prints:

* **views/gray**: each filter's mean activation on its own pattern, averaged over 16 random views (shift
  of up to 8 px, scale 0.9-1.1, rotation up to 10 degrees, reflected borders: ``pattern_metrics``), over
  its activation on a uniform grey image (the layer's means are divided). featureviz's default tier
  against Chollet's ``generate_pattern`` (Deep Learning with Python, 1st ed., 5.4.2: a 150x150 image
  started at grey 128-148 of 255, 40 steps of one grey level, 1/255, times the RMS-normalised gradient,
  one filter at a time; here the sampled filters run side by side, which computes the same thing),
  evaluated clipped to the model's [0, 1] input range. ``ratio`` = ours / Chollet's, on the same sampled
  filters (``--chollet-filters`` per layer). Gate: >= 1.5;
* **survival**: the share of the unperturbed activation left under those views (sum over filters).
  Gate for ours: >= 0.8;
* **slope**: the spectral slope (log-log fit of the radially averaged power spectrum) of the patterns,
  against that of the probe images (the embedded set's validation images) cut to the patterns' size:
  the same band of frequencies. Gate: within 0.5. The slope of the whole 150 px probes is printed too;
* **act/probes**: the layer's relative activation, ``mean(pattern activation) / mean(probe activation)``
  over 64 probe images (``pattern_metrics.layer_relative_activation``);
* the time of the default tier for all 352 filters (built once, timed at a later call, as the callback
  does at each checkpoint), and the ``"best"`` tier on the sampled filters.

A second baseline, ``x255``, takes steps of 1.0 in [0, 1] units (``bench_filters``' step function: 255 times
the book's step on this input scale), which saturates the image to 0/1 in a few steps: ``r.x255`` is ours over
its views/gray, and its survival is printed. It is no gate: on the untrained conv1 that saturated image is
about as strong as any image in [0, 1] can be (a 150-step projected ascent reaches the same 4.0x grey).

    python -m benchmarks.bench_patterns [--epochs 5] [--chollet-filters 16] [--weights cnn.weights.h5]

Everything is seeded: two runs print the same figures (times aside).
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from tb_featureviz import compute
from tb_featureviz.compute import pattern_metrics as pm
from tb_featureviz.trainer import data as data_mod
from tb_featureviz.trainer import model as model_mod

CHOLLET_SIZE = 150
CHOLLET_STEPS = 40
GATE_RATIO = 1.5
GATE_SURVIVAL = 0.8
GATE_SLOPE = 0.5
GATE_SECONDS = 3.0


def chollet_patterns(model: keras.Model, layer: str, filters: list[int], *, step: float, start: str) -> np.ndarray:
    """Chollet's ``generate_pattern`` for ``filters`` (image ``i`` for filter ``i``), clipped to [0, 1].

    ``start="book"``: grey 128-148 of 255 plus uniform noise, as in the book; ``"bench"``: 0.4-0.6.
    Each image's gradient is divided by its own RMS, so running the filters side by side is the same as
    running them one at a time.
    """
    feature_model = keras.Model(model.inputs, model.get_layer(layer).output)
    idx = tf.constant(filters, tf.int32)

    @tf.function
    def ascend(img: tf.Tensor) -> tf.Tensor:
        for _ in tf.range(CHOLLET_STEPS):
            with tf.GradientTape() as tape:
                tape.watch(img)
                act = tf.gather(feature_model(img), idx[:, None], axis=3, batch_dims=1)
                loss = tf.reduce_sum(tf.reduce_mean(act, axis=[1, 2, 3]))
            grads = tape.gradient(loss, img)
            grads /= tf.sqrt(tf.reduce_mean(tf.square(grads), axis=[1, 2, 3], keepdims=True)) + 1e-5
            img = img + step * grads
        return img

    rng = np.random.default_rng(zip_seed(layer))
    shape = (len(filters), CHOLLET_SIZE, CHOLLET_SIZE, 3)
    img = (rng.random(shape) * 20.0 + 128.0) / 255.0 if start == "book" else rng.random(shape) * 0.2 + 0.4
    return np.clip(np.asarray(ascend(tf.constant(img, tf.float32))), 0.0, 1.0)


def zip_seed(text: str) -> int:
    return sum(ord(c) * 31**i for i, c in enumerate(text)) % 2**31


def probe_crops(probes: np.ndarray, size: int, per_image: int = 4) -> np.ndarray:
    """``per_image`` seeded random ``size`` x ``size`` crops of each probe image."""
    rng = np.random.default_rng(size)
    side = probes.shape[1]
    out = [im[y : y + size, x : x + size] for im in probes for y, x in rng.integers(0, side - size + 1, (per_image, 2))]
    return np.stack(out)


@dataclass
class Measure:
    views_over_gray: float
    survival: float
    slope: float


def measure(
    gen: compute.FilterPatternGenerator, images: np.ndarray, reached: np.ndarray, filters: list[int]
) -> Measure:
    views = pm.activation_under_views(lambda x: gen.mean_activation(x, filters), images)
    gray = gen.mean_activation(np.full_like(images, 0.5), filters)
    return Measure(float(views.mean() / gray.mean()), pm.survival(views, reached), pm.spectral_slope(images))


def trained_model(epochs: int, weights: str | None) -> tuple[keras.Model, str]:
    keras.utils.set_random_seed(0)
    model = model_mod.compile_like_tutorial(model_mod.build_cnn())
    if weights and os.path.exists(weights):
        model(np.zeros((1, 150, 150, 3), np.float32))
        model.load_weights(weights)
        return model, f"weights from {weights}"
    train_ds, val_ds, _ = data_mod.synthetic_datasets(train=1000, validation=400, seed=0)
    t = time.perf_counter()
    history = model.fit(train_ds, validation_data=val_ds, epochs=epochs, verbose=0, shuffle=False)
    if weights:
        model.save_weights(weights)
    acc = history.history["val_accuracy"][-1]
    return model, f"{epochs} epochs on the embedded set in {time.perf_counter() - t:.0f} s, val. accuracy {acc:.3f}"


def report(model: keras.Model, title: str, probes: np.ndarray, args: argparse.Namespace) -> list[str]:
    """Prints one model's table; returns the failed gates."""
    layers = compute.conv_layers(model)
    gens = [compute.FilterPatternGenerator(model, name) for name in layers]
    for g in gens:  # build and trace, as the callback does at its first pattern epoch
        g()
    load = os.getloadavg()[0]
    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        for g in gens:
            g()
        times.append(time.perf_counter() - t0)
    total_filters = sum(len(g.filters) for g in gens)

    failures: list[str] = []
    print(f"\n{title}")
    slope = pm.spectral_slope(probes)
    print(f"probe images: {len(probes)} validation images of the embedded set, spectral slope {slope:.2f} at 150 px")
    head = (
        f"{'layer':<6} {'size':>4} {'steps':>5} | {'views/gray: ours':>16} {'Chollet':>7} {'ratio':>5} {'r.x255':>6} | "
        f"{'survival: ours':>14} {'Chollet':>7} {'x255':>5} | {'slope: ours':>11} {'probes':>6} {'diff':>5} | "
        f"{'act/probes':>10}"
    )
    print(head)
    print("-" * len(head))
    best_rows = []
    for g in gens:
        images, reached = g.optimize()
        n = len(g.filters)
        step = max(1, n // args.chollet_filters)
        sample = list(range(0, n, step))[: args.chollet_filters]
        ours = measure(g, images[sample], reached[sample], sample)
        ours_all = measure(g, images, reached, g.filters)
        g150 = compute.FilterPatternGenerator(model, g.layer_name, size=CHOLLET_SIZE, filters=sample)
        book = chollet_patterns(model, g.layer_name, sample, step=1.0 / 255.0, start="book")
        strong = chollet_patterns(model, g.layer_name, sample, step=1.0, start="bench")
        m_book = measure(g150, book, g150.mean_activation(book), sample)
        m_strong = measure(g150, strong, g150.mean_activation(strong), sample)
        probe_slope = pm.spectral_slope(probe_crops(probes[:100], g.size))
        rel = pm.layer_relative_activation(reached, g.probe_activation(probes[:64]))
        ratio = ours.views_over_gray / m_book.views_over_gray
        diff = ours_all.slope - probe_slope
        print(
            f"{g.layer_name:<6} {g.size:>4} {g.steps:>5} | {ours.views_over_gray:>16.2f} "
            f"{m_book.views_over_gray:>7.2f} {ratio:>5.2f} {ours.views_over_gray / m_strong.views_over_gray:>6.2f} | "
            f"{ours_all.survival:>14.2f} "
            f"{m_book.survival:>7.2f} {m_strong.survival:>5.2f} | {ours_all.slope:>11.2f} {probe_slope:>6.2f} "
            f"{diff:>+5.2f} | {rel:>10.2f}"
        )
        if ratio < GATE_RATIO:
            failures.append(f"{title} {g.layer_name}: views/gray ratio {ratio:.2f} < {GATE_RATIO}")
        if ours_all.survival < GATE_SURVIVAL:
            failures.append(f"{title} {g.layer_name}: survival {ours_all.survival:.2f} < {GATE_SURVIVAL}")
        if abs(diff) > GATE_SLOPE:
            failures.append(f"{title} {g.layer_name}: slope off by {diff:+.2f}")
        if not args.skip_best:
            best = compute.FilterPatternGenerator(model, g.layer_name, quality="best", filters=sample)
            t = time.perf_counter()
            b_images, b_reached = best.optimize()
            sec = time.perf_counter() - t
            m = measure(best, b_images, b_reached, sample)
            b_slope = pm.spectral_slope(probe_crops(probes[:100], best.size))
            b_ratio = m.views_over_gray / m_book.views_over_gray
            best_rows.append((g.layer_name, best.size, best.steps, m, b_ratio, b_slope, sec))
    print(
        f"(ours: views/gray and ratios on the {args.chollet_filters} sampled filters per layer that Chollet's recipe "
        "ran on; survival and slope on all filters)"
    )
    med = sorted(times)[len(times) // 2]
    print(
        f"default tier, all {total_filters} filters of {len(gens)} conv layers: {min(times):.2f} s "
        f"(min of {args.repeat}; median {med:.2f} s; 1-min load average {load:.2f} before)"
    )
    if min(times) > GATE_SECONDS:
        failures.append(f"{title}: default tier took {min(times):.2f} s > {GATE_SECONDS} s")
    if best_rows:
        print('"best" tier on the sampled filters (views/gray, ratio to Chollet, survival, slope vs probes, time):')
        for name, size, steps, m, ratio, b_slope, sec in best_rows:
            print(
                f"  {name:<6} {size:>4} px {steps:>3} steps: {m.views_over_gray:.2f} ({ratio:.2f}x), "
                f"survival {m.survival:.2f}, slope {m.slope:.2f} ({b_slope:.2f}), {sec:.2f} s"
            )
    return failures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=5, help="training epochs on the embedded set")
    parser.add_argument("--chollet-filters", type=int, default=16, help="filters per layer for Chollet's recipe")
    parser.add_argument("--repeat", type=int, default=5, help="timed calls of the default tier (the minimum is kept)")
    parser.add_argument("--weights", default=None, help="load the trained weights from here if present, else save them")
    parser.add_argument("--skip-best", action="store_true", help="do not run the 'best' tier")
    args = parser.parse_args()
    t0 = time.perf_counter()
    probes = data_mod.synthetic_images(400, seed=1).images  # synthetic_datasets(seed=0)'s validation images
    keras.utils.set_random_seed(0)
    untrained = model_mod.build_cnn()
    untrained(np.zeros((1, 150, 150, 3), np.float32))
    print(f"tb-featureviz filter patterns vs Chollet's generate_pattern; TF {tf.__version__}, {os.cpu_count()} CPUs")
    failures = report(untrained, "tutorial CNN, untrained (seed 0)", probes, args)
    model, how = trained_model(args.epochs, args.weights)
    failures += report(model, f"tutorial CNN, trained ({how})", probes, args)
    print(f"\nbenchmark wall time {time.perf_counter() - t0:.0f} s")
    if failures:
        print("FAILED:\n  " + "\n  ".join(failures))
    else:
        print(
            f"all gates pass: ratio >= {GATE_RATIO}, survival >= {GATE_SURVIVAL}, |slope diff| <= {GATE_SLOPE}, "
            f"default tier <= {GATE_SECONDS} s"
        )


if __name__ == "__main__":
    main()
