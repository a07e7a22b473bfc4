"""``FeatureVizCallback``: activation grids, filter patterns and Grad-CAM at epoch ends, within a budget."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import keras
import numpy as np
import numpy.typing as npt

from tb_featureviz import metadata
from tb_featureviz.compute.backend import Tensor
from tb_featureviz.metadata import Record
from tb_featureviz.sidecar.watch import SOURCE_SUBDIR, write_probes_file
from tb_featureviz.validation import positive_int
from tb_featureviz.writer.distributed import is_chief
from tb_featureviz.writer.options import DEFAULT_MAX_BYTES, DEFAULT_MAX_GRID_PIXELS, WriterOptions
from tb_featureviz.writer.planner import Budget
from tb_featureviz.writer.probes import (
    check_probe_array,
    check_probe_boxes,
    fit_validation_data,
    labels_to_int,
    select_probes,
)
from tb_featureviz.writer.visualizer import Visualizer

if TYPE_CHECKING:
    import tensorflow as tf

logger = logging.getLogger(__name__)

__all__ = ["FeatureVizCallback", "select_probes"]


class FeatureVizCallback(keras.callbacks.Callback):
    """Writes what a CNN learns, at epoch ends, for the featureviz TensorBoard plugin, within a budget.

    For fixed probe images it writes, under ``<log_dir>/featureviz`` with ``step`` = epoch: activation
    grids, filter patterns (gradient ascent in input space) and Grad-CAM maps for the predicted and the
    true class, plus the epoch's loss and metrics (so curves exist without Keras' TensorBoard callback),
    dead-channel fractions, its own cost, and a ``plan`` record of what it drew and why.

    **Cost.** The callback's own time on the training thread stays within ``budget`` (a fraction of the
    training time so far; cumulative, so a dear epoch is paid back by cheap ones). A planner
    (``tb_featureviz.writer.planner``) picks what fits from the costs it measures: by default one layer per
    resolution stage (about 5 for ResNet50, all 8 for the tutorial CNN), Grad-CAM and those activations
    at every logged epoch, and filter patterns when the budget has room, rotating through the filters of
    each layer. Rendering and writing run on a background thread. Grids past ``max_grid_pixels`` are
    reduced (smaller tiles, then the most variable channels), so an epoch writes well under 1 MB.
    To take all the work off the training machine, save checkpoints and run ``featureviz watch``.

    **Distributed.** Under a multi-worker strategy only the chief writes; other workers do nothing.

    Args:
        log_dir: The run directory, the same as Keras' ``TensorBoard(log_dir)``.
        probe_images: ``[N, H, W, C]`` images, or an ``(x, y)`` tuple or ``tf.data.Dataset`` to pick
            class-balanced probes from. ``None``: picked from ``validation_data`` below or, failing
            that, from the validation data passed to ``fit``.
        probe_labels: ``[N]`` true classes of ``probe_images`` (enables the "true class" Grad-CAM).
        probe_boxes: ``[N, 4]`` object boxes ``(x0, y0, x1, y1)`` in pixels of ``probe_images`` (enables
            the pointing game).
        class_names: Names of the classes, shown by the viewer.
        validation_data: Where to pick probes from when ``probe_images`` is None.
        num_probes: How many probes to pick (default 4).
        budget: Fraction of training time the callback may use on the training thread (default 0.05).
            ``None`` for no limit.
        budget_seconds: Instead of ``budget``: seconds per logged epoch.
        visualize: False to write only the curves, the probes and the run info, to
            ``<log_dir>/featureviz-source``, for ``featureviz watch`` to draw the rest from checkpoints
            (``tb_featureviz.sidecar.watch``): no visualisation work on the training machine at all.
        layers: Layers for activation grids: names and/or layer classes. Default: one per resolution
            stage, more as the budget allows.
        every_n_epochs: Write every n epochs (the first and the last epoch are always written).
        filter_patterns: Whether to write filter patterns.
        filter_every_n_epochs: Filter patterns at most every n logged epochs (the planner may skip more).
        filter_layers: Layers for filter patterns (default: one per resolution stage, its last conv or
            activation layer).
        max_filters: Filters per pass of a layer; a wider layer is drawn in rotating windows of this many,
            after 16 fixed filters drawn at every pass.
        filter_steps: Gradient-ascent steps (default: ``compute``'s).
        filter_parameterization: ``"fourier"`` (readable shapes and edges) or ``"pixel"`` (Chollet's
            pixel-space ascent); see ``tb_featureviz.compute.filters``.
        gradcam: Whether to write Grad-CAM.
        gradcam_layer: Grad-CAM target layer (default: the last 4-D layer before the head).
        gradcam_overlays: Also store ready-made overlays (the viewer composes them from the heatmap and
            the probe image otherwise; each is an RGB image at input size).
        faithfulness: Whether to measure the Grad-CAM maps: deletion and insertion AUC, the pointing game,
            the model-randomisation check and drift (``tb_featureviz.compute.faithfulness``), as scalars
            under ``faithfulness/`` and ``sanity/``, when the budget has room.
        exemplars: Natural exemplars kept per channel of each drawn layer: the images of a fixed validation
            sample where the channel responds most, and where (``tb_featureviz.compute.exemplars``); 0 for
            none. Drawn when the budget has room.
        exemplar_images: How many validation images that sample holds (class-balanced, picked once).
        max_grid_pixels: Pixels of one grid before it is reduced; ``None`` writes full resolution.
        max_bytes_per_epoch: Bytes an epoch may write when the planner adds layers beyond the stages.
        log_metrics: Whether to write the epoch logs as ``epoch_*`` scalars.
        hparams: Hyper-parameters to record with the run (shown in exports).
        seed: Seed of the filter-pattern starting images and of the fixed filter subsets.
        input_range: ``(low, high)`` of the model's input pixels, e.g. ``(0, 255)``. By default featureviz
            learns it from ``Rescaling``/``Normalization`` layers at the model's start, else from the probe
            images' values. Filter patterns are optimised in that space and every picture is shown through it.
        preprocess: Instead of ``input_range``, the preprocessing your pipeline does outside the model:
            ``"caffe"``, ``"tf"`` or ``"torch"`` (``keras.applications``' styles), or the function itself, from
            RGB in [0, 255] to model input (``keras.applications.resnet50.preprocess_input``, say). It must be a
            per-channel affine map (every ``keras.applications`` style is).
        deprocess: With a callable ``preprocess``, its inverse; checked against it.

    Raises:
        TypeError, ValueError: a bad argument (the message names it and the value received).

    Example:
        >>> model.fit(train_ds, validation_data=val_ds, epochs=30, callbacks=[
        ...     keras.callbacks.TensorBoard(log_dir),
        ...     FeatureVizCallback(log_dir, class_names=["cat", "dog"]),
        ... ])
    """

    def __init__(
        self,
        log_dir: str | os.PathLike[str],
        probe_images: npt.ArrayLike | tf.data.Dataset | None = None,
        *,
        probe_labels: Sequence[int] | np.ndarray | None = None,
        probe_boxes: Sequence[Sequence[int]] | np.ndarray | None = None,
        class_names: Sequence[str] | None = None,
        validation_data: npt.ArrayLike | tf.data.Dataset | None = None,
        num_probes: int = 4,
        budget: float | None = 0.05,
        budget_seconds: float | None = None,
        visualize: bool = True,
        layers: Sequence[str | type] | None = None,
        every_n_epochs: int = 1,
        filter_patterns: bool = True,
        filter_every_n_epochs: int = 1,
        filter_layers: Sequence[str] | None = None,
        max_filters: int = 128,
        filter_steps: int | None = None,
        filter_parameterization: str = "fourier",
        gradcam: bool = True,
        gradcam_layer: str | None = None,
        gradcam_overlays: bool = False,
        faithfulness: bool = True,
        exemplars: int = 5,
        exemplar_images: int = 32,
        max_grid_pixels: int | None = DEFAULT_MAX_GRID_PIXELS,
        max_bytes_per_epoch: int | None = DEFAULT_MAX_BYTES,
        log_metrics: bool = True,
        hparams: Record | None = None,
        seed: int = 0,
        input_range: tuple[float, float] | None = None,
        preprocess: str | Callable[[Tensor], Tensor] | None = None,
        deprocess: Callable[[Tensor], Tensor] | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(log_dir, (str, os.PathLike)) or not str(log_dir):
            raise TypeError(f"log_dir must be a non-empty path. Received: log_dir={log_dir!r}")
        self.log_dir = os.fspath(log_dir)
        self.every_n_epochs = positive_int("every_n_epochs", every_n_epochs)
        self.num_probes = positive_int("num_probes", num_probes)
        self.exemplar_images = positive_int("exemplar_images", exemplar_images)
        # Every WriterOptions field is a keyword argument of the same name (tests/test_writer_options.py).
        self.options = WriterOptions.from_arguments(locals(), budget=Budget.from_args(budget, budget_seconds))
        self.class_names = self.options.class_names
        self.visualize = bool(visualize)
        self._validation_data = validation_data
        self._probe_source = probe_images
        self._probe_labels = None if probe_labels is None else labels_to_int(np.asarray(probe_labels))
        self._probes = check_probe_array(probe_images, self._probe_labels)
        self._probe_boxes = check_probe_boxes(probe_boxes, self._probes)
        self._viz: Visualizer | None = None
        self._chief = True
        self._epoch_start: float | None = None
        self._pending_train = 0.0
        self._logged_any = False
        self._sample_tried = False
        self.hook_seconds = 0.0
        """Seconds spent in this callback's hooks on the training thread."""
        self.writer_seconds = 0.0
        """CPU seconds of the background writer while training ran (up to ``on_train_end``, whose wait for the
        writer is in ``hook_seconds``)."""

    # -- wiring -----------------------------------------------------------------------------------

    @property
    def run_dir(self) -> str:
        """Where this callback writes: ``<log_dir>/featureviz``, or ``<log_dir>/featureviz-source`` with
        ``visualize=False`` (read by ``featureviz watch``, which writes ``<log_dir>/featureviz``)."""
        return os.path.join(self.log_dir, metadata.RUN_SUBDIR if self.visualize else SOURCE_SUBDIR)

    @property
    def plan(self) -> Record | None:
        """The ``plan`` record of the last logged epoch (what was drawn and why), or None."""
        return self._viz._last_plan if self._viz is not None else None

    @property
    def written_epochs(self) -> list[int]:
        """Epochs whose summaries are flushed to disk, in order."""
        return list(self._viz.worker.written) if self._viz is not None else []

    def flush(self, timeout: float | None = None) -> bool:
        """Waits until every queued epoch is on disk. Returns False if ``timeout`` seconds passed first."""
        return self._viz.worker.drain(timeout) if self._viz is not None else True

    def set_model(self, model: keras.Model) -> None:
        """Checks the model, the layers and the probes. Cheap: functions are traced at their first call, and
        filter-pattern generators are built at their layer's first pass."""
        t0 = time.perf_counter()
        super().set_model(model)
        self._chief = is_chief(model)
        if not self._chief:
            logger.info("featureviz: not the chief worker; this worker writes nothing.")
            return
        if self._viz is None:
            self._viz = Visualizer(self.run_dir, self.options)
        self._viz.bind(model)
        if self._probes is not None:
            self._viz.set_probes(self._probes, self._probe_labels, self._probe_boxes)
        self._count(time.perf_counter() - t0)

    def _count(self, seconds: float) -> None:
        """Counts hook time outside ``Visualizer.visualize`` (which counts its own) in ``hook_seconds`` and the
        budget."""
        self.hook_seconds += seconds
        if self._viz is not None:
            self._viz.add_overhead(seconds)

    def _resolve_probes(self) -> None:
        assert self._viz is not None
        if self._viz.probes is not None:
            return
        source = self._probe_source if self._probe_source is not None else self._validation_data
        if source is None:
            source = fit_validation_data(self.model)
        if source is None:
            raise ValueError(
                "FeatureVizCallback needs probe images: pass probe_images=..., validation_data=..., or "
                "validation_data to model.fit."
            )
        images, labels = select_probes(source, self.num_probes)
        self._viz.set_probes(images, self._probe_labels if self._probe_labels is not None else labels)

    def _resolve_sample(self) -> None:
        """The exemplars' image sample (once): from the validation data, else the probe source."""
        assert self._viz is not None
        if not self.options.exemplars or self._sample_tried:
            return
        self._sample_tried = True
        source = self._validation_data if self._validation_data is not None else fit_validation_data(self.model)
        source = source if source is not None else self._probe_source
        if source is None:
            return
        try:
            self._viz.set_sample(*select_probes(source, self.exemplar_images))
        except ValueError as e:  # not usable as a sample: no exemplars, training goes on
            logger.warning("featureviz: no exemplar sample: %s", e)

    # -- epoch hooks --------------------------------------------------------------------------------

    def _is_last_epoch(self, epoch: int) -> bool:
        epochs = (self.params or {}).get("epochs")
        return epochs is not None and epoch == int(epochs) - 1

    def on_train_begin(self, logs: Record | None = None) -> None:
        if self._chief and self._viz is not None and self.visualize:
            self._viz.start_warm_up()

    def on_epoch_begin(self, epoch: int, logs: Record | None = None) -> None:
        self._epoch_start = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: Record | None = None) -> None:
        if not self._chief or self._viz is None:
            return
        t0 = time.perf_counter()
        if self._epoch_start is not None:
            self._pending_train += t0 - self._epoch_start
        self._epoch_start = None
        last = self._is_last_epoch(epoch)
        if not (epoch % self.every_n_epochs == 0 or last or not self._logged_any):
            self._viz.write_metrics(epoch, logs)
            self._count(time.perf_counter() - t0)
            return
        self._resolve_probes()  # a clear error if there are none: that is a usage error, raised
        self._resolve_sample()
        viz = self._viz
        if not self.visualize and not self._logged_any and viz.probes is not None:
            sample = viz.exemplars
            write_probes_file(
                self.run_dir,
                viz.probes,
                viz.labels,
                self.options.class_names,
                viz.boxes,
                sample=None if sample is None else sample.sample,
                sample_labels=None if sample is None else sample.labels,
            )
        t_visualize = time.perf_counter()
        self._count(t_visualize - t0)  # choosing the probes and the sample: before the plan, which counts it
        try:
            self._viz.visualize(
                epoch,
                train_seconds=self._pending_train,
                logs=logs,
                epochs=(self.params or {}).get("epochs"),
                last=last,
                params_fit=self.params,
                visualize=self.visualize,
            )
        except Exception:
            # The callback never stops a training run over its own output.
            logger.warning("featureviz: epoch %d could not be visualised", epoch, exc_info=True)
        self._pending_train = 0.0
        self._logged_any = True
        self.hook_seconds += time.perf_counter() - t_visualize

    def on_train_end(self, logs: Record | None = None) -> None:
        """Writes everything still queued and closes the event file."""
        if self._viz is not None:
            self.writer_seconds = self._viz.worker.cpu_seconds
            t0 = time.perf_counter()
            self._viz.close()
            self.hook_seconds += time.perf_counter() - t0
