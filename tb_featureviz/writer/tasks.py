"""The tasks the planner adds to an epoch when the budget has room, besides activations and Grad-CAM.

* filter passes (``EpochPlan.filters``): a window of a layer's filter patterns, with each pattern's
  activation relative to the probes';
* ``metadata.CHECKS_TASK``: the Grad-CAM checks (faithfulness and sanity measures) of the epoch's
  predicted-class maps (``tb_featureviz.compute.faithfulness``), as scalars.
* ``"exemplars"``: for each drawn layer, the images of a fixed validation sample each channel likes best
  (``tb_featureviz.compute.exemplars``), as one small record per layer; the sample is written once.

Each task computes on the training thread (it needs the current weights) and returns the writes to queue.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

import keras
import numpy as np
import tensorflow as tf

from tb_featureviz import compute, metadata, render, summary
from tb_featureviz.compute.exemplars import top_exemplars
from tb_featureviz.metadata import Record
from tb_featureviz.writer.options import WriterOptions
from tb_featureviz.writer.worker import Write

if TYPE_CHECKING:
    from tb_featureviz.writer.visualizer import Visualizer

__all__ = ["EXEMPLAR_MIN_CROP", "ChecksTask", "ExemplarsTask", "ExtraTask", "FilterTask", "Write"]


class ExtraTask(Protocol):
    """A kind's writer side as an extra (``Kind.writer_task`` builds it): the planner draws it when the budget
    has room, at most once an epoch, and its seconds are measured, recorded (``cost/<name>_seconds``) and
    charged like any other task's."""

    name: str
    """Its name in plan records (``extras``, ``skipped``) and cost tags; the kind's name."""

    def prior(self, viz: Visualizer, costs: Mapping[str, float]) -> float:
        """What its first draw should cost, in seconds, given what this epoch's core measured (``costs``)."""
        ...

    def __call__(self, viz: Visualizer, step: int) -> list[Write]:
        """Computes the epoch's summary on the training thread; returns the writes for the worker."""
        ...


EXEMPLAR_MIN_CROP = 16
"""Smallest crop side in pixels: a 3-pixel receptive field is too small to see."""


class FilterTask:
    """Filter-pattern passes: one generator per layer, built at the layer's first pass.

    Args:
        model: The model.
        options: What to draw (steps, seed, parameterisation, ``max_grid_pixels``).
    """

    def __init__(self, model: keras.Model, options: WriterOptions) -> None:
        self.model = model
        self.options = options
        self.generators: dict[str, compute.FilterPatternGenerator] = {}

    def generator(self, layer: str, input_space: compute.InputSpace | None = None) -> compute.FilterPatternGenerator:
        """The layer's generator, built at its first pass to optimise in ``input_space`` (the model's)."""
        gen = self.generators.get(layer)
        if gen is None:
            gen = compute.FilterPatternGenerator(
                self.model,
                layer,
                steps=self.options.filter_steps,
                seed=self.options.seed,
                parameterization=self.options.filter_parameterization,
                input_space=input_space,
            )
            self.generators[layer] = gen
        return gen

    def __call__(
        self,
        layer: str,
        filters: Sequence[int],
        schedule: Mapping[str, object],
        epoch: int,
        probes: np.ndarray,
        input_space: compute.InputSpace | None = None,
    ) -> tuple[list[Write], int, tuple[np.ndarray, ...]]:
        """One pass: the writes, the pixels written, and the arrays computed (for the non-finite check)."""
        gen = self.generator(layer, input_space)
        unique = sorted(set(filters))
        patterns, reached = gen(unique)
        relative, _ = gen.relative_activation(reached, probes, unique)
        pos = {f: i for i, f in enumerate(unique)}
        order = [pos[f] for f in filters]
        _, scale = render.grid_reduction((gen.size, gen.size, len(filters)), self.options.max_grid_pixels)
        writes: list[Write] = [
            functools.partial(
                summary.filter_patterns,
                layer,
                patterns[order],
                epoch,
                filters=list(filters),
                activation=reached[order],
                scale=scale,
                schedule=schedule,
                relative=relative[order],
            )
        ]
        finite = relative[np.isfinite(relative)]
        if finite.size:
            tag = metadata.RELATIVE_ACTIVATION_PREFIX + layer
            writes.append(functools.partial(tf.summary.scalar, tag, float(np.median(finite)), step=epoch))
        side = -(-gen.size // scale)
        return writes, render.grid_pixels(len(filters), side, side) * 3, (patterns, reached)


class ChecksTask:
    """The Grad-CAM checks' extra: ``MapChecks`` of a Grad-CAM, as ``tf.summary.scalar`` writes. Nothing is built or
    traced before the first epoch that plans them (their first draw builds the randomised copy and traces it).

    A draw is full or light (``EpochPlan.checks``); ``detail`` says which, for the epoch's ``plan`` record.
    """

    def __init__(self, cam: compute.GradCAM, *, seed: int = 0) -> None:
        self.checks = compute.MapChecks(cam, seed=seed)
        self.detail: Record = {}
        """What the last draw was: ``MapChecks.detail`` plus ``drift_from`` (the epoch of the maps the drift
        compares with, ``None`` at the first draw). No clock readings: the record's ``epoch_costs`` has them."""
        self._last_epoch: int | None = None

    def __call__(
        self,
        epoch: int,
        probes: np.ndarray,
        maps: np.ndarray,
        classes: np.ndarray,
        boxes: np.ndarray | None,
        *,
        light: bool = False,
    ) -> list[Write]:
        values = self.checks(probes, maps, classes, boxes=boxes, light=light)
        self.detail = {**self.checks.detail, "drift_from": self._last_epoch}
        self._last_epoch = epoch
        return [functools.partial(tf.summary.scalar, tag, value, step=epoch) for tag, value in values.items()]

    def forward_images(self, probes: int, *, light: bool = False) -> int:
        """Images a draw scores for its deletion and insertion curves (for the planner's estimate)."""
        return self.checks.forward_images(probes, light=light)


class ExemplarsTask:
    """The ``"exemplars"`` extra: each channel's top-``k`` images of a fixed sample, per drawn layer.

    Args:
        sample: ``[M, H, W, C]`` images (validated against the model).
        labels: ``[M]`` their classes, if known.
        k: Exemplars per channel.
        receptive_fields: Layer -> receptive field in input pixels (``inf`` after global pooling).
        shown: ``[M, H, W, C]`` the sample as displayable RGB in [0, 1], written for viewers to cut the crops
            from (default: ``sample`` itself).
    """

    def __init__(
        self,
        sample: np.ndarray,
        labels: np.ndarray | None,
        *,
        k: int,
        receptive_fields: Mapping[str, float],
        shown: np.ndarray | None = None,
    ) -> None:
        self.sample = sample
        self.shown = sample if shown is None else shown
        self.labels = labels
        self.k = k
        self.receptive_fields = dict(receptive_fields)
        self.written_sample = False

    def crop_size(self, layer: str) -> int:
        """The crop side for ``layer``: its receptive field, within ``[EXEMPLAR_MIN_CROP, input side]``."""
        side = min(self.sample.shape[1:3])
        rf = self.receptive_fields.get(layer, math.inf)
        return side if math.isinf(rf) else int(min(side, max(EXEMPLAR_MIN_CROP, math.ceil(rf))))

    def __call__(
        self,
        epoch: int,
        extractor: compute.ActivationExtractor,
        channels: Mapping[str, list[int] | None],
    ) -> list[Write]:
        """The writes of this epoch: the sample (the first time), then one record per layer.

        Args:
            epoch: The step.
            extractor: The activation extractor of the layers drawn at this epoch.
            channels: Layer -> the channels its grid shows (``None``: all).
        """
        acts = extractor(self.sample)
        writes: list[Write] = []
        if not self.written_sample:
            writes.append(functools.partial(summary.sample, self.shown, epoch, labels=self.labels))
            self.written_sample = True
        hw = (int(self.sample.shape[1]), int(self.sample.shape[2]))
        for layer, a in acts.items():
            shown = channels.get(layer)
            chosen = list(range(a.shape[-1])) if shown is None else list(shown)
            best = top_exemplars(a[..., chosen], self.k, input_hw=hw)
            record = {
                "k": int(best.images.shape[1]),
                "size": self.crop_size(layer),
                "sample": int(self.sample.shape[0]),
                "channels": chosen,
                "exemplars": best.to_json(),
            }
            writes.append(functools.partial(summary.exemplars, layer, record, epoch))
        return writes
