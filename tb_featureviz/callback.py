"""``FeatureVizCallback``: writes activation grids, filter patterns and Grad-CAM at epoch ends."""

from __future__ import annotations

import datetime
import logging
import os
import time
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tb_featureviz import compute, metadata, summary
from tb_featureviz.compute.filters import check_parameterization
from tb_featureviz.render import dead_channels

logger = logging.getLogger(__name__)

__all__ = ["FeatureVizCallback", "select_probes"]


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive int. Received: {name}={value!r}")
    return int(value)


def _labels_to_int(y: np.ndarray) -> np.ndarray:
    """Class indices from binary ``[N]``/``[N, 1]``, sparse ``[N]`` or one-hot ``[N, K]`` labels."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] > 1:
        return np.argmax(y, axis=1).astype(np.int64)
    y = y.reshape(-1)
    if np.issubdtype(y.dtype, np.floating):
        return np.round(y).astype(np.int64)
    return y.astype(np.int64)


def select_probes(data: Any, count: int = 4) -> tuple[np.ndarray, np.ndarray | None]:
    """Takes a fixed, class-balanced set of probe images from validation data.

    The first images of each class in iteration order are taken, round-robin over classes, so the same
    data always gives the same probes.

    Args:
        data: A ``tf.data.Dataset`` yielding ``(x, y)`` (batched or not), an ``(x, y)`` tuple of arrays,
            or an array of images (no labels).
        count: How many probes.

    Returns:
        ``(images [count, H, W, C] float32, labels [count] int64 or None)``.

    Raises:
        ValueError: the data holds no images or is not in one of the forms above.
    """
    count = _positive_int("count", count)
    if isinstance(data, tf.data.Dataset):
        xs, ys = [], []
        seen = 0
        for element in data:
            if not isinstance(element, (tuple, list)) or len(element) < 2:
                raise ValueError("A validation dataset must yield (images, labels) pairs to pick probes from.")
            x, y = np.asarray(element[0]), np.asarray(element[1])
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
    labels = _labels_to_int(y_all)
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


def _layer_channels(model: keras.Model, name: str) -> int:
    """Output channels of layer ``name``, searching nested models too."""
    stack = list(model.layers)
    while stack:
        layer = stack.pop(0)
        if layer.name == name:
            return int(layer.output.shape[-1])
        stack.extend(getattr(layer, "layers", []))
    raise ValueError(f"No layer named {name!r} in model {model.name!r}.")


class FeatureVizCallback(keras.callbacks.Callback):
    """Writes what a CNN learns, at epoch ends, for the featureviz TensorBoard plugin.

    For fixed probe images it writes, under ``<log_dir>/featureviz`` with ``step`` = epoch:
    activation grids of every conv/pool layer, filter patterns (gradient ascent in input space) of the
    conv layers, and Grad-CAM maps for the predicted and the true class. It also writes the epoch's
    loss and metrics (so curves exist without Keras' TensorBoard callback), the fraction of dead
    channels per layer and its own cost per epoch, as scalars. The writer is flushed at every epoch end,
    so a dashboard shows the epoch at once and a crash loses nothing already written.

    Args:
        log_dir: The run directory, the same as Keras' ``TensorBoard(log_dir)``.
        probe_images: ``[N, H, W, C]`` images, or an ``(x, y)`` tuple or ``tf.data.Dataset`` to pick
            class-balanced probes from. ``None``: picked from ``validation_data`` below or, failing
            that, from the validation data passed to ``fit``.
        probe_labels: ``[N]`` true classes of ``probe_images`` (enables the "true class" Grad-CAM).
        class_names: Names of the classes, shown by the viewer.
        validation_data: Where to pick probes from when ``probe_images`` is None.
        num_probes: How many probes to pick (default 4).
        layers: Layers for activation grids: names and/or layer classes. Default: every layer with a
            4-D output, nested models included.
        every_n_epochs: Write every n epochs (the first and the last epoch are always written).
        filter_patterns: Whether to write filter patterns.
        filter_every_n_epochs: Filter patterns cost the most; write them every n logged epochs
            (epoch 0 and the last epoch included).
        filter_layers: Layers for filter patterns (default every conv layer).
        max_filters: At most this many filters per layer (the first ones).
        filter_steps: Gradient-ascent steps (default: ``compute``'s).
        filter_parameterization: ``"fourier"`` (readable shapes and edges) or ``"pixel"`` (Chollet's
            pixel-space ascent); see ``tb_featureviz.compute.filters``.
        gradcam: Whether to write Grad-CAM.
        gradcam_layer: Grad-CAM target layer (default: the last 4-D layer before the head).
        log_metrics: Whether to write the epoch logs as ``epoch_*`` scalars.
        hparams: Hyper-parameters to record with the run (shown in exports).
        seed: Seed of the filter-pattern starting images.

    Example:
        >>> model.fit(train_ds, validation_data=val_ds, epochs=30, callbacks=[
        ...     keras.callbacks.TensorBoard(log_dir),
        ...     FeatureVizCallback(log_dir, class_names=["cat", "dog"]),
        ... ])
    """

    def __init__(
        self,
        log_dir: str | os.PathLike[str],
        probe_images: Any = None,
        *,
        probe_labels: Sequence[int] | np.ndarray | None = None,
        class_names: Sequence[str] | None = None,
        validation_data: Any = None,
        num_probes: int = 4,
        layers: Sequence[str | type] | None = None,
        every_n_epochs: int = 1,
        filter_patterns: bool = True,
        filter_every_n_epochs: int = 5,
        filter_layers: Sequence[str] | None = None,
        max_filters: int | None = 128,
        filter_steps: int | None = None,
        filter_parameterization: str = "fourier",
        gradcam: bool = True,
        gradcam_layer: str | None = None,
        log_metrics: bool = True,
        hparams: dict[str, Any] | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if not isinstance(log_dir, (str, os.PathLike)) or not str(log_dir):
            raise TypeError(f"log_dir must be a non-empty path. Received: log_dir={log_dir!r}")
        self.log_dir = os.fspath(log_dir)
        self.every_n_epochs = _positive_int("every_n_epochs", every_n_epochs)
        self.filter_every_n_epochs = _positive_int("filter_every_n_epochs", filter_every_n_epochs)
        self.num_probes = _positive_int("num_probes", num_probes)
        if max_filters is not None:
            max_filters = _positive_int("max_filters", max_filters)
        if filter_steps is not None:
            filter_steps = _positive_int("filter_steps", filter_steps)
        self.max_filters = max_filters
        self.filter_steps = filter_steps
        self.filter_parameterization = check_parameterization(filter_parameterization, "filter_parameterization")
        self.class_names = list(class_names) if class_names is not None else None
        if self.class_names is not None and not all(isinstance(c, str) for c in self.class_names):
            raise TypeError(f"class_names must be strings. Received: class_names={class_names!r}")
        self.layers = list(layers) if layers is not None else None
        self.filter_layers = list(filter_layers) if filter_layers is not None else None
        self.write_filters = bool(filter_patterns)
        self.write_gradcam = bool(gradcam)
        self.gradcam_layer = gradcam_layer
        self.log_metrics = bool(log_metrics)
        self.hparams = dict(hparams or {})
        self.seed = int(seed)
        self._validation_data = validation_data
        self._probe_source = probe_images
        self._probe_labels = None if probe_labels is None else _labels_to_int(np.asarray(probe_labels))
        self._probes: np.ndarray | None = None
        if probe_images is not None and not isinstance(probe_images, (tf.data.Dataset, tuple, list)):
            self._probes = np.asarray(probe_images, dtype=np.float32)
            if self._probes.ndim != 4:
                raise ValueError(f"probe_images must be [N, H, W, C]. Received shape {self._probes.shape}")
            if self._probe_labels is not None and self._probe_labels.shape[0] != self._probes.shape[0]:
                raise ValueError(
                    f"probe_labels has {self._probe_labels.shape[0]} entries for {self._probes.shape[0]} images."
                )
        self._writer: Any = None
        self._extractor: compute.ActivationExtractor | None = None
        self._gradcam: compute.GradCAM | None = None
        self._filter_gens: dict[str, compute.FilterPatternGenerator] = {}
        self._logged_any = False
        self._logged_epochs = 0

    # -- wiring -----------------------------------------------------------------------------------

    def set_model(self, model: keras.Model) -> None:
        """Validates the model and builds the feature extractors once."""
        super().set_model(model)
        self._extractor = compute.ActivationExtractor(model, layers=self.layers)
        if self.write_gradcam:
            self._gradcam = compute.GradCAM(model, layer=self.gradcam_layer)
        self._filter_gens = {}
        if self.write_filters:
            names = self.filter_layers if self.filter_layers is not None else compute.conv_layers(model)
            for name in names:
                filters = None
                if self.max_filters is not None:
                    n = _layer_channels(model, name)
                    filters = list(range(min(n, self.max_filters)))
                self._filter_gens[name] = compute.FilterPatternGenerator(
                    model,
                    name,
                    filters=filters,
                    steps=self.filter_steps,
                    seed=self.seed,
                    parameterization=self.filter_parameterization,
                )
        if self._probes is not None:
            self._probes = compute.validate_images(model, self._probes)

    @property
    def run_dir(self) -> str:
        """Where this callback writes: ``<log_dir>/featureviz``."""
        return os.path.join(self.log_dir, metadata.RUN_SUBDIR)

    def _get_writer(self) -> Any:
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(self.run_dir)
        return self._writer

    def _resolve_probes(self) -> None:
        if self._probes is not None:
            return
        source = self._probe_source if self._probe_source is not None else self._validation_data
        if source is None:
            # Keras 3 (TensorFlow backend) keeps the iterator over fit's validation_data here.
            iterator = getattr(self.model, "_eval_epoch_iterator", None)
            adapter = getattr(iterator, "data_adapter", None)
            if adapter is not None:
                source = adapter.get_tf_dataset()
        if source is None:
            raise ValueError(
                "FeatureVizCallback needs probe images: pass probe_images=..., validation_data=..., or "
                "validation_data to model.fit."
            )
        images, labels = select_probes(source, self.num_probes)
        self._probes = compute.validate_images(self.model, images)
        if self._probe_labels is None:
            self._probe_labels = labels

    # -- epoch hooks --------------------------------------------------------------------------------

    def _is_last_epoch(self, epoch: int) -> bool:
        epochs = (self.params or {}).get("epochs")
        return epochs is not None and epoch == int(epochs) - 1

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs = logs or {}
        writer = self._get_writer()
        with writer.as_default(step=epoch):
            if self.log_metrics:
                for key, value in logs.items():
                    if np.ndim(value) == 0:
                        tf.summary.scalar(f"epoch_{key}", float(value), step=epoch)
            if epoch % self.every_n_epochs == 0 or self._is_last_epoch(epoch) or not self._logged_any:
                self._write_featureviz(epoch)
        writer.flush()

    def _write_featureviz(self, epoch: int) -> None:
        assert self._extractor is not None
        self._resolve_probes()
        probes = self._probes
        assert probes is not None
        costs: dict[str, float] = {}
        if not self._logged_any:
            self._write_run_info(epoch)
            summary.probes(probes, epoch, labels=self._probe_labels, class_names=self.class_names)

        t0 = time.perf_counter()
        acts = self._extractor(probes)
        for name, a in acts.items():
            summary.activations(name, a, epoch)
            dead = dead_channels(a).size / a.shape[-1]
            tf.summary.scalar(f"health/dead_fraction/{name}", dead, step=epoch)
        costs["activations"] = time.perf_counter() - t0

        if self._gradcam is not None:
            t0 = time.perf_counter()
            self._write_gradcam(probes, epoch)
            costs["gradcam"] = time.perf_counter() - t0

        if self._filter_gens and (self._logged_epochs % self.filter_every_n_epochs == 0 or self._is_last_epoch(epoch)):
            t0 = time.perf_counter()
            for name, gen in self._filter_gens.items():
                patterns, reached = gen()
                summary.filter_patterns(name, patterns, epoch, filters=gen.filters, activation=reached)
            costs["filters"] = time.perf_counter() - t0

        for kind, seconds in costs.items():
            tf.summary.scalar(f"cost/{kind}_seconds", seconds, step=epoch)
        self._logged_any = True
        self._logged_epochs += 1

    def _write_gradcam(self, probes: np.ndarray, epoch: int) -> None:
        assert self._gradcam is not None
        cam = self._gradcam
        probs = cam.class_probabilities(probes)
        predicted = np.argmax(probs, axis=1)
        targets = [predicted]
        names = ["predicted"]
        if self._probe_labels is not None:
            targets.append(self._probe_labels)
            names.append("true")
        heat = np.stack([cam(probes, class_index=[int(c) for c in t]) for t in targets], axis=1)
        summary.gradcam(
            cam.layer_name,
            probes,
            heat,
            epoch,
            target_classes=np.stack(targets, axis=1),
            probabilities=probs,
            labels=self._probe_labels,
            target_names=names,
            class_names=self.class_names,
        )

    def _write_run_info(self, epoch: int) -> None:
        lines: list[str] = []
        try:
            self.model.summary(print_fn=lambda line, *a, **k: lines.append(line))
        except Exception:  # a summary is nice to have; never fail training over it
            logger.debug("model.summary() failed", exc_info=True)
        optimizer = getattr(self.model, "optimizer", None)
        opt_config: dict[str, Any] = {}
        if optimizer is not None:
            try:
                for k, v in optimizer.get_config().items():
                    if isinstance(v, (int, float, str, bool)) or v is None:
                        opt_config[k] = v
                opt_config["class"] = type(optimizer).__name__
            except Exception:
                logger.debug("optimizer.get_config() failed", exc_info=True)
        info = {
            "model": self.model.name,
            "summary": "\n".join(lines),
            "params": int(self.model.count_params()),
            "input_shape": [None if d is None else int(d) for d in self.model.inputs[0].shape],
            "optimizer": opt_config,
            "hparams": self.hparams,
            "params_fit": {k: v for k, v in (self.params or {}).items() if isinstance(v, (int, float, str))},
            "class_names": self.class_names,
            "layers": list(self._extractor.layer_names) if self._extractor else [],
            "first_epoch": epoch,
            "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        }
        summary.run_info(info, epoch)

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
