"""What a model's layers are: names, shapes, receptive fields, and the images a model accepts.

Public queries over the replayed layer graph of ``tb_featureviz.compute.model_graph`` (nested models
descended into, names ``outer/inner`` where a plain name is ambiguous). They return plain Python and
NumPy values; the planner (``tb_featureviz.writer.planner``) and the callback decide from them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import keras
import numpy as np
import numpy.typing as npt

from tb_featureviz.compute.model_graph import check_model, resolve_layers, trace_of

__all__ = [
    "CONV_CLASSES",
    "conv_layers",
    "feature_layers",
    "input_hw",
    "layer_table",
    "receptive_field",
    "select_layers",
    "validate_images",
]

CONV_CLASSES: tuple[type, ...] = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.SeparableConv2D)
"""Layer classes that ``conv_layers`` lists and that have filter patterns."""


def feature_layers(model: keras.Model) -> list[str]:
    """Names of every layer with a 4-D output, in model order, nested models included.

    Nested Sequential and functional models are descended into (their layers are listed, the nested model
    itself is not). Input layers, preprocessing/augmentation layers (``Rescaling``, ``RandomFlip``, ...) and
    regularization layers (``Dropout``, ``GaussianNoise``, ...) are left out: at inference they transform
    the input or pass it through.

    Args:
        model: A built single-input Keras model on the TensorFlow backend.

    Returns:
        Layer names (``outer/inner`` where a plain name is ambiguous).

    Raises:
        ValueError: the model is unsupported (see ``validate_images``) or has no 4-D layer.

    Example:
        >>> feature_layers(cnn)
        ['conv2d', 'max_pooling2d', 'conv2d_1', ...]
    """
    return trace_of(model).names(lambda r: r.is_feature)


def select_layers(model: keras.Model, layers: Sequence[str | type] | None) -> list[str]:
    """The names of the feature layers ``layers`` selects, in model order (see ``resolve_layers``).

    Raises:
        TypeError, ValueError: see ``resolve_layers``.

    Example:
        >>> select_layers(cnn, [keras.layers.Conv2D])
        ['conv2d', 'conv2d_1', 'conv2d_2', 'conv2d_3']
    """
    return [r.name for r in resolve_layers(trace_of(model), layers)]


def layer_table(model: keras.Model) -> list[tuple[str, tuple[int | None, int | None, int], str, bool, float]]:
    """Every feature layer as ``(name, (h, w, channels), class name, is a convolution, receptive field)``.

    In model order; the receptive field is in input pixels (``inf`` after global pooling).

    What the planner (``tb_featureviz.writer.planner``) needs to know of a model, without TensorFlow types.

    Args:
        model: A built single-input Keras model on the TensorFlow backend.

    Returns:
        One tuple per feature layer (see ``feature_layers``).

    Raises:
        ValueError: the model is unsupported or has no 4-D layer.

    Example:
        >>> layer_table(cnn)[0]
        ('conv2d', (148, 148, 32), 'Conv2D', True, 3.0)
    """
    out = []
    for r in trace_of(model).records:
        if r.is_feature:
            h, w, c = tuple(r.output.shape[1:4])
            out.append((r.name, (h, w, int(c)), type(r.layer).__name__, isinstance(r.layer, CONV_CLASSES), r.rf))
    return out


def conv_layers(model: keras.Model) -> list[str]:
    """Names of the convolution layers (``Conv2D``, ``DepthwiseConv2D``, ``SeparableConv2D``), model order.

    Nested models are descended into, as in ``feature_layers``.

    Args:
        model: A built single-input Keras model on the TensorFlow backend.

    Returns:
        Layer names, possibly empty.

    Raises:
        ValueError: the model is unsupported or has no 4-D layer.

    Example:
        >>> conv_layers(cnn)
        ['conv2d', 'conv2d_1', 'conv2d_2', 'conv2d_3']
    """
    return trace_of(model).names(lambda r: r.is_feature and isinstance(r.layer, CONV_CLASSES))


def input_hw(model: keras.Model) -> tuple[int, int]:
    """The model's input height and width.

    Args:
        model: A built single-input Keras model.

    Returns:
        ``(H, W)``.

    Raises:
        ValueError: the model is unsupported, or its input height or width is not fixed (``None``).

    Example:
        >>> input_hw(cnn)
        (150, 150)
    """
    shape = check_model(model)
    h, w = shape[0], shape[1]
    if h is None or w is None:
        raise ValueError(f"Model {model.name!r} has no fixed input height/width. Received: input shape {shape}")
    return int(h), int(w)


def receptive_field(model: keras.Model, layer: str) -> int:
    """The receptive field, in input pixels, of one output unit of ``layer``.

    Computed along the layer graph: a kernel of size ``k`` with dilation ``d`` adds ``(d*(k-1)) * jump``
    pixels and a stride ``s`` multiplies the jump (distance between adjacent units) by ``s``; where branches
    meet, the larger value wins. For the tutorial CNN (four 3x3 convs, each followed by a 2x2 max pool) the
    conv layers see 3, 8, 18 and 38 pixels. Not capped at the input size.

    Args:
        model: A built single-input Keras model.
        layer: A layer name (see ``feature_layers``).

    Returns:
        The receptive field side in pixels.

    Raises:
        ValueError: unknown layer, or a layer after global pooling/flatten (the whole input).

    Example:
        >>> [receptive_field(cnn, name) for name in conv_layers(cnn)]
        [3, 8, 18, 38]
    """
    record = trace_of(model).find(layer)
    if math.isinf(record.rf):
        raise ValueError(f"Layer {layer!r} sees the whole input (after global pooling or flatten).")
    return math.ceil(record.rf - 1e-9)


def validate_images(model: keras.Model, images: npt.ArrayLike) -> np.ndarray:
    """Checks probe images against the model's input and returns them as float32.

    Args:
        model: A built single-input Keras model with channels_last image input.
        images: ``[N, H, W, C]`` array-like (``N >= 1``), matching the model's input where it is fixed.

    Returns:
        ``[N, H, W, C]`` float32 array.

    Raises:
        TypeError: ``images`` is not numeric.
        ValueError: wrong rank or shape (the message names the received shape), non-finite values (the message
            names the image and the count), or an unsupported model.

    Example:
        >>> validate_images(cnn, np.zeros((4, 150, 150, 3))).dtype
        dtype('float32')
    """
    shape = check_model(model)
    try:
        array = np.asarray(images, dtype=np.float32)
    except (TypeError, ValueError) as e:
        raise TypeError(f"images must be a numeric array [N, H, W, C]. Received: {type(images).__name__}") from e
    expected = "[N, " + ", ".join("?" if d is None else str(d) for d in shape) + "]"
    if array.ndim != 4 or array.shape[0] < 1:
        raise ValueError(f"images must be {expected} with N >= 1. Received shape {array.shape}")
    for got, want in zip(array.shape[1:], shape, strict=True):
        if want is not None and got != want:
            raise ValueError(f"images must be {expected} for model {model.name!r}. Received shape {array.shape}")
    bad = ~np.isfinite(array)
    if bad.any():
        counts = bad.reshape(bad.shape[0], -1).sum(axis=1)
        which = ", ".join(f"image {i}: {int(c)}" for i, c in enumerate(counts) if c)
        raise ValueError(f"images must be finite. Received non-finite values (NaN or inf) in {which}")
    return array
