"""The orchestrator behind the callback and ``featureviz watch``: plan, compute, hand off to the writer.

``Visualizer.visualize(epoch, ...)`` asks the planner (``tb_featureviz.writer.planner``) what fits, computes it with
``tb_featureviz.compute`` on the calling thread (it needs the model's current weights), and queues the
rendering and writing on a ``SummaryWorker``. Everything is built lazily: the activation extractor and
Grad-CAM at the first epoch, each layer's filter-pattern generator at its first pass.

The callback drives it from ``on_epoch_end`` with the user's budget; ``featureviz watch`` from checkpoints
with an unlimited one. For the same weights, probes and options both write the same summaries.
"""

from __future__ import annotations

import functools
import logging
import math
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import keras
import numpy as np
import tensorflow as tf

from tb_featureviz import compute, kinds, metadata, render, summary
from tb_featureviz.compute.backend import Tensor
from tb_featureviz.compute.exemplars import top_exemplars
from tb_featureviz.compute.faithfulness import COST_IN_GRADCAMS
from tb_featureviz.compute.filters import DEFAULT_STEPS, default_size
from tb_featureviz.kinds.base import resolve
from tb_featureviz.metadata import Record
from tb_featureviz.writer.options import WriterOptions
from tb_featureviz.writer.planner import ChecksWork, CoreTimes, EpochPlan, LayerInfo, Planner, layer_infos
from tb_featureviz.writer.probes import run_facts
from tb_featureviz.writer.tasks import ChecksTask, ExemplarsTask, ExtraTask, FilterTask, Write
from tb_featureviz.writer.worker import SummaryWorker

logger = logging.getLogger(__name__)

Logs = Mapping[str, float | Tensor]
"""An epoch's metrics as Keras hands them to callbacks: Python floats or backend scalars."""

__all__ = ["Visualizer"]


def _thread_cpu(thread: threading.Thread) -> float | None:
    """The CPU clock of another running thread (its ``time.thread_time()``), where the platform tells it."""
    try:
        return time.clock_gettime(time.pthread_getcpuclockid(thread.ident or 0))
    except (AttributeError, OSError, ValueError):
        return None


@dataclass
class _Epoch:
    """One ``visualize`` call as it goes: the epoch, what it queues and what each task cost.

    Attributes:
        step: The epoch index (the summaries' step).
        epochs: Epochs in the run, if known.
        last: Whether this is the last epoch.
        first: Whether this is the first epoch visualised.
        started: ``time.perf_counter()`` at the start of the call.
        writes: The writes to queue.
        costs: Seconds each task took (``activations``, ``gradcam``, ``metrics``, ``exemplars``,
            ``filters/<layer>``).
        pixels: Pixels of the grids and patterns queued.
    """

    step: int
    epochs: int | None
    last: bool
    first: bool
    started: float
    writes: list[Write] = field(default_factory=list)
    costs: dict[str, float] = field(default_factory=dict)
    pixels: int = 0


class Visualizer:
    """Plans, computes and queues one epoch of featureviz summaries.

    Args:
        run_dir: Where the summaries go (``<log_dir>/featureviz``).
        options: What to draw.

    Attributes:
        planner: The planner, once the model is known (after the first ``visualize``).
        worker: The writer worker.
        exemplars: The exemplars task, once an image sample is set (``set_sample``).
    """

    def __init__(self, run_dir: str, options: WriterOptions, *, input_space: compute.InputSpace | None = None) -> None:
        self.run_dir = run_dir
        self.options = options
        self._declared_space = input_space
        self.input_space: compute.InputSpace | None = input_space
        """The model's input space (see ``compute.input_space``), known once the probes are set."""
        self.worker = SummaryWorker(run_dir)
        self.planner: Planner | None = None
        self.model: keras.Model | None = None
        self.probes: np.ndarray | None = None
        self.labels: np.ndarray | None = None
        self.boxes: np.ndarray | None = None
        self._checks: ChecksTask | None = None
        self._kind_tasks: list[ExtraTask] = []
        self.exemplars: ExemplarsTask | None = None
        self._predicted: tuple[np.ndarray, np.ndarray] | None = None
        self._extractor: compute.ActivationExtractor | None = None
        self._gradcam: compute.GradCAM | None = None
        self._filter_task: FilterTask | None = None
        self._grids: dict[str, tuple[list[int] | None, int]] = {}
        self._infos: dict[str, LayerInfo] = {}
        self._logged = 0
        self._pixels_written: dict[int, int] = {}
        self._last_plan: Record | None = None
        self._warned_nonfinite = False
        self._warm_up: threading.Thread | None = None
        self._warm_up_cpu: tuple[float, float] = (0.0, 0.0)  # the warm-up thread's CPU clock at its start, its end
        self._warm_up_charged = False
        self._writer_charged = 0.0  # the writer's CPU seconds already counted against the budget
        self._forward_seconds: float | None = None  # the probes' forward pass (class probabilities), steady
        self._cam_call: float | None = None  # one steady Grad-CAM call on the probes
        self._warned_core = False
        self._input_shape: tuple[int | None, ...] = ()
        self._probe_acts: dict[str, np.ndarray] | None = None
        self._reduction_seconds: float | None = None  # the exemplars' top-k reduction over the probes' activations

    # -- wiring -----------------------------------------------------------------------------------

    def bind(self, model: keras.Model) -> None:
        """Takes the model; checks it is supported (cheap: nothing is built until the first epoch)."""
        input_shape = compute.check_model(model)
        if model is self.model and self.planner is not None:
            return  # a second fit() of the same model: keep the plan, the costs and the rotation
        self.model = model
        self._input_shape = input_shape
        self._extractor = None
        self._gradcam = None
        self._checks = None
        self.exemplars = None
        self._filter_task = None
        self._grids = {}
        self.planner = None
        self._warm_up = None
        self._warm_up_charged = False
        self._build()

    def set_sample(self, images: np.ndarray, labels: np.ndarray | None) -> None:
        """Sets the fixed image sample the channels' exemplars are drawn from (``options.exemplars > 0``); from
        then on the planner counts the exemplars among its extras."""
        assert self.model is not None and self.planner is not None
        if self.options.exemplars:
            sample = compute.validate_images(self.model, images)
            self.exemplars = ExemplarsTask(
                sample,
                labels,
                k=self.options.exemplars,
                receptive_fields={n: i.rf for n, i in self._infos.items()},
                shown=self.display(sample),
            )
            if "exemplars" not in self.planner.extras:
                self.planner.extras.append("exemplars")

    def set_probes(self, images: np.ndarray, labels: np.ndarray | None, boxes: np.ndarray | None = None) -> None:
        """Sets the probe images (validated against the model), their labels and their object boxes."""
        assert self.model is not None
        self.probes = compute.validate_images(self.model, images)
        self.labels = labels
        self.boxes = boxes
        opts = self.options
        channels = int(self.probes.shape[-1])
        if self._declared_space is not None and self._declared_space.channels != channels:
            raise ValueError(
                f"The recorded input space has {self._declared_space.channels} channels; the model takes "
                f"{channels}. Received: input_space={self._declared_space!r}"
            )
        self.input_space = self._declared_space or compute.resolve_input_space(
            self.model,
            input_range=opts.input_range,
            preprocess=opts.preprocess,
            deprocess=opts.deprocess,
            probes=self.probes,
        )

    def display(self, images: np.ndarray) -> np.ndarray:
        """Model inputs as displayable RGB in [0, 1] (through the input space; as they are before it is known)."""
        return images if self.input_space is None else self.input_space.to_display(images)

    def _build(self) -> None:
        assert self.model is not None
        model = self.model
        hw = self._input_shape[:2]
        input_hw = (int(hw[0]), int(hw[1])) if hw[0] and hw[1] else None
        infos = layer_infos(compute.layer_table(model), lambda rf: default_size(rf, input_hw))
        self._infos = {i.name: i for i in infos}
        opts = self.options
        if opts.gradcam:
            self._gradcam = compute.GradCAM(model, layer=opts.gradcam_layer)
            if opts.faithfulness:
                self._checks = ChecksTask(self._gradcam, seed=opts.seed)
        self.planner = Planner.for_layers(
            infos,
            opts.budget,
            gradcam_layer=self._gradcam.layer_name if self._gradcam is not None else None,
            activation_layers=compute.select_layers(model, opts.layers) if opts.layers is not None else None,
            filter_layers=self._filter_layers(model),
            input_hw=input_hw,
            measures=self._checks is not None,
            window=opts.max_filters,
            max_bytes=opts.max_bytes_per_epoch,
            seed=opts.seed,
            steps=opts.filter_steps or DEFAULT_STEPS,
        )
        self._extractor = compute.ActivationExtractor(model, layers=self.planner.activation_layers)
        self._filter_task = FilterTask(model, opts)
        self._kind_tasks = self._registered_tasks()
        self.planner.extras.extend(t.name for t in self._kind_tasks if t.name not in self.planner.extras)

    def _registered_tasks(self) -> list[ExtraTask]:
        """The writer tasks the registry's kinds declare (``Kind.writer_task``) that run with these options."""
        tasks = []
        for kind in kinds.REGISTRY.values():
            if kind.writer_task is not None:
                task = resolve(kind.writer_task)(self)
                if task is not None:
                    tasks.append(task)
        return tasks

    def _filter_layers(self, model: keras.Model) -> list[str] | None:
        """The user's filter-pattern layers, none when off (or unsupported on this backend), ``None`` for the
        default."""
        opts = self.options
        if not opts.filter_patterns or compute.backend.unsupported("filter patterns", "filter_patterns=False"):
            return []
        if opts.filter_layers is not None:
            return compute.select_layers(model, opts.filter_layers)
        return None

    # -- warm-up -----------------------------------------------------------------------------------

    def start_warm_up(self) -> None:
        """Traces the activation and Grad-CAM functions on a background thread, while the first epoch trains.

        Tracing is most of the first epoch's cost (seconds for an EfficientNet); done here, it leaves the
        training thread, but it runs on the same cores: the first ``visualize`` waits for it and counts its
        CPU time against the budget. Only the first epoch's core is traced (activations and Grad-CAM): the
        Grad-CAM measures and filter patterns are traced at the first epoch that plans them, as part of their
        measured cost. Models with an unknown input size are traced at their first epoch instead.
        """
        if self._warm_up is not None or self.model is None or None in self._input_shape:
            return
        if not compute.backend.compiles():  # PyTorch: nothing to trace
            return
        self._warm_up = threading.Thread(target=self._trace, name="featureviz-warm-up", daemon=True)
        self._warm_up.start()

    def join_warm_up(self) -> float:
        """Waits for the warm-up. Returns, the first time, its CPU seconds before the wait (while the caller
        waits, its own clock counts the time), else 0."""
        thread = self._warm_up
        if thread is None or self._warm_up_charged:
            return 0.0
        running = _thread_cpu(thread) if thread.is_alive() else None
        thread.join()
        self._warm_up_charged = True
        start, end = self._warm_up_cpu
        return max(0.0, (end if running is None else min(running, end)) - start)

    def _trace(self) -> None:
        start = time.thread_time()
        self._warm_up_cpu = (start, start)
        try:
            self._trace_functions()
        finally:
            self._warm_up_cpu = (start, time.thread_time())

    def _trace_functions(self) -> None:
        assert self.model is not None and self._extractor is not None
        try:
            x = np.zeros((1, *(int(d or 1) for d in self._input_shape)), np.float32)
            self._extractor(x)
            if self._gradcam is not None:
                self._gradcam.class_probabilities(x)
                t0 = time.perf_counter()
                self._gradcam(x, class_index=[0])
                if self.planner is not None:
                    self.planner.trace_seconds = time.perf_counter() - t0
        except Exception:  # the first epoch traces them instead
            logger.debug("featureviz: warm-up failed", exc_info=True)

    @property
    def activation_layers(self) -> list[str]:
        return list(self._extractor.layer_names) if self._extractor is not None else []

    # -- one epoch ------------------------------------------------------------------------------------

    def visualize(
        self,
        epoch: int,
        *,
        train_seconds: float,
        logs: Logs | None = None,
        epochs: int | None = None,
        last: bool = False,
        params_fit: Mapping[str, object] | None = None,
        visualize: bool = True,
    ) -> Record:
        """Plans and computes this epoch's summaries and queues them for writing.

        Args:
            epoch: The epoch index (the step).
            train_seconds: Training seconds since the last call (without this callback's time).
            logs: The epoch's metrics, written as ``epoch_<name>`` scalars if ``log_metrics``.
            epochs: Epochs in the run, if known.
            last: Whether this is the last epoch.
            params_fit: Keras' ``callback.params``, recorded in ``run_info``.
            visualize: False to write only the curves, and at the first call the probes and run info
                (``featureviz watch`` draws the rest from checkpoints).

        Returns:
            The ``plan`` record written for this epoch (``{}`` when not visualising).
        """
        started = time.perf_counter()
        assert self.model is not None and self.probes is not None
        warm_up = self.join_warm_up()
        if not visualize:
            return self._curves_only(epoch, logs, params_fit)
        now = _Epoch(epoch, epochs, last, first=self._logged == 0, started=started)
        planner = self._open_epoch(now, warm_up)
        layers, dropped = planner.core_activations(train_seconds, last=last)
        now.writes += self._first_writes(epoch, params_fit) if now.first else []
        now.writes += self._metric_writes(epoch, logs)
        self._core(now, layers)
        plan = self._plan(now, train_seconds, layers)
        plan.skipped.update(dropped)
        setup = self._extras(now, plan)
        self._filter_passes(now, plan)
        planner.record(plan, now.costs, setup=setup)
        self._pixels_written[epoch] = now.pixels
        now.writes += self._cost_writes(now, plan)
        return self._close_epoch(now, plan)

    def _open_epoch(self, now: _Epoch, warm_up: float) -> Planner:
        """Counts the warm-up's and the writer's CPU time against the budget; after the first epoch, grows the
        layer set while bytes and time allow."""
        planner = self.planner
        assert planner is not None and self._extractor is not None
        planner.add_warm_up(warm_up)
        self._charge_writer()
        if not now.first:
            self._maybe_grow()
        return planner

    def _core(self, now: _Epoch, layers: Sequence[str]) -> None:
        """The work of every logged epoch, timed: the activation grids of ``layers``, then Grad-CAM."""
        t0 = time.perf_counter()
        now.pixels += self._activations(now.step, now.writes, layers)
        now.costs["activations"] = time.perf_counter() - t0
        if self._gradcam is not None:
            t0 = time.perf_counter()
            self._write_gradcam(now.step, now.writes)
            now.costs["gradcam"] = time.perf_counter() - t0

    def _plan(self, now: _Epoch, train_seconds: float, layers: Sequence[str]) -> EpochPlan:
        """The planner's plan for the epoch, from what its core measured and the extras' priors."""
        planner = self.planner
        assert planner is not None and self.probes is not None
        planner.measure(now.costs)
        core = CoreTimes(gradcam=now.costs.get("gradcam"), forward=self._forward_seconds, cam_call=self._cam_call)
        measures = None
        if self._checks is not None:
            measures = ChecksWork.of(self._checks.checks, len(self.probes), in_gradcams=COST_IN_GRADCAMS)
        exemplars = None
        if self.exemplars is not None:
            exemplars = functools.partial(self._exemplars_prior, now.costs["activations"])
        planner.price_extras(core, measures, exemplars)
        for task in self._kind_tasks:
            if task.name not in planner.costs:
                planner.priors[task.name] = task.prior(self, now.costs)
        allow_filters = self._logged % self.options.filter_every_n_epochs == 0 or now.last
        return planner.plan(
            now.step, now.epochs, train_seconds, last=now.last, allow_filters=allow_filters, activations=layers
        )

    def _extras(self, now: _Epoch, plan: EpochPlan) -> dict[str, float]:
        """Draws the extras that ``plan`` chose, timed. Returns the seconds of their one-off setup."""
        assert self.probes is not None and self._extractor is not None
        setup: dict[str, float] = {}
        if metadata.CHECKS_TASK in plan.extras and self._checks is not None and self._predicted is not None:
            t0 = time.perf_counter()
            classes, maps = self._predicted
            light = plan.checks == "light"
            now.writes += self._checks(now.step, self.probes, maps, classes, self.boxes, light=light)
            now.costs[metadata.CHECKS_TASK] = time.perf_counter() - t0
            setup[metadata.CHECKS_TASK] = self._checks.checks.setup_seconds
        if "exemplars" in plan.extras and self.exemplars is not None:
            t0 = time.perf_counter()
            channels = {layer: self._grids[layer][0] for layer in self._extractor.layer_names}
            now.writes += self.exemplars(now.step, self._extractor, channels)
            now.costs["exemplars"] = time.perf_counter() - t0
        for task in self._kind_tasks:
            if task.name in plan.extras:
                t0 = time.perf_counter()
                now.writes += task(self, now.step)
                now.costs[task.name] = time.perf_counter() - t0
        return setup

    def _filter_passes(self, now: _Epoch, plan: EpochPlan) -> None:
        """Draws the filter passes that ``plan`` chose, timed; a layer whose pass fails is dropped."""
        assert self.planner is not None
        for layer, filters in list(plan.filters.items()):
            t0 = time.perf_counter()
            try:
                now.pixels += self._filters(layer, filters, plan, now.step, now.writes)
            except Exception as e:  # one layer's patterns failing must not cost the epoch its other summaries
                logger.warning("featureviz: no filter patterns for layer %r: %s. Dropping the layer.", layer, e)
                logger.debug("filter patterns of %r failed", layer, exc_info=True)
                self.planner.drop_filters(plan, layer, f"failed: {type(e).__name__}")
            now.costs[metadata.tag_for("filters", layer)] = time.perf_counter() - t0

    def _cost_writes(self, now: _Epoch, plan: EpochPlan) -> list[Write]:
        """The ``cost/<kind>_seconds`` scalars of the kinds drawn."""
        costs = now.costs
        filter_total = sum(v for k, v in costs.items() if k.startswith(metadata.TAG_PREFIX["filters"]))
        return [
            functools.partial(tf.summary.scalar, metadata.cost_tag(kind), seconds, step=now.step)
            for kind, seconds in (
                ("activations", costs["activations"]),
                ("gradcam", costs.get("gradcam")),
                (metadata.CHECKS_TASK, costs.get(metadata.CHECKS_TASK)),
                ("exemplars", costs.get("exemplars")),
                *((t.name, costs.get(t.name)) for t in self._kind_tasks),
                ("filters", filter_total if plan.filters else None),
            )
            if seconds is not None
        ]

    def _close_epoch(self, now: _Epoch, plan: EpochPlan) -> Record:
        """Counts the hook's time outside its tasks, queues the epoch's writes with its ``plan`` record (counting
        the wait), and returns the record."""
        planner = self.planner
        assert planner is not None
        elapsed = time.perf_counter() - now.started
        planner.add_overhead(elapsed - sum(now.costs.values()))
        record = self._plan_record(plan, now.costs, elapsed)
        now.writes.append(functools.partial(summary.plan, record, now.step))
        now.writes.append(functools.partial(tf.summary.scalar, metadata.cost_tag("callback"), elapsed, step=now.step))
        wait = self.worker.submit(now.step, now.writes)
        planner.add_overhead(wait)
        self._logged += 1
        if now.first:
            self._warn_core(now.epochs)
        self._last_plan = record
        return record

    def _charge_writer(self) -> None:
        """Counts the writer thread's CPU time since the last call against the budget."""
        assert self.planner is not None
        cpu = self.worker.cpu_seconds
        self.planner.add_writer(cpu - self._writer_charged)
        self._writer_charged = cpu

    def _warn_core(self, epochs: int | None) -> None:
        """After the first epoch: says once, with numbers, when the run is too short for its budget to pay even
        for the core (the first epoch with its warm-up, then activations and Grad-CAM at every epoch)."""
        planner = self.planner
        assert planner is not None
        if self._warned_core or planner.budget.unlimited:
            return
        outlook = planner.core_outlook(epochs) if epochs else None
        fraction = planner.budget.fraction
        if outlook is None:
            over = planner.spent > planner.budget.allowed(planner.train_seconds, 1)
            if not over:
                return
            need, allowed = planner.spent, planner.budget.allowed(planner.train_seconds, 1)
        else:
            need, allowed = outlook
            slack = 0.01 * allowed / fraction if fraction else 0.0  # the budget plus 1 point
            if need <= allowed + slack:
                return
        self._warned_core = True
        logger.warning(
            "featureviz: this run is too short for its budget: the first epoch cost %.2f s (%.2f s of it the "
            "background warm-up's CPU), and the core (activations and Grad-CAM, %.2f s an epoch) comes to about "
            "%.2f s over the run, against %.2f s allowed. Later epochs draw only %s until the run has paid it "
            "back, and the optional work waits; a longer run, a larger budget or featureviz watch avoids this.",
            planner.spent,
            planner.warm_up_seconds,
            planner.steady_cost(),
            need,
            allowed,
            ", ".join(planner.core_layers) or "Grad-CAM",
        )

    def _exemplars_prior(self, activations: float) -> float:
        """What the exemplars should cost at their first draw: the activations of the sample (``activations``, this
        epoch's pass over the probes, scaled to the sample's size) and the top-k reduction over them, timed once on
        the probes' activations and scaled the same way (as dear as the pass itself on the tutorial CNN)."""
        assert self.exemplars is not None and self.probes is not None
        scale = len(self.exemplars.sample) / len(self.probes)
        if self._reduction_seconds is None and self._probe_acts is not None:
            hw = (int(self.probes.shape[1]), int(self.probes.shape[2]))
            t0 = time.perf_counter()
            for a in self._probe_acts.values():
                top_exemplars(a, self.exemplars.k, input_hw=hw)
            self._reduction_seconds = time.perf_counter() - t0
        self._probe_acts = None
        return (activations + (self._reduction_seconds or 0.0)) * scale

    def add_overhead(self, seconds: float) -> None:
        """Counts the caller's time in its hooks outside ``visualize`` against the budget."""
        if self.planner is not None:
            self.planner.add_overhead(seconds)

    def _first_writes(self, epoch: int, params_fit: Mapping[str, object] | None) -> list[Write]:
        assert self.model is not None and self.probes is not None
        facts = run_facts(
            self.model,
            layers=self.activation_layers,
            class_names=self.options.class_names,
            hparams=self.options.hparams,
            params_fit=dict(params_fit or {}),
            first_epoch=epoch,
        )
        facts["featureviz_options"] = self.options.to_json()
        if self.input_space is not None:
            facts["input_space"] = self.input_space.to_json()
        return [
            functools.partial(summary.run_info, facts, epoch),
            functools.partial(
                summary.probes,
                self.display(self.probes),
                epoch,
                labels=self.labels,
                class_names=self.options.class_names,
            ),
        ]

    def _metric_writes(self, epoch: int, logs: Logs | None) -> list[Write]:
        if not self.options.log_metrics:
            return []
        return [
            functools.partial(tf.summary.scalar, metadata.EPOCH_SCALAR_PREFIX + key, float(value), step=epoch)
            for key, value in (logs or {}).items()
            if np.ndim(value) == 0
        ]

    def write_metrics(self, epoch: int, logs: Logs | None) -> None:
        """Queues only the epoch's metric scalars (an epoch that ``every_n_epochs`` skips)."""
        writes = self._metric_writes(epoch, logs)
        if writes:
            self.worker.submit(epoch, writes)

    def _curves_only(self, epoch: int, logs: Logs | None, params_fit: Mapping[str, object] | None) -> Record:
        writes = self._metric_writes(epoch, logs)
        if self._logged == 0:
            writes = self._first_writes(epoch, params_fit) + writes
        self.worker.submit(epoch, writes)
        self._logged += 1
        return {}

    def _plan_record(self, plan: EpochPlan, costs: Mapping[str, float], elapsed: float) -> Record:
        assert self.planner is not None
        grids = {
            name: {"channels": len(ch) if ch is not None else None, "scale": sc}
            for name, (ch, sc) in self._grids.items()
        }
        gradcam = self._gradcam.layer_name if (plan.gradcam and self._gradcam is not None) else None
        checks = self._checks.detail if plan.checks is not None and self._checks is not None else None
        return self.planner.describe(
            plan, costs, elapsed, activations=plan.activations, grids=grids, gradcam=gradcam, checks=checks
        )

    def _maybe_grow(self) -> None:
        """After the first epoch is on disk: add layers in model order while bytes and time allow."""
        planner = self.planner
        assert planner is not None and self.model is not None and self.probes is not None
        if planner.grown or not self.worker.written:
            return
        step = self.worker.written[0]
        written = self.worker.bytes_written.get(step, 0)
        pixels = self._pixels_written.get(step, 0)
        if not written or not pixels:
            return
        planner.bytes_per_epoch = float(written)
        per_pixel = written / pixels
        n = self.probes.shape[0]
        estimates = {}
        for name, info in self._infos.items():
            h, w, c = info.shape
            if h is None or w is None:
                continue
            count, scale = render.grid_reduction((h, w, c), self.options.max_grid_pixels)
            px = render.grid_pixels(count, math.ceil(h / scale), math.ceil(w / scale))
            estimates[name] = n * px * per_pixel
        added = planner.grow_layers(estimates)
        if added:
            logger.info("featureviz: the budget has room for %d more layers: %s", len(added), ", ".join(added))
            self._extractor = compute.ActivationExtractor(self.model, layers=planner.activation_layers)

    def _check_finite(self, epoch: int, what: str, *arrays: Tensor) -> None:
        """Logs one warning per run when the model produces NaN or inf (the records mark them)."""
        if self._warned_nonfinite:
            return
        if any(not np.isfinite(np.asarray(a, dtype=np.float64)).all() for a in arrays):
            self._warned_nonfinite = True
            logger.warning(
                "featureviz: NaN or inf values in %s at epoch %d (the model may have diverged); they are drawn "
                'as 0 and counted as "nonfinite" in the records. Training goes on.',
                what,
                epoch,
            )

    # -- the three kinds --------------------------------------------------------------------------

    def _activations(self, epoch: int, writes: list[Write], layers: Sequence[str] | None = None) -> int:
        """Queues the activation grids of ``layers`` (default: the extractor's; it computes them all in one pass,
        so drawing fewer costs no retrace)."""
        assert self._extractor is not None and self.probes is not None
        acts = self._extractor(self.probes)
        if layers is not None:
            acts = {name: a for name, a in acts.items() if name in layers}
        if self._reduction_seconds is None and self.exemplars is not None:
            self._probe_acts = acts  # timed once for the exemplars' prior, then dropped
        pixels = 0
        for name, a in acts.items():
            self._check_finite(epoch, f"layer {name!r}", a)
            if name not in self._grids:
                count, scale = render.grid_reduction(a.shape[1:], self.options.max_grid_pixels)
                channels = [int(c) for c in render.select_channels(a, count)] if count < a.shape[-1] else None
                self._grids[name] = (channels, scale)
            channels, scale = self._grids[name]
            kept = len(channels) if channels is not None else a.shape[-1]
            pixels += a.shape[0] * render.grid_pixels(kept, -(-a.shape[1] // scale), -(-a.shape[2] // scale))
            writes.append(functools.partial(summary.activations, name, a, epoch, channels=channels, scale=scale))
            dead = render.dead_channels(a).size / a.shape[-1]
            writes.append(functools.partial(tf.summary.scalar, metadata.DEAD_FRACTION_PREFIX + name, dead, step=epoch))
        return pixels

    def _write_gradcam(self, epoch: int, writes: list[Write]) -> None:
        cam = self._gradcam
        assert cam is not None and self.probes is not None
        t0 = time.perf_counter()
        probs = cam.class_probabilities(self.probes)
        self._forward_seconds = time.perf_counter() - t0
        predicted = np.argmax(probs, axis=1)
        targets = [predicted]
        names = ["predicted"]
        if self.labels is not None:
            targets.append(self.labels)
            names.append("true")
        maps, calls = [], []
        for t in targets:
            t0 = time.perf_counter()
            maps.append(cam(self.probes, class_index=[int(c) for c in t]))
            calls.append(time.perf_counter() - t0)
        assert self.planner is not None
        self._cam_call = calls[-1]
        self.planner.time_gradcam(calls, self.probes.shape[0])
        self._predicted = (predicted, maps[0])
        heat = np.stack(maps, axis=1)
        self._check_finite(epoch, "Grad-CAM", heat, probs)
        writes.append(
            functools.partial(
                summary.gradcam,
                cam.layer_name,
                self.display(self.probes),
                heat,
                epoch,
                target_classes=np.stack(targets, axis=1),
                probabilities=probs,
                labels=self.labels,
                target_names=names,
                class_names=self.options.class_names,
                overlays=self.options.gradcam_overlays,
            )
        )

    def _filters(self, layer: str, filters: Sequence[int], plan: EpochPlan, epoch: int, writes: list[Write]) -> int:
        assert self.model is not None and self.probes is not None
        assert self._filter_task is not None
        new, pixels, arrays = self._filter_task(
            layer, filters, plan.windows[layer], epoch, self.probes, self.input_space
        )
        self._check_finite(epoch, f"the filter patterns of {layer!r}", *arrays)
        writes += new
        return pixels

    def close(self) -> None:
        """Writes everything queued and closes the event file."""
        self.worker.close()
