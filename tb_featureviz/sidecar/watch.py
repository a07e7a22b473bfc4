"""``featureviz watch``: the sidecar. Draws featureviz summaries from checkpoints, off the training machine.

The training job saves checkpoints with ``keras.callbacks.ModelCheckpoint(".../ckpt-{epoch:03d}.keras")``
and, optionally, runs ``FeatureVizCallback(log_dir, visualize=False)``, which writes only what needs the
training loop: the epoch's loss and metrics, the probe images and the run facts, to
``<log_dir>/featureviz-source`` (the probes exactly, as ``probes.npz``). ``watch`` follows the checkpoint
directory, loads each new checkpoint's weights, and writes to ``<log_dir>/featureviz`` what the callback
would have written for those weights with an unlimited budget: the same tags, the same PNGs, at the same
step. Keras formats ``{epoch}`` as the 0-based epoch index plus 1, so ``ckpt-003.keras`` is step 2.

It only reads files (through ``tf.io.gfile``: local paths, a shared file system, ``gs://``, ``s3://``).
A checkpoint that is still being written is skipped and retried; steps already in the run are not redone.
"""

from __future__ import annotations

import io
import logging
import os
import posixpath
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import keras
import numpy as np
import tensorflow as tf
from tensorboard.backend.event_processing import event_file_loader

from tb_featureviz import metadata
from tb_featureviz.compute.input_space import InputSpace
from tb_featureviz.metadata import Record
from tb_featureviz.writer.options import WriterOptions
from tb_featureviz.writer.planner import Budget
from tb_featureviz.writer.visualizer import Visualizer

logger = logging.getLogger(__name__)

__all__ = [
    "SOURCE_SUBDIR",
    "Source",
    "checkpoint_step",
    "find_checkpoints",
    "read_source",
    "watch",
    "write_probes_file",
]

SOURCE_SUBDIR = "featureviz-source"
"""Where ``FeatureVizCallback(visualize=False)`` writes what ``watch`` needs from the training loop."""
PROBES_FILE = "probes.npz"

_NUMBER = re.compile(r"(\d+)")


def checkpoint_step(path: str) -> int | None:
    """The step of a checkpoint file: the last number in its name minus one (Keras' ``{epoch}`` is 1-based).

    Example:
        >>> checkpoint_step("ckpts/ckpt-003.keras")
        2
        >>> checkpoint_step("model.keras") is None
        True
    """
    name = posixpath.basename(path.replace(os.sep, "/"))
    if not name.endswith(".keras"):
        return None
    numbers = _NUMBER.findall(name[: -len(".keras")])
    if not numbers:
        return None
    return int(numbers[-1]) - 1


def find_checkpoints(directory: str) -> list[tuple[int, str]]:
    """``(step, path)`` of every numbered ``*.keras`` file in ``directory``, by step."""
    found = []
    for path in tf.io.gfile.glob(posixpath.join(directory, "*.keras")):
        step = checkpoint_step(path)
        if step is not None and step >= 0:
            found.append((step, path))
    return sorted(found)


def write_probes_file(
    source_dir: str,
    images: np.ndarray,
    labels: np.ndarray | None,
    class_names: Sequence[str] | None,
    boxes: np.ndarray | None = None,
    sample: np.ndarray | None = None,
    sample_labels: np.ndarray | None = None,
) -> None:
    """Writes the exact probe images (and labels, class names, object boxes, the exemplars' image sample and
    its labels) as ``probes.npz`` in ``source_dir``."""
    buffer = io.BytesIO()
    arrays: dict[str, np.ndarray] = {"images": np.asarray(images, np.float32)}
    if labels is not None:
        arrays["labels"] = np.asarray(labels, np.int64)
    if boxes is not None:
        arrays["boxes"] = np.asarray(boxes, np.int64)
    if sample is not None:
        arrays["sample"] = np.asarray(sample, np.float32)
    if sample_labels is not None:
        arrays["sample_labels"] = np.asarray(sample_labels, np.int64)
    if class_names:
        arrays["class_names"] = np.asarray(list(class_names), dtype=str)
    np.savez(buffer, allow_pickle=True, **arrays)  # the default, named: the arrays are keyword arguments too
    tf.io.gfile.makedirs(source_dir)
    tmp = posixpath.join(source_dir, PROBES_FILE + ".tmp")
    with tf.io.gfile.GFile(tmp, "wb") as f:
        f.write(buffer.getvalue())
    tf.io.gfile.rename(tmp, posixpath.join(source_dir, PROBES_FILE), overwrite=True)


def _read_probes(path: str) -> dict[str, np.ndarray]:
    """Every array of a probes file: ``images`` and, from an ``.npz``, ``labels``, ``class_names``,
    ``boxes``, ``sample`` and ``sample_labels`` where present.

    Raises:
        ValueError: the file holds no ``[N, H, W, C]`` images.
    """
    with tf.io.gfile.GFile(path, "rb") as f:
        data = f.read()
    try:
        loaded = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError) as e:
        raise ValueError(f"Cannot read probes from {path!r}: {e}") from e
    if isinstance(loaded, np.ndarray):
        arrays = {"images": loaded}
    else:
        if "images" not in loaded:
            raise ValueError(f"{path!r} has no 'images' array. Found: {sorted(loaded.keys())}")
        arrays = {key: np.asarray(loaded[key]) for key in loaded.files}
    if arrays["images"].ndim != 4:
        raise ValueError(f"Probe images in {path!r} must be [N, H, W, C]. Received shape {arrays['images'].shape}")
    arrays["images"] = arrays["images"].astype(np.float32)
    return arrays


def load_probes_file(path: str) -> tuple[np.ndarray, np.ndarray | None, list[str] | None]:
    """Reads probes from ``.npz`` (``images``, optional ``labels``, ``class_names``) or ``.npy`` (images).

    Raises:
        ValueError: the file holds no ``[N, H, W, C]`` images.
    """
    arrays = _read_probes(path)
    names = [str(s) for s in arrays["class_names"]] if "class_names" in arrays else None
    return arrays["images"], arrays.get("labels"), names


@dataclass
class Source:
    """What the training loop wrote for the sidecar (``FeatureVizCallback(visualize=False)``)."""

    images: np.ndarray | None = None
    labels: np.ndarray | None = None
    class_names: list[str] | None = None
    boxes: np.ndarray | None = None
    sample: np.ndarray | None = None
    sample_labels: np.ndarray | None = None
    logs: dict[int, dict[str, float]] = field(default_factory=dict)
    options: Record = field(default_factory=dict)
    """The callback's options (``WriterOptions.to_json``), from its ``run_info``."""
    input_space: Record | None = None
    """The input space the callback learnt (``InputSpace.to_json``), from its ``run_info``."""


def _event_files(directory: str) -> list[str]:
    return sorted(tf.io.gfile.glob(posixpath.join(directory, "events.out.tfevents.*")))


def read_source(log_dir: str) -> Source:
    """Reads ``<log_dir>/featureviz-source``: the exact probes and the epoch logs (empty if absent)."""
    source_dir = posixpath.join(log_dir, SOURCE_SUBDIR)
    out = Source()
    probes = posixpath.join(source_dir, PROBES_FILE)
    if tf.io.gfile.exists(probes):
        arrays = _read_probes(probes)
        out.images, out.labels = arrays["images"], arrays.get("labels")
        out.class_names = [str(s) for s in arrays["class_names"]] if "class_names" in arrays else None
        out.boxes, out.sample, out.sample_labels = (arrays.get(k) for k in ("boxes", "sample", "sample_labels"))
    for path in _event_files(source_dir):
        for event in event_file_loader.EventFileLoader(path).Load():
            for value in event.summary.value:
                if value.tag.startswith(metadata.EPOCH_SCALAR_PREFIX):  # the log's own key: val_loss, too
                    number = float(tf.make_ndarray(value.tensor))
                    key = value.tag[len(metadata.EPOCH_SCALAR_PREFIX) :]
                    out.logs.setdefault(int(event.step), {})[key] = number
                elif value.tag == "run_info":
                    blob = tf.make_ndarray(value.tensor).reshape(-1)[0]
                    info = metadata.decode_record(blob)
                    out.options = dict(info.get("featureviz_options") or {})
                    out.input_space = info.get("input_space")
    return out


def written_steps(log_dir: str) -> set[int]:
    """Steps that already have a ``plan`` record in ``<log_dir>/featureviz`` (done by a callback or a watch)."""
    steps: set[int] = set()
    for path in _event_files(posixpath.join(log_dir, metadata.RUN_SUBDIR)):
        for event in event_file_loader.EventFileLoader(path).Load():
            if any(v.tag == "plan" for v in event.summary.value):
                steps.add(int(event.step))
    return steps


def _readable(path: str, sizes: dict[str, int]) -> bool:
    """A checkpoint is read once its size is the same at two looks (a writer may still be at it)."""
    try:
        size = tf.io.gfile.stat(path).length
    except tf.errors.OpError:
        return False
    stable = sizes.get(path) == size
    sizes[path] = size
    return stable


def watch(
    checkpoint_dir: str,
    log_dir: str,
    *,
    probes: np.ndarray | None = None,
    labels: np.ndarray | None = None,
    class_names: Sequence[str] | None = None,
    options: WriterOptions | None = None,
    overrides: Mapping[str, object] | None = None,
    once: bool = False,
    poll_seconds: float = 10.0,
    retries: int = 3,
    on_step: Callable[[int, str, float], None] | None = None,
) -> tuple[list[int], list[str]]:
    """Writes featureviz summaries for every checkpoint in ``checkpoint_dir``, now and (unless ``once``) as
    new ones appear.

    Args:
        checkpoint_dir: Where ``ModelCheckpoint`` saves ``*.keras`` files with the epoch in their name.
        log_dir: The run directory (the callback's ``log_dir``); summaries go to ``<log_dir>/featureviz``.
        probes: ``[N, H, W, C]`` probe images; ``None`` for the ones the callback saved in
            ``<log_dir>/featureviz-source``.
        labels: Their true classes, if known (default: the saved ones).
        class_names: Names of the classes (default: the saved ones).
        options: What to draw; default the callback's defaults with an unlimited budget. The options a
            ``FeatureVizCallback(visualize=False)`` recorded in the run replace these, so the sidecar draws
            what that callback would have drawn.
        overrides: Options to use whatever the callback recorded (``{"max_filters": 16}``).
        once: Process the checkpoints there now and return, instead of following the directory.
        poll_seconds: How often to look for new checkpoints.
        retries: With ``once``, how many more looks a checkpoint that cannot be read yet gets.
        on_step: Called with ``(step, path, seconds)`` after each checkpoint.

    Returns:
        ``(steps written, paths skipped)``: skipped are checkpoints that could not be read (``once`` only).

    Raises:
        ValueError: there are no probes, or they do not fit the model.
    """
    source = read_source(log_dir)
    probes, labels, boxes = _probe_set(source, log_dir, probes, labels)
    options = _options(options, source, class_names, overrides)
    # Declared on the command line, else what the training callback learnt, else learnt here as it would.
    declared = options.input_range is not None or options.preprocess is not None
    space = None if declared else InputSpace.from_json(source.input_space)
    viz = Visualizer(posixpath.join(log_dir, metadata.RUN_SUBDIR), options, input_space=space)
    follow = _Follow(viz, source, probes, labels, boxes, done=written_steps(log_dir), once=once, retries=retries)
    try:
        while True:
            for step, path in [(s, p) for s, p in find_checkpoints(checkpoint_dir) if s not in follow.done]:
                seconds = follow.draw(step, path)
                if seconds is not None and on_step is not None:
                    on_step(step, path, seconds)
            waiting = [p for s, p in find_checkpoints(checkpoint_dir) if s not in follow.done]
            if once and (not waiting or all(follow.failures.get(p, 0) > retries for p in waiting)):
                return follow.written, waiting
            time.sleep(1.0 if once else poll_seconds)
            if not once:
                follow.source = read_source(log_dir)  # the epoch logs grow as training goes on
    finally:
        viz.close()


def _probe_set(
    source: Source, log_dir: str, probes: np.ndarray | None, labels: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """The probes given, else those the callback saved (with their labels and boxes)."""
    boxes = None
    if probes is None:
        probes = source.images
        labels = source.labels if labels is None else labels
        boxes = source.boxes
    if probes is None:
        raise ValueError(
            f"No probe images: pass --probes FILE.npy, or train with FeatureVizCallback(log_dir, visualize=False), "
            f"which saves them to {posixpath.join(log_dir, SOURCE_SUBDIR, PROBES_FILE)}."
        )
    return probes, labels, boxes


def _options(
    options: WriterOptions | None,
    source: Source,
    class_names: Sequence[str] | None,
    overrides: Mapping[str, object] | None,
) -> WriterOptions:
    """``options`` (default: the callback's, unlimited), then what the callback recorded, then ``overrides``."""
    options = options or WriterOptions(budget=Budget(fraction=None))
    if class_names is not None:
        overrides = dict(overrides or {}, class_names=list(class_names))
    if class_names is None and source.class_names and not source.options.get("class_names"):
        overrides = dict(overrides or {}, class_names=list(source.class_names))
    return options.updated(source.options, **(overrides or {}))


@dataclass
class _Follow:
    """What ``watch`` has drawn and tried so far, and the model of the last checkpoint it read."""

    viz: Visualizer
    source: Source
    probes: np.ndarray
    labels: np.ndarray | None
    boxes: np.ndarray | None
    done: set[int]
    once: bool
    retries: int
    written: list[int] = field(default_factory=list)
    failures: dict[str, int] = field(default_factory=dict)
    """Failed looks per checkpoint path."""
    sizes: dict[str, int] = field(default_factory=dict)
    """The size each checkpoint had at the last look (a file still growing is not read)."""
    model: keras.Model | None = None

    def draw(self, step: int, path: str) -> float | None:
        """Draws the checkpoint at ``path`` as ``step``; the seconds it took, ``None`` when it could not be read."""
        if not _readable(path, self.sizes) and not (self.once and self.failures.get(path, 0) >= self.retries):
            self.failures[path] = self.failures.get(path, 0) + 1
            return None
        t0 = time.perf_counter()
        try:
            self.model = _load(path, self.model)
        except Exception as e:  # half-written or unreadable: try again at the next look
            self.failures[path] = self.failures.get(path, 0) + 1
            logger.warning("featureviz watch: cannot read %s yet (%s); will retry", path, e)
            self.sizes.pop(path, None)
            return None
        if self.viz.model is not self.model:
            self.viz.bind(self.model)
            self.viz.set_probes(self.probes, self.labels, self.boxes)
            if self.source.sample is not None:
                self.viz.set_sample(self.source.sample, self.source.sample_labels)
        self.viz.visualize(step, train_seconds=0.0, logs=self.source.logs.get(step), last=False)
        self.viz.worker.drain()
        self.done.add(step)
        self.written.append(step)
        return time.perf_counter() - t0


def _load(path: str, model: keras.Model | None) -> keras.Model:
    """The checkpoint's model: its weights loaded into ``model`` where the architecture matches."""
    if model is not None:
        try:
            model.load_weights(path)
            return model
        except Exception:  # another architecture, or a half-written file: load it whole below
            logger.debug("load_weights(%s) failed; loading the whole model", path, exc_info=True)
    return keras.saving.load_model(path, compile=False)
