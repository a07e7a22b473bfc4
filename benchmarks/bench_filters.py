"""Filter patterns of all 352 filters of the reference CNN: featureviz's batched ascent vs Chollet's loop.

featureviz optimises every filter of a layer together in one compiled step, on an image sized by the
layer's receptive field. Chollet's ``generate_pattern`` optimises one filter at a time on a 150x150 image
for 40 steps. Both run here, on the same weights, in the same process. The one-at-a-time loop is timed on
``--sample`` filters per layer and scaled to the layer's filter count (``--sample 0`` times every filter).

    python -m benchmarks.bench_filters [--sample 4]
"""

from __future__ import annotations

import argparse
import time

import keras
import numpy as np
import tensorflow as tf

from tb_featureviz import compute
from tb_featureviz.trainer.model import build_cnn


def chollet_step_fn(feature_model: keras.Model):
    @tf.function
    def step(img: tf.Tensor, index: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:
            tape.watch(img)
            loss = tf.reduce_mean(tf.gather(feature_model(img), index, axis=-1))
        grads = tape.gradient(loss, img)
        grads /= tf.sqrt(tf.reduce_mean(tf.square(grads))) + 1e-5
        return img + grads

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sample", type=int, default=4, help="filters per layer for the one-at-a-time loop")
    args = parser.parse_args()
    keras.utils.set_random_seed(0)
    model = build_cnn()
    model(np.zeros((1, 150, 150, 3), np.float32))
    layers = compute.conv_layers(model)

    # featureviz: build once (as the callback does in set_model), time the call at a checkpoint.
    gens = [compute.FilterPatternGenerator(model, name) for name in layers]
    for g in gens:  # first call traces and compiles
        g()
    t0 = time.perf_counter()
    total = 0
    rows = []
    for g in gens:
        t = time.perf_counter()
        patterns, _ = g()
        rows.append((g.layer_name, len(g.filters), g.size, g.receptive_field, time.perf_counter() - t))
        total += patterns.shape[0]
    ours = time.perf_counter() - t0

    # Chollet's loop: one filter at a time, 150x150, 40 steps (compiled step, so it is not penalised for eager).
    theirs = 0.0
    for name, count, *_ in rows:
        feature_model = keras.Model(model.inputs, model.get_layer(name).output)
        step = chollet_step_fn(feature_model)
        n = count if args.sample <= 0 else min(args.sample, count)
        step(tf.zeros((1, 150, 150, 3)), tf.constant(0))  # trace
        t = time.perf_counter()
        for f in range(n):
            img = tf.random.uniform((1, 150, 150, 3)) * 0.2 + 0.4
            for _ in range(40):
                img = step(img, tf.constant(f))
            img.numpy()
        theirs += (time.perf_counter() - t) / n * count

    print(f"reference CNN (random weights), {total} filters in {len(layers)} conv layers")
    print(f"{'layer':<10} {'filters':>7} {'size':>5} {'RF':>4} {'seconds':>8}")
    for name, count, size, rf, sec in rows:
        print(f"{name:<10} {count:>7} {size:>5} {rf:>4} {sec:>8.2f}")
    print(f"featureviz, all {total} filters at one checkpoint: {ours:.2f} s")
    label = "every filter" if args.sample <= 0 else f"{args.sample} filters/layer, scaled"
    print(f"one filter at a time, 150x150, 40 steps ({label}): {theirs:.1f} s")
    print(f"speed-up: {theirs / ours:.1f}x")


if __name__ == "__main__":
    main()
