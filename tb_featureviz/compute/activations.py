"""Intermediate activations: every selected feature map for a batch of images, from one model."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import keras
import numpy as np
import numpy.typing as npt

from tb_featureviz.compute import backend, model_graph
from tb_featureviz.compute.backend import Tensor
from tb_featureviz.compute.layers import validate_images

logger = logging.getLogger(__name__)


class ActivationExtractor:
    """Builds one multi-output model once; each call returns the feature maps of the current weights.

    The model is the user's model replayed on a new input with nested models flattened (see
    ``feature_layers``), so the layers of a ``keras.applications`` base used as one layer of a Sequential are
    reachable by name. Layers are shared, not copied: every call sees the weights as they are now.

    Args:
        model: A built single-input, channels_last Keras model (Sequential, functional or nested).
        layers: ``None`` for every layer with a 4-D output (see ``feature_layers``), or layer names
            (``"conv2d"``, ``"block1_conv1"``, or ``"outer/inner"`` where a name is ambiguous) and/or layer
            classes (``keras.layers.Conv2D`` selects every Conv2D).

    Attributes:
        layer_names: The selected layers, in model order.

    Raises:
        TypeError: ``model`` is not a Keras model, or a ``layers`` entry is neither a name nor a layer class.
        ValueError: an unsupported model (not built, several inputs, channels_first, no 4-D layer), an unknown
            layer (the message lists the known ones), or a layer whose output is not 4-D.

    Example:
        >>> extractor = ActivationExtractor(model, layers=[keras.layers.Conv2D])
        >>> maps = extractor(images)  # {"conv2d": [N, 148, 148, 32], ...}
    """

    def __init__(self, model: keras.Model, layers: Sequence[str | type] | None = None) -> None:
        trace = model_graph.trace_of(model)
        records = model_graph.resolve_layers(trace, layers)
        self._keras_model = model
        self.layer_names: list[str] = [r.name for r in records]
        self._model = keras.Model(trace.input, [r.output for r in records], name=f"{model.name}_featureviz_acts")
        shape = tuple(trace.input.shape[1:])
        self._fn = backend.compile_step(self._run, model.weights, [((None, *shape), "float32")], feature="activations")

    def _run(self, images: Tensor) -> list[Tensor]:
        outputs = self._model(images, training=False)
        return list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]

    def __call__(self, images: npt.ArrayLike) -> dict[str, np.ndarray]:
        """Computes the feature maps.

        Args:
            images: ``[N, H, W, C]`` images matching the model's input.

        Returns:
            Layer name -> ``[N, h, w, C_layer]`` float32 array, in model order.

        Raises:
            ValueError: ``images`` has the wrong shape (the message names it).
        """
        x = validate_images(self._keras_model, images)
        outputs = self._fn(x)
        return {name: np.asarray(out, dtype=np.float32) for name, out in zip(self.layer_names, outputs, strict=True)}


def activations(
    model: keras.Model, images: npt.ArrayLike, *, layers: Sequence[str | type] | None = None
) -> dict[str, np.ndarray]:
    """The feature maps of ``images`` at every selected layer.

    A one-off convenience over ``ActivationExtractor``; to call it every epoch, build the extractor once.

    Args:
        model: A built single-input, channels_last Keras model (Sequential, functional or nested).
        images: ``[N, H, W, C]`` images matching the model's input.
        layers: ``None`` for every layer with a 4-D output (conv, pooling, batch-norm, activation, ...;
            nested models included), or layer names and/or layer classes.

    Returns:
        Layer name -> ``[N, h, w, C_layer]`` float32 array, in model order.

    Raises:
        TypeError: see ``ActivationExtractor``.
        ValueError: see ``ActivationExtractor``; or ``images`` has the wrong shape.

    Example:
        >>> maps = activations(model, images[:1], layers=["conv2d"])
        >>> maps["conv2d"].shape
        (1, 148, 148, 32)
    """
    return ActivationExtractor(model, layers=layers)(images)
