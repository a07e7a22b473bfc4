"""Data for the reference trainer: the tutorial's folder pipeline and an embedded synthetic data set.

The synthetic set has two shape families, drawn procedurally so nothing is downloaded:

* class 0, ``discs``: filled ellipses and rings;
* class 1, ``crosses``: plus and X shapes made of two bars.

Each image has a smooth random colour gradient, blotchy texture and pixel noise as background; the
object has a random colour, position, scale and rotation. The object's bounding box is known, so a
Grad-CAM map can be checked against it.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from tb_featureviz.validation import int_at_least, positive_int

CLASS_NAMES = ("discs", "crosses")
IMAGE_SIZE = 150
BATCH_SIZE = 20


@dataclass(frozen=True)
class SyntheticSet:
    """An in-memory synthetic data set.

    Attributes:
        images: ``[N, S, S, 3]`` float32 in [0, 1].
        labels: ``[N]`` int64 class indices (0 = discs, 1 = crosses).
        boxes: ``[N, 4]`` int ``(x0, y0, x1, y1)`` object boxes in pixels.
    """

    images: np.ndarray
    labels: np.ndarray
    boxes: np.ndarray

    class_names = CLASS_NAMES


def _background(rng: np.random.Generator, size: int) -> Image.Image:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    c0, c1 = rng.uniform(0.45, 0.85, size=(2, 3)).astype(np.float32)
    angle = rng.uniform(0, 2 * math.pi)
    t = (np.cos(angle) * xx + np.sin(angle) * yy + 1.0) / 2.0
    base = c0[None, None, :] * (1 - t[..., None]) + c1[None, None, :] * t[..., None]
    # Blotchy texture: low-resolution noise upsampled.
    coarse = rng.normal(0.0, 0.04, size=(6, 6, 3)).astype(np.float32)
    blotch = np.asarray(
        Image.fromarray(((coarse + 0.5) * 255).clip(0, 255).astype(np.uint8)).resize(
            (size, size), Image.Resampling.BICUBIC
        ),
        dtype=np.float32,
    )
    base = base + (blotch / 255.0 - 0.5)
    img = (np.clip(base, 0, 1) * 255).astype(np.uint8)
    return Image.fromarray(img)


def _draw_object(
    draw: ImageDraw.ImageDraw, rng: np.random.Generator, label: int, size: int
) -> tuple[int, int, int, int]:
    scale = rng.uniform(0.4, 0.7) * size
    cx = rng.uniform(scale / 2 + 2, size - scale / 2 - 2)
    cy = rng.uniform(scale / 2 + 2, size - scale / 2 - 2)
    # Darker than the light background whatever its hue, so the shape is what tells the classes apart.
    color = tuple(int(v) for v in rng.integers(0, 80, 3))
    half = scale / 2
    if label == 0:
        aspect = rng.uniform(0.7, 1.0)
        rx, ry = (half, half * aspect) if rng.random() < 0.5 else (half * aspect, half)
        box = (cx - rx, cy - ry, cx + rx, cy + ry)
        if rng.random() < 0.2:
            draw.ellipse(box, outline=color, width=max(3, int(scale * 0.18)))
        else:
            draw.ellipse(box, fill=color)
    else:
        width = scale * rng.uniform(0.18, 0.3)
        theta = rng.uniform(0, math.pi / 2)
        for bar_angle in (theta, theta + math.pi / 2):
            dx, dy = math.cos(bar_angle), math.sin(bar_angle)
            px, py = -dy * width / 2, dx * width / 2
            pts = [
                (cx - dx * half + px, cy - dy * half + py),
                (cx + dx * half + px, cy + dy * half + py),
                (cx + dx * half - px, cy + dy * half - py),
                (cx - dx * half - px, cy - dy * half - py),
            ]
            draw.polygon(pts, fill=color)
        box = (cx - half, cy - half, cx + half, cy + half)
    return (
        max(0, int(box[0])),
        max(0, int(box[1])),
        min(size, math.ceil(box[2])),
        min(size, math.ceil(box[3])),
    )


def synthetic_images(count: int, *, size: int = IMAGE_SIZE, seed: int = 0) -> SyntheticSet:
    """Generates a balanced synthetic two-class image set.

    Args:
        count: Number of images (classes alternate, so the set is balanced).
        size: Image side in pixels.
        seed: Random seed; the same seed gives the same images.

    Returns:
        A ``SyntheticSet``.

    Example:
        >>> data = synthetic_images(8, seed=1)
        >>> data.images.shape, data.labels.tolist()
        ((8, 150, 150, 3), [0, 1, 0, 1, 0, 1, 0, 1])
    """
    positive_int("count", count)
    int_at_least("size", size, 16)
    rng = np.random.default_rng(seed)
    images = np.empty((count, size, size, 3), dtype=np.uint8)
    labels = np.arange(count, dtype=np.int64) % 2
    boxes = np.empty((count, 4), dtype=np.int64)
    for i in range(count):
        img = _background(rng, size)
        draw = ImageDraw.Draw(img)
        for _ in range(int(rng.integers(0, 2))):  # a thin distractor stroke, in both classes
            x0, y0 = rng.uniform(0, size, 2)
            length, a = rng.uniform(size * 0.04, size * 0.12), rng.uniform(0, 2 * math.pi)
            draw.line(
                (x0, y0, x0 + length * math.cos(a), y0 + length * math.sin(a)),
                fill=tuple(int(v) for v in rng.integers(0, 256, 3)),
                width=1,
            )
        boxes[i] = _draw_object(draw, rng, int(labels[i]), size)
        img = img.filter(ImageFilter.GaussianBlur(radius=float(rng.uniform(0.0, 0.8))))
        arr = np.asarray(img, dtype=np.float32) + rng.normal(0.0, 6.0, size=(size, size, 3))
        images[i] = np.clip(arr, 0, 255).astype(np.uint8)
    return SyntheticSet(images.astype(np.float32) / 255.0, labels, boxes)


def write_image_folder(
    root: str | os.PathLike[str],
    *,
    train: int = 200,
    validation: int = 100,
    size: int = IMAGE_SIZE,
    seed: int = 0,
) -> Path:
    """Writes the synthetic set as JPEGs in the Kaggle cats-vs-dogs layout.

    ``root/train/<class>/<i>.jpg`` and ``root/validation/<class>/<i>.jpg``, readable by
    ``load_image_folder``.

    Returns:
        ``root`` as a ``Path``.
    """
    root = Path(root)
    for split, n, s in (("train", train, seed), ("validation", validation, seed + 1)):
        data = synthetic_images(n, size=size, seed=s)
        for c in CLASS_NAMES:
            (root / split / c).mkdir(parents=True, exist_ok=True)
        for i, (img, label) in enumerate(zip(data.images, data.labels, strict=True)):
            Image.fromarray((img * 255).round().astype(np.uint8)).save(
                root / split / CLASS_NAMES[int(label)] / f"{i:05d}.jpg", quality=92
            )
    return root


def load_image_folder(
    data_dir: str | os.PathLike[str], *, image_size: int = IMAGE_SIZE, batch_size: int = BATCH_SIZE, seed: int = 0
) -> tuple[object, object, list[str]]:
    """The tutorial's pipeline: ``train/`` and ``validation/`` class folders, rescaled by 1/255.

    Args:
        data_dir: Directory holding ``train/<class>/*.jpg`` and ``validation/<class>/*.jpg``.
        image_size: Images are resized to ``image_size`` x ``image_size``.
        batch_size: Batch size (the tutorial's 20).
        seed: Shuffle seed.

    Returns:
        ``(train_ds, val_ds, class_names)``: ``tf.data.Dataset``s of ``(images, binary labels)``.

    Raises:
        ValueError: the layout is not there, or the splits have different classes.
    """
    import keras
    import tensorflow as tf

    root = Path(data_dir)
    for split in ("train", "validation"):
        if not (root / split).is_dir():
            raise ValueError(
                f"{root / split} is not a directory. --data-dir must hold train/<class>/*.jpg and "
                f"validation/<class>/*.jpg. Received: data_dir={os.fspath(data_dir)!r}"
            )
    kwargs = dict(
        image_size=(image_size, image_size), batch_size=batch_size, label_mode="binary", seed=seed, verbose=False
    )
    train_ds = keras.utils.image_dataset_from_directory(root / "train", shuffle=True, **kwargs)
    val_ds = keras.utils.image_dataset_from_directory(root / "validation", shuffle=False, **kwargs)
    if list(train_ds.class_names) != list(val_ds.class_names):
        raise ValueError(f"train classes {train_ds.class_names} differ from validation classes {val_ds.class_names}")
    class_names = list(train_ds.class_names)
    if len(class_names) != 2:
        raise ValueError(f"The tutorial's binary pipeline needs exactly 2 classes. Found {class_names} in {root}")
    rescale = keras.layers.Rescaling(1.0 / 255)

    def prep(x: tf.Tensor, y: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        return rescale(x), y

    autotune = tf.data.AUTOTUNE
    return (
        train_ds.map(prep, num_parallel_calls=autotune).prefetch(autotune),
        val_ds.map(prep, num_parallel_calls=autotune).cache().prefetch(autotune),
        class_names,
    )


def synthetic_datasets(
    *, train: int = 1000, validation: int = 400, size: int = IMAGE_SIZE, batch_size: int = BATCH_SIZE, seed: int = 0
) -> tuple[object, object, list[str]]:
    """The embedded default: the synthetic set as ``(train_ds, val_ds, class_names)``, like ``load_image_folder``."""
    import tensorflow as tf

    tr = synthetic_images(train, size=size, seed=seed)
    va = synthetic_images(validation, size=size, seed=seed + 1)
    train_ds = (
        tf.data.Dataset.from_tensor_slices((tr.images, tr.labels.astype(np.float32)[:, None]))
        .shuffle(train, seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size)
        .prefetch(tf.data.AUTOTUNE)
    )
    val_ds = (
        tf.data.Dataset.from_tensor_slices((va.images, va.labels.astype(np.float32)[:, None]))
        .batch(batch_size)
        .prefetch(tf.data.AUTOTUNE)
    )
    return train_ds, val_ds, list(CLASS_NAMES)


def synthetic_probes(count: int = 4, *, validation: int = 400, size: int = IMAGE_SIZE, seed: int = 0) -> SyntheticSet:
    """The first ``count`` images of the embedded validation set, with their labels and object boxes.

    The same images as ``synthetic_datasets(validation=..., seed=seed)`` validates on (classes alternate, so
    any ``count`` is class-balanced); the boxes let the callback score its Grad-CAM maps with the pointing
    game.
    """
    positive_int("count", count)
    if count > validation:
        raise ValueError(f"count must be <= validation={validation}. Received: count={count}")
    va = synthetic_images(validation, size=size, seed=seed + 1)
    return SyntheticSet(va.images[:count], va.labels[:count], va.boxes[:count])
