"""The planner: what the writer side computes at an epoch, from measured costs and a budget.

Pure Python, no TensorFlow: given the model's feature layers (``LayerInfo``, from ``tb_featureviz.writer.stages``),
the costs measured so far and the budget, ``Planner.plan`` returns an ``EpochPlan``. The callback and
``featureviz watch`` both run what it returns; the callback with the user's budget, ``watch`` with an unlimited one.
The caller builds the planner's inputs with the planner's own constructors: ``layer_infos`` (the model's
feature layers), ``Planner.for_layers`` (the default choice of layers), and at each epoch ``Planner.time_gradcam``
and ``Planner.price_extras`` with ``CoreTimes`` and ``ChecksWork.of`` (what the core measured, which prices the
extras not measured yet).

The rules:

* **Layers.** One representative layer per resolution stage: the last feature map at each spatial
  resolution (padding and cropping layers and 1x1 maps left out), plus the Grad-CAM layer
  (``stage_layers``). ResNet50 has 5, the tutorial CNN all 8. Further layers are added in model order
  once, after the first epoch, while the measured bytes and time leave room. ``layers=`` overrides.
* **Filters.** For each filter layer a fixed, seeded subset of ``FIXED_FILTERS`` filters is drawn at every
  pattern pass (so each has a frame in every filmstrip), plus a window of ``window`` filters that moves
  through the layer's filters in index order, one window per pass (``FilterRotation``). A layer with no
  more filters than ``window`` is drawn whole.
* **When.** Activations of the chosen layers and Grad-CAM run at every logged epoch. Filter passes run
  when the budget has room: at an epoch, layers are taken, least recently drawn first, while their
  estimated cost fits the room (the first that does not fit waits for the room to build up; at the last
  epoch the others that fit are drawn instead). At the
  first and the last epoch the room is what the whole run can afford (the budget is cumulative), so
  they are drawn whenever the run can pay for them.
* **Extras.** Optional tasks (``extras``: the Grad-CAM faithfulness measures ``"metrics"``, the channels'
  natural ``"exemplars"``) take turns with the filter layers under the same rule (least recently drawn
  first, extras first among equals; until drawn, ``PRIOR_FACTOR`` times their prior cost, which the caller
  measures on this model); the plan's ``skipped[task]`` says why one was not drawn. At the last epoch the
  measures (``"metrics"``) come first, so a run ends with the measures of its final weights when the run can
  pay for them: while the run's budget can afford them, earlier epochs keep ``PRIOR_FACTOR`` times their cost
  aside; when it cannot, they are skipped like any other task (``"final"``). Nothing is forced past the budget.
* **Checks that form curves.** With ``light_checks``, the measures are drawn in full at their first draw and at
  the last epoch, and in between as a *light* draw (fewer curve points and re-initialisations, a subset of the
  full computation; ``EpochPlan.checks``) at every epoch whose room covers it, before the other tasks take
  their turns, so that they form curves. A light draw may spend the room kept aside for the last epoch's
  measures while what the whole run can afford still covers them. The full draw's extra cost over the light
  one takes its turn with the other tasks (``"metrics"``, its recency that of the last full draw): when it is
  drawn, the epoch's draw is full. A light draw that does not fit is skipped with its cost (``"light"``).
* **The core.** Activations and Grad-CAM are the core that every logged epoch draws. When the core itself
  has run over the budget (a short run, whose first epoch with its warm-up costs more than the budget has
  earned), later epochs draw the activations of ``core_layers`` only (the Grad-CAM layer) until the run has
  paid it back (``"core"``); ``core_outlook`` says whether the core fits the run at all.
* **Why skipped.** Each skip names the rule that applied (``SKIP_REASONS``): the task does not fit the room
  (``"needs ~X s, the budget has Y s left"``, always with X > Y, naming the reservation when it made the
  difference), it waits while the room is saved up for a task drawn less recently, it is not a filter
  epoch (``filter_every_n_epochs``), the run cannot pay for the final measures, or the core is over budget.
* **Budget.** ``budget`` is a fraction of training time; the callback's total time so far stays within
  ``budget * training time so far``, counting everything it causes (``add_overhead``: its hooks' time
  outside the planned tasks; ``add_warm_up``: the background warm-up's CPU time; ``add_writer``: the writer
  thread's CPU time, which renders and writes on the same cores). ``budget_seconds`` allows that many
  seconds per epoch instead.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypedDict

from tb_featureviz import metadata
from tb_featureviz.metadata import CHECKS_TASK, Record
from tb_featureviz.validation import positive_float
from tb_featureviz.writer.stages import (
    _NOT_STAGE,
    FIXED_FILTERS,
    FilterRotation,
    LayerInfo,
    filter_stage_layers,
    stage_layers,
)

__all__ = [
    "FIXED_FILTERS",
    "Budget",
    "ChecksWork",
    "CoreTimes",
    "EpochPlan",
    "FilterRotation",
    "LayerInfo",
    "Planner",
    "filter_stage_layers",
    "layer_infos",
    "stage_layers",
]

LIGHT_CHECKS = f"{CHECKS_TASK}/light"
"""The cost key of a light draw of the measures (``"metrics"`` is a full draw's)."""

PRIOR_FACTOR = 1.5
"""Safety factor on a cost that was never measured (a filter pass's prior; an extra's prior, priced from the
first epoch's measured forward pass, Grad-CAM and trace times) and on the last epoch's measures that earlier
epochs keep aside."""

SKIP_REASONS = {
    "room": "needs ~{cost} s, the budget has {left} s left",
    "reserved": "needs ~{cost} s, the budget has {left} s left after keeping {reserved} s for the Grad-CAM measures "
    "to come",
    "saving": "fits, but waits: the room is saved up for {blocker} (drawn less recently), which needs ~{cost} s "
    "while the budget has {left} s left",
    "filter_epoch": "not a filter epoch (filter_every_n_epochs)",
    "final": "the run's budget has {left} s left, which cannot pay for the final measures (~{cost} s)",
    "light": "a light draw needs ~{cost} s, the budget has {left} s left",
    "core": "over budget: the callback has spent {spent} s of the {allowed} s allowed so far; drawn again once "
    "the run has paid that back",
}
"""The rules a plan skips a task by, as its ``skipped`` reason. ``"room"``: its estimate is more than the
room left. ``"reserved"``: it would fit but for the final measures' reservation (at the first epoch, with the
light draws' share, ``Planner.curve_reservation``). ``"saving"``: it fits, but a
task before it in the turn order did not, and the room is saved up for that one (the cost and the room named
are that task's). ``"filter_epoch"``: the caller allows no filter pass at this epoch. ``"final"``: at the last
epoch, the measures do not fit what the whole run can still afford. ``"light"``: between the full draws, not even a
light draw of the measures fits (its room counts what is kept for the last epoch's measures while the run can
still pay for them). ``"core"`` (key ``activations/<layer>``): the
callback is over budget, so the epoch draws only the core layers' activations. Costs are rounded up and rooms
down, so a ``"needs ~X s, the budget has Y s left"`` (and a ``"final"``) always has X > Y."""


def _needs(cost: float, left: float) -> tuple[str, str]:
    """``cost`` rounded up and ``left`` down to 0.01 s (never below 0), so a cost over the room reads as more."""
    shown_left = math.floor(max(left, 0.0) * 100) / 100
    shown_cost = max(math.ceil(cost * 100) / 100, shown_left + 0.01)
    return f"{shown_cost:.2f}", f"{shown_left:.2f}"


@dataclass(frozen=True)
class Budget:
    """The callback's allowance on the training thread.

    Exactly one of ``fraction`` (of training time) and ``seconds`` (per epoch) is set, or neither for an
    unlimited budget (``featureviz watch``).
    """

    fraction: float | None = 0.05
    seconds: float | None = None

    @classmethod
    def from_args(cls, budget: object, budget_seconds: object) -> Budget:
        """Validates the callback's ``budget``/``budget_seconds`` arguments.

        Raises:
            TypeError: a value is not a number.
            ValueError: a value is not positive, or both are given.
        """
        if budget_seconds is not None:
            seconds = positive_float("budget_seconds", budget_seconds)
            if budget is not None and budget != 0.05:
                raise ValueError(
                    f"Give budget or budget_seconds, not both. Received: budget={budget!r}, "
                    f"budget_seconds={budget_seconds!r}"
                )
            return cls(fraction=None, seconds=seconds)
        if budget is None:
            return cls(fraction=None, seconds=None)
        return cls(fraction=positive_float("budget", budget), seconds=None)

    @property
    def unlimited(self) -> bool:
        return self.fraction is None and self.seconds is None

    def allowed(self, train_seconds: float, epochs: int) -> float:
        """Seconds allowed after ``train_seconds`` of training over ``epochs`` epochs."""
        if self.fraction is not None:
            return self.fraction * train_seconds
        if self.seconds is not None:
            return self.seconds * epochs
        return math.inf

    def to_json(self) -> dict[str, float | None]:
        return {"fraction": self.fraction, "seconds_per_epoch": self.seconds}


LayerRow = tuple[str, tuple[int | None, int | None, int], str, bool, float]
"""A feature layer as ``compute.layer_table`` lists it: ``(name, (h, w, channels), class name, conv, rf)``."""


def layer_infos(rows: Iterable[LayerRow], pattern_side: Callable[[float], int | None]) -> list[LayerInfo]:
    """The planner's view of a model's feature layers.

    Args:
        rows: The feature layers in model order (``compute.layer_table``).
        pattern_side: Receptive field -> side in pixels of the layer's filter patterns (for the cost prior).

    Returns:
        One ``LayerInfo`` per row, in the same order.
    """
    return [LayerInfo(name, shape, kind, conv, pattern_side(rf), rf) for name, shape, kind, conv, rf in rows]


@dataclass(frozen=True)
class CoreTimes:
    """What an epoch's core (activations and Grad-CAM) measured, which prices the extras not measured yet.

    Attributes:
        gradcam: Seconds of the epoch's Grad-CAM (its forward pass and its calls), if it ran.
        forward: Seconds of one steady forward pass of the probes (their class probabilities), if timed.
        cam_call: Seconds of one steady Grad-CAM call on the probes, if timed.
    """

    gradcam: float | None = None
    forward: float | None = None
    cam_call: float | None = None


class _CountsWork(Protocol):
    """What ``MapChecks`` says of its own work."""

    draws: int
    light_draws: int

    def forward_images(self, probes: int, *, light: bool = False) -> int: ...


@dataclass(frozen=True)
class ChecksWork:
    """A draw of the Grad-CAM measures (``"metrics"``) in the units of the core's timed calls.

    Attributes:
        probes: Probe images the measures score (at least 1).
        images: Images a full draw scores for its deletion and insertion curves.
        light_images: Images a light draw scores.
        draws: Grad-CAM calls of the randomised copy in a full draw.
        light_draws: Grad-CAM calls of the randomised copy in a light draw.
        in_gradcams: A full draw's cost in the epoch's Grad-CAM seconds, while the core's calls are not timed.
    """

    probes: int
    images: int
    light_images: int
    draws: int
    light_draws: int
    in_gradcams: float

    @classmethod
    def of(cls, checks: _CountsWork, probes: int, *, in_gradcams: float) -> ChecksWork:
        """The work of ``checks`` (a ``MapChecks``) on ``probes`` images."""
        n = max(1, probes)
        return cls(
            probes=n,
            images=checks.forward_images(n),
            light_images=checks.forward_images(n, light=True),
            draws=checks.draws,
            light_draws=checks.light_draws,
            in_gradcams=in_gradcams,
        )

    def prior(self, core: CoreTimes, trace_seconds: float | None, *, light: bool = False) -> float:
        """What a draw should cost on this model at its first draw (or, ``light``, at a light draw), without running
        it (running it would trace it before the budget planned it): the curves score ``images`` images, each a
        share of the probes' forward pass; the randomisation check runs ``draws`` Grad-CAMs of a copy of the
        model, whose first call traces it like Grad-CAM's first call did (``trace_seconds``; a light draw finds
        it traced). Else, while the core's calls are not timed, ``in_gradcams`` times Grad-CAM's cost (half of it
        for a light draw)."""
        if core.forward is None or not core.gradcam or core.cam_call is None:
            gradcam = core.gradcam if core.gradcam is not None else 0.0
            return self.in_gradcams * gradcam / (2.0 if light else 1.0)
        forward = (self.light_images if light else self.images) / self.probes * core.forward
        if light:
            return forward + self.light_draws * core.cam_call
        return forward + self.draws * core.cam_call + (trace_seconds or 0.0)


class _Window(TypedDict):
    fixed: int
    window: list[int]
    of: int
    next: list[int]


class FilterWindow(_Window, total=False):
    """Where a filter pass is in its layer's rotation (``EpochPlan.windows``; the ``schedule`` of a ``filters``
    record): the first ``fixed`` filters of the pass are the fixed subset, then the window ``[a, b]`` of the
    layer's ``of`` filters; ``next`` is the following window, ``next_epoch`` when it is expected (``None``:
    not at the current rate), set once the epoch's plan is complete."""

    next_epoch: int | None


@dataclass
class EpochPlan:
    """What to compute at one logged epoch.

    Attributes:
        epoch: The epoch index (the summaries' step).
        activations: Layers whose activation grids are written.
        gradcam: Whether Grad-CAM is written.
        filters: Layer -> the filter indices of its pattern pass.
        windows: Layer -> ``{"fixed": k, "window": [a, b], "of": C, "next": [c, d], "next_epoch": e | None}``:
            the first ``k`` filters of the pass are the fixed subset.
        skipped: Layer (or extra task) -> why it was not drawn at this epoch.
        room: Seconds the budget had left before this epoch's work (``inf`` when unlimited), less ``reserved``.
        extras: The optional tasks planned (``"metrics"``, ``"exemplars"``).
        reserved: Seconds kept aside for the measures that the last epoch draws (0 when the run cannot pay).
        checks: ``"full"`` or ``"light"`` when the measures (``"metrics"``) are drawn, else ``None``.
    """

    epoch: int
    activations: list[str]
    gradcam: bool
    extras: list[str] = field(default_factory=list)
    filters: dict[str, list[int]] = field(default_factory=dict)
    windows: dict[str, FilterWindow] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    room: float = math.inf
    reserved: float = 0.0
    checks: str | None = None


@dataclass
class _Turns:
    """The room while an epoch's extras and filter layers take their turns (``Planner.plan``).

    Attributes:
        left: Seconds left for the tasks still to come.
        kept: Seconds the room was reduced by (the final measures' reservation, the light draws' share), which
            the skip reasons name.
        curve: The light draws' share (``Planner.curve_reservation``) still to be kept from the first task other
            than the measures.
        blocker: The task the room is saved up for, its cost and the room it found; ``None`` until one does not fit.
    """

    left: float
    kept: float
    curve: float
    blocker: tuple[str, float, float] | None = None

    def no_room(self, cost: float, *, final: bool) -> str:
        """Why a task of ``cost`` does not fit: ``"final"`` (the last epoch's measures), ``"reserved"`` (it would
        fit but for what was kept) or ``"room"``."""
        shown_cost, shown_left = _needs(cost, self.left)
        rule = "final" if final else "reserved" if cost <= self.left + self.kept else "room"
        return SKIP_REASONS[rule].format(cost=shown_cost, left=shown_left, reserved=f"{self.kept:.2f}")


def _saving(blocker: tuple[str, float, float]) -> str:
    """Why a task that fits waits: the room is saved up for ``blocker`` (its name, cost and room; ``"saving"``)."""
    name, cost, left = blocker
    shown_cost, shown_left = _needs(cost, left)
    return SKIP_REASONS["saving"].format(blocker=name, cost=shown_cost, left=shown_left)


class Planner:
    """Decides, at each logged epoch, what fits the budget, from the costs measured so far.

    Args:
        layers: Every feature layer in model order.
        activation_layers: The stage layers, or the user's ``layers=`` (never grown); drawn at every logged
            epoch, but only ``core_layers`` while the callback is over budget.
        filter_layers: Layers with filter patterns (empty for none).
        gradcam: Whether Grad-CAM runs.
        budget: The budget.
        window: Filters per rotating window.
        grow: Whether activation layers may be added after the first epoch.
        max_bytes: Bytes of featureviz summaries an epoch may write (for growing the layer set).
        seed: Seed of the fixed filter subsets.
        steps: Gradient-ascent steps of a filter pass (for the cost prior).
        input_pixels: ``H * W`` of the model input (for the cost prior).
        extras: Optional tasks, in order (planned before filter patterns as the room allows). Their cost
            is ``priors[task]`` (set by the caller with ``price_extras``) until measured.
        core_layers: Activation layers drawn even when the callback is over budget (the Grad-CAM layer);
            the others wait until the run has paid back its debt. Default: the last activation layer.
        light_checks: Whether the measures (``"metrics"``) have a light draw for the epochs between their first
            draw and the last epoch (its cost is ``priors["metrics/light"]`` until measured).

    Example:
        >>> infos = [LayerInfo("conv1", (32, 32, 8), "Conv2D", conv=True),
        ...          LayerInfo("conv2", (16, 16, 16), "Conv2D", conv=True)]
        >>> planner = Planner(infos, stage_layers(infos), ["conv1"], True, Budget(0.05), window=64)
        >>> plan = planner.plan(epoch=0, epochs=10, train_seconds=30.0)
        >>> plan.activations, plan.gradcam, plan.skipped  # filter patterns wait for room
        (['conv1', 'conv2'], True, {'conv1': 'needs ~145.00 s, the budget has 15.00 s left'})
        >>> planner.record(plan, {"activations": 0.2, "gradcam": 0.1}, bytes_written=8e5)  # measured costs
    """

    def __init__(
        self,
        layers: Sequence[LayerInfo],
        activation_layers: Sequence[str],
        filter_layers: Sequence[str],
        gradcam: bool,
        budget: Budget,
        *,
        window: int = 128,
        grow: bool = True,
        max_bytes: int | None = 1_000_000,
        seed: int = 0,
        steps: int = 12,
        input_pixels: int | None = None,
        extras: Sequence[str] = (),
        core_layers: Sequence[str] | None = None,
        light_checks: bool = False,
    ) -> None:
        self.layers = list(layers)
        by_name = {info.name: info for info in self.layers}
        self._by_name = by_name
        self.steps = steps
        self.input_pixels = input_pixels
        self.pass_seconds: float | None = None
        """Seconds of one forward and backward pass of one probe image (measured by the caller)."""
        self.trace_seconds: float | None = None
        """Seconds a first (tracing) call took beyond a steady one (measured by the caller)."""
        self.activation_layers = list(activation_layers)
        self.core_layers = list(core_layers) if core_layers is not None else self.activation_layers[-1:]
        self.gradcam = gradcam
        self.extras = list(extras)
        self.light_checks = light_checks
        self.light_share: float | None = None
        """A light draw's cost as a share of a full one's (the caller's model of their work): once a full draw is
        measured, a light one is estimated as that share of it until it is measured itself."""
        self.priors: dict[str, float] = {}
        """Estimated seconds of each extra task before it is measured (``price_extras``)."""
        self.budget = budget
        self.grow = grow
        self.max_bytes = max_bytes
        self.rotations = {
            name: FilterRotation(name, by_name[name].shape[2], window, seed)
            for name in filter_layers
            if name in by_name
        }
        self.costs: dict[str, float] = {}
        """Last measured seconds of each task (``activations``, ``gradcam``, ``filters/<layer>``)."""
        self.train_seconds = 0.0
        self.spent = 0.0
        """Seconds the callback has cost so far: the tasks, its other time in the hooks and the warm-up's CPU."""
        self.warm_up_seconds = 0.0
        """CPU seconds of the background warm-up (``add_warm_up``), part of ``spent``."""
        self.writer_seconds = 0.0
        """CPU seconds of the writer thread (``add_writer``), part of ``spent``."""
        self.full_activations: float | None = None
        """Seconds of the last epoch that drew every activation layer (what drawing them all again costs)."""
        self.epochs_logged = 0
        self.bytes_per_epoch: float | None = None
        self._last_drawn: dict[str, int] = {}
        self.grown = not grow
        """Whether the layer set is final (grown once, or growing is off)."""

    @classmethod
    def for_layers(
        cls,
        layers: Sequence[LayerInfo],
        budget: Budget,
        *,
        gradcam_layer: str | None,
        activation_layers: Sequence[str] | None = None,
        filter_layers: Sequence[str] | None = None,
        input_hw: tuple[int, int] | None = None,
        measures: bool = False,
        window: int = 128,
        max_bytes: int | None = 1_000_000,
        seed: int = 0,
        steps: int = 12,
    ) -> Planner:
        """The planner of a model's feature layers, with the default choice of layers where none is given.

        Args:
            layers: Every feature layer in model order (``layer_infos``).
            budget: The budget.
            gradcam_layer: The Grad-CAM layer (``None``: no Grad-CAM). It is the core layer when drawn.
            activation_layers: The user's activation layers (never grown); default the stage layers
                (``stage_layers``), grown after the first epoch while there is room.
            filter_layers: The filter-pattern layers (empty for none); default ``filter_stage_layers``.
            input_hw: ``(H, W)`` of the model input, when known (for the cost prior).
            measures: Whether the Grad-CAM measures run: an extra (``"metrics"``) with light draws.
            window: Filters per rotating window.
            max_bytes: Bytes of featureviz summaries an epoch may write.
            seed: Seed of the fixed filter subsets.
            steps: Gradient-ascent steps of a filter pass.
        """
        grow = activation_layers is None
        drawn = stage_layers(layers, gradcam_layer) if activation_layers is None else list(activation_layers)
        patterns = filter_stage_layers(layers) if filter_layers is None else list(filter_layers)
        return cls(
            layers,
            drawn,
            patterns,
            gradcam_layer is not None,
            budget,
            window=window,
            grow=grow,
            max_bytes=max_bytes,
            seed=seed,
            steps=steps,
            input_pixels=input_hw[0] * input_hw[1] if input_hw else None,
            extras=[CHECKS_TASK] if measures else [],
            core_layers=[gradcam_layer] if gradcam_layer is not None and gradcam_layer in drawn else drawn[-1:],
            light_checks=measures,
        )

    # -- measuring --------------------------------------------------------------------------------

    def time_gradcam(self, calls: Sequence[float], probes: int) -> None:
        """Takes the seconds of an epoch's Grad-CAM calls on ``probes`` images, one per target class.

        A filter pass not measured yet is priced from a steady forward-and-backward pass of one probe (the second
        call; the first one traced) and from what the trace cost (the first call's excess over the second).
        """
        if len(calls) > 1:
            self.pass_seconds = calls[-1] / probes
            if self.trace_seconds is None:
                self.trace_seconds = max(0.0, calls[0] - calls[-1])
        elif self.pass_seconds is None:
            self.pass_seconds = calls[0] / probes

    def price_extras(
        self,
        core: CoreTimes,
        measures: ChecksWork | None = None,
        exemplars: Callable[[], float] | None = None,
    ) -> None:
        """Sets the priors of the extras not measured yet (``priors``, ``light_share``), after ``measure`` and
        before ``plan``.

        Args:
            core: What this epoch's core measured.
            measures: The Grad-CAM measures' work, when they run (``"metrics"``).
            exemplars: Prices the exemplars' first draw, when they run; called only while they are not measured.
        """
        if measures is not None and CHECKS_TASK in self.extras:
            if CHECKS_TASK not in self.costs:
                self.priors[CHECKS_TASK] = measures.prior(core, self.trace_seconds)
            if LIGHT_CHECKS not in self.costs:
                self.priors[LIGHT_CHECKS] = measures.prior(core, self.trace_seconds, light=True)
                steady = measures.prior(core, self.trace_seconds) - (self.trace_seconds or 0.0)
                self.light_share = self.priors[LIGHT_CHECKS] / steady if steady > 0 else None
        if exemplars is not None and "exemplars" not in self.costs:
            self.priors["exemplars"] = exemplars()

    def drop_filters(self, plan: EpochPlan, layer: str, reason: str) -> None:
        """Drops a layer whose filter pass failed, from ``plan`` (``skipped[layer]`` says ``reason``) and for good
        (it is not retried at later epochs)."""
        self.rotations.pop(layer, None)
        plan.filters.pop(layer)
        plan.windows.pop(layer, None)
        plan.skipped[layer] = reason

    # -- estimates --------------------------------------------------------------------------------

    def _filter_estimate(self, layer: str) -> float:
        known = self.costs.get(metadata.tag_for("filters", layer))
        if known is not None:
            return known
        # Never drawn: an ascent is steps x filters forward-and-backward passes of a pattern-sized image,
        # each costing about a probe's pass scaled by the pixel ratio; plus one trace. Replaced by the
        # measured cost after the first pass.
        rotation = self.rotations[layer]
        count = len(set(rotation.filters_at(rotation.passes)))
        side = self._by_name[layer].pattern_side
        ratio = 1.0 if not side or not self.input_pixels else min(1.0, side * side / self.input_pixels)
        per_pass = self.pass_seconds if self.pass_seconds is not None else (self.costs.get("gradcam") or 1.0)
        trace = self.trace_seconds if self.trace_seconds is not None else (self.costs.get("gradcam") or 1.0)
        return PRIOR_FACTOR * self.steps * count * ratio * per_pass + trace

    def _extra_estimate(self, task: str) -> float:
        known = self.costs.get(task)
        return known if known is not None else PRIOR_FACTOR * self.priors.get(task, 0.0)

    def _light_estimate(self) -> float:
        """A light draw of the measures: measured, else ``light_share`` of a measured full draw, else
        ``PRIOR_FACTOR`` times its prior; never above a full draw."""
        full = self._extra_estimate(CHECKS_TASK)
        known = self.costs.get(LIGHT_CHECKS)
        if known is None and self.light_share is not None and CHECKS_TASK in self.costs:
            known = self.light_share * self.costs[CHECKS_TASK]
        if known is None:
            prior = self.priors.get(LIGHT_CHECKS)
            known = PRIOR_FACTOR * prior if prior is not None else full
        return min(known, full)

    def reservation(self) -> float:
        """Seconds to keep aside for the last epoch's measures: ``PRIOR_FACTOR`` times their measured cost
        (or their prior, priced from this model's measured first epoch), as a run's last draw costs more than the
        average one."""
        known = self.costs.get(CHECKS_TASK)
        return PRIOR_FACTOR * (known if known is not None else self.priors.get(CHECKS_TASK, 0.0))

    def curve_reservation(self, epoch: int, epochs: int) -> float:
        """Seconds the first epoch keeps from its other tasks (filter passes, exemplars; not from the measures' own
        first draw), out of what the whole run can afford, for the light draws of the measures at every other
        epoch between it and the last (``light_checks``), so that spending the run's room at once does not leave
        the measures without a curve; 0 without light draws."""
        if not self.light_checks or CHECKS_TASK not in self.extras or self.budget.unlimited:
            return 0.0
        between = max(0, epochs - 2 - epoch)
        return self._light_estimate() * math.ceil(between / 2)

    def writer_per_epoch(self) -> float:
        """The writer thread's CPU seconds per logged epoch so far (counted one epoch late, when reported)."""
        return self.writer_seconds / self.epochs_logged if self.epochs_logged else 0.0

    def steady_cost(self) -> float:
        """Seconds per logged epoch of the work done every epoch (activations, Grad-CAM, the writer's share)."""
        return sum(self.costs.get(k, 0.0) for k in ("activations", "gradcam")) + self.writer_per_epoch()

    def _run_room(self, epoch: int, epochs: int, logged: int) -> float:
        """What the whole run can still afford beyond its steady work, at the current training rate."""
        per_epoch = self.train_seconds / logged
        remaining = max(0, epochs - 1 - epoch)
        run_allowed = self.budget.allowed(self.train_seconds + per_epoch * remaining, logged + remaining)
        return run_allowed - self.spent - self.steady_cost() * (1 + remaining)

    def core_activations(self, train_seconds: float, *, last: bool = False) -> tuple[list[str], dict[str, str]]:
        """The activation layers of the coming epoch, before its work: all of them, unless the callback is over
        budget (after ``train_seconds`` more of training) by more than drawing them all costs, in which case
        only ``core_layers`` (``"core"``, keyed ``activations/<layer>``). The first and the ``last`` epoch draw
        them all (the run's first and final grids are what reports show; they cost a forward pass that the
        Grad-CAM layer's grid runs anyway).

        Returns:
            The layers to draw, and the skip reasons of the others.
        """
        layers = list(self.activation_layers)
        if self.epochs_logged == 0 or last or self.budget.unlimited:
            return layers, {}
        allowed = self.budget.allowed(self.train_seconds + max(0.0, float(train_seconds)), self.epochs_logged + 1)
        full = self.full_activations if self.full_activations is not None else self.costs.get("activations", 0.0)
        need = self.spent + full + self.costs.get("gradcam", 0.0) + self.writer_per_epoch()
        if need <= allowed:
            return layers, {}
        core = [n for n in layers if n in self.core_layers] or layers[-1:]
        reason = SKIP_REASONS["core"].format(spent=f"{self.spent:.2f}", allowed=f"{max(allowed, 0.0):.2f}")
        return core, {f"activations/{n}": reason for n in layers if n not in core}

    def core_outlook(self, epochs: int) -> tuple[float, float] | None:
        """After the first epoch: the seconds the core costs over the whole run (what was spent, plus the steady
        work of every later epoch) and the seconds the budget allows it, at the first epoch's training rate;
        ``None`` when the budget is unlimited or nothing is logged yet."""
        if self.budget.unlimited or not self.epochs_logged:
            return None
        per_epoch = self.train_seconds / self.epochs_logged
        remaining = max(0, epochs - self.epochs_logged)
        need = self.spent + self.steady_cost() * remaining
        return need, self.budget.allowed(per_epoch * epochs, epochs)

    # -- deciding ---------------------------------------------------------------------------------

    def measure(self, costs: Mapping[str, float]) -> None:
        """Updates the cost table with this epoch's measurements so far (before ``plan``), without counting
        them as spent (``record`` does)."""
        for task, seconds in costs.items():
            self.costs[task] = float(seconds)

    def plan(
        self,
        epoch: int,
        epochs: int | None,
        train_seconds: float,
        *,
        last: bool = False,
        allow_filters: bool = True,
        activations: Sequence[str] | None = None,
    ) -> EpochPlan:
        """The plan for ``epoch``, after ``train_seconds`` more seconds of training.

        Activations (``activations``) and Grad-CAM are always planned; extras and filter passes as the room
        allows, taking turns (least recently drawn first).

        Args:
            epoch: The epoch index.
            epochs: Epochs in the run (``None`` if unknown).
            train_seconds: Training time of the epoch(s) since the last plan, without the callback.
            last: Whether this is the last epoch.
            allow_filters: False to plan no filter pass (the user's ``filter_every_n_epochs``).
            activations: The activation layers drawn (``core_activations``); default all of them.

        Returns:
            The plan.
        """
        self.train_seconds += max(0.0, float(train_seconds))
        logged = self.epochs_logged + 1
        room, reserved, curve = self._epoch_room(epoch, epochs, logged, last)
        plan = EpochPlan(
            epoch=epoch,
            activations=list(self.activation_layers if activations is None else activations),
            gradcam=self.gradcam,
            room=room,
            reserved=reserved,
        )
        left = room
        light = self._plan_light(plan, epoch, epochs, logged, last)
        if light is not None:
            left -= light
        turns = _Turns(left=left, kept=reserved, curve=curve)
        for name in self._turn_order(plan, last, allow_filters):
            self._take_turn(plan, name, turns, last=last, light=light)
        for name, info in plan.windows.items():
            info["next_epoch"] = self._next_epoch(name, epoch)
        return plan

    def _epoch_room(self, epoch: int, epochs: int | None, logged: int, last: bool) -> tuple[float, float, float]:
        """``(room, reserved, curve)``: the epoch's room for the tasks beyond the core (``EpochPlan.room``, less
        ``reserved``), what it keeps aside for the last epoch's measures, and what the first epoch keeps from its
        other tasks for the light draws to come (``curve_reservation``)."""
        allowed = self.budget.allowed(self.train_seconds, logged)
        # The last epoch measures its Grad-CAM maps when the run can pay for them: when the run's length is known
        # and what the whole run can afford covers them, every earlier epoch keeps their cost aside.
        reserved = 0.0
        measures = CHECKS_TASK in self.extras and not self.budget.unlimited and not last
        if measures and epochs and epoch < epochs - 1 and self._run_room(epoch, epochs, logged) >= self.reservation():
            reserved = self.reservation()
        room = allowed - self.spent - self.steady_cost() - reserved
        first = self.epochs_logged == 0
        curve = 0.0
        if (first or last) and not self.budget.unlimited and epochs:
            # What the whole run can afford for filter patterns: the cumulative budget pays it back.
            room = max(room, self._run_room(epoch, epochs, logged) - reserved)
            # The light draws of the measures that the epochs in between are to draw are kept from the other tasks.
            curve = self.curve_reservation(epoch, epochs) if first else 0.0
        return room, reserved, curve

    def _turn_order(self, plan: EpochPlan, last: bool, allow_filters: bool) -> list[str]:
        """The extras and filter layers in the order they take their turns: least recently drawn first (extras first
        among equals); at the last epoch the measures come first, as what was kept aside is theirs. A measures'
        light draw already skipped leaves them out; without ``allow_filters`` the filter layers are skipped
        (``"filter_epoch"``)."""
        tasks = [n for n in self.extras if n != CHECKS_TASK or CHECKS_TASK not in plan.skipped]
        tasks += list(self.rotations) if allow_filters else []
        if not allow_filters:
            plan.skipped.update(dict.fromkeys(self.rotations, SKIP_REASONS["filter_epoch"]))
        return sorted(
            tasks, key=lambda n: (not (last and n == CHECKS_TASK), self._last_drawn.get(n, -1), tasks.index(n))
        )

    def _take_turn(self, plan: EpochPlan, name: str, turns: _Turns, *, last: bool, light: float | None) -> None:
        """Draws task ``name`` into ``plan`` when its estimate fits what ``turns`` has left and no task before it
        is being saved up for, else skips it with the rule that applied. After a light draw of the measures
        (``light``, its estimate), ``"metrics"`` stands for the full draw's extra cost over it, and a skip of it
        leaves the light draw standing (no skip reason)."""
        if name != CHECKS_TASK and turns.curve:
            turns.left -= turns.curve
            turns.kept += turns.curve
            turns.curve = 0.0
        cost = self._extra_estimate(name) if name in self.extras else self._filter_estimate(name)
        upgrade = name == CHECKS_TASK and light is not None  # the light draw stands whatever the upgrade does
        if light is not None and upgrade:
            cost = max(0.0, cost - light)
        if cost > turns.left:
            # Stop at the first task that does not fit: the room is saved up for it, so a dear layer is
            # not starved by cheaper ones. The last epoch has no later one to save for.
            if not last and turns.blocker is None:
                turns.blocker = (name, cost, turns.left)
            if not upgrade:
                plan.skipped[name] = turns.no_room(cost, final=last and name == CHECKS_TASK)
            return
        if turns.blocker is not None:
            if not upgrade:
                plan.skipped[name] = _saving(turns.blocker)
            return
        self._draw(plan, name)
        turns.left -= cost

    def _draw(self, plan: EpochPlan, name: str) -> None:
        """Puts task ``name`` in ``plan`` (an extra, or the next pass of a filter layer's rotation)."""
        self._last_drawn[name] = plan.epoch
        if name == CHECKS_TASK:
            plan.checks = "full"
        if name in self.extras:
            if name not in plan.extras:
                plan.extras.append(name)
            return
        rotation = self.rotations[name]
        filters, window, following = rotation.take()
        plan.filters[name] = filters
        plan.windows[name] = {
            "fixed": len(rotation.fixed),
            "window": list(window),
            "of": rotation.channels,
            "next": list(following),
        }

    def _plan_light(self, plan: EpochPlan, epoch: int, epochs: int | None, logged: int, last: bool) -> float | None:
        """Between the measures' first full draw and the last epoch, plans their light draw first when its estimate
        fits (``plan.checks = "light"``), else skips them (``"light"``). Its room is the epoch's room plus what it
        keeps for the last epoch's measures, while the whole run can still pay for those. Returns the light
        draw's estimate, or ``None`` when no light draw applies or fits."""
        if (
            not self.light_checks
            or CHECKS_TASK not in self.extras
            or CHECKS_TASK not in self._last_drawn
            or last
            or self.budget.unlimited
        ):
            return None
        cost = self._light_estimate()
        room = plan.room + plan.reserved
        if plan.reserved and epochs:
            room = min(room, self._run_room(epoch, epochs, logged) - plan.reserved)
        if cost > room:
            shown_cost, shown_left = _needs(cost, room)
            plan.skipped[CHECKS_TASK] = SKIP_REASONS["light"].format(cost=shown_cost, left=shown_left)
            return None
        plan.extras.append(CHECKS_TASK)
        plan.checks = "light"
        return cost

    def _next_epoch(self, layer: str, epoch: int) -> int | None:
        """When this layer's next pass is expected, at the current rate of room per epoch."""
        if self.budget.unlimited:
            return epoch + 1
        per_epoch_train = self.train_seconds / max(1, self.epochs_logged + 1)
        rate = self.budget.allowed(per_epoch_train, 1) - self.steady_cost()
        if rate <= 0:
            return None
        share = sum(self._filter_estimate(n) for n in self.rotations) + sum(map(self._extra_estimate, self.extras))
        return epoch + max(1, math.ceil(share / rate))

    def record(
        self,
        plan: EpochPlan,
        costs: Mapping[str, float],
        *,
        bytes_written: float | None = None,
        setup: Mapping[str, float] | None = None,
    ) -> None:
        """Takes the costs measured for ``plan`` (seconds on the training thread) and its bytes.

        Args:
            plan: The epoch's plan, as carried out.
            costs: Seconds each task took, all counted as spent. A light draw of the measures is ``"metrics"``
                here; its estimate is kept as ``"metrics/light"``.
            bytes_written: The epoch's bytes.
            setup: Seconds of one-off work within a task's cost (the measures' first draw builds and traces the
                randomised copy): spent, but left out of what the task's next run is expected to cost.
        """
        for task, seconds in costs.items():
            key = LIGHT_CHECKS if task == CHECKS_TASK and plan.checks == "light" else task
            once = min(float(seconds), max(0.0, float((setup or {}).get(task, 0.0))))
            self.costs[key] = float(seconds) - once
            self.spent += float(seconds)
        if "activations" in costs and plan.activations == self.activation_layers:
            self.full_activations = float(costs["activations"])
        self.epochs_logged += 1
        if bytes_written is not None:
            self.bytes_per_epoch = float(bytes_written)

    def add_overhead(self, seconds: float) -> None:
        """Counts callback time outside the planned tasks (building extractors, waiting for the writer)."""
        self.spent += max(0.0, float(seconds))

    def add_warm_up(self, seconds: float) -> None:
        """Counts the CPU time of the background warm-up, which competes with training for the same cores."""
        self.warm_up_seconds += max(0.0, float(seconds))
        self.add_overhead(seconds)

    def add_writer(self, seconds: float) -> None:
        """Counts CPU time of the writer thread (rendering, encoding, writing), which runs on the same cores."""
        self.writer_seconds += max(0.0, float(seconds))
        self.add_overhead(seconds)

    def grow_layers(self, bytes_per_layer: Mapping[str, float]) -> list[str]:
        """Once, after the first epoch: adds layers in model order while the bytes and time allow.

        Args:
            bytes_per_layer: Estimated bytes per epoch of each feature layer not drawn yet.

        Returns:
            The layers added (empty if none, or if growing already happened or is off).
        """
        if self.grown or self.bytes_per_epoch is None:
            return []
        self.grown = True
        if self.spent > self.budget.allowed(self.train_seconds, max(1, self.epochs_logged)):
            return []  # over budget already: more layers (and tracing them) would only add to the debt
        drawn = set(self.activation_layers)
        bytes_left = math.inf if self.max_bytes is None else self.max_bytes - self.bytes_per_epoch
        acts = self.costs.get("activations", 0.0)
        per_layer_time = acts / max(1, len(self.activation_layers))
        per_epoch_train = self.train_seconds / max(1, self.epochs_logged)
        time_left = self.budget.allowed(per_epoch_train, 1) - self.steady_cost()
        added: list[str] = []
        for info in self.layers:
            if info.name in drawn or info.name not in bytes_per_layer or info.kind in _NOT_STAGE:
                continue  # padding and cropping layers only repeat their input
            b = bytes_per_layer[info.name]
            if b > bytes_left or per_layer_time > time_left:
                break
            added.append(info.name)
            bytes_left -= b
            time_left -= per_layer_time
        if added:
            keep = drawn | set(added)
            self.activation_layers = [info.name for info in self.layers if info.name in keep]
        return added

    def describe(
        self,
        plan: EpochPlan,
        costs: Mapping[str, float],
        elapsed: float,
        *,
        activations: Sequence[str],
        grids: Mapping[str, Mapping[str, int | None]],
        gradcam: str | None,
        checks: Mapping[str, object] | None = None,
    ) -> Record:
        """The ``plan`` record of an epoch (``tb_featureviz.metadata``): what was drawn, skipped and spent.

        Args:
            plan: The epoch's plan, as carried out.
            costs: Seconds each task took.
            elapsed: Seconds of the whole epoch hook.
            activations: The layers whose activations were drawn.
            grids: Layer -> ``{"channels": n | None, "scale": s}`` of its grid.
            gradcam: The Grad-CAM layer, if drawn.
            checks: What the measures' draw was (``ChecksTask.detail``: steps, re-initialisations, probes), when
                drawn; the record's ``checks`` is it with ``"variant"`` set from the plan (``None`` when not drawn).
        """
        state = self.state()
        allowed = state["allowed_seconds"]
        return {
            "epoch": plan.epoch,
            "activations": list(activations),
            "grids": dict(grids),
            "gradcam": gradcam,
            "extras": list(plan.extras),
            "checks": None if plan.checks is None else {**dict(checks or {}), "variant": plan.checks},
            "filters": {layer: dict(info) for layer, info in plan.windows.items()},
            "skipped": dict(plan.skipped),
            "epoch_costs": {k: round(v, 4) for k, v in costs.items()},
            "hook_seconds": round(elapsed, 4),
            "room_seconds": None if math.isinf(plan.room) else round(plan.room, 4),
            "reserved_seconds": round(plan.reserved, 4),
            "over_budget": allowed is not None and state["spent_seconds"] > allowed,
            **state,
        }

    def state(self) -> Record:
        """The planner's running totals, for the ``plan`` record."""
        return {
            "budget": self.budget.to_json(),
            "train_seconds": round(self.train_seconds, 4),
            "spent_seconds": round(self.spent, 4),
            "warm_up_seconds": round(self.warm_up_seconds, 4),
            "writer_seconds": round(self.writer_seconds, 4),
            "allowed_seconds": None
            if self.budget.unlimited
            else round(self.budget.allowed(self.train_seconds, max(1, self.epochs_logged)), 4),
            "costs": {k: round(v, 4) for k, v in self.costs.items()},
            "estimates": {k: round(v, 4) for k, v in self.priors.items()},
        }
