"""Probe images and run facts: what the callback and ``featureviz watch`` write once per run.

``select_probes`` takes a fixed, class-balanced set of probe images from validation data;
``run_facts`` gathers the ``run_info`` record (model summary, optimizer, hyper-parameters).
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import TypeGuard

import keras
import numpy as np
import tensorflow as tf
from numpy.typing import ArrayLike

from tb_featureviz.compute import backend
from tb_featureviz.compute.backend import Tensor
from tb_featureviz.metadata import Record
from tb_featureviz.validation import positive_int

logger = logging.getLogger(__name__)

Batches = Iterable[tuple[Tensor, ...]]
"""A source of ``(x, y)`` batches: a ``tf.data.Dataset``, a ``torch.utils.data.DataLoader``, an iterator."""

__all__ = [
    "Batches",
    "check_probe_array",
    "check_probe_boxes",
    "fit_validation_data",
    "labels_to_int",
    "run_facts",
    "select_probes",
]


def check_probe_array(probe_images: object, labels: np.ndarray | None) -> np.ndarray | None:
    """``probe_images`` as a float32 ``[N, H, W, C]`` array, or None when it is a source to pick from.

    Raises:
        ValueError: an array that is not 4-D, or ``labels`` of another length.
    """
    if probe_images is None or isinstance(probe_images, (tuple, list)) or _is_batches(probe_images):
        return None
    images = np.asarray(probe_images, dtype=np.float32)
    if images.ndim != 4:
        raise ValueError(f"probe_images must be [N, H, W, C]. Received shape {images.shape}")
    if labels is not None and labels.shape[0] != images.shape[0]:
        raise ValueError(f"probe_labels has {labels.shape[0]} entries for {images.shape[0]} images.")
    return images


def check_probe_boxes(boxes: ArrayLike | None, images: np.ndarray | None) -> np.ndarray | None:
    """``boxes`` as an int64 ``[N, 4]`` array ``(x0, y0, x1, y1)`` for ``images``, or None.

    Raises:
        ValueError: boxes without ``probe_images`` as an array, of another count or not 4 wide, or empty.
    """
    if boxes is None:
        return None
    if images is None:
        raise ValueError("probe_boxes needs probe_images as an [N, H, W, C] array (the boxes of those images).")
    array = np.asarray(boxes)
    n = images.shape[0]
    if array.shape != (n, 4) or not np.issubdtype(array.dtype, np.number):
        raise ValueError(
            f"probe_boxes must be [N, 4] = ({n}, 4) numbers (x0, y0, x1, y1). Received shape {array.shape}"
        )
    array = array.astype(np.int64)
    if np.any(array[:, 2] <= array[:, 0]) or np.any(array[:, 3] <= array[:, 1]):
        raise ValueError(f"probe_boxes must have x1 > x0 and y1 > y0. Received: probe_boxes={array.tolist()}")
    return array


def _is_batches(data: object) -> TypeGuard[Iterable[object]]:
    """Whether ``data`` is a source of ``(x, y)`` batches rather than an array: a ``tf.data.Dataset``, a
    ``torch.utils.data.DataLoader``, an iterator or a generator."""
    if isinstance(data, tf.data.Dataset):
        return True
    if isinstance(data, (np.ndarray, str, bytes, tuple, list, dict)) or hasattr(data, "__array__"):
        return False
    return hasattr(data, "__iter__")


def fit_validation_data(model: keras.Model) -> Batches | None:
    """The ``validation_data`` given to the running ``model.fit``, as batches, or None.

    Keras 3 keeps the iterator over it on the model while ``fit`` runs. On the TensorFlow backend it is read
    as a ``tf.data.Dataset``; on JAX and PyTorch as NumPy batches (``get_numpy_iterator``), so that no
    TensorFlow runs for data that was not a ``tf.data.Dataset`` to begin with.
    """
    iterator = getattr(model, "_eval_epoch_iterator", None)
    adapter = getattr(iterator, "data_adapter", None)
    if adapter is None:
        return None
    return adapter.get_tf_dataset() if backend.name() == "tensorflow" else adapter.get_numpy_iterator()


def labels_to_int(y: ArrayLike) -> np.ndarray:
    """Class indices from binary ``[N]``/``[N, 1]``, sparse ``[N]`` or one-hot ``[N, K]`` labels."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] > 1:
        return np.argmax(y, axis=1).astype(np.int64)
    y = y.reshape(-1)
    if np.issubdtype(y.dtype, np.floating):
        return np.round(y).astype(np.int64)
    return y.astype(np.int64)


def select_probes(data: object, count: int = 4) -> tuple[np.ndarray, np.ndarray | None]:
    """Takes a fixed, class-balanced set of probe images from validation data.

    The first images of each class in iteration order are taken, round-robin over classes, so the same
    data always gives the same probes.

    Args:
        data: A ``tf.data.Dataset``, a ``torch.utils.data.DataLoader`` or any iterable yielding ``(x, y)``
            (batched or not), an ``(x, y)`` tuple of arrays, or an array of images (no labels).
        count: How many probes.

    Returns:
        ``(images [count, H, W, C] float32, labels [count] int64 or None)``.

    Raises:
        ValueError: the data holds no images or is not in one of the forms above.
    """
    count = positive_int("count", count)
    if _is_batches(data):
        xs, ys = [], []
        seen = 0
        for element in data:
            if not isinstance(element, (tuple, list)) or len(element) < 2:
                raise ValueError("A validation dataset must yield (images, labels) pairs to pick probes from.")
            x, y = backend.to_numpy(element[0]), backend.to_numpy(element[1])
            if x.ndim == 3:
                x, y = x[None], y[None]
            xs.append(x)
            ys.append(y)
            seen += x.shape[0]
            if seen >= 64 * count:
                break
        if not xs:
            raise ValueError("The validation dataset is empty: cannot pick probe images.")
        x_all, y_all = np.concatenate(xs), np.concatenate(ys)
    elif isinstance(data, (tuple, list)) and len(data) >= 2:
        x_all, y_all = np.asarray(data[0]), np.asarray(data[1])
    else:
        x_all = np.asarray(data)
        if x_all.ndim != 4 or x_all.shape[0] == 0:
            raise ValueError(f"probe images must be [N, H, W, C] with N >= 1. Received shape {x_all.shape}")
        return x_all[:count].astype(np.float32), None
    if x_all.ndim != 4 or x_all.shape[0] == 0:
        raise ValueError(f"Validation images must be [N, H, W, C] with N >= 1. Received shape {x_all.shape}")
    labels = labels_to_int(y_all)
    by_class: dict[int, list[int]] = {}
    for i, c in enumerate(labels):
        by_class.setdefault(int(c), []).append(i)
    order: list[int] = []
    queues = [by_class[c] for c in sorted(by_class)]
    while len(order) < count and any(queues):
        for q in queues:
            if q and len(order) < count:
                order.append(q.pop(0))
    idx = np.array(order)
    return x_all[idx].astype(np.float32), labels[idx]


def run_facts(
    model: keras.Model,
    *,
    layers: Sequence[str],
    class_names: Sequence[str] | None,
    hparams: Mapping[str, object],
    params_fit: Mapping[str, object] | None,
    first_epoch: int,
) -> Record:
    """The ``run_info`` record: model name, text summary, parameter count, optimizer config, and more.

    Args:
        model: The model.
        layers: The activation layers, in model order (the viewer orders tags by it).
        class_names: Names of the classes, if known.
        hparams: The user's hyper-parameters.
        params_fit: Keras' ``callback.params`` (epochs, steps), if known.
        first_epoch: The first logged epoch.

    Returns:
        A JSON-serialisable dict (see ``tb_featureviz.metadata``).
    """
    lines: list[str] = []
    try:
        model.summary(print_fn=lambda line, *a, **k: lines.append(line))
    except Exception:  # a summary is nice to have; never fail training over it
        logger.debug("model.summary() failed", exc_info=True)
    optimizer = getattr(model, "optimizer", None)
    opt_config: Record = {}
    if optimizer is not None:
        try:
            for k, v in optimizer.get_config().items():
                if isinstance(v, (int, float, str, bool)) or v is None:
                    opt_config[k] = v
            opt_config["class"] = type(optimizer).__name__
        except Exception:
            logger.debug("optimizer.get_config() failed", exc_info=True)
    return {
        "model": model.name,
        "summary": "\n".join(lines),
        "params": int(model.count_params()),
        "input_shape": [None if d is None else int(d) for d in model.inputs[0].shape],
        "optimizer": opt_config,
        "hparams": dict(hparams),
        "params_fit": {k: v for k, v in (params_fit or {}).items() if isinstance(v, (int, float, str))},
        "class_names": list(class_names) if class_names is not None else None,
        "layers": list(layers),
        "first_epoch": first_epoch,
        "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
