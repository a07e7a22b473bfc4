"""Filter patterns: the input that maximises each filter's mean activation, by batched gradient ascent.

Chollet's ``generate_pattern`` (Deep Learning with Python, 5.4.2), done so it can run at every checkpoint:

* **batched**: all filters of a layer (in chunks if memory asks) are optimised together, image ``i`` for
  filter ``i``, the whole ascent loop one compiled ``tf.function`` on a model truncated at the layer;
* **comparable across epochs**: the starting image of (layer, filter) and the jitter sequence are derived
  from ``seed``, the layer name and the filter index, so two checkpoints differ only by the weights;
* **sized by receptive field**: the image is ``SIZE_FACTOR`` times the layer's receptive field (at least
  ``MIN_SIZE``, at most the model's input size). The truncated model is rebuilt on
  ``keras.Input((None, None, C))`` sharing the layers; where that graph cannot be re-applied at another size
  (a layer that needs the original size before the target layer) it falls back to the model's input size;
* **readable**: by default the image is parameterised in Fourier space with each frequency scaled by
  ``1 / f ** FOURIER_DECAY`` and mapped to ``value_range`` by a sigmoid (Olah et al. 2017, "Feature
  Visualization"): the ascent then favours the broad shapes and edges a filter responds to over the
  high-frequency noise that pixel-space ascent amplifies. ``parameterization="pixel"`` is Chollet's
  pixel-space ascent, regularised by a light Gaussian blur each step and clipping to ``value_range``.
  Both use random jitter (a roll of a few pixels) each step and gradients normalised per image (RMS).
  For a ``Conv2D`` with a non-linear activation the objective also has a small term in the
  pre-activation mean, so filters that are inactive on the grey start image still get a gradient (a
  "leaky" objective);
* **displayable**: each pattern is stretched to [0, 1] between its 1st and 99th percentile.
"""

from __future__ import annotations

import logging
import math
import zlib
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tb_featureviz.compute import _graph
from tb_featureviz.validation import ArgumentTypeError, positive_int

logger = logging.getLogger(__name__)

DEFAULT_STEPS = 12
"""Gradient-ascent steps (all 352 filters of the tutorial CNN in a few seconds on 2 CPU cores)."""
SIZE_FACTOR = 1.5
"""Pattern side = ``SIZE_FACTOR`` x receptive field, rounded up to a multiple of 4 (60 px for the tutorial CNN's
last conv: a 3x3 map of units whose 38 px fields overlap; 2x would cost ~1.6x the time)."""
MIN_SIZE = 16
LEARNING_RATE = 0.1
"""Step per pixel, as a fraction of ``value_range``'s width, for an RMS-normalised gradient."""
BLUR = 0.1
"""Weight of the blurred image mixed in at each step."""
LEAK = 0.2
"""Weight of the pre-activation mean in the objective of conv layers with a non-linear activation."""
CLIP_MARGIN = 0.5
"""Pixels may leave ``value_range`` by this fraction of its width on either side during the ascent."""
FOURIER_DECAY = 0.75
"""Frequency ``f`` of the Fourier parameterisation is scaled by ``1 / f ** FOURIER_DECAY`` (1 is pink
noise; 0.75 keeps edges crisp while noise stays low)."""
FOURIER_LEARNING_RATE = 0.2
"""Step in spectrum space for an RMS-normalised gradient."""
PARAMETERIZATIONS = ("fourier", "pixel")
MEMORY_BUDGET = 512 * 2**20
"""Bytes of activations (forward and backward) per chunk, for the default ``chunk_size``."""


def default_size(rf: float, input_hw: tuple[int, int] | None) -> int:
    """The pattern side for a receptive field ``rf``: ``SIZE_FACTOR * rf``, at least ``MIN_SIZE``, capped."""
    size = MIN_SIZE if math.isinf(rf) else max(MIN_SIZE, 4 * math.ceil(SIZE_FACTOR * rf / 4))
    if input_hw is not None:
        size = min(size, *input_hw)
    return int(size)


def _seed_for(seed: int, *parts: Any) -> list[int]:
    return [int(seed) & 0xFFFFFFFF, *(zlib.crc32(str(p).encode("utf-8")) for p in parts)]


def check_parameterization(value: str, name: str = "parameterization") -> str:
    """Returns ``value`` if it is one of ``PARAMETERIZATIONS``, else raises a ``ValueError`` naming ``name``."""
    if value not in PARAMETERIZATIONS:
        raise ValueError(f"{name} must be one of {', '.join(PARAMETERIZATIONS)}. Received: {name}={value!r}")
    return value


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


class FilterPatternGenerator:
    """Batched, seeded, regularised filter patterns of one layer, built once and called at checkpoints.

    Args:
        model: A built single-input, channels_last Keras model (Sequential, functional or nested).
        layer: A layer with a 4-D output (usually a conv layer, see ``conv_layers``).
        filters: Filter (channel) indices; ``None`` for all.
        steps: Gradient-ascent steps; ``None`` for ``DEFAULT_STEPS``.
        size: Pattern side in pixels; ``None`` for ``SIZE_FACTOR`` x the receptive field, at least
            ``MIN_SIZE``, at most the input size.
        seed: Seed of the starting images and the jitter.
        chunk_size: Filters optimised together; ``None`` for as many as fit ``MEMORY_BUDGET``.
        value_range: The model's input pixel range; starting images are mid-grey with noise in it and the
            optimised images stay in it. The tutorial models take [0, 1].
        parameterization: ``"fourier"`` (default, readable) or ``"pixel"`` (Chollet's pixel-space ascent);
            see the module docstring.

    Attributes:
        layer_name: The layer.
        filters: The filter indices, in output order.
        size: Pattern side in pixels.
        receptive_field: The layer's receptive field in input pixels (see ``receptive_field``).
        steps: Gradient-ascent steps.

    Raises:
        TypeError: a bad argument type (e.g. a non-int filter index).
        ValueError: an unsupported model, unknown layer (the message lists the known ones), a layer whose
            output is not 4-D, a filter index out of range, or a non-positive ``steps``/``size``/``chunk_size``.

    Example:
        >>> gen = FilterPatternGenerator(model, "conv2d_2")   # once, in set_model
        >>> patterns, reached = gen()                         # each checkpoint: [128, 28, 28, 3], [128]
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
        value_range: tuple[float, float] = (0.0, 1.0),
        parameterization: str = "fourier",
    ) -> None:
        self.parameterization = check_parameterization(parameterization)
        trace = _graph.trace_of(model)
        if not isinstance(layer, str):
            raise TypeError(f"layer must be a layer name. Received: layer={layer!r}")
        record = _graph.resolve_layers(trace, [layer])[0]
        self.layer_name: str = record.name
        channels = int(record.output.shape[-1])
        self.filters: list[int] = self._check_filters(filters, channels)
        self.steps: int = DEFAULT_STEPS if steps is None else positive_int("steps", steps)
        lo, hi = (float(v) for v in value_range)
        if not hi > lo:
            raise ValueError(f"value_range must be (low, high) with low < high. Received: value_range={value_range!r}")
        self._range = (lo, hi)
        input_shape = tuple(trace.input.shape[1:])
        hw = (int(input_shape[0]), int(input_shape[1])) if input_shape[0] and input_shape[1] else None
        self.receptive_field: int = hw[0] if math.isinf(record.rf) and hw else math.ceil(record.rf - 1e-9)
        self.size: int = default_size(record.rf, hw) if size is None else positive_int("size", size)
        self._channels = int(input_shape[2])
        self.seed = int(seed)

        activation = getattr(getattr(record.layer, "activation", None), "__name__", "linear")
        conv = isinstance(record.layer, keras.layers.Conv2D) and activation != "linear"
        self._conv_layer = record.layer if conv else None
        self._model, jump_sum = self._truncated_model(model, record, hw)
        per_image = 3 * 4 * self.size**2 * jump_sum
        if chunk_size is None:
            self.chunk_size = int(max(1, min(len(self.filters), MEMORY_BUDGET // max(per_image, 1))))
        else:
            self.chunk_size = positive_int("chunk_size", chunk_size)

        rng = np.random.default_rng(_seed_for(self.seed, self.layer_name, "jitter"))
        jitter = max(1, round(self.size / 16))
        self._shifts = tf.constant(rng.integers(-jitter, jitter + 1, size=(self.steps, 2)), tf.int32)
        image_spec = tf.TensorSpec((None, self.size, self.size, self._channels), tf.float32)
        index_spec = tf.TensorSpec((None,), tf.int32)
        if parameterization == "fourier":
            self._freq_scale = tf.constant(_frequency_scale(self.size, FOURIER_DECAY))
            param_shape: tuple[int, ...] = (self._channels, self.size, self.size // 2 + 1, 2)
        else:
            param_shape = (self.size, self.size, self._channels)
        # Starting parameters are derived per filter when first asked for (a 2048-filter layer need not
        # hold 2048 spectra when a pass draws 144 of them).
        self._start_params: dict[int, np.ndarray] = {}
        self._channels_out = channels
        param_spec = tf.TensorSpec((None, *param_shape), tf.float32)
        self._ascend = _graph.per_instance_function(self._ascend_fn, input_signature=[param_spec, index_spec])
        self._mean = _graph.per_instance_function(self._mean_fn, input_signature=[image_spec, index_spec])

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
        self, model: keras.Model, record: _graph.LayerRecord, hw: tuple[int, int] | None
    ) -> tuple[keras.Model, float]:
        """The model from the input to the target layer (to its input, for the leaky conv objective)."""

        def build(shape: tuple[int | None, ...]) -> tuple[keras.Model, float]:
            trace = _graph.build_trace(model, shape, stop_at=record.path)
            last = trace.records[-1]
            out = last.inputs[0] if self._conv_layer is not None else last.output
            sub = keras.Model(trace.input, out, name=f"{model.name}_featureviz_to_{last.path[-1]}")
            jump_sum = sum(
                int(r.output.shape[-1]) / r.jump**2
                for r in trace.records
                if not r.container and r.is_4d and r.output.shape[-1] is not None
            )
            return sub, jump_sum

        try:
            sub, jump_sum = build((None, None, self._channels))
            probe = self._apply(sub, tf.zeros((1, self.size, self.size, self._channels)))
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

    def _apply(self, sub: keras.Model, x: tf.Tensor) -> tf.Tensor:
        out = tf.convert_to_tensor(sub(x, training=False))
        if self._conv_layer is not None:
            out = self._conv_layer.convolution_op(out, self._conv_layer.kernel)
            if self._conv_layer.use_bias:
                out = out + self._conv_layer.bias
        return tf.convert_to_tensor(out)

    def _objective(self, x: tf.Tensor, idx: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """(objective [B], mean activation [B]) of filter ``idx[i]`` on image ``i``."""
        out = self._apply(self._model, x)
        out = tf.gather(out, idx[:, None], axis=3, batch_dims=1)[..., 0]  # [B, h, w]
        if self._conv_layer is not None:
            act = tf.convert_to_tensor(self._conv_layer.activation(out))
            mean = tf.reduce_mean(act, axis=(1, 2))
            return mean + LEAK * tf.reduce_mean(out, axis=(1, 2)), mean
        mean = tf.reduce_mean(out, axis=(1, 2))
        return mean, mean

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
        signal = tf.signal.irfft2d(spectrum) * float(self.size)  # [B, C, size, size]
        return lo + (hi - lo) * tf.sigmoid(tf.transpose(signal, [0, 2, 3, 1]))

    def _ascend_fn(self, params: tf.Tensor, idx: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        lo, hi = self._range
        pixel = self.parameterization == "pixel"
        lr = LEARNING_RATE * (hi - lo) if pixel else FOURIER_LEARNING_RATE
        axes = list(range(1, len(params.shape)))
        x = params
        for step in tf.range(self.steps):
            shift = self._shifts[step]
            with tf.GradientTape() as tape:
                tape.watch(x)
                objective, _ = self._objective(tf.roll(self._image(x), shift, axis=[1, 2]), idx)
                total = tf.reduce_sum(objective)
            grad = tape.gradient(total, x)
            grad = grad / (tf.sqrt(tf.reduce_mean(tf.square(grad), axis=axes, keepdims=True)) + 1e-8)
            x = x + lr * grad
            if pixel:
                x = (1.0 - BLUR) * x + BLUR * self._blur(x)
                x = tf.clip_by_value(x, lo - CLIP_MARGIN * (hi - lo), hi + CLIP_MARGIN * (hi - lo))
        img = self._image(x)
        _, reached = self._objective(img, idx)
        return img, reached

    def _mean_fn(self, images: tf.Tensor, idx: tf.Tensor) -> tf.Tensor:
        return self._objective(images, idx)[1]

    def _start_image(self, f: int) -> np.ndarray:
        lo, hi = self._range
        rng = np.random.default_rng(_seed_for(self.seed, self.layer_name, f))
        noise = rng.uniform(-0.1, 0.1, size=(self.size, self.size, self._channels))
        return (lo + (hi - lo) * (0.5 + noise)).astype(np.float32)

    def _start_spectrum(self, f: int) -> np.ndarray:
        """A small random spectrum ``[C, size, size // 2 + 1, 2]`` (real, imaginary): a mid-grey image."""
        rng = np.random.default_rng(_seed_for(self.seed, self.layer_name, f))
        return rng.normal(0.0, 0.01, size=(self._channels, self.size, self.size // 2 + 1, 2)).astype(np.float32)

    def _params_for(self, filters: Sequence[int]) -> np.ndarray:
        for f in filters:
            if f not in self._start_params:
                start = self._start_spectrum(f) if self.parameterization == "fourier" else self._start_image(f)
                self._start_params[f] = start.astype(np.float32)
        return np.stack([self._start_params[f] for f in filters])

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
        return np.asarray(self._image(tf.constant(params)), np.float32)

    def mean_activation(self, images: Any, filters: Sequence[int] | None = None) -> np.ndarray:
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

    def _run(self, fn: Any, x: np.ndarray, filters: Sequence[int]) -> Any:
        idx = np.asarray(filters, np.int32)
        outs = []
        for i in range(0, len(filters), self.chunk_size):
            outs.append(fn(tf.constant(x[i : i + self.chunk_size]), tf.constant(idx[i : i + self.chunk_size])))
        if isinstance(outs[0], tuple):
            return tuple(np.concatenate([np.asarray(o[k]) for o in outs]) for k in range(len(outs[0])))
        return np.concatenate([np.asarray(o) for o in outs]).astype(np.float32)

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
        return _normalise(_to_rgb(images)), reached


def filter_patterns(
    model: keras.Model,
    layer: str,
    *,
    filters: Sequence[int] | None = None,
    steps: int | None = None,
    size: int | None = None,
    seed: int = 0,
    parameterization: str = "fourier",
) -> np.ndarray:
    """Filter patterns of ``layer``: for each filter, the input that maximises its mean activation.

    A one-off convenience over ``FilterPatternGenerator`` (see it and the module docstring for the method);
    to call it every epoch, build the generator once.

    Args:
        model: A built single-input, channels_last Keras model (nested models included).
        layer: A layer with a 4-D output.
        filters: Filter indices; ``None`` for all.
        steps: Gradient-ascent steps; ``None`` for ``DEFAULT_STEPS``.
        size: Pattern side; ``None`` for 1.5x the receptive field (at least 16, at most the input size).
        seed: Seed of the starting images and the jitter.
        parameterization: ``"fourier"`` (default) or ``"pixel"`` (Chollet's pixel-space ascent).

    Returns:
        ``[F, size, size, 3]`` float32 in [0, 1].

    Raises:
        TypeError: see ``FilterPatternGenerator``.
        ValueError: see ``FilterPatternGenerator``.

    Example:
        >>> filter_patterns(model, "conv2d", filters=[0, 1]).shape
        (2, 16, 16, 3)
    """
    return FilterPatternGenerator(
        model, layer, filters=filters, steps=steps, size=size, seed=seed, parameterization=parameterization
    )()[0]
