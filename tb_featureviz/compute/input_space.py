"""The model's input space: what pixels the model takes, and how to show them to a person.

A model may take [0, 1] or 0-255 pixels, rescale inside (``Rescaling``, ``Normalization``), or expect one of
``keras.applications``' preprocessing styles done outside it. Every style in use is a per-channel affine map
of display RGB, possibly with the channels reversed::

    model_input[..., c] = rgb01[..., order[c]] * scale[c] + offset[c]

where ``rgb01`` is displayable RGB in [0, 1]. ``InputSpace`` holds that map; the writer learns it once
(``resolve_input_space``: declared, else from the model's first layers, else from the probe images), keeps
it in ``run_info``, optimises filter patterns through it (``compute.filters``) and maps every picture back to
RGB with ``to_display``. Nothing downstream of ``compute/`` guesses ranges.

The styles of ``keras.applications.imagenet_utils.preprocess_input`` (inputs are RGB in [0, 255]):

- ``"caffe"``: RGB to BGR, then the ImageNet mean subtracted per channel, no scaling (VGG, ResNet50);
- ``"tf"``: scaled to [-1, 1] (MobileNet, Inception, Xception);
- ``"torch"``: scaled to [0, 1], then normalised by ImageNet's mean and standard deviation (DenseNet).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import keras
import numpy as np
import numpy.typing as npt

from tb_featureviz.compute import model_graph
from tb_featureviz.compute.backend import Tensor
from tb_featureviz.metadata import Record

logger = logging.getLogger(__name__)

__all__ = ["STYLES", "InputSpace", "from_model_layers", "from_probes", "resolve_input_space"]

_CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
_TORCH_MEAN = (0.485, 0.456, 0.406)
_TORCH_STD = (0.229, 0.224, 0.225)

STYLES = ("caffe", "tf", "torch")
"""The named ``preprocess=`` styles (``keras.applications``' ``mode`` argument)."""

_AFFINE_TOLERANCE = 1e-3
"""Largest difference, relative to the output range, between a ``preprocess`` callable and its fitted map."""


@dataclass(frozen=True)
class InputSpace:
    """A per-channel affine map from display RGB in [0, 1] to the model's input.

    Attributes:
        scale: Per model-input channel, the factor (> 0) applied to the display value.
        offset: Per model-input channel, what is added after scaling.
        order: For each model-input channel, the display channel it holds: ``(0, 1, 2)`` for RGB,
            ``(2, 1, 0)`` for BGR, ``(0,)`` for grey.
        style: ``"range"``, ``"caffe"``, ``"tf"``, ``"torch"`` or ``"custom"`` (a fitted callable).
        source: How it was learnt, in words (shown in the dashboard's run facts).

    Example:
        >>> space = InputSpace.from_range((0, 255), source="input_range=(0, 255)")
        >>> float(space.to_model(np.full((1, 1, 1, 3), 0.5))[0, 0, 0, 0])
        127.5
    """

    scale: tuple[float, ...]
    offset: tuple[float, ...]
    order: tuple[int, ...]
    style: str = "range"
    source: str = "default"

    def __post_init__(self) -> None:
        if not (len(self.scale) == len(self.offset) == len(self.order)) or not self.scale:
            raise ValueError(f"scale, offset and order need one entry per channel. Received: {self!r}")
        if not all(np.isfinite(s) and s > 0 for s in self.scale) or not all(np.isfinite(self.offset)):
            raise ValueError(f"An input space needs finite, positive scales. Received: scale={self.scale!r}")
        if sorted(self.order) != list(range(len(self.order))):
            raise ValueError(f"order must be a permutation of the channels. Received: order={self.order!r}")

    # -- constructors -----------------------------------------------------------------------------

    @classmethod
    def from_range(cls, value_range: Sequence[float], channels: int = 3, *, source: str = "default") -> InputSpace:
        """Pixels in ``[low, high]``, RGB (or grey) order.

        Raises:
            TypeError: ``value_range`` is not a pair of numbers.
            ValueError: ``low >= high`` or a bound is not finite.
        """
        try:
            lo, hi = (float(v) for v in value_range)
        except (TypeError, ValueError):
            raise TypeError(f"input_range must be a pair (low, high). Received: input_range={value_range!r}") from None
        if not (np.isfinite(lo) and np.isfinite(hi) and hi > lo):
            raise ValueError(f"input_range must be (low, high) with low < high. Received: input_range={value_range!r}")
        return cls((hi - lo,) * channels, (lo,) * channels, tuple(range(channels)), "range", source)

    @classmethod
    def from_style(cls, style: str, channels: int = 3, *, source: str | None = None) -> InputSpace:
        """One of ``keras.applications``' preprocessing styles (see the module docstring).

        Raises:
            ValueError: an unknown style, or a named style on a model without 3 input channels.
        """
        if style not in STYLES:
            raise ValueError(f"preprocess must be one of {STYLES} or a callable. Received: preprocess={style!r}")
        if channels != 3:
            raise ValueError(f"preprocess={style!r} needs RGB input; the model has {channels} input channel(s)")
        source = source or f"preprocess={style!r}"
        if style == "caffe":
            return cls((255.0,) * 3, tuple(-m for m in _CAFFE_MEAN_BGR), (2, 1, 0), "caffe", source)
        if style == "tf":
            return cls((2.0,) * 3, (-1.0,) * 3, (0, 1, 2), "tf", source)
        return cls(
            tuple(1.0 / s for s in _TORCH_STD),
            tuple(-m / s for m, s in zip(_TORCH_MEAN, _TORCH_STD, strict=True)),
            (0, 1, 2),
            "torch",
            source,
        )

    @classmethod
    def from_callable(
        cls,
        preprocess: Callable[[np.ndarray], Tensor],
        channels: int = 3,
        *,
        deprocess: Callable[[np.ndarray], Tensor] | None = None,
        source: str = "preprocess=<callable>",
    ) -> InputSpace:
        """Fits the map of a ``preprocess`` callable that takes RGB pixels in [0, 255] (like
        ``keras.applications.resnet50.preprocess_input``).

        The callable is run on a few calibration images (black, each channel alone at 255, random pixels); it
        must be a per-channel affine map, with the channels possibly reordered, as every
        ``keras.applications`` style is. With ``deprocess`` (model input back to RGB in [0, 255]), the pair
        must round-trip.

        Raises:
            TypeError: ``preprocess`` or ``deprocess`` is not callable.
            ValueError: the callable changes the shape, is not a per-channel affine map, or ``deprocess`` is
                not its inverse.
        """
        if not callable(preprocess):
            raise TypeError(f"preprocess must be a style name or a callable. Received: preprocess={preprocess!r}")
        if deprocess is not None and not callable(deprocess):
            raise TypeError(f"deprocess must be a callable. Received: deprocess={deprocess!r}")
        rng = np.random.default_rng(0)
        probe = np.concatenate(
            [np.zeros((1, 4, 4, channels)), 255.0 * np.eye(channels)[:, None, None, :] * np.ones((channels, 4, 4, 1))]
        )
        random = rng.uniform(0.0, 255.0, size=(2, 4, 4, channels))

        def run(x: np.ndarray) -> np.ndarray:
            out = np.asarray(keras.ops.convert_to_numpy(preprocess(x.astype(np.float32).copy())), dtype=np.float64)
            if out.shape != x.shape:
                raise ValueError(
                    f"preprocess must keep the image shape. Received: {x.shape} became {out.shape} "
                    f"(preprocess={preprocess!r})"
                )
            return out

        out = run(probe)
        base = out[0].mean(axis=(0, 1))
        response = out[1:].mean(axis=(1, 2)) - base  # [display channel, model channel]
        order = tuple(int(i) for i in np.argmax(np.abs(response), axis=0))
        scale = tuple(float(response[order[c], c]) for c in range(channels))
        if sorted(order) != list(range(channels)) or not all(s > 0 for s in scale):
            raise ValueError(
                "preprocess is not a per-channel affine map of RGB (the map of each input channel: "
                f"{response.tolist()}); "
                f"pass input_range=(low, high) instead. Received: preprocess={preprocess!r}"
            )
        space = cls(scale, tuple(float(b) for b in base), order, "custom", source)
        expected = space.to_model(random / 255.0)
        width = max(max(scale), 1e-12)
        error = float(np.max(np.abs(run(random) - expected))) / width
        if error > _AFFINE_TOLERANCE:
            raise ValueError(
                f"preprocess is not a per-channel affine map of RGB (off by {error:.3g} of its range on random "
                f"pixels); pass input_range=(low, high) instead. Received: preprocess={preprocess!r}"
            )
        if deprocess is not None:
            back = np.asarray(keras.ops.convert_to_numpy(deprocess(expected.astype(np.float32).copy())), np.float64)
            if back.shape != random.shape or float(np.max(np.abs(back - random))) > 255.0 * _AFFINE_TOLERANCE:
                raise ValueError(
                    "deprocess is not the inverse of preprocess: deprocess(preprocess(x)) differs from x. "
                    f"Received: deprocess={deprocess!r}"
                )
        return space

    @classmethod
    def from_json(cls, record: Record | None) -> InputSpace | None:
        """The space stored by ``to_json`` in ``run_info``; ``None`` for a missing or malformed record."""
        if not isinstance(record, Mapping):
            return None
        try:
            return cls(
                tuple(float(v) for v in record["scale"]),
                tuple(float(v) for v in record["offset"]),
                tuple(int(v) for v in record["order"]),
                str(record.get("style", "range")),
                str(record.get("source", "run_info")),
            )
        except (KeyError, TypeError, ValueError):
            return None

    # -- use --------------------------------------------------------------------------------------

    @property
    def channels(self) -> int:
        """Channels of the model's input."""
        return len(self.scale)

    @property
    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """``([C], [C])``: each model-input channel's values for display black and white."""
        return np.asarray(self.offset, np.float64), np.asarray(self.offset, np.float64) + np.asarray(self.scale)

    def to_model(self, rgb01: npt.ArrayLike) -> np.ndarray:
        """Display images as model input.

        Args:
            rgb01: ``[..., C]`` displayable RGB (or grey) in [0, 1].

        Returns:
            ``[..., C]`` float32 model input.
        """
        x = np.asarray(rgb01, dtype=np.float64)[..., list(self.order)]
        return (x * np.asarray(self.scale) + np.asarray(self.offset)).astype(np.float32)

    def to_display(self, images: npt.ArrayLike, *, clip: bool = True) -> np.ndarray:
        """Model inputs as displayable RGB (or grey).

        Args:
            images: ``[..., C]`` model inputs.
            clip: Clip to [0, 1]. ``False`` keeps values outside (the pixel ascent lets pixels leave the range
                by up to half its width; the patterns' percentile stretch wants them as they are).

        Returns:
            ``[..., C]`` float32, in [0, 1] when clipped, in the display channel order.
        """
        x = (np.asarray(images, dtype=np.float64) - np.asarray(self.offset)) / np.asarray(self.scale)
        out = np.empty_like(x)
        out[..., list(self.order)] = x
        return (np.clip(out, 0.0, 1.0) if clip else out).astype(np.float32)

    def describe(self) -> str:
        """One line for people, e.g. ``"0-255 RGB (model: Rescaling(1/255))"``."""
        if self.style == "range":
            lo, hi = self.offset[0], self.offset[0] + self.scale[0]
            what = f"{_num(lo)}-{_num(hi)} " + ("grey" if self.channels == 1 else "RGB")
        elif self.style in STYLES:
            what = {"caffe": "caffe-style BGR, mean subtracted", "tf": "tf-style [-1, 1]", "torch": "torch-style"}[
                self.style
            ] + " (ImageNet)" * (self.style != "tf")
        else:
            what = "fitted " + ("BGR" if self.order == (2, 1, 0) else "RGB") + " affine map"
        return f"{what} ({self.source})"

    def to_json(self) -> Record:
        """The ``run_info["input_space"]`` record (``from_json`` reads it back), with a ``description``."""
        return {
            "style": self.style,
            "source": self.source,
            "scale": [float(v) for v in self.scale],
            "offset": [float(v) for v in self.offset],
            "order": list(self.order),
            "description": self.describe(),
        }


def _num(v: float) -> str:
    return f"{v:g}"


# -- learning it ---------------------------------------------------------------------------------------

_AUGMENTATION_PREFIXES = ("Random", "Resizing", "CenterCrop", "AutoContrast", "Equalization")
"""Leading layers that keep pixel values' meaning (identity at inference, or geometry only)."""


def _leading_affine(model: keras.Model) -> tuple[np.ndarray, np.ndarray, list[str]] | None:
    """The per-channel affine map ``x * s + o`` of the value-changing preprocessing layers at the model's
    start (``Rescaling``, ``Normalization``), through augmentation layers, or None when there are none."""
    trace = model_graph.trace_of(model)
    channels = int(trace.input.shape[-1])
    s, o = np.ones(channels), np.zeros(channels)
    seen: list[str] = []
    for record in trace.records:
        layer = record.layer
        if record.container or isinstance(layer, keras.layers.InputLayer):
            continue
        name = type(layer).__name__
        if isinstance(layer, keras.layers.Rescaling):
            scale = _per_channel(layer.scale, channels)
            offset = _per_channel(layer.offset, channels)
            if scale is None or offset is None:
                return None  # scaled over another axis: not a per-channel map
            s, o = s * scale, o * scale + offset
            seen.append(
                f"Rescaling({_fraction(float(scale.mean()))}"
                + (f", {_num(float(offset.mean()))})" if offset.any() else ")")
            )
        elif isinstance(layer, keras.layers.Normalization):
            if getattr(layer, "invert", False):
                return None  # de-normalises: the model's input is already normalised, to no known range
            mean = _per_channel(getattr(layer, "mean", None), channels)
            var = _per_channel(getattr(layer, "variance", None), channels)
            if mean is None or var is None:
                return None  # not built, or normalised over another axis: not a per-channel map
            if np.allclose(mean, 0.0) and np.allclose(var, 1.0):
                continue  # never adapted (Keras starts at mean 0, variance 1): the identity, nothing learnt
            std = np.sqrt(np.maximum(var, keras.config.epsilon()))
            s, o = s / std, (o - mean) / std
            seen.append("Normalization")
        elif name.startswith(_AUGMENTATION_PREFIXES) or type(layer).__module__.startswith(
            "keras.src.layers.preprocessing.image_preprocessing"
        ):
            continue
        else:
            break
    return (s, o, seen) if seen else None


def _per_channel(value: Tensor | None, channels: int) -> np.ndarray | None:
    """A layer's scalar or per-channel constant as ``[channels]`` float64; None if it is neither."""
    if value is None:
        return None
    flat = np.asarray(keras.ops.convert_to_numpy(value), np.float64).reshape(-1)
    if flat.size not in (1, channels):
        return None
    return np.broadcast_to(flat, (channels,)).copy()


def _fraction(v: float) -> str:
    return f"1/{_num(round(1 / v, 3))}" if 0 < v < 1 else _num(v)


_CANDIDATES = ((0.0, 255.0), (0.0, 1.0), (-1.0, 1.0))


def from_model_layers(model: keras.Model) -> InputSpace | None:
    """The input range implied by ``Rescaling``/``Normalization`` layers at the model's start, or None.

    The range is the first of 0-255, [0, 1] and [-1, 1] that those layers map into a normalised range
    (every channel inside [-4, 4] and at least 0.5 wide): ``Rescaling(1/255)`` means 0-255 pixels,
    ``Rescaling(1/127.5, offset=-1)`` too, a ``Normalization`` adapted on [0, 1] images means [0, 1].
    """
    found = _leading_affine(model)
    if found is None:
        return None
    s, o, seen = found
    for lo, hi in _CANDIDATES:
        a, b = lo * s + o, hi * s + o
        low, high = np.minimum(a, b), np.maximum(a, b)
        if np.all(low >= -4.0) and np.all(high <= 4.0) and np.all(high - low >= 0.5):
            return InputSpace.from_range((lo, hi), len(s), source="model: " + " + ".join(seen))
    logger.info("featureviz: the model's leading %s map no usual pixel range into [-4, 4]", seen)
    return None


def from_probes(images: np.ndarray) -> InputSpace:
    """The range the probe images' own values suggest: [0, 1], 0-255, [-1, 1], or their rounded extremes."""
    x = np.asarray(images, dtype=np.float64)
    channels = int(x.shape[-1])
    finite = x[np.isfinite(x)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    eps = 1e-3
    if lo >= -eps and hi <= 1.0 + eps:
        rng: tuple[float, float] = (0.0, 1.0)
    elif lo >= -eps and hi <= 255.0 + eps:
        rng = (0.0, 255.0)
    elif lo >= -1.0 - eps and hi <= 1.0 + eps:
        rng = (-1.0, 1.0)
    else:
        rng = (float(np.floor(lo)), float(np.ceil(hi)))
        if rng[1] <= rng[0]:  # one constant, integer value: a range around it
            rng = (rng[0] - 1.0, rng[1] + 1.0)
    return InputSpace.from_range(rng, channels, source="the probe images' values")


def resolve_input_space(
    model: keras.Model,
    *,
    input_range: Sequence[float] | None = None,
    preprocess: str | Callable[[np.ndarray], Tensor] | None = None,
    deprocess: Callable[[np.ndarray], Tensor] | None = None,
    probes: np.ndarray | None = None,
) -> InputSpace:
    """What the model expects, in this order: declared (``input_range`` or ``preprocess``), else the model's
    leading ``Rescaling``/``Normalization`` layers, else the probe images' range, else [0, 1].

    Args:
        model: The model (its input channels; its first layers).
        input_range: ``(low, high)`` of the model's input pixels, RGB.
        preprocess: ``"caffe"``, ``"tf"``, ``"torch"``, or a callable from RGB in [0, 255] to model input (such
            as ``keras.applications.resnet50.preprocess_input``) that the pipeline applies outside the model.
        deprocess: With a callable ``preprocess``, its inverse (checked, see ``InputSpace.from_callable``).
        probes: ``[N, H, W, C]`` probe images as fed to the model.

    Returns:
        The input space.

    Raises:
        ValueError: both ``input_range`` and ``preprocess`` given, ``deprocess`` without a callable
            ``preprocess``, or a bad value (see the ``InputSpace`` constructors).

    Example:
        >>> inputs = keras.Input((32, 32, 3))
        >>> x = keras.layers.Rescaling(1 / 255)(inputs)
        >>> model = keras.Model(inputs, keras.layers.Conv2D(4, 3)(x))
        >>> resolve_input_space(model).describe()
        '0-255 RGB (model: Rescaling(1/255))'
    """
    channels = int(model_graph.check_model(model)[-1] or 3)
    if input_range is not None and preprocess is not None:
        raise ValueError(
            "Give input_range or preprocess, not both. "
            f"Received: input_range={input_range!r}, preprocess={preprocess!r}"
        )
    if deprocess is not None and (preprocess is None or isinstance(preprocess, str)):
        raise ValueError(f"deprocess goes with a callable preprocess. Received: preprocess={preprocess!r}")
    if input_range is not None:
        return InputSpace.from_range(input_range, channels, source=f"input_range={tuple(input_range)!r}")
    if isinstance(preprocess, str):
        return InputSpace.from_style(preprocess, channels)
    if preprocess is not None:
        name = getattr(preprocess, "__module__", "") + "." + getattr(preprocess, "__name__", type(preprocess).__name__)
        return InputSpace.from_callable(
            preprocess, channels, deprocess=deprocess, source=f"preprocess={name.strip('.')}"
        )
    space = from_model_layers(model)
    if space is not None:
        return space
    if probes is not None:
        return from_probes(probes)
    return InputSpace.from_range((0.0, 1.0), channels, source="default")
