"""The ascent behind ``FilterPatternGenerator``: its constants, tiers, image-space operations and compiled steps.

``tb_featureviz.compute.filters`` holds the generator's public face (building the truncated model, the
filters, the calls); this module holds what one ascent step does (``AscentSteps``, a mixin of the generator:
the objective, the random view, the roughness penalty, the update, the diversity term) and the tiers and
constants that set it. See ``filters``'s docstring for the recipe.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tb_featureviz.validation import positive_float, positive_int

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
"""Step per pixel, as a fraction of ``value_range``'s width, for an RMS-normalised gradient."""
BLUR = 0.1
"""Weight of the blurred image mixed in at each step."""
LEAK = 0.2
"""Weight of the pre-activation mean in the objective of conv layers with a non-linear activation."""
CLIP_MARGIN = 0.5
"""Pixels may leave ``value_range`` by this fraction of its width on either side during the ascent."""
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


def _seed_for(seed: int, *parts: Any) -> list[int]:
    return [int(seed) & 0xFFFFFFFF, *(zlib.crc32(str(p).encode("utf-8")) for p in parts)]


def _frequency_scale(size: int, decay: float) -> np.ndarray:
    """``[size, size // 2 + 1]`` weights ``1 / max(f, 1 / size) ** decay`` of a real 2-D spectrum, max 1."""
    fy = np.fft.fftfreq(size)[:, None]
    fx = np.fft.rfftfreq(size)[None, :]
    scale = 1.0 / np.maximum(np.sqrt(fx**2 + fy**2), 1.0 / size) ** decay
    return (scale / scale.max()).astype(np.float32)


def inverse_rows(rows: np.ndarray) -> np.ndarray:
    """The projective rows ``[K, 8]`` of the inverse affine maps of ``rows`` (``c0 = c1 = 0``)."""
    out = np.zeros_like(rows)
    for i, r in enumerate(np.asarray(rows, np.float64)):
        m = np.array([[r[0], r[1], r[2]], [r[3], r[4], r[5]], [0.0, 0.0, 1.0]])
        out[i, :6] = np.linalg.inv(m)[:2].ravel()
    return out


def _reflect_tf(coord: tf.Tensor, length: int) -> tf.Tensor:
    """``pattern_metrics._reflect`` in TensorFlow: ``ImageProjectiveTransformV3``'s ``REFLECT`` of coordinates."""
    if length <= 1:
        return tf.zeros_like(coord)
    period = float(2 * length)
    neg = period * tf.math.floor(-coord / period) + coord  # coord < 0: trunc(-coord / period) = floor(...)
    neg = tf.where(neg < -length, neg + period, -neg - 1.0)
    pos = coord - period * tf.math.floor(coord / period)  # coord > length - 1 > 0: trunc = floor
    pos = tf.where(pos >= length, period - pos - 1.0, pos)
    out = tf.where(coord < 0, neg, tf.where(coord > length - 1, pos, coord))
    return tf.clip_by_value(out, 0.0, float(length - 1))


def _bilinear_taps_tf(transform: tf.Tensor, size: int) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """``pattern_metrics.bilinear_taps`` in TensorFlow, flat: ``(rows, index, weights)``, ``[size**2 * 4]`` each,
    the entries of the sparse resampling matrix (computed in the step: no ``steps x size**4`` constant)."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    x, y = tf.constant(x.ravel()), tf.constant(y.ravel())
    t = tf.cast(transform, tf.float32)
    xin = _reflect_tf(t[0] * x + t[1] * y + t[2], size)
    yin = _reflect_tf(t[3] * x + t[4] * y + t[5], size)
    x0, y0 = tf.math.floor(xin), tf.math.floor(yin)
    x1, y1 = tf.minimum(x0 + 1.0, size - 1.0), tf.minimum(y0 + 1.0, size - 1.0)
    fx, fy = xin - x0, yin - y0
    index = tf.cast(tf.stack([y0 * size + x0, y0 * size + x1, y1 * size + x0, y1 * size + x1], axis=1), tf.int64)
    weights = tf.stack([(1 - fx) * (1 - fy), fx * (1 - fy), (1 - fx) * fy, fx * fy], axis=1)
    rows = tf.constant(np.repeat(np.arange(size * size, dtype=np.int64), 4))
    return rows, tf.reshape(index, [-1]), tf.reshape(weights, [-1])


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
    """The compiled steps of the ascent; mixed into ``FilterPatternGenerator``, which sets these attributes."""

    size: int
    steps: int
    chunk_size: int
    parameterization: str
    _channels: int
    _range: tuple[float, float]
    _roughness_weight: float
    _conv_layer: Any
    _model: Any
    _view_rows: Any
    _freq_scale: Any
    _color: Any
    _shifts: Any
    _param_spec: Any
    _diverse_fns: dict[int, Any]

    def _filters_or_default(self, filters: Sequence[int] | None) -> list[int]:
        raise NotImplementedError

    def _params_for(self, filters: Sequence[int], variant: int = 0) -> np.ndarray:
        raise NotImplementedError

    def _run(self, fn: Any, x: np.ndarray, filters: Sequence[int], chunk: int | None = None, *extra: Any) -> Any:
        raise NotImplementedError

    def _apply(self, sub: keras.Model, x: tf.Tensor) -> tf.Tensor:
        out = tf.convert_to_tensor(sub(x, training=False))
        if self._conv_layer is not None:
            out = self._conv_layer.convolution_op(out, self._conv_layer.kernel)
            if self._conv_layer.use_bias:
                out = out + self._conv_layer.bias
        return tf.convert_to_tensor(out)

    def _activate(self, out: tf.Tensor) -> tf.Tensor:
        """The layer's output from ``_apply``'s (the pre-activation, for a conv layer)."""
        if self._conv_layer is None:
            return out
        return tf.convert_to_tensor(self._conv_layer.activation(out))

    def _objective_of(self, out: tf.Tensor, idx: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """(objective [B], mean activation [B]) of filter ``idx[i]`` on ``_apply``'s output ``out[i]``."""
        out = tf.gather(out, idx[:, None], axis=3, batch_dims=1)[..., 0]  # [B, h, w]
        if self._conv_layer is not None:
            mean = tf.reduce_mean(self._activate(out), axis=(1, 2))
            return mean + LEAK * tf.reduce_mean(out, axis=(1, 2)), mean
        mean = tf.reduce_mean(out, axis=(1, 2))
        return mean, mean

    def _objective(self, x: tf.Tensor, idx: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """(objective [B], mean activation [B]) of filter ``idx[i]`` on image ``i``."""
        return self._objective_of(self._apply(self._model, x), idx)

    def _blur(self, x: tf.Tensor) -> tf.Tensor:
        k = np.outer([1.0, 2.0, 1.0], [1.0, 2.0, 1.0]) / 16.0
        kernel = tf.constant(np.tile(k[:, :, None, None], (1, 1, self._channels, 1)), tf.float32)
        padded = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="REFLECT")
        return tf.nn.depthwise_conv2d(padded, kernel, strides=[1, 1, 1, 1], padding="VALID")

    def _image(self, params: tf.Tensor) -> tf.Tensor:
        """Images ``[B, size, size, C]`` in model input space from the optimised parameters."""
        if self.parameterization == "pixel":
            return params
        lo, hi = self._range
        spectrum = tf.complex(params[..., 0], params[..., 1]) * tf.cast(self._freq_scale, tf.complex64)
        signal = tf.signal.irfft2d(spectrum, fft_length=[self.size, self.size]) * float(self.size)  # [B, C, n, n]
        signal = tf.tensordot(tf.transpose(signal, [0, 2, 3, 1]), self._color, axes=1)  # decorrelated -> RGB
        return lo + (hi - lo) * tf.sigmoid(signal)

    def _view(self, image: tf.Tensor, step: tf.Tensor) -> tf.Tensor:
        """The image as the ascent sees it at ``step``: a random affine view (Fourier) or a roll (pixel)."""
        if self.parameterization == "pixel":
            return tf.roll(image, self._shifts[step], axis=[1, 2])
        # apply_transform(image, self._transforms[step]) and its gradient, as sparse products (2x faster on CPU).
        n = self.size

        def resample(x: tf.Tensor, k: tf.Tensor) -> tf.Tensor:
            b, c = tf.shape(x)[0], tf.shape(x)[3]
            rows, index, weights = _bilinear_taps_tf(self._view_rows[k], n)
            matrix = tf.SparseTensor(tf.stack([rows, index], axis=1), weights, [n * n, n * n])
            out = tf.sparse.sparse_dense_matmul(matrix, tf.reshape(tf.transpose(x, [1, 2, 0, 3]), [n * n, b * c]))
            return tf.transpose(tf.reshape(out, [n, n, b, c]), [2, 0, 1, 3])

        @tf.custom_gradient
        def view(x: tf.Tensor) -> Any:
            return resample(x, step), lambda dy: resample(dy, step + self.steps)

        return view(image)

    def _roughness(self, img: tf.Tensor) -> tf.Tensor:
        """``[B]`` mean squared difference of neighbouring pixels over the pixel variance (contrast-free)."""
        diff = tf.concat([img - tf.roll(img, 1, axis=2), img - tf.roll(img, 1, axis=1)], axis=3)  # periodic images
        centred = img - tf.reduce_mean(img, axis=[1, 2], keepdims=True)
        return (
            2.0
            * tf.reduce_mean(tf.square(diff), axis=[1, 2, 3])
            / (tf.reduce_mean(tf.square(centred), axis=[1, 2, 3]) + 1e-4)
        )

    def _step(self, x: tf.Tensor, grad: tf.Tensor) -> tf.Tensor:
        """One normalised gradient-ascent step on the parameters ``x``.

        Pixel space: the gradient is normalised to unit RMS per image, then the image is blurred a little and
        clipped. Fourier space: to unit RMS per image and decorrelated colour channel, so the colour-opponent
        channels, which the decorrelation matrix scales down, still move at each step.
        """
        lo, hi = self._range
        pixel = self.parameterization == "pixel"
        lr = LEARNING_RATE * (hi - lo) if pixel else FOURIER_LEARNING_RATE
        axes = list(range(1 if pixel else 2, len(x.shape)))
        grad = grad / (tf.sqrt(tf.reduce_mean(tf.square(grad), axis=axes, keepdims=True)) + 1e-8)
        x = x + lr * grad
        if pixel:
            x = (1.0 - BLUR) * x + BLUR * self._blur(x)
            x = tf.clip_by_value(x, lo - CLIP_MARGIN * (hi - lo), hi + CLIP_MARGIN * (hi - lo))
        return x

    def _loss(self, x: tf.Tensor, idx: tf.Tensor, step: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """(objective ``[B]`` to maximise at ``step``, ``_apply``'s output on the step's view)."""
        img = self._image(x)
        out = self._apply(self._model, self._view(img, step))
        objective, _ = self._objective_of(out, idx)
        if self.parameterization == "fourier" and self._roughness_weight > 0:
            penalty = self._roughness_weight * tf.stop_gradient(tf.abs(objective)) * self._roughness(img)
            objective = objective - penalty
        return objective, out

    def _ascend_fn(self, params: tf.Tensor, idx: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        x = params
        for step in tf.range(self.steps):
            with tf.GradientTape() as tape:
                tape.watch(x)
                total = tf.reduce_sum(self._loss(x, idx, step)[0])
            x = self._step(x, tape.gradient(total, x))
        img = self._image(x)
        _, reached = self._objective(img, idx)
        return img, reached

    def _diversity(self, out: tf.Tensor, count: int) -> tf.Tensor:
        """``[B]`` mean cosine similarity of each image's Gram matrix to those of the other ``count - 1``
        images of its group (Lucid's ``diversity`` objective, Olah et al. 2017)."""
        act = self._activate(out)
        b, c = tf.shape(act)[0], tf.shape(act)[3]
        flat = tf.reshape(act, [b, -1, c])
        gram = tf.matmul(flat, flat, transpose_a=True) / tf.cast(tf.shape(flat)[1], tf.float32)
        gram = tf.math.l2_normalize(tf.reshape(gram, [b // count, count, -1]), axis=-1)
        sim = tf.matmul(gram, gram, transpose_b=True)  # [G, count, count]
        off = tf.reduce_sum(sim, axis=-1) - tf.linalg.diag_part(sim)
        return tf.reshape(off, [b]) / float(count - 1)

    def _diverse_fn(self, params: tf.Tensor, idx: tf.Tensor, weight: tf.Tensor, count: int) -> tuple[tf.Tensor, ...]:
        x = params
        for step in tf.range(self.steps):
            with tf.GradientTape() as tape:
                tape.watch(x)
                objective, out = self._loss(x, idx, step)
                scale = tf.stop_gradient(tf.abs(objective) + 1e-6)
                total = tf.reduce_sum(objective - weight * scale * self._diversity(out, count))
            x = self._step(x, tape.gradient(total, x))
        img = self._image(x)
        _, reached = self._objective(img, idx)
        return img, reached

    def _mean_fn(self, images: tf.Tensor, idx: tf.Tensor) -> tf.Tensor:
        return self._objective(images, idx)[1]

    def _probe_sum_fn(self, images: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """(``[channels]`` sum over images and positions of every filter's activation, number of positions)."""
        act = self._activate(self._apply(self._model, images))
        return tf.reduce_sum(act, axis=(0, 1, 2)), tf.reduce_prod(tf.shape(act)[:3])

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

            def run(params: tf.Tensor, idx: tf.Tensor, w: tf.Tensor) -> tuple[tf.Tensor, ...]:
                return self._diverse_fn(params, idx, w, count)

            weight_spec = tf.TensorSpec((), tf.float32)
            fn = tf.function(run, input_signature=[self._param_spec, tf.TensorSpec((None,), tf.int32), weight_spec])
            self._diverse_fns[count] = fn
        starts = np.stack([self._params_for(chosen, v) for v in range(count)], axis=1)  # [F, count, ...]
        params = starts.reshape(len(chosen) * count, *starts.shape[2:])
        idx = np.repeat(np.asarray(chosen), count).tolist()
        chunk = count * max(1, self.chunk_size // count)
        images, reached = self._run(fn, params, idx, chunk, tf.constant(float(weight)))
        patterns = _normalise(_to_rgb(images.astype(np.float32)))
        return (
            patterns.reshape(len(chosen), count, *patterns.shape[1:]),
            reached.astype(np.float32).reshape(len(chosen), count),
        )
