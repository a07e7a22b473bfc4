"""The tutorial's models: the 4-conv CNN, its augmented variant and a VGG16 transfer model."""

from __future__ import annotations

import os

import keras

from tb_featureviz.trainer.data import IMAGE_SIZE


def augmentation(seed: int = 0) -> keras.Sequential:
    """The tutorial's data augmentation: random flip, rotation and zoom (active in training only)."""
    return keras.Sequential(
        [
            keras.layers.RandomFlip("horizontal", seed=seed),
            keras.layers.RandomRotation(0.1, seed=seed),
            keras.layers.RandomZoom(0.2, seed=seed),
        ],
        name="augmentation",
    )


def build_cnn(input_size: int = IMAGE_SIZE, *, augment: bool = False, seed: int = 0) -> keras.Model:
    """The tutorial's CNN: Conv2D 32, 64, 128, 128 (3x3 relu) each with MaxPooling 2x2, Dense 512, sigmoid.

    Layers have fixed names (``conv1``..``conv4``, ``pool1``..``pool4``, ``dense``, ``predictions``) so runs
    trained in one process, or in different ones, can be compared layer by layer.

    Args:
        input_size: Input side in pixels (150 in the tutorial).
        augment: Put the augmentation layers (and dropout 0.5, as the tutorial does) in the model.
        seed: Seed of the augmentation layers.

    Returns:
        An uncompiled ``keras.Sequential`` named ``cnn``.
    """
    layers: list[keras.layers.Layer] = [keras.Input((input_size, input_size, 3))]
    if augment:
        layers.append(augmentation(seed))
    for i, filters in enumerate((32, 64, 128, 128), start=1):
        layers += [
            keras.layers.Conv2D(filters, (3, 3), activation="relu", name=f"conv{i}"),
            keras.layers.MaxPooling2D((2, 2), name=f"pool{i}"),
        ]
    layers.append(keras.layers.Flatten(name="flatten"))
    if augment:
        layers.append(keras.layers.Dropout(0.5, name="dropout"))
    layers += [
        keras.layers.Dense(512, activation="relu", name="dense"),
        keras.layers.Dense(1, activation="sigmoid", name="predictions"),
    ]
    return keras.Sequential(layers, name="cnn_augmented" if augment else "cnn")


def build_vgg16(
    input_size: int = IMAGE_SIZE, *, weights: str | None = None, augment: bool = False, seed: int = 0
) -> keras.Model:
    """The tutorial's transfer model: a frozen VGG16 convolutional base, then Dense 256 and a sigmoid.

    Args:
        input_size: Input side in pixels.
        weights: A local ``.h5``/``.weights.h5`` file of VGG16 ``include_top=False`` weights, ``"imagenet"``
            (downloads, where the network allows) or ``None`` (random initialisation).
        augment: Put the augmentation layers in front.
        seed: Seed of the augmentation layers.

    Returns:
        An uncompiled ``keras.Sequential`` with the VGG16 base as one (nested) layer.

    Raises:
        ValueError: ``weights`` is a path that does not exist.
    """
    if weights not in (None, "imagenet") and not os.path.isfile(str(weights)):
        raise ValueError(f"VGG16 weights file not found. Received: weights={weights!r}")
    base = keras.applications.VGG16(weights=weights, include_top=False, input_shape=(input_size, input_size, 3))
    base.trainable = False
    layers: list[keras.layers.Layer] = [keras.Input((input_size, input_size, 3))]
    if augment:
        layers.append(augmentation(seed))
    layers += [
        base,
        keras.layers.Flatten(),
        keras.layers.Dense(256, activation="relu"),
        keras.layers.Dense(1, activation="sigmoid"),
    ]
    return keras.Sequential(layers, name="vgg16_transfer")


def compile_like_tutorial(model: keras.Model, learning_rate: float = 1e-4) -> keras.Model:
    """RMSprop(learning_rate), binary cross-entropy, accuracy."""
    model.compile(
        optimizer=keras.optimizers.RMSprop(learning_rate=learning_rate),
        loss="binary_crossentropy",
        metrics=["accuracy"],
    )
    return model
