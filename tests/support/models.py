"""A tiny Keras CNN and its data, for the writer-side tests (callback, sidecar watcher, faults).

``tiny_model()``: two convolutions (``c1``, ``c2``) on ``SIZE`` x ``SIZE`` RGB images, seeded;
``tiny_data(n)``: ``n`` seeded images with labels cycling through the classes.
"""

from __future__ import annotations

import keras
import numpy as np

SIZE = 16


def tiny_model(num_classes: int = 2) -> keras.Model:
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input((SIZE, SIZE, 3)),
            keras.layers.Conv2D(4, 3, activation="relu", name="c1"),
            keras.layers.MaxPooling2D(2, name="p1"),
            keras.layers.Conv2D(6, 3, activation="relu", name="c2"),
            keras.layers.Flatten(name="flat"),
            keras.layers.Dense(num_classes, activation="softmax", name="head"),
        ],
        name="tiny",
    )


def tiny_data(n: int = 24, num_classes: int = 2):
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, size=(n, SIZE, SIZE, 3)).astype(np.float32)
    y = np.arange(n) % num_classes
    return x, y


def zero_mean_kernels(shape: tuple[int, ...], seed: int) -> np.ndarray:
    """Random kernels with zero mean per filter, so a flat grey image barely activates them."""
    k = np.random.default_rng(seed).normal(0.0, 0.3, size=shape)
    return (k - k.mean(axis=(0, 1, 2), keepdims=True)).astype(np.float32)


def zero_mean_conv_model(side: int) -> keras.Model:
    """Two convolutions (``c1``: 6 filters, ``c2``: 5) with zero-mean seeded kernels, on ``side`` px RGB."""
    model = keras.Sequential(
        [
            keras.Input((side, side, 3)),
            keras.layers.Conv2D(6, 3, activation="relu", name="c1"),
            keras.layers.MaxPooling2D(name="p1"),
            keras.layers.Conv2D(5, 3, activation="relu", name="c2"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    model.get_layer("c1").set_weights([zero_mean_kernels((3, 3, 3, 6), 0), np.zeros(6, np.float32)])
    model.get_layer("c2").set_weights([zero_mean_kernels((3, 3, 6, 5), 1), np.zeros(5, np.float32)])
    return model
