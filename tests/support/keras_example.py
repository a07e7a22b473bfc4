"""A model shaped like Keras' "image classification from scratch" example, which featureviz was not designed for.

``example_model(size, width, blocks)``: 0-255 pixels rescaled inside (``Rescaling(1/255)`` first), unnamed
convolutions and batch normalisation, ``blocks`` residual blocks joined by unnamed ``layers.add``, and a one-unit
logits head (``Dense(1)``) compiled with ``BinaryCrossentropy(from_logits=True)``.
``example_data(n, size)``: ``n`` seeded 0-255 float images, class 1 with a bright square, and their labels.

Used by ``tests/test_budget.py`` and ``benchmarks/bench_budget.py``.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers


def example_model(size: int = 64, width: int = 16, blocks: int = 2) -> keras.Model:
    keras.utils.set_random_seed(0)
    inputs = keras.Input((size, size, 3))
    x = layers.Rescaling(1.0 / 255)(inputs)
    x = layers.Conv2D(width, 3, strides=2, padding="same")(x)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)
    previous = x
    for filters in (2 * width, 4 * width, 8 * width)[:blocks]:
        x = layers.Activation("relu")(x)
        x = layers.Conv2D(filters, 3, padding="same")(x)
        x = layers.BatchNormalization()(x)
        x = layers.Activation("relu")(x)
        x = layers.Conv2D(filters, 3, padding="same")(x)
        x = layers.BatchNormalization()(x)
        x = layers.MaxPooling2D(3, strides=2, padding="same")(x)
        residual = layers.Conv2D(filters, 1, strides=2, padding="same")(previous)
        x = layers.add([x, residual])
        previous = x
    x = layers.Activation("relu")(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(0.25)(x)
    outputs = layers.Dense(1)(x)
    model = keras.Model(inputs, outputs)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.BinaryCrossentropy(from_logits=True),
        metrics=[keras.metrics.BinaryAccuracy(threshold=0.0)],
    )
    return model


def example_data(n: int, size: int = 64, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 160, size=(n, size, size, 3)).astype(np.float32)
    y = np.arange(n) % 2
    side = size // 4
    for i in np.flatnonzero(y):
        r, c = rng.integers(0, size - side, size=2)
        x[i, r : r + side, c : c + side] = 255.0
    return x, y
