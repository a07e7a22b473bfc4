"""Are the maps true? Faithfulness and sanity measures of class activation maps, cheap enough for every epoch.

* **Deletion and insertion** (Petsiuk et al. 2018, "RISE"): pixels are set to a baseline (deletion) or
  copied from the image onto the baseline (insertion) in the order of the map, most important first, and
  the class score is read after each of ``steps`` equal chunks. The area under that curve is the score: low
  is good for deletion (the score falls fast when the pixels the map points at go), high for insertion.
  The definition is Xplique's ``Deletion``/``Insertion`` (``xplique.metrics.CausalFidelity``, 2.0): baseline
  0, 10 steps, every channel of a pixel at once, pixels ranked by ``np.argsort(map)[::-1]``, the points at
  ``linspace(0, H*W, steps + 1)`` pixels, and the trapezoidal area ``mean(s[:-1] + s[1:]) / 2``. The class
  score is the model's probability for the class, as Xplique reads a softmax model's output; for a one-unit
  sigmoid output class 1 is ``p`` and class 0 is ``1 - p`` (Grad-CAM's convention here).
* **Pointing game** (Zhang et al. 2016, "Top-down neural attention by excitation backprop"): a hit when the
  map's maximum falls inside the object's box, widened by ``tolerance`` pixels (15 at the paper's 224 px;
  ``MapChecks`` scales that to the input size: 10 px at 150). It asks whether the map of a class points at
  that class's object, so ``MapChecks`` counts the probes whose predicted class has a score of its own: all
  of them under a softmax, class 1 under a one-unit sigmoid (there the class-0 map is Grad-CAM's
  counterfactual map of class 1: the regions that speak *against* class 1, which need not be an object).
* **Model randomisation** (Adebayo et al. 2018, "Sanity checks for saliency maps"): the Spearman rank
  correlation between the map of the model and that of a copy whose top layers (the CAM layer, or the last
  layer with weights before it, and every layer after it) are re-initialised. A map that depends on what
  the model learned changes (a low value); a value near 1 means the map would look the same for an
  untrained head: it shows the image's structure (an edge detector would), not the model's reasons. The
  copy is built once; its lower layers follow the model's weights at every call, and the model itself is
  never touched.
* **Drift**: the rank correlation of each probe's map with its map at the previous logged epoch. It rises
  towards 1 when the model's attention settles.

All NumPy in, NumPy out; only ``RandomizedCopy`` needs a model.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np

from tb_featureviz.compute import _graph
from tb_featureviz.compute.cam import BaseCAM, GradCAM
from tb_featureviz.metadata import FAITHFULNESS_PREFIX as FAITHFULNESS
from tb_featureviz.metadata import SANITY_PREFIX as SANITY
from tb_featureviz.validation import non_negative_int, one_of, positive_int

__all__ = [
    "DEFAULT_STEPS",
    "MapChecks",
    "RandomizedCopy",
    "auc",
    "causal_curves",
    "paired_spearman",
    "pointing_game",
    "spearman",
]

DEFAULT_STEPS = 10
"""Points on a deletion or insertion curve, after the unperturbed one (Xplique's default)."""

MODES = ("deletion", "insertion")

POINTING_TOLERANCE = 15 / 224
"""The pointing game's tolerance as a fraction of the image side (15 px at 224 px, Zhang et al. 2016)."""

RANDOM_DRAWS = 8
"""Re-initialisations of the randomised copy's top layers that ``MapChecks`` averages over."""

COST_IN_GRADCAMS = 8.0
"""What ``MapChecks`` costs before it is measured, in Grad-CAM costs (the planner's prior): 2 x 11 forward
passes of each probe and ``RANDOM_DRAWS`` Grad-CAMs of the randomised copy, against Grad-CAM's forward and
two backward passes (about 8x on the tutorial CNN)."""

ScoreFn = Callable[[np.ndarray], np.ndarray]
"""Images ``[M, H, W, C]`` -> class probabilities ``[M, K]``."""


def perturbation_order(maps: np.ndarray) -> np.ndarray:
    """Pixel indices of each map, most important first: ``[N, H*W]``, as Xplique ranks them."""
    flat = np.asarray(maps).reshape(len(maps), -1)
    return np.argsort(flat, axis=-1)[:, ::-1]


def causal_images(
    images: np.ndarray, maps: np.ndarray, *, mode: str, steps: int = DEFAULT_STEPS, baseline: float = 0.0
) -> np.ndarray:
    """The perturbed images of a deletion or insertion curve: ``[N, steps + 1, H, W, C]``.

    Image ``[n, s]`` has the first ``linspace(0, H*W, steps + 1)[s]`` pixels of map ``n``'s order deleted
    (set to ``baseline``) or inserted (copied onto a ``baseline`` image).

    Raises:
        ValueError: ``mode`` is not ``"deletion"`` or ``"insertion"``; maps and images differ in shape.
    """
    one_of("mode", mode, MODES)
    steps = positive_int("steps", steps)
    images = np.asarray(images, dtype=np.float32)
    maps = np.asarray(maps)
    n, h, w, c = images.shape
    if maps.shape != (n, h, w):
        raise ValueError(f"maps must be [N, H, W] = {(n, h, w)} for these images. Received shape {maps.shape}")
    order = perturbation_order(maps)
    counts = np.linspace(0, h * w, steps + 1, dtype=np.int32)
    flat = images.reshape(n, h * w, c)
    base = np.full_like(flat, baseline)
    start, end = (flat, base) if mode == "deletion" else (base, flat)
    out = np.repeat(start[:, None], steps + 1, axis=1)
    rows = np.arange(n)[:, None]
    for s, count in enumerate(counts):
        ids = order[:, :count]
        out[rows, s, ids] = end[rows, ids]
    return out.reshape(n, steps + 1, h, w, c)


def causal_curves(
    score_fn: ScoreFn,
    images: np.ndarray,
    maps: np.ndarray,
    classes: Sequence[int] | np.ndarray,
    *,
    mode: str,
    steps: int = DEFAULT_STEPS,
    baseline: float = 0.0,
) -> np.ndarray:
    """The class score along a deletion or insertion path: ``[N, steps + 1]``.

    Args:
        score_fn: Images -> class probabilities ``[M, K]`` (``GradCAM.class_probabilities``).
        images: ``[N, H, W, C]`` probe images.
        maps: ``[N, H, W]`` their maps (any scale: only the order counts).
        classes: ``[N]`` the class each map explains.
        mode: ``"deletion"`` or ``"insertion"``.
        steps: Points after the unperturbed one.
        baseline: The value of a deleted pixel.

    Example:
        >>> curves = causal_curves(cam.class_probabilities, x, maps, predicted, mode="deletion")
        >>> auc(curves)   # [N], lower is better for deletion
    """
    batch = causal_images(images, maps, mode=mode, steps=steps, baseline=baseline)
    n = batch.shape[0]
    probs = np.asarray(score_fn(batch.reshape(-1, *batch.shape[2:])), dtype=np.float64)
    probs = probs.reshape(n, steps + 1, -1)
    classes = np.asarray(classes, dtype=np.int64).reshape(n)
    return probs[np.arange(n), :, classes]


def auc(curves: np.ndarray) -> np.ndarray:
    """Trapezoidal area under curves of equally spaced points, on ``[0, 1]``: ``[N, S] -> [N]``."""
    curves = np.asarray(curves, dtype=np.float64)
    return np.mean(curves[:, :-1] + curves[:, 1:], axis=1) * 0.5


def pointing_game(maps: np.ndarray, boxes: np.ndarray, *, tolerance: int = 0) -> np.ndarray:
    """Whether each map's maximum falls in its object's box: ``[N]`` bool.

    Args:
        maps: ``[N, H, W]`` maps. An all-zero map points nowhere (a miss).
        boxes: ``[N, 4]`` boxes ``(x0, y0, x1, y1)`` in pixels; pixel ``(x, y)`` is inside when
            ``x0 <= x < x1`` and ``y0 <= y < y1``.
        tolerance: Pixels the box is widened by on every side (Zhang et al. used 15 at 224 px).

    Raises:
        ValueError: boxes of another count or width.
    """
    maps = np.asarray(maps)
    boxes = np.asarray(boxes)
    tolerance = non_negative_int("tolerance", tolerance)
    if boxes.shape != (len(maps), 4):
        raise ValueError(f"boxes must be [N, 4] = ({len(maps)}, 4) (x0, y0, x1, y1). Received shape {boxes.shape}")
    flat = maps.reshape(len(maps), -1)
    peak = flat.argmax(axis=1)
    y, x = np.divmod(peak, maps.shape[2])
    x0, y0, x1, y1 = (boxes[:, i] for i in range(4))
    inside = (x0 - tolerance <= x) & (x < x1 + tolerance) & (y0 - tolerance <= y) & (y < y1 + tolerance)
    return inside & (flat.max(axis=1) > 0)


def _ranks(values: np.ndarray) -> np.ndarray:
    """Ranks from 1, ties given their average rank (as ``scipy.stats.rankdata``)."""
    order = np.argsort(values, kind="mergesort")
    ordered = values[order]
    edges = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1], True])
    average = (edges[:-1] + edges[1:] - 1) / 2.0 + 1.0
    ranks = np.empty(len(values), dtype=np.float64)
    ranks[order] = np.repeat(average, np.diff(edges))
    return ranks


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation of two arrays of one size (ties averaged); NaN if either is constant.

    Example:
        >>> spearman(np.array([1, 2, 3]), np.array([10, 20, 25]))
        1.0
    """
    a = np.asarray(a, dtype=np.float64).reshape(-1)
    b = np.asarray(b, dtype=np.float64).reshape(-1)
    if a.shape != b.shape:
        raise ValueError(f"spearman needs arrays of one size. Received sizes {a.size} and {b.size}")
    ra, rb = _ranks(a), _ranks(b)
    ra -= ra.mean()
    rb -= rb.mean()
    denominator = np.sqrt(np.sum(ra * ra) * np.sum(rb * rb))
    return float(np.sum(ra * rb) / denominator) if denominator > 0 else float("nan")


def paired_spearman(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``spearman(a[n], b[n])`` for each ``n``: ``[N, ...] x [N, ...] -> [N]``."""
    return np.array([spearman(x, y) for x, y in zip(a, b, strict=True)])


def _finite_mean(values: np.ndarray, axis: int | None = None) -> np.ndarray:
    """The mean of the finite values along ``axis`` (NaN where there are none), without a warning."""
    values = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(values)
    count = finite.sum(axis=axis)
    total = np.where(finite, values, 0.0).sum(axis=axis)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _glorot(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    receptive = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
    fan_in, fan_out = shape[-2] * receptive, shape[-1] * receptive
    limit = np.sqrt(6.0 / max(1, fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape).astype(np.float32)


def _reinitialised(name: str, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """What Keras' default initialisers give a variable: Glorot for kernels, ones for scales, else zeros."""
    if len(shape) >= 2:
        return _glorot(shape, rng)
    leaf = name.rsplit("/", 1)[-1]
    return np.ones(shape, np.float32) if leaf in ("gamma", "moving_variance", "scale") else np.zeros(shape, np.float32)


class RandomizedCopy:
    """A copy of ``model`` whose top layers are re-initialised, for the sanity check.

    The top layers are the CAM layer (or, when it has no weights, the last layer with weights before it)
    and every layer after it.

    Built once with ``keras.models.clone_model``. ``sync()`` copies the current weights of the layers below
    the CAM layer from the model (variable to variable, no NumPy round trip); the top layers take one of
    ``draws`` seeded random re-initialisations at a time. One draw is a noisy estimate: on the trained
    tutorial CNN single draws range from -0.5 to 0.65 around a mean of about 0.2, so ``MapChecks`` averages
    ``RANDOM_DRAWS``. The model is only read.

    Args:
        model: The user's model (Sequential or functional, nested models included).
        layer: The CAM layer's name (as ``GradCAM.layer_name``).
        seed: Seed of the re-initialised weights.
        draws: How many re-initialisations ``maps`` averages over.
        lowest: Re-initialise from this layer up instead (default: the CAM layer's).
        method: The CAM class whose maps are compared (the copy's maps come from the same method).

    Attributes:
        cam: A ``method`` over the copy, at the same layer.
        randomized: Names of the re-initialised layers.
    """

    def __init__(
        self,
        model: keras.Model,
        layer: str,
        *,
        seed: int = 0,
        draws: int = 1,
        lowest: str | None = None,
        method: type[BaseCAM] = GradCAM,
    ) -> None:
        self.copy = keras.models.clone_model(model)
        self.copy.set_weights(model.get_weights())
        source, target = _graph.trace_of(model), _graph.trace_of(self.copy)
        names = [r.name for r in source.records]
        if names != [r.name for r in target.records]:
            raise ValueError(f"clone_model changed the layers of model {model.name!r}; cannot pair them")
        start = names.index(source.find(layer if lowest is None else lowest).name)
        # A CAM layer without weights (a pooling layer) is re-initialised with the layer that feeds it.
        while start > 0 and not source.records[start].layer.weights:
            start -= 1
        self.pairs: list[tuple[Any, Any]] = []
        self.randomized: list[str] = []
        top: list[Any] = []
        seen: set[int] = set()
        for i, (mine, theirs) in enumerate(zip(source.records, target.records, strict=True)):
            if mine.container or not theirs.layer.weights or id(theirs.layer) in seen:
                continue  # a container's weights are its layers'; a shared layer is paired once
            seen.add(id(theirs.layer))
            if i < start:
                self.pairs.extend(zip(mine.layer.weights, theirs.layer.weights, strict=True))
            else:
                self.randomized.append(theirs.name)
                top.extend((theirs.name, v) for v in theirs.layer.weights)
        self._top = [v for _, v in top]
        self._draws = []
        for d in range(positive_int("draws", draws)):
            rngs = {name: np.random.default_rng([seed, d, zlib.crc32(name.encode())]) for name in self.randomized}
            self._draws.append([_reinitialised(v.path, tuple(v.shape), rngs[name]) for name, v in top])
        self._use(0)
        self.cam = method(self.copy, layer=layer)

    def _use(self, draw: int) -> None:
        for variable, value in zip(self._top, self._draws[draw], strict=True):
            variable.assign(value)

    def sync(self) -> None:
        """Copies the model's current weights into the copy's lower layers."""
        for mine, theirs in self.pairs:
            theirs.assign(mine.value)

    def maps(self, images: np.ndarray, classes: Sequence[int] | np.ndarray) -> list[np.ndarray]:
        """The copy's Grad-CAM maps of ``classes`` under each draw of its top layers: ``draws x [N, H, W]``."""
        self.sync()
        out = []
        for d in range(len(self._draws)):
            self._use(d)
            out.append(self.cam(images, class_index=np.asarray(classes)))
        return out


class MapChecks:
    """The every-epoch measures of one ``GradCAM``'s maps, as scalars named for TensorBoard.

    Call it with the probe images, their maps for the predicted classes and those classes; it returns the
    mean over the probes of each measure (see the module docstring):

    * ``faithfulness/deletion_auc`` and ``faithfulness/insertion_auc``;
    * ``faithfulness/pointing_game``, when the probes' object boxes are known (over the probes whose
      predicted class has a score of its own, see the module docstring);
    * ``sanity/randomization_spearman``: against the maps of the randomised copy (built at the first call);
    * ``sanity/drift_spearman``: against the maps of the previous call (from the second call on).

    Args:
        cam: The Grad-CAM whose maps are checked.
        steps: Points of the deletion and insertion curves.
        tolerance: The pointing game's tolerance in pixels (default: 15 px scaled from 224 px to the input).
        seed: Seed of the randomised copy's weights.
        draws: Re-initialisations of the copy's top layers the randomisation check averages over.

    Example:
        >>> checks = MapChecks(compute.GradCAM(model))
        >>> checks(images, maps, predicted, boxes=boxes)
        {'faithfulness/deletion_auc': 0.21, 'faithfulness/insertion_auc': 0.74, ...}
    """

    def __init__(
        self,
        cam: BaseCAM,
        *,
        steps: int = DEFAULT_STEPS,
        tolerance: int | None = None,
        seed: int = 0,
        draws: int = RANDOM_DRAWS,
    ) -> None:
        self.cam = cam
        self.draws = positive_int("draws", draws)
        self.steps = positive_int("steps", steps)
        self.tolerance = None if tolerance is None else non_negative_int("tolerance", tolerance)
        self.seed = seed
        self.copy: RandomizedCopy | None = None
        self._previous: np.ndarray | None = None

    def _copy(self) -> RandomizedCopy:
        if self.copy is None:
            self.copy = RandomizedCopy(
                self.cam.model, self.cam.layer_name, seed=self.seed, draws=self.draws, method=type(self.cam)
            )
        return self.copy

    def __call__(
        self,
        images: np.ndarray,
        maps: np.ndarray,
        classes: Sequence[int] | np.ndarray,
        *,
        boxes: np.ndarray | None = None,
    ) -> dict[str, float]:
        """The measures (see the class docstring); the maps become the next call's drift reference."""
        maps = np.asarray(maps)
        scores = self.cam.class_probabilities
        out = {
            FAITHFULNESS + f"{mode}_auc": auc(causal_curves(scores, images, maps, classes, mode=mode, steps=self.steps))
            for mode in MODES
        }
        own = np.asarray(classes) == 1 if self.cam.single_unit else slice(None)
        if boxes is not None and maps[own].size:
            side = min(maps.shape[1:3])
            tolerance = round(POINTING_TOLERANCE * side) if self.tolerance is None else self.tolerance
            hits = pointing_game(maps[own], np.asarray(boxes)[own], tolerance=tolerance)
            out[FAITHFULNESS + "pointing_game"] = hits.astype(np.float64)
        draws = [paired_spearman(maps, random) for random in self._copy().maps(images, classes)]
        out[SANITY + "randomization_spearman"] = _finite_mean(np.array(draws), axis=0)
        if self._previous is not None and self._previous.shape == maps.shape:
            out[SANITY + "drift_spearman"] = paired_spearman(maps, self._previous)
        self._previous = maps.copy()
        return {tag: float(_finite_mean(values)) for tag, values in out.items() if np.isfinite(values).any()}
