"""Filter patterns: the input that maximises each filter's mean activation, by batched gradient ascent.

Chollet's ``generate_pattern`` (Deep Learning with Python, 5.4.2), done so it can run at every checkpoint:

* **batched**: all filters of a layer (in chunks if memory asks) are optimised together, image ``i`` for
  filter ``i``, the whole ascent loop one compiled step (``tf.function``, ``jax.jit``; eager on PyTorch) on
  a model truncated at the layer, in ``keras.ops`` so it runs on every Keras backend;
* **comparable across epochs**: the starting image of (layer, filter) and the jitter sequence are derived
  from ``seed``, the layer name and the filter index, so two checkpoints differ only by the weights;
* **sized by receptive field**: the image is ``SIZE_FACTOR`` times the layer's receptive field (at least
  ``MIN_SIZE``, at most the model's input size). The truncated model is rebuilt on
  ``keras.Input((None, None, C))`` sharing the layers; where that graph cannot be re-applied at another size
  (a layer that needs the original size before the target layer) it falls back to the model's input size;
* **readable** (Olah et al. 2017, "Feature Visualization", Distill; Lucid's ``fft_image`` and
  ``to_valid_rgb``): by default the image is parameterised in Fourier space, each frequency scaled by
  ``1 / f ** FOURIER_DECAY``, in decorrelated colour channels mapped to RGB by ``color_decorrelation_matrix``
  (ImageNet's colour covariance), then to ``value_range`` by a sigmoid. The ascent then favours the broad,
  naturally coloured shapes and edges a filter responds to over the high-frequency, saturated noise that
  pixel-space ascent amplifies; a small roughness penalty (``ROUGHNESS``) keeps the spectrum of texture
  filters' patterns near that of natural images. For a ``Conv2D`` with a non-linear activation the objective
  also has a small term in the pre-activation mean, so filters that are inactive on the grey start image
  still get a gradient (a "leaky" objective). ``parameterization="pixel"`` is Chollet's pixel-space ascent,
  regularised by a light Gaussian blur each step, a jitter (a roll of a few pixels) and clipping to
  ``value_range``, as in earlier versions;
* **robust** (Lucid's "transformation robustness"): with the Fourier parameterisation, each step sees the
  image through a random affine view, a shift of up to ``TRANSFORM_JITTER`` pixels, a scale in
  ``TRANSFORM_SCALE`` and a rotation of up to ``TRANSFORM_ROTATION`` degrees, resampled bilinearly (and
  differentiably) inside the compiled step; gradients are normalised per image and decorrelated colour
  channel, so colour moves as well as luminance. The views are drawn from ``seed`` and the layer name, so the
  same seed gives the same bytes. The pattern then drives its filter under small shifts, scales and
  rotations, not at one pixel alignment only (``tb_featureviz.compute.pattern_metrics`` measures it);
* **two tiers** (``QUALITIES``): ``quality="default"`` fits every checkpoint (all 352 filters of the tutorial
  CNN in under 3 s on 2 CPU cores); ``quality="best"`` takes more steps on larger images, for the enlarged
  view and the sidecar. In both, layers whose patterns are cheap get more steps (``tier_steps``).
  ``FilterPatternGenerator.diverse`` adds Lucid's diversity term to draw several different patterns of one
  filter. ``FilterPatternGenerator.probe_activation`` and ``relative_activation`` put a pattern's activation
  against what real images reach;
* **displayable**: each pattern is stretched to [0, 1] between its 1st and 99th percentile.

The steps themselves, the tiers and the constants live in ``tb_featureviz.compute.ascent``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence

import keras
import numpy as np
import numpy.typing as npt

from tb_featureviz.compute import backend, model_graph
from tb_featureviz.compute.ascent import (
    DEFAULT_STEPS as DEFAULT_STEPS,
)
from tb_featureviz.compute.ascent import (
    DIVERSITY,
    MEMORY_BUDGET,
    PARAMETERIZATIONS,
    QUALITIES,
    AscentSteps,
    _normalise,
    _seed_for,
    _to_rgb,
    check_quality,
    default_size,
    tier_steps,
)
from tb_featureviz.compute.ascent import MIN_SIZE as MIN_SIZE
from tb_featureviz.compute.ascent import SIZE_FACTOR as SIZE_FACTOR
from tb_featureviz.compute.ascent import STEP_WORK as STEP_WORK
from tb_featureviz.compute.ascent import color_decorrelation_matrix as color_decorrelation_matrix
from tb_featureviz.compute.backend import Tensor
from tb_featureviz.compute.input_space import InputSpace, from_model_layers, resolve_input_space
from tb_featureviz.compute.pattern_metrics import affine_rows
from tb_featureviz.compute.pattern_metrics import layer_relative_activation as layer_relative_activation
from tb_featureviz.compute.pattern_metrics import relative_activation as relative_activation
from tb_featureviz.validation import ArgumentTypeError, positive_float, positive_int

logger = logging.getLogger(__name__)

TRANSFORM_JITTER = 12
"""Largest shift of the random view at each step, in pixels, at most half the side: a little more than the
8 px of Lucid's ``jitter(8)`` and of ``pattern_metrics``' views, so that a pattern holds up under those."""
TRANSFORM_SCALE = (0.9, 1.1)
"""Range of the scale factor of the random view at each step."""
TRANSFORM_ROTATION = 5.0
"""Largest rotation of the random view at each step, in degrees either way (Lucid draws up to 10 with extra
weight on 0; the views of ``pattern_metrics`` turn up to 10)."""


def check_parameterization(value: str, name: str = "parameterization") -> str:
    """Returns ``value`` if it is one of ``PARAMETERIZATIONS``, else raises a ``ValueError`` naming ``name``."""
    if value not in PARAMETERIZATIONS:
        raise ValueError(f"{name} must be one of {', '.join(PARAMETERIZATIONS)}. Received: {name}={value!r}")
    return value


def transform_rows(size: int, steps: int, rng: np.random.Generator) -> np.ndarray:
    """``[steps, 8]`` random affine views for the ascent (see ``TRANSFORM_*``), as projective rows."""
    jitter = max(0, min(int(TRANSFORM_JITTER), size // 2))
    shifts = rng.integers(-jitter, jitter + 1, size=(steps, 2)).astype(np.float64)
    scales = rng.uniform(TRANSFORM_SCALE[0], TRANSFORM_SCALE[1], size=steps)
    angles = np.deg2rad(rng.uniform(-TRANSFORM_ROTATION, TRANSFORM_ROTATION, size=steps))
    return affine_rows(scales, angles, shifts, size)


class FilterPatternGenerator(AscentSteps):
    """Batched, seeded, regularised filter patterns of one layer, built once and called at checkpoints.

    Args:
        model: A built single-input, channels_last Keras model (Sequential, functional or nested).
        layer: A layer with a 4-D output (usually a conv layer, see ``conv_layers``).
        filters: Filter (channel) indices; ``None`` for all.
        steps: Gradient-ascent steps; ``None`` for the tier's, by the cost of the layer (``tier_steps``: from
            ``DEFAULT_STEPS`` for cheap layers down to ``DEFAULT_MIN_STEPS`` in the default tier).
        size: Pattern side in pixels; ``None`` for the tier's size factor x the receptive field, at least the
            tier's minimum, at most the input size (``SIZE_FACTOR``, ``MIN_SIZE`` for the default tier).
        seed: Seed of the starting images, the jitter and the random views.
        chunk_size: Filters optimised together; ``None`` for as many as fit ``MEMORY_BUDGET``.
        value_range: The model's input pixel range ``(low, high)``, RGB; a shorthand for ``input_space``.
        input_space: How display RGB maps to the model's input (``compute.input_space.InputSpace``): patterns
            are optimised as display RGB in [0, 1] through it, and shown through its inverse. ``None`` with no
            ``value_range``: from the model's leading ``Rescaling``/``Normalization`` layers, else [0, 1].
        parameterization: ``"fourier"`` (default: decorrelated colour, 1/f spectrum, random views each
            step) or ``"pixel"`` (Chollet's pixel-space ascent); see the module docstring.
        quality: ``"default"`` (every checkpoint) or ``"best"`` (``BEST_STEPS`` steps on a pattern
            ``BEST_SIZE_FACTOR`` receptive fields wide, for the enlarged view); see ``QUALITIES``.

    Attributes:
        layer_name: The layer.
        filters: The filter indices, in output order.
        size: Pattern side in pixels.
        receptive_field: The layer's receptive field in input pixels (see ``receptive_field``).
        steps: Gradient-ascent steps.
        quality: The tier.
        work: Activation values one image's ascent step computes (pattern pixels x channels, summed over the
            layers up to the target at their resolutions): the cost measure of ``tier_steps``.

    Raises:
        TypeError: a bad argument type (e.g. a non-int filter index).
        ValueError: an unsupported model, unknown layer (the message lists the known ones), a layer whose
            output is not 4-D, a filter index out of range, an unknown ``quality`` or ``parameterization``,
            or a non-positive ``steps``/``size``/``chunk_size``.

    Example:
        >>> gen = FilterPatternGenerator(model, "conv2d_2")   # once, in set_model
        >>> patterns, reached = gen()                         # each checkpoint: [128, 28, 28, 3], [128]
        >>> best = FilterPatternGenerator(model, "conv2d_2", quality="best", filters=[5])
    """

    def __init__(
        self,
        model: keras.Model,
        layer: str,
        *,
        filters: Sequence[int] | None = None,
        steps: int | None = None,
        size: int | None = None,
        seed: int = 0,
        chunk_size: int | None = None,
        value_range: tuple[float, float] | None = None,
        input_space: InputSpace | None = None,
        parameterization: str = "fourier",
        quality: str = "default",
    ) -> None:
        self.parameterization = check_parameterization(parameterization)
        self.quality: str = check_quality(quality)
        tier = QUALITIES[self.quality]
        trace = model_graph.trace_of(model)
        if not isinstance(layer, str):
            raise TypeError(f"layer must be a layer name. Received: layer={layer!r}")
        record = model_graph.resolve_layers(trace, [layer])[0]
        self.layer_name: str = record.name
        channels = int(record.output.shape[-1])
        self.filters: list[int] = self._check_filters(filters, channels)
        explicit_steps = None if steps is None else positive_int("steps", steps)
        input_shape = tuple(trace.input.shape[1:])
        self._channels = int(input_shape[2])
        self._space: InputSpace = _space_for(model, value_range, input_space, self._channels)
        hw = (int(input_shape[0]), int(input_shape[1])) if input_shape[0] and input_shape[1] else None
        self.receptive_field: int = hw[0] if math.isinf(record.rf) and hw else math.ceil(record.rf - 1e-9)
        self.size: int = default_size(record.rf, hw, self.quality) if size is None else positive_int("size", size)
        self.seed = int(seed)
        self._roughness_weight = float(tier.roughness)

        activation = getattr(getattr(record.layer, "activation", None), "__name__", "linear")
        conv = isinstance(record.layer, keras.layers.Conv2D) and activation != "linear"
        self._conv_layer = record.layer if conv else None
        # A standalone activation layer (ReLU, Activation("relu"), the stage outputs of MobileNet and
        # EfficientNet) gets the same leaky objective on its input: a unit that is dead on the mid-grey start
        # still has a gradient.
        self._act_layer = record.layer if not conv and _is_activation(record) else None
        self._model, jump_sum = self._truncated_model(model, record, hw)
        conv_weights = list(self._conv_layer.weights) if self._conv_layer is not None else []
        self._variables = list({id(v): v for v in [*self._model.weights, *conv_weights]}.values())
        self._per_image_bytes = 3 * 4 * self.size**2 * jump_sum
        self.work: float = float(self.size**2 * jump_sum)
        self.steps: int = (
            explicit_steps if explicit_steps is not None else tier_steps(tier.steps, tier.min_steps, self.work)
        )
        if chunk_size is None:
            self.chunk_size = int(max(1, min(len(self.filters), MEMORY_BUDGET // max(self._per_image_bytes, 1))))
        else:
            self.chunk_size = positive_int("chunk_size", chunk_size)

        rng = np.random.default_rng(_seed_for(self.seed, self.layer_name, "jitter"))
        if parameterization == "fourier":
            self._transforms = transform_rows(self.size, self.steps, rng)
            self._param_shape: tuple[int, ...] = (self._channels, self.size, self.size // 2 + 1, 2)
        else:
            jitter = max(1, round(self.size / 16))
            self._shifts = rng.integers(-jitter, jitter + 1, size=(self.steps, 2)).astype(np.int32)
            self._param_shape = (self.size, self.size, self._channels)
        self._channels_out = channels
        self._build_steps(tier.decay)

    @staticmethod
    def _check_filters(filters: Sequence[int] | None, channels: int) -> list[int]:
        if filters is None:
            return list(range(channels))
        if isinstance(filters, (str, bytes)) or not isinstance(filters, (Sequence, np.ndarray, range)):
            raise TypeError(f"filters must be a sequence of ints. Received: filters={filters!r}")
        out = []
        for f in filters:
            if not isinstance(f, (int, np.integer)) or isinstance(f, bool):
                raise ArgumentTypeError(f"filters must hold ints. Received: filters={filters!r}")
            if not 0 <= int(f) < channels:
                raise ValueError(f"Filter index out of range [0, {channels}). Received: filters={filters!r}")
            out.append(int(f))
        if not out:
            raise ValueError(f"filters must not be empty. Received: filters={filters!r}")
        return out

    def _truncated_model(
        self, model: keras.Model, record: model_graph.LayerRecord, hw: tuple[int, int] | None
    ) -> tuple[keras.Model, float]:
        """The model from the input to the target layer (to its input, for the leaky conv objective)."""

        def build(shape: tuple[int | None, ...]) -> tuple[keras.Model, float]:
            trace = model_graph.build_trace(model, shape, stop_at=record.path)
            last = trace.records[-1]
            leaky = self._conv_layer is not None or self._act_layer is not None
            out = last.inputs[0] if leaky else last.output
            sub = keras.Model(trace.input, out, name=f"{model.name}_featureviz_to_{last.path[-1]}")
            jump_sum = sum(
                int(r.output.shape[-1]) / r.jump**2
                for r in trace.records
                if not r.container and r.is_4d and r.output.shape[-1] is not None
            )
            return sub, jump_sum

        try:
            sub, jump_sum = build((None, None, self._channels))
            probe = self._apply(sub, keras.ops.zeros((1, self.size, self.size, self._channels)))
            if min(probe.shape[1:3]) < 1:
                raise ValueError(f"empty feature map {probe.shape}")
            return sub, jump_sum
        except Exception as e:  # the graph cannot be re-applied at another size
            if hw is None:
                raise
            logger.info(
                "Filter patterns of %r at the input size %s: the model cannot be re-applied at %dx%d (%s).",
                self.layer_name,
                hw,
                self.size,
                self.size,
                e,
            )
            self.size = hw[0] if hw[0] == hw[1] else min(hw)
            if hw[0] != hw[1]:
                raise ValueError(
                    f"Layer {self.layer_name!r} cannot be evaluated on square patterns of a {hw} input."
                ) from e
            return build((hw[0], hw[1], self._channels))

    def _filters_or_default(self, filters: Sequence[int] | None) -> list[int]:
        return list(self.filters) if filters is None else self._check_filters(filters, self._channels_out)

    def start_images(self, filters: Sequence[int] | None = None) -> np.ndarray:
        """The fixed starting images, in model input space.

        Args:
            filters: Filter indices; ``None`` for ``self.filters``.

        Returns:
            ``[F, size, size, C]`` float32, one per filter.
        """
        params = self._params_for(self._filters_or_default(filters))
        return backend.to_numpy(self._image(params)).astype(np.float32)

    def mean_activation(self, images: npt.ArrayLike, filters: Sequence[int] | None = None) -> np.ndarray:
        """Mean activation of filter ``filters[i]`` on ``images[i]`` (the layer's output, after activation).

        Args:
            images: ``[F, size, size, C]`` images in model input space.
            filters: Filter indices; ``None`` for ``self.filters``.

        Returns:
            ``[F]`` float32.

        Raises:
            ValueError: ``images`` has the wrong shape.
        """
        chosen = self._filters_or_default(filters)
        x = np.asarray(images, dtype=np.float32)
        want = (len(chosen), self.size, self.size, self._channels)
        if x.shape != want:
            raise ValueError(f"images must have shape {want}. Received shape {x.shape}")
        return self._run(self._mean, x, chosen)

    def probe_activation(self, images: npt.ArrayLike, filters: Sequence[int] | None = None) -> np.ndarray:
        """Mean activation of each filter over real images (the probes), for ``relative_activation``.

        Args:
            images: ``[N, H, W, C]`` images in model input space, at the model's input size (any size
                where the model can be re-applied at other sizes).
            filters: Filter indices; ``None`` for ``self.filters``.

        Returns:
            ``[F]`` float64: each filter's activation averaged over the images and the positions of its map.

        Raises:
            ValueError: ``images`` is not ``[N, H, W, C]`` with the model's channel count.

        Example:
            >>> reached = gen()[1]
            >>> layer_relative_activation(reached, gen.probe_activation(probes))   # e.g. 3.2
        """
        chosen = self._filters_or_default(filters)
        x = np.asarray(images, dtype=np.float32)
        if x.ndim != 4 or x.shape[0] < 1 or x.shape[-1] != self._channels:
            raise ValueError(f"images must be [N, H, W, {self._channels}]. Received shape {x.shape}")
        per_image = max(1, self._per_image_bytes * (x.shape[1] * x.shape[2]) // max(self.size**2, 1) // 3)
        batch = int(max(1, min(x.shape[0], MEMORY_BUDGET // per_image)))
        total = np.zeros(self._channels_out, np.float64)
        positions = 0
        for i in range(0, x.shape[0], batch):
            sums, n = self._probe_sum(x[i : i + batch])
            total += np.asarray(sums, np.float64)
            positions += int(n)
        return total[chosen] / max(positions, 1)

    def relative_activation(
        self, reached: npt.ArrayLike, images: npt.ArrayLike, filters: Sequence[int] | None = None
    ) -> tuple[np.ndarray, float]:
        """The patterns' activation relative to the probe images' (see ``pattern_metrics.relative_activation``).

        Args:
            reached: ``[F]`` activations each filter reaches on its pattern (the second output of a call).
            images: ``[N, H, W, C]`` probe images in model input space.
            filters: The filters ``reached`` belongs to; ``None`` for ``self.filters``.

        Returns:
            ``(per_filter, layer)``: ``[F]`` ratios (``nan`` where the probes leave the filter silent) and the
            layer's scalar ``mean(reached) / mean(probe activation)``.

        Raises:
            ValueError: ``reached`` does not match ``filters``, or bad ``images``.
        """
        probe = self.probe_activation(images, filters)
        return relative_activation(reached, probe), layer_relative_activation(reached, probe)

    def diverse(
        self, filters: Sequence[int] | None = None, *, count: int = 4, weight: float = DIVERSITY
    ) -> tuple[np.ndarray, np.ndarray]:
        """``count`` different patterns per filter, optimised together with a diversity term.

        The objective of each image is its filter's activation minus ``weight`` times (the activation's size
        times) the mean cosine similarity of its Gram matrix (of the layer's channels) to those of the other
        images of the same filter (Olah et al. 2017, "Feature Visualization", section "Diversity"). The first
        image of each filter starts where ``optimize`` starts.

        Args:
            filters: Filter indices; ``None`` for ``self.filters``.
            count: Patterns per filter, at least 2.
            weight: Weight of the diversity term (``DIVERSITY`` by default; 0 optimises the ``count`` starts
                independently).

        Returns:
            ``(patterns, reached)``: ``[F, count, size, size, 3]`` float32 in [0, 1] (stretched as
            ``__call__``'s) and ``[F, count]`` float32 activations on the unstretched images.

        Raises:
            ValueError: ``count`` below 2, a negative ``weight`` or a bad filter index.
        """
        chosen = self._filters_or_default(filters)
        count = positive_int("count", count)
        if count < 2:
            raise ValueError(f"count must be at least 2. Received: count={count!r}")
        weight = 0.0 if weight == 0 else positive_float("weight", weight)
        fn = self._diverse_fns.get(count)
        if fn is None:

            def run(params: Tensor, idx: Tensor, w: Tensor) -> tuple[Tensor, Tensor]:
                return self._ascend_fn(params, idx, w, count)

            fn = self._compile(run, ((None, *self._param_shape), "float32"), ((None,), "int32"), ((), "float32"))
            self._diverse_fns[count] = fn
        starts = np.stack([self._params_for(chosen, v) for v in range(count)], axis=1)  # [F, count, ...]
        params = starts.reshape(len(chosen) * count, *starts.shape[2:])
        idx = np.repeat(np.asarray(chosen), count).tolist()
        chunk = count * max(1, self.chunk_size // count)
        images, reached = self._run(fn, params, idx, chunk, np.float32(weight), group=count)
        patterns = _normalise(_to_rgb(self._space.to_display(images, clip=False)))
        return (
            patterns.reshape(len(chosen), count, *patterns.shape[1:]),
            reached.astype(np.float32).reshape(len(chosen), count),
        )

    def optimize(self, filters: Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Runs the ascent from the fixed starting images with the current weights.

        Args:
            filters: Filter indices; ``None`` for ``self.filters``. A filter's result does not depend on
                which other filters are optimised with it.

        Returns:
            ``(images, reached)``: ``[F, size, size, C]`` float32 optimised images in model input space, and
            ``[F]`` float32 mean activation of each filter on its image.

        Raises:
            TypeError, ValueError: a bad filter index.
        """
        chosen = self._filters_or_default(filters)
        images, reached = self._run(self._ascend, self._params_for(chosen), chosen)
        return images.astype(np.float32), reached.astype(np.float32)

    def __call__(self, filters: Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Computes the patterns with the current weights.

        Args:
            filters: Filter indices; ``None`` for ``self.filters``.

        Returns:
            ``(patterns, reached)``: ``[F, size, size, 3]`` float32 in [0, 1] (each stretched between its 1st
            and 99th percentile; 1-channel inputs repeated to RGB), and ``[F]`` float32 mean activation each
            filter reaches on its (unstretched) optimised image.
        """
        images, reached = self.optimize(filters)
        return _normalise(_to_rgb(self._space.to_display(images, clip=False))), reached

    @property
    def input_space(self) -> InputSpace:
        """The model's input space the patterns are optimised in."""
        return self._space


def filter_patterns(
    model: keras.Model,
    layer: str,
    *,
    filters: Sequence[int] | None = None,
    steps: int | None = None,
    size: int | None = None,
    seed: int = 0,
    parameterization: str = "fourier",
    quality: str = "default",
    input_range: tuple[float, float] | None = None,
    preprocess: str | Callable[[np.ndarray], Tensor] | None = None,
) -> np.ndarray:
    """Filter patterns of ``layer``: for each filter, the input that maximises its mean activation.

    A one-off convenience over ``FilterPatternGenerator`` (see it and the module docstring for the method);
    to call it every epoch, build the generator once.

    Args:
        model: A built single-input, channels_last Keras model (nested models included).
        layer: A layer with a 4-D output.
        filters: Filter indices; ``None`` for all.
        steps: Gradient-ascent steps; ``None`` for the tier's.
        size: Pattern side; ``None`` for the tier's (default: 1.5x the receptive field, at least 16, at most
            the input size).
        seed: Seed of the starting images, the jitter and the random views.
        parameterization: ``"fourier"`` (default) or ``"pixel"`` (Chollet's pixel-space ascent).
        quality: ``"default"`` or ``"best"`` (more steps, larger patterns; see ``QUALITIES``).
        input_range: The model's input pixel range ``(low, high)``; ``None``: from the model's leading
            ``Rescaling``/``Normalization`` layers, else [0, 1].
        preprocess: Instead of ``input_range``, the preprocessing done outside the model: ``"caffe"``,
            ``"tf"``, ``"torch"`` or a callable (see ``compute.input_space.resolve_input_space``).

    Returns:
        ``[F, size, size, 3]`` float32 display RGB in [0, 1].

    Raises:
        TypeError: see ``FilterPatternGenerator``.
        ValueError: see ``FilterPatternGenerator``.

    Example:
        >>> filter_patterns(model, "conv2d", filters=[0, 1]).shape
        (2, 16, 16, 3)
    """
    return FilterPatternGenerator(
        model,
        layer,
        filters=filters,
        steps=steps,
        size=size,
        seed=seed,
        parameterization=parameterization,
        quality=quality,
        input_space=resolve_input_space(model, input_range=input_range, preprocess=preprocess),
    )()[0]


_ACTIVATION_LAYERS = (keras.layers.ReLU, keras.layers.LeakyReLU, keras.layers.ELU, keras.layers.Activation)


def _is_activation(record: model_graph.LayerRecord) -> bool:
    """An element-wise activation layer with one 4-D input (softmax over channels is not element-wise)."""
    layer = record.layer
    if not isinstance(layer, _ACTIVATION_LAYERS) or len(record.inputs) != 1:
        return False
    name = getattr(getattr(layer, "activation", None), "__name__", "")
    shape = getattr(record.inputs[0], "shape", None)
    return "softmax" not in name and shape is not None and len(shape) == 4


def _space_for(
    model: keras.Model, value_range: tuple[float, float] | None, space: InputSpace | None, channels: int
) -> InputSpace:
    if space is not None and value_range is not None:
        raise ValueError(f"Give value_range or input_space, not both. Received: value_range={value_range!r}")
    if space is not None:
        if not isinstance(space, InputSpace):
            raise TypeError(f"input_space must be an InputSpace. Received: input_space={space!r}")
        if space.channels != channels:
            raise ValueError(
                f"input_space has {space.channels} channels; the model takes {channels}. "
                f"Received: input_space={space!r}"
            )
        return space
    if value_range is not None:
        return InputSpace.from_range(value_range, channels, source=f"value_range={tuple(value_range)!r}")
    return from_model_layers(model) or InputSpace.from_range((0.0, 1.0), channels)
