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
