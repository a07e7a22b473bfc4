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

**Full and light draws.** ``MapChecks`` draws the measures in full (``steps`` points per curve, ``draws``
re-initialisations) or, with ``light=True``, on a subset of that computation (``light_steps`` points: every
``steps // light_steps``-th point of the full curve; the first ``light_draws`` re-initialisations), so that a
budget can draw them between full draws: on the tutorial CNN a light draw costs about half a full one.
A light value is the full computation restricted to that subset, exactly: its deletion area is the
trapezoidal area over the full curve's points it keeps, its randomisation check the mean over the draws it
keeps. The pointing game and drift do not depend on the variant.

All NumPy in, NumPy out; only ``RandomizedCopy`` needs a model.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable, Sequence

import keras
import numpy as np

from tb_featureviz.compute import model_graph
from tb_featureviz.compute.cam import BaseCAM, GradCAM
from tb_featureviz.metadata import FAITHFULNESS_PREFIX as FAITHFULNESS
from tb_featureviz.metadata import SANITY_PREFIX as SANITY
from tb_featureviz.metadata import Record
from tb_featureviz.validation import non_negative_int, one_of, positive_int

__all__ = [
    "DEFAULT_STEPS",
    "LIGHT_DRAWS",
    "LIGHT_STEPS",
    "MapChecks",
    "RandomizedCopy",
    "auc",
    "causal_curves",
    "causal_pair",
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

LIGHT_STEPS = 5
"""Points on a light draw's deletion and insertion curves: every other point of the full 10-step curve."""

LIGHT_DRAWS = 4
"""Re-initialisations a light draw's randomisation check averages over: the full check's first four."""

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


def curve_counts(pixels: int, steps: int = DEFAULT_STEPS) -> np.ndarray:
    """Pixels perturbed at each point of a curve over ``pixels`` pixels: ``linspace(0, pixels, steps + 1)``
    as int32 (Xplique's points)."""
    return np.linspace(0, pixels, positive_int("steps", steps) + 1, dtype=np.int32)


def light_points(steps: int = DEFAULT_STEPS, light_steps: int = LIGHT_STEPS) -> list[int]:
    """The points of a ``steps``-point curve that a ``light_steps``-point curve keeps: every
    ``steps // light_steps``-th, from the first to the last.

    Raises:
        ValueError: ``light_steps`` does not divide ``steps``.
    """
    steps, light_steps = positive_int("steps", steps), positive_int("light_steps", light_steps)
    if steps % light_steps:
        raise ValueError(
            f"light_steps must divide steps ({steps}), so that a light curve's points are the full curve's. "
            f"Received: light_steps={light_steps}"
        )
    return list(range(0, steps + 1, steps // light_steps))


def _check_points(points: Sequence[int] | None, steps: int) -> list[int]:
    if points is None:
        return list(range(steps + 1))
    chosen = [int(p) for p in points]
    if not chosen or any(p < 0 or p > steps for p in chosen):
        raise ValueError(f"points must be indices in [0, {steps}]. Received: points={points!r}")
    return chosen


def causal_images(
    images: np.ndarray,
    maps: np.ndarray,
    *,
    mode: str,
    steps: int = DEFAULT_STEPS,
    baseline: float = 0.0,
    points: Sequence[int] | None = None,
) -> np.ndarray:
    """The perturbed images of a deletion or insertion curve: ``[N, steps + 1, H, W, C]`` (``[N, P, H, W, C]``
    for ``P`` chosen ``points``).

    Image ``[n, s]`` has the first ``linspace(0, H*W, steps + 1)[s]`` pixels of map ``n``'s order deleted
    (set to ``baseline``) or inserted (copied onto a ``baseline`` image).

    Args:
        points: Only these points of the curve (indices in ``[0, steps]``); default all.

    Raises:
        ValueError: ``mode`` is not ``"deletion"`` or ``"insertion"``; maps and images differ in shape; a
            point outside ``[0, steps]``.
    """
    one_of("mode", mode, MODES)
    steps = positive_int("steps", steps)
    chosen = _check_points(points, steps)
    images = np.asarray(images, dtype=np.float32)
    maps = np.asarray(maps)
    n, h, w, c = images.shape
    if maps.shape != (n, h, w):
        raise ValueError(f"maps must be [N, H, W] = {(n, h, w)} for these images. Received shape {maps.shape}")
    order = perturbation_order(maps)
    counts = curve_counts(h * w, steps)[chosen]
    flat = images.reshape(n, h * w, c)
    base = np.full_like(flat, baseline)
    start, end = (flat, base) if mode == "deletion" else (base, flat)
    out = np.repeat(start[:, None], len(chosen), axis=1)
    rows = np.arange(n)[:, None]
    for s, count in enumerate(counts):
        ids = order[:, :count]
        out[rows, s, ids] = end[rows, ids]
    return out.reshape(n, len(chosen), h, w, c)


def causal_curves(
    score_fn: ScoreFn,
    images: np.ndarray,
    maps: np.ndarray,
    classes: Sequence[int] | np.ndarray,
    *,
    mode: str,
    steps: int = DEFAULT_STEPS,
    baseline: float = 0.0,
    points: Sequence[int] | None = None,
) -> np.ndarray:
    """The class score along a deletion or insertion path: ``[N, steps + 1]`` (``[N, P]`` for ``P`` chosen
    ``points``).

    Args:
        score_fn: Images -> class probabilities ``[M, K]`` (``GradCAM.class_probabilities``).
        images: ``[N, H, W, C]`` probe images.
        maps: ``[N, H, W]`` their maps (any scale: only the order counts).
        classes: ``[N]`` the class each map explains.
        mode: ``"deletion"`` or ``"insertion"``.
        steps: Points after the unperturbed one.
        baseline: The value of a deleted pixel.
        points: Only these points of the curve (indices in ``[0, steps]``); default all.

    Example:
        >>> curves = causal_curves(cam.class_probabilities, x, maps, predicted, mode="deletion")
        >>> auc(curves)   # [N], lower is better for deletion
    """
    batch = causal_images(images, maps, mode=mode, steps=steps, baseline=baseline, points=points)
    n, p = batch.shape[:2]
    probs = np.asarray(score_fn(batch.reshape(-1, *batch.shape[2:])), dtype=np.float64)
    probs = probs.reshape(n, p, -1)
    classes = np.asarray(classes, dtype=np.int64).reshape(n)
    return probs[np.arange(n), :, classes]


def causal_pair(
    score_fn: ScoreFn,
    images: np.ndarray,
    maps: np.ndarray,
    classes: Sequence[int] | np.ndarray,
    *,
    steps: int = DEFAULT_STEPS,
    baseline: float = 0.0,
    points: Sequence[int] | None = None,
) -> dict[str, np.ndarray]:
    """The deletion and the insertion curves together, in one call of ``score_fn``: ``{"deletion": [N, P],
    "insertion": [N, P]}``, the values of ``causal_curves`` for each mode.

    The two paths share their ends, which are scored once: the unperturbed images (deletion's first point,
    insertion's last) and the all-``baseline`` image (deletion's last point, insertion's first; one image for
    every probe). At 10 steps that is ``N + 1 + 2 * 9 * N`` images instead of ``2 * 11 * N``.

    Args: as ``causal_curves``, without ``mode``.

    Example:
        >>> curves = causal_pair(cam.class_probabilities, x, maps, predicted)
        >>> auc(curves["deletion"]), auc(curves["insertion"])
    """
    steps = positive_int("steps", steps)
    chosen = _check_points(points, steps)
    images = np.asarray(images, dtype=np.float32)
    n, h, w, c = images.shape
    if np.shape(maps) != (n, h, w):
        raise ValueError(f"maps must be [N, H, W] = {(n, h, w)} for these images. Received shape {np.shape(maps)}")
    counts = curve_counts(h * w, steps)[chosen]
    inner = [i for i, count in enumerate(counts) if 0 < count < h * w]
    inner_points = [chosen[i] for i in inner]
    batches = [images, np.full((1, h, w, c), baseline, np.float32)]
    for mode in MODES if inner_points else ():
        batch = causal_images(images, maps, mode=mode, steps=steps, baseline=baseline, points=inner_points)
        batches.append(batch.reshape(-1, h, w, c))
    probs = np.asarray(score_fn(np.concatenate(batches)), dtype=np.float64)
    classes = np.asarray(classes, dtype=np.int64).reshape(n)
    rows = np.arange(n)
    unperturbed, empty = probs[rows, classes], probs[n, classes]
    out: dict[str, np.ndarray] = {}
    offset = n + 1
    for mode in MODES:
        curves = np.empty((n, len(chosen)), np.float64)
        if inner:
            block = probs[offset : offset + n * len(inner)].reshape(n, len(inner), -1)
            curves[:, inner] = block[rows, :, classes]
            offset += n * len(inner)
        for i, count in enumerate(counts):
            if count == 0 or count == h * w:
                untouched = (count == 0) == (mode == "deletion")
                curves[:, i] = unperturbed if untouched else empty
        out[mode] = curves
    return out


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


def _centred_ranks(values: np.ndarray) -> tuple[np.ndarray, float]:
    """Ranks less their mean, and the square root of their sum of squares (0 for a constant array)."""
    r = _ranks(np.asarray(values, dtype=np.float64).reshape(-1))
    r -= r.mean()
    return r, float(np.sqrt(np.sum(r * r)))


def _rank_correlation(a: tuple[np.ndarray, float], b: tuple[np.ndarray, float]) -> float:
    denominator = a[1] * b[1]
    return float(np.sum(a[0] * b[0]) / denominator) if denominator > 0 else float("nan")


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
    return _rank_correlation(_centred_ranks(a), _centred_ranks(b))


def paired_spearman(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``spearman(a[n], b[n])`` for each ``n``: ``[N, ...] x [N, ...] -> [N]``."""
    return np.array([spearman(x, y) for x, y in zip(a, b, strict=True)])


def _ranked_spearman(ranked: Sequence[tuple[np.ndarray, float]], b: np.ndarray) -> np.ndarray:
    """``paired_spearman(a, b)`` with ``a``'s rows ranked once (``_centred_ranks``) for several ``b``."""
    if len(b) != len(ranked):
        raise ValueError(f"paired_spearman needs as many rows on both sides. Received {len(ranked)} and {len(b)}")
    return np.array([_rank_correlation(r, _centred_ranks(y)) for r, y in zip(ranked, b, strict=True)])


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
        source, target = model_graph.trace_of(model), model_graph.trace_of(self.copy)
        names = [r.name for r in source.records]
        if names != [r.name for r in target.records]:
            raise ValueError(f"clone_model changed the layers of model {model.name!r}; cannot pair them")
        start = names.index(source.find(layer if lowest is None else lowest).name)
        # A CAM layer without weights (a pooling layer) is re-initialised with the layer that feeds it.
        while start > 0 and not source.records[start].layer.weights:
            start -= 1
        self.pairs: list[tuple[keras.Variable, keras.Variable]] = []
        self.randomized: list[str] = []
        top: list[tuple[str, keras.Variable]] = []
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
        self.seconds: list[float] = []

    def _use(self, draw: int) -> None:
        for variable, value in zip(self._top, self._draws[draw], strict=True):
            variable.assign(value)

    def sync(self) -> None:
        """Copies the model's current weights into the copy's lower layers."""
        for mine, theirs in self.pairs:
            theirs.assign(mine.value)

    @property
    def draws(self) -> int:
        """How many re-initialisations the copy holds."""
        return len(self._draws)

    def maps(
        self, images: np.ndarray, classes: Sequence[int] | np.ndarray, *, draws: Sequence[int] | None = None
    ) -> list[np.ndarray]:
        """The copy's Grad-CAM maps of ``classes`` under each draw of its top layers: ``draws x [N, H, W]``.

        Args:
            draws: Only these draws (indices in ``[0, self.draws)``), in this order; default all. Draw ``d`` holds
                the same weights whichever others are drawn.

        Attributes set:
            seconds: The seconds of each draw's Grad-CAM call (the first call of the copy traces it).
        """
        chosen = list(range(len(self._draws))) if draws is None else [int(d) for d in draws]
        if any(d < 0 or d >= len(self._draws) for d in chosen):
            raise ValueError(f"draws must be indices in [0, {len(self._draws)}). Received: draws={draws!r}")
        self.sync()
        out = []
        self.seconds = []
        for d in chosen:
            self._use(d)
            t0 = time.perf_counter()
            out.append(self.cam(images, class_index=np.asarray(classes)))
            self.seconds.append(time.perf_counter() - t0)
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

    ``light=True`` draws them on a subset of the full computation (``light_steps`` of the curves' points,
    the first ``light_draws`` re-initialisations; see the module docstring).

    Args:
        cam: The Grad-CAM whose maps are checked.
        steps: Points of the deletion and insertion curves.
        tolerance: The pointing game's tolerance in pixels (default: 15 px scaled from 224 px to the input).
        seed: Seed of the randomised copy's weights.
        draws: Re-initialisations of the copy's top layers the randomisation check averages over.
        light_steps: Points of a light draw's curves (must divide ``steps``); default ``LIGHT_STEPS`` where it
            divides ``steps``, else the largest divisor of ``steps`` up to half of it.
        light_draws: Re-initialisations a light draw averages over (at most ``draws``); default
            ``min(LIGHT_DRAWS, draws)``.

    Attributes:
        detail: What the last call drew: ``{"variant": "full" | "light", "steps": s, "random_draws": d,
            "probes": n}``.
        setup_seconds: Seconds of the last call spent on one-off work: building the randomised copy and its
            first (tracing) Grad-CAM call beyond a steady one; 0 after the first call.

    Raises:
        ValueError: ``light_steps`` does not divide ``steps``, or ``light_draws`` exceeds ``draws``.

    Example:
        >>> checks = MapChecks(compute.GradCAM(model))
        >>> checks(images, maps, predicted, boxes=boxes)
        {'faithfulness/deletion_auc': 0.21, 'faithfulness/insertion_auc': 0.74, ...}
        >>> checks(images, maps, predicted, boxes=boxes, light=True)   # 5 points per curve, 4 draws
    """

    def __init__(
        self,
        cam: BaseCAM,
        *,
        steps: int = DEFAULT_STEPS,
        tolerance: int | None = None,
        seed: int = 0,
        draws: int = RANDOM_DRAWS,
        light_steps: int | None = None,
        light_draws: int | None = None,
    ) -> None:
        self.cam = cam
        self.draws = positive_int("draws", draws)
        self.steps = positive_int("steps", steps)
        if light_steps is None:
            divisors = [d for d in range(1, max(self.steps // 2, 1) + 1) if self.steps % d == 0]
            light_steps = LIGHT_STEPS if self.steps % LIGHT_STEPS == 0 else divisors[-1]
        if light_draws is None:
            light_draws = min(LIGHT_DRAWS, self.draws)
        self.light_steps = positive_int("light_steps", light_steps)
        self.light_points = light_points(self.steps, self.light_steps)
        self.light_draws = positive_int("light_draws", light_draws)
        if self.light_draws > self.draws:
            raise ValueError(f"light_draws must be at most draws ({self.draws}). Received: light_draws={light_draws}")
        self.tolerance = None if tolerance is None else non_negative_int("tolerance", tolerance)
        self.seed = seed
        self.copy: RandomizedCopy | None = None
        self._previous: np.ndarray | None = None
        self.detail: Record = {}
        self.setup_seconds = 0.0

    def forward_images(self, probes: int, *, light: bool = False) -> int:
        """Images a call scores for its deletion and insertion curves (``causal_pair``), for a cost estimate."""
        points = len(self.light_points) if light else self.steps + 1
        return probes + 1 + 2 * max(0, points - 2) * probes

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
        light: bool = False,
    ) -> dict[str, float]:
        """The measures (see the class docstring); the maps become the next call's drift reference."""
        maps = np.asarray(maps)
        scores = self.cam.class_probabilities
        points = self.light_points if light else None
        curves = causal_pair(scores, images, maps, classes, steps=self.steps, points=points)
        out = {FAITHFULNESS + f"{mode}_auc": auc(curves[mode]) for mode in MODES}
        own = np.asarray(classes) == 1 if self.cam.single_unit else slice(None)
        if boxes is not None and maps[own].size:
            side = min(maps.shape[1:3])
            tolerance = round(POINTING_TOLERANCE * side) if self.tolerance is None else self.tolerance
            hits = pointing_game(maps[own], np.asarray(boxes)[own], tolerance=tolerance)
            out[FAITHFULNESS + "pointing_game"] = hits.astype(np.float64)
        t0 = time.perf_counter()
        building = self.copy is None
        copy = self._copy()
        built = time.perf_counter() - t0 if building else 0.0
        draws = list(range(self.light_draws if light else self.draws))
        ranked = [_centred_ranks(m) for m in maps]
        random = [_ranked_spearman(ranked, r) for r in copy.maps(images, classes, draws=draws)]
        # The copy's first call traces its Grad-CAM: what it took beyond a steady call is one-off work.
        steady = min(copy.seconds[1:], default=copy.seconds[0]) if copy.seconds else 0.0
        traced = max(0.0, copy.seconds[0] - steady) if building and copy.seconds else 0.0
        self.setup_seconds = built + traced
        out[SANITY + "randomization_spearman"] = _finite_mean(np.array(random), axis=0)
        if self._previous is not None and self._previous.shape == maps.shape:
            out[SANITY + "drift_spearman"] = _ranked_spearman(ranked, self._previous)
        self._previous = maps.copy()
        self.detail = {
            "variant": "light" if light else "full",
            "steps": self.light_steps if light else self.steps,
            "random_draws": len(draws),
            "probes": len(maps),
        }
        return {tag: float(_finite_mean(values)) for tag, values in out.items() if np.isfinite(values).any()}
