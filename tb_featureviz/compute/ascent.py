"""The ascent behind ``FilterPatternGenerator``: its constants, tiers and compiled steps, on every backend.

``tb_featureviz.compute.filters`` holds the generator's public face (resolving the layer, truncating the
model, sizing the pattern, drawing the views, the calls); this module holds the ascent itself
(``AscentSteps``, the generator's base class: the starting parameters, the objective, the random view, the
roughness penalty, the update, the diversity term, the compiled steps and their chunked runs) and the tiers
and constants that set it; ``tb_featureviz.compute.warp`` the image-space operations (the inverse DFT, the views).
All of it is ``keras.ops``, with gradients and compiled steps from ``tb_featureviz.compute.backend``. See
``filters``'s docstring for the recipe.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import keras
import numpy as np
from keras import ops

from tb_featureviz.compute import backend
from tb_featureviz.compute.backend import Nest, Tensor
from tb_featureviz.compute.input_space import InputSpace
from tb_featureviz.compute.warp import inverse_dft_matrices, inverse_rows, pixel_grid, resample, warp

DEFAULT_STEPS = 48
"""Gradient-ascent steps of the default tier for layers whose patterns are cheap; costlier layers get fewer, down
to ``DEFAULT_MIN_STEPS`` (``tier_steps``: 48, 36, 19 and 10 for the tutorial CNN's four convs, all 352 filters
in under 3 s on 2 CPU cores)."""
DEFAULT_MIN_STEPS = 10
SIZE_FACTOR = 1.5
"""Default pattern side = ``SIZE_FACTOR`` x receptive field, rounded up to a multiple of 4 (16, 16, 28 and 60 px
for the tutorial CNN's convs; 60 px for its last: a 3x3 map of units whose 38 px fields overlap)."""
MIN_SIZE = 16
BEST_STEPS = 96
"""Gradient-ascent steps of the ``"best"`` tier for cheap layers, down to ``BEST_MIN_STEPS`` for costly ones."""
BEST_MIN_STEPS = 48
BEST_SIZE_FACTOR = 2.5
"""Pattern side of the ``"best"`` tier, in receptive fields (capped at the input size)."""
BEST_MIN_SIZE = 32
BEST_ROUGHNESS = 1.0
"""``ROUGHNESS`` of the ``"best"`` tier: its longer ascent on larger images adds fine detail, which a stronger
penalty keeps to the spectral slope of natural images."""
LEARNING_RATE = 0.1
"""Step per pixel, as a fraction of the input space's width, for an RMS-normalised gradient."""
BLUR = 0.1
"""Weight of the blurred image mixed in at each step."""
LEAK = 0.2
"""Weight of the pre-activation mean in the objective of conv layers with a non-linear activation."""
CLIP_MARGIN = 0.5
"""Pixels may leave the input space's range by this fraction of its width on either side during the ascent."""
FOURIER_DECAY = 0.45
"""Frequency ``f`` of the Fourier parameterisation is scaled by ``1 / f ** FOURIER_DECAY``. With gradients
normalised per image, a step changes frequency ``f`` of the image in proportion to the square of that scale,
so the ascent favours broad shapes and edges over pixel noise (patterns of the tutorial CNN end with the
spectral slope of its data set; ``benchmarks/bench_patterns.py``)."""
FOURIER_LEARNING_RATE = 1.2
"""Step in spectrum space for a gradient normalised to unit RMS per image and decorrelated colour channel."""
ROUGHNESS = 0.4
"""Weight of the roughness penalty (mean squared difference of neighbouring pixels over the pixel variance,
times the activation's size) in the objective of the Fourier parameterisation: it steepens the spectrum of
the patterns that drift to fine textures and leaves smooth ones alone."""
STEP_WORK = 8_192
"""Activation values per image (pattern pixels x channels, summed over the layers up to the target, each at its
own resolution) up to which a layer gets its tier's full steps; see ``tier_steps``."""
DIVERSITY = 0.5
"""Default weight of the diversity term of ``FilterPatternGenerator.diverse``, relative to the objective."""
COLOR_CORRELATION_SVD_SQRT = np.array(
    [[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]],
    np.float32,
)
"""Square root (``U sqrt(S)`` of the SVD) of the colour covariance of ImageNet's RGB pixels, as Lucid ships it:
column 0 is luminance, 1 and 2 the colour-opponent axes, each scaled by its standard deviation."""
PARAMETERIZATIONS = ("fourier", "pixel")
MEMORY_BUDGET = 512 * 2**20
"""Bytes of activations (forward and backward) per chunk, for the default ``chunk_size``."""


@dataclass(frozen=True)
class Quality:
    """A pattern tier: how long and how large the ascent is.

    Attributes:
        steps: Gradient-ascent steps of layers whose patterns are cheap (see ``tier_steps``).
        min_steps: Gradient-ascent steps of the costliest layers.
        size_factor: Pattern side in receptive fields (rounded up to a multiple of 4, capped at the input).
        min_size: Smallest pattern side.
        decay: The Fourier parameterisation's ``1 / f ** decay`` (see ``FOURIER_DECAY``).
        roughness: Weight of the roughness penalty (see ``ROUGHNESS``).
    """

    steps: int
    min_steps: int
    size_factor: float
    min_size: int
    decay: float
    roughness: float


QUALITIES: dict[str, Quality] = {
    "default": Quality(DEFAULT_STEPS, DEFAULT_MIN_STEPS, SIZE_FACTOR, MIN_SIZE, FOURIER_DECAY, ROUGHNESS),
    "best": Quality(BEST_STEPS, BEST_MIN_STEPS, BEST_SIZE_FACTOR, BEST_MIN_SIZE, FOURIER_DECAY, BEST_ROUGHNESS),
}
"""The tiers by name: ``"default"`` fits every checkpoint, ``"best"`` is for the enlarged view and the sidecar."""


def check_quality(value: str, name: str = "quality") -> str:
    """Returns ``value`` if it names one of ``QUALITIES``, else raises a ``ValueError`` naming ``name``."""
    if not isinstance(value, str) or value not in QUALITIES:
        raise ValueError(f"{name} must be one of {', '.join(QUALITIES)}. Received: {name}={value!r}")
    return value


def default_size(rf: float, input_hw: tuple[int, int] | None, quality: str = "default") -> int:
    """The pattern side of tier ``quality`` for a receptive field ``rf``: ``size_factor * rf``, at least
    ``min_size``, at most the input size (``SIZE_FACTOR`` and ``MIN_SIZE`` for the default tier)."""
    tier = QUALITIES[check_quality(quality)]
    size = tier.min_size if math.isinf(rf) else max(tier.min_size, 4 * math.ceil(tier.size_factor * rf / 4))
    if input_hw is not None:
        size = min(size, *input_hw)
    return int(size)


def tier_steps(steps: int, min_steps: int, work: float) -> int:
    """The steps a tier gives a layer: ``steps`` where one image's ascent step touches at most ``STEP_WORK``
    activation values, ``steps * sqrt(STEP_WORK / work)`` where it touches more, and at least ``min_steps``.

    Deep layers' patterns are costly, early layers' cheap, and the cheap ones need the steps to reach a high
    activation. ``work`` is ``FilterPatternGenerator.work``.

    Example:
        >>> [tier_steps(48, 10, w) for w in (8_192, 14_336, 53_312, 259_200)]   # the tutorial CNN's convs
        [48, 36, 19, 10]
    """
    factor = min(1.0, math.sqrt(STEP_WORK / max(work, 1.0)))
    return max(int(min_steps), round(steps * factor))


def _seed_for(seed: int, *parts: object) -> list[int]:
    return [int(seed) & 0xFFFFFFFF, *(zlib.crc32(str(p).encode("utf-8")) for p in parts)]


def _frequency_scale(size: int, decay: float) -> np.ndarray:
    """``[size, size // 2 + 1]`` weights ``1 / max(f, 1 / size) ** decay`` of a real 2-D spectrum, max 1."""
    fy = np.fft.fftfreq(size)[:, None]
    fx = np.fft.rfftfreq(size)[None, :]
    scale = 1.0 / np.maximum(np.sqrt(fx**2 + fy**2), 1.0 / size) ** decay
    return (scale / scale.max()).astype(np.float32)


def _normalise(patterns: np.ndarray) -> np.ndarray:
    """Per-pattern stretch between the 1st and 99th percentile to [0, 1]; flat patterns become 0.5."""
    out = np.empty_like(patterns, dtype=np.float32)
    for i, p in enumerate(patterns):
        lo, hi = np.percentile(p, [1.0, 99.0])
        out[i] = 0.5 if hi - lo < 1e-8 else np.clip((p - lo) / (hi - lo), 0.0, 1.0)
    return out


def _to_rgb(images: np.ndarray) -> np.ndarray:
    c = images.shape[-1]
    if c == 3:
        return images
    if c == 1:
        return np.repeat(images, 3, axis=-1)
    return np.repeat(images.mean(axis=-1, keepdims=True), 3, axis=-1)


def color_decorrelation_matrix() -> np.ndarray:
    """The 3x3 matrix that maps decorrelated colour channels to RGB (Olah et al. 2017; Lucid's ``color``).

    ``COLOR_CORRELATION_SVD_SQRT`` divided by its largest column norm: optimising in the decorrelated basis
    gives luminance a unit step and the colour-opponent axes the smaller steps that natural images show, so
    patterns are not the saturated colour noise that independent RGB channels drift to.

    Returns:
        ``[3, 3]`` float32 ``M``: an RGB pixel is ``M @ d`` for a decorrelated pixel ``d``.
    """
    m = COLOR_CORRELATION_SVD_SQRT
    return (m / np.max(np.linalg.norm(m, axis=0))).astype(np.float32)


class AscentSteps:
    """The ascent of ``FilterPatternGenerator``, its base class: the starting parameters, the constants, the
    compiled steps and how they are run in chunks.

    The generator resolves the layer, truncates the model, sizes the pattern and draws the views (the
    attributes below), then calls ``_build_steps``. Everything from there on is here, written in ``keras.ops``,
    with gradients from ``backend.value_and_grad`` and the steps compiled by ``backend.compile_step``: the same
    ascent runs on TensorFlow, JAX and PyTorch. The loop over steps is a ``keras.ops.fori_loop``
    (``tf.while_loop``, ``jax.lax.fori_loop``, a Python loop), so a step's graph is traced once whatever the
    number of steps.
    """

    # Set by the generator before ``_build_steps``.
    layer_name: str
    seed: int
    size: int
    steps: int
    chunk_size: int
    parameterization: str
    _channels: int
    _space: InputSpace
    _roughness_weight: float
    _conv_layer: keras.layers.Conv2D | None
    """The target conv layer, whose convolution the steps apply to ``_model``'s output (the leaky objective)."""
    _act_layer: keras.layers.Layer | None
    """The target activation layer, applied by the steps to ``_model``'s output (the leaky objective)."""
    _model: keras.Model
    """The model truncated at the target layer (at its input, for the leaky objective)."""
    _variables: list[keras.Variable]
    _transforms: np.ndarray
    """``[steps, 8]`` random views (Fourier parameterisation)."""
    _shifts: np.ndarray
    """``[steps, 2]`` rolls (pixel parameterisation)."""
    _param_shape: tuple[int, ...]
    # Set by ``_build_steps``.
    _consts: dict[str, Tensor]
    _start_params: dict[tuple[int, int], np.ndarray]
    _ascend: backend.Step
    _mean: backend.Step
    _probe_sum: backend.Step
    _diverse_fns: dict[int, backend.Step]

    def _build_steps(self, decay: float) -> None:
        """The constants and the compiled steps, once the generator has set the layer, the size and the views."""
        self._set_constants(decay)
        # Starting parameters are derived per filter when first asked for (a 2048-filter layer need not
        # hold 2048 spectra when a pass draws 144 of them).
        self._start_params = {}
        params = ((None, *self._param_shape), "float32")
        images = ((None, self.size, self.size, self._channels), "float32")
        index = ((None,), "int32")
        self._ascend = self._compile(self._ascend_fn, params, index)
        self._mean = self._compile(self._mean_fn, images, index)
        self._diverse_fns = {}
        self._probe_sum = self._compile(self._probe_sum_fn, ((None, None, None, self._channels), "float32"))

    def _start_image(self, f: int, variant: int = 0) -> np.ndarray:
        parts = (f,) if variant == 0 else (f, "variant", variant)
        rng = np.random.default_rng(_seed_for(self.seed, self.layer_name, *parts))
        noise = rng.uniform(-0.1, 0.1, size=(self.size, self.size, self._channels))
        return (np.asarray(self._space.offset) + np.asarray(self._space.scale) * (0.5 + noise)).astype(np.float32)

    def _start_spectrum(self, f: int, variant: int = 0) -> np.ndarray:
        """A small random spectrum ``[C, size, size // 2 + 1, 2]`` (real, imaginary): a mid-grey image."""
        parts = (f,) if variant == 0 else (f, "variant", variant)
        rng = np.random.default_rng(_seed_for(self.seed, self.layer_name, *parts))
        return rng.normal(0.0, 0.01, size=(self._channels, self.size, self.size // 2 + 1, 2)).astype(np.float32)

    def _params_for(self, filters: Sequence[int], variant: int = 0) -> np.ndarray:
        for f in filters:
            if (f, variant) not in self._start_params:
                fourier = self.parameterization == "fourier"
                start = self._start_spectrum(f, variant) if fourier else self._start_image(f, variant)
                self._start_params[(f, variant)] = start.astype(np.float32)
        return np.stack([self._start_params[(f, variant)] for f in filters])

    def _run(
        self,
        fn: backend.Step,
        x: np.ndarray,
        filters: Sequence[int],
        chunk: int | None = None,
        *extra: np.generic,
        group: int = 1,
    ) -> Nest:
        """``fn(x, filters, *extra)`` in chunks of ``chunk`` (``chunk_size``) images, concatenated.

        JAX compiles a program per batch size, so there a short chunk is padded (with copies of its first
        ``group`` images) to ``group`` times a power of two: a layer's ascent compiles a handful of programs,
        however the callback's passes window its filters. An image's result does not depend on the others in
        its chunk, nor (``diverse``: ``group`` images per filter, ``chunk`` a multiple of ``group``) on other
        groups than its own.
        """
        idx = np.asarray(filters, np.int32)
        chunk = chunk or self.chunk_size
        pad = backend.name() == "jax"
        outs = []
        for i in range(0, len(filters), chunk):
            xs, ids = x[i : i + chunk], idx[i : i + chunk]
            n = len(ids)
            if pad and n < chunk:
                size = min(chunk, group * 2 ** math.ceil(math.log2(n // group)))
                reps = (size - n) // group
                xs = np.concatenate([xs, np.tile(xs[:group], (reps, *([1] * (xs.ndim - 1))))])
                ids = np.concatenate([ids, np.tile(ids[:group], reps)])
            out = fn(xs, ids, *extra)
            outs.append(tuple(o[:n] for o in out) if isinstance(out, tuple) else out[:n])
        if isinstance(outs[0], tuple):
            return tuple(np.concatenate([np.asarray(o[k]) for o in outs]) for k in range(len(outs[0])))
        return np.concatenate([np.asarray(o) for o in outs]).astype(np.float32)

    def _set_constants(self, decay: float) -> None:
        """The backend tensors the steps read: the Fourier basis, the colour matrix, the views or the rolls."""
        consts: dict[str, np.ndarray] = {}
        if self.parameterization == "fourier":
            cy, sy, ax, bx = inverse_dft_matrices(self.size)
            consts.update(cy=cy, sy=sy, ax=ax, bx=bx, freq_scale=_frequency_scale(self.size, decay))
            mix = color_decorrelation_matrix() if self._channels == 3 else np.eye(self._channels, dtype=np.float32)
            consts["color"] = mix.T  # [C, C]: pixel rows times M^T
            consts["views"] = self._transforms
            consts["views_back"] = inverse_rows(self._transforms)
            consts["grid_x"], consts["grid_y"] = pixel_grid(self.size)
        else:
            consts["shifts"] = self._shifts.astype(np.int32)
            consts["grid"] = np.arange(self.size, dtype=np.int32)
            k = np.outer([1.0, 2.0, 1.0], [1.0, 2.0, 1.0]) / 16.0  # the pixel ascent's blur
            consts["blur"] = np.tile(k[:, :, None, None], (1, 1, self._channels, 1)).astype(np.float32)
        # The model's input space (see compute.input_space): display RGB in [0, 1] -> model input, per channel.
        lo, hi = self._space.bounds
        width = hi - lo
        consts["space_scale"] = np.asarray(self._space.scale, np.float32)
        consts["space_offset"] = np.asarray(self._space.offset, np.float32)
        consts["space_order"] = np.asarray(self._space.order, np.int32)
        consts["clip_low"] = (lo - CLIP_MARGIN * width).astype(np.float32)
        consts["clip_high"] = (hi + CLIP_MARGIN * width).astype(np.float32)
        self._consts = {name: ops.convert_to_tensor(value) for name, value in consts.items()}

    def _compile(self, fn: Callable[..., Nest], *signature: tuple[tuple[int | None, ...], str]) -> backend.Step:
        return backend.compile_step(fn, self._variables, signature, feature="filter patterns")

    def _apply(self, sub: keras.Model, x: Tensor) -> Tensor:
        out = sub(x, training=False)
        if self._conv_layer is not None:
            out = self._conv_layer.convolution_op(out, self._conv_layer.kernel)
            if self._conv_layer.use_bias:
                out = out + self._conv_layer.bias
        return out

    def _activate(self, out: Tensor) -> Tensor:
        """The layer's output from ``_apply``'s (the pre-activation, for a conv or an activation layer)."""
        if self._act_layer is not None:
            return self._act_layer.call(out)
        if self._conv_layer is None:
            return out
        return self._conv_layer.activation(out)

    def _objective_of(self, out: Tensor, idx: Tensor) -> tuple[Tensor, Tensor]:
        """(objective [B], mean activation [B]) of filter ``idx[i]`` on ``_apply``'s output ``out[i]``."""
        pick = ops.one_hot(idx, int(out.shape[-1]), dtype="int32")[:, None, None, :] > 0
        out = ops.sum(ops.where(pick, out, 0.0), axis=-1)  # [B, h, w]; a non-finite channel stays in its filter
        if self._conv_layer is not None or self._act_layer is not None:
            mean = ops.mean(self._activate(out), axis=(1, 2))
            return mean + LEAK * ops.mean(out, axis=(1, 2)), mean
        mean = ops.mean(out, axis=(1, 2))
        return mean, mean

    def _objective(self, x: Tensor, idx: Tensor) -> tuple[Tensor, Tensor]:
        """(objective [B], mean activation [B]) of filter ``idx[i]`` on image ``i``."""
        return self._objective_of(self._apply(self._model, x), idx)

    def _blur(self, x: Tensor) -> Tensor:
        padded = ops.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="reflect")
        return ops.depthwise_conv(padded, self._consts["blur"], strides=1, padding="valid")

    def _image(self, params: Tensor) -> Tensor:
        """Images ``[B, size, size, C]`` in model input space from the optimised parameters."""
        params = ops.convert_to_tensor(params)
        if self.parameterization == "pixel":
            return params
        k = self._consts
        real, imag = params[..., 0] * k["freq_scale"], params[..., 1] * k["freq_scale"]  # [B, C, n, n // 2 + 1]
        rows_real = ops.matmul(k["cy"], real) - ops.matmul(k["sy"], imag)
        rows_imag = ops.matmul(k["sy"], real) + ops.matmul(k["cy"], imag)
        signal = ops.matmul(rows_real, k["ax"]) - ops.matmul(rows_imag, k["bx"])  # irfft2d * size: [B, C, n, n]
        signal = ops.matmul(ops.transpose(signal, (0, 2, 3, 1)), k["color"])  # decorrelated -> RGB
        rgb = ops.sigmoid(signal)  # display RGB in [0, 1]
        if self._space.order != tuple(range(self._channels)):
            rgb = ops.take(rgb, k["space_order"], axis=3)
        return rgb * k["space_scale"] + k["space_offset"]

    def _view(self, image: Tensor, step: Tensor) -> Tensor:
        """The image as the ascent sees it at ``step``: a random affine view (Fourier) or a roll (pixel)."""
        n = self.size
        if self.parameterization == "pixel":
            shift = ops.take(self._consts["shifts"], step, axis=0)
            grid = self._consts["grid"]
            rows, cols = ops.mod(grid - shift[0], n), ops.mod(grid - shift[1], n)
            return resample(image, ops.reshape(rows[:, None] * n + cols[None, :], (-1,)))
        k = self._consts
        view, back = ops.take(k["views"], step, axis=0), ops.take(k["views_back"], step, axis=0)
        return warp(image, view, back, (k["grid_x"], k["grid_y"]))

    def _roughness(self, img: Tensor) -> Tensor:
        """``[B]`` mean squared difference of neighbouring pixels over the pixel variance (contrast-free)."""
        diff = ops.concatenate([img - ops.roll(img, 1, axis=2), img - ops.roll(img, 1, axis=1)], axis=3)  # periodic
        centred = img - ops.mean(img, axis=(1, 2), keepdims=True)
        return 2.0 * ops.mean(ops.square(diff), axis=(1, 2, 3)) / (ops.mean(ops.square(centred), axis=(1, 2, 3)) + 1e-4)

    def _step(self, x: Tensor, grad: Tensor) -> Tensor:
        """One normalised gradient-ascent step on the parameters ``x``.

        Pixel space: the gradient is normalised to unit RMS per image, then the image is blurred a little and
        clipped. Fourier space: to unit RMS per image and decorrelated colour channel, so the colour-opponent
        channels, which the decorrelation matrix scales down, still move at each step.
        """
        pixel = self.parameterization == "pixel"
        lr = LEARNING_RATE * self._consts["space_scale"] if pixel else FOURIER_LEARNING_RATE
        axes = tuple(range(1 if pixel else 2, len(x.shape)))
        grad = grad / (ops.sqrt(ops.mean(ops.square(grad), axis=axes, keepdims=True)) + 1e-8)
        x = x + lr * grad
        if pixel:
            x = (1.0 - BLUR) * x + BLUR * self._blur(x)
            x = ops.minimum(ops.maximum(x, self._consts["clip_low"]), self._consts["clip_high"])
        return x

    def _loss(self, x: Tensor, idx: Tensor, step: Tensor) -> tuple[Tensor, Tensor]:
        """(objective ``[B]`` to maximise at ``step``, ``_apply``'s output on the step's view)."""
        img = self._image(x)
        out = self._apply(self._model, self._view(img, step))
        objective, _ = self._objective_of(out, idx)
        if self.parameterization == "fourier" and self._roughness_weight > 0:
            penalty = self._roughness_weight * ops.stop_gradient(ops.abs(objective)) * self._roughness(img)
            objective = objective - penalty
        return objective, out

    def _ascend_fn(
        self, params: Tensor, idx: Tensor, weight: Tensor | None = None, count: int = 1
    ) -> tuple[Tensor, Tensor]:
        """``steps`` ascent steps from ``params``; with ``count > 1``, minus ``weight`` times the diversity of each
        group of ``count`` images. Returns (images, each filter's mean activation on its image)."""

        def total(step: Tensor) -> Tensor:
            def value(x: Tensor) -> tuple[Tensor, Tensor]:
                objective, out = self._loss(x, idx, step)
                if count > 1:
                    scale = ops.stop_gradient(ops.abs(objective) + 1e-6)
                    objective = objective - weight * scale * self._diversity(out, count)
                return ops.sum(objective), ()

            return value

        def body(step: Tensor, x: Tensor) -> Tensor:
            _, _, grad = backend.value_and_grad(total(step), x)
            return self._step(x, grad)

        x = ops.fori_loop(0, self.steps, body, ops.convert_to_tensor(params))
        img = self._image(x)
        _, reached = self._objective(img, idx)
        return img, reached

    def _diversity(self, out: Tensor, count: int) -> Tensor:
        """``[B]`` mean cosine similarity of each image's Gram matrix to those of the other ``count - 1``
        images of its group (Lucid's ``diversity`` objective, Olah et al. 2017)."""
        act = self._activate(out)
        h, w, c = (int(d) for d in act.shape[1:])
        flat = ops.reshape(act, (-1, h * w, c))
        gram = ops.matmul(ops.transpose(flat, (0, 2, 1)), flat) / float(h * w)
        gram = ops.normalize(ops.reshape(gram, (-1, count, c * c)), axis=-1)
        sim = ops.matmul(gram, ops.transpose(gram, (0, 2, 1)))  # [G, count, count]
        off = ops.sum(sim * (1.0 - ops.eye(count, dtype=sim.dtype)), axis=-1)
        return ops.reshape(off, (-1,)) / float(count - 1)

    def _mean_fn(self, images: Tensor, idx: Tensor) -> Tensor:
        return self._objective(images, idx)[1]

    def _probe_sum_fn(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """(``[channels]`` sum over images and positions of every filter's activation, number of positions)."""
        act = self._activate(self._apply(self._model, images))
        return ops.sum(act, axis=(0, 1, 2)), ops.sum(ops.ones_like(act[..., 0], dtype="int32"))
