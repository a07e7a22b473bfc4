"""Class activation maps: a base class with one hook for the channel weights, and Grad-CAM."""

from __future__ import annotations

import logging
import numbers
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
import numpy.typing as npt
from keras import ops

from tb_featureviz.compute import backend, model_graph
from tb_featureviz.compute.backend import Tensor
from tb_featureviz.compute.layers import validate_images

logger = logging.getLogger(__name__)

EPSILON = 1e-7
"""A map whose maximum is below this is all zero after normalisation (no division by ~0)."""


def _activation_name(layer: keras.layers.Layer) -> str:
    fn = getattr(layer, "activation", None)
    return getattr(fn, "__name__", "linear") if fn is not None else "linear"


def default_layer(trace: model_graph.Trace) -> model_graph.LayerRecord:
    """The default CAM layer: the last feature layer whose map is more than one pixel.

    A 1x1 map (MobileNetV2's ``out_relu`` at a 32-pixel input, say) gives a constant heatmap that says
    nothing; then the last larger map is used. Unknown sizes count as larger.
    """
    features = [r for r in trace.records if r.is_feature]
    for record in reversed(features):
        h, w = record.output.shape[1:3]
        if h is None or w is None or h * w > 1:
            return record
    return features[-1]


class BaseCAM:
    """A class activation map over one 4-D layer, for the pre-activation class score.

    Subclasses override ``channel_weights`` only. The map for image ``n`` and class ``c`` is
    ``relu(sum_k w[n, k] * A[n, :, :, k])`` with ``A`` the target layer's output, upsampled to the input size
    (bilinear, half-pixel centres, as ``tf.image.resize``) and divided by its maximum (maps whose maximum is
    below ``EPSILON`` stay all zero).

    The class score is the logit under the model's final softmax or sigmoid: for a last ``Dense`` layer with
    a softmax/sigmoid activation it is computed from the layer's input with the layer's own kernel and bias
    (the layer is not modified); a final ``Softmax``/``Activation`` layer is skipped; any other output is used
    as it is. For a one-unit sigmoid output there are two classes: class 1 scores the logit, class 0 its
    negation.

    The target layer and the logits come from one model built once (the user's model replayed on a new input,
    nested models flattened, layers shared), so every call sees the current weights. The gradient with respect
    to the target layer's output comes from the backend's own machinery (``tf.GradientTape``,
    ``jax.value_and_grad`` under ``jax.jit``, ``torch.autograd``; see ``tb_featureviz.compute.backend``): the
    replayed model has a second input added to that output and fed zeros, and the gradient is taken with
    respect to it.

    Args:
        model: A built single-input, single-output, channels_last Keras model (Sequential, functional or
            nested).
        layer: The target layer's name. ``None``: the last layer with a 4-D output.

    Attributes:
        model: The user's model.
        layer_name: The target layer.
        num_classes: Number of classes (2 for a one-unit sigmoid output).
        single_unit: Whether the output is one unit (class 1 scores the logit, class 0 its negation).
        head: How the score is obtained: ``"dense_softmax"``, ``"dense_sigmoid"`` (a Dense layer's
            pre-activation), ``"softmax"``, ``"sigmoid"`` (the input of a final activation layer),
            ``"dense_linear"`` (the output is already logits; probabilities by softmax, or sigmoid for one
            unit) or ``"output"`` (an unknown head: the output is the score and the probability).

    Raises:
        TypeError: ``model`` is not a Keras model; ``layer`` is not a string.
        ValueError: an unsupported model (see ``validate_images``), several outputs, an unknown layer (the
            message lists the known ones) or a layer whose output is not 4-D.
    """

    def __init__(self, model: keras.Model, layer: str | None = None) -> None:
        trace = model_graph.trace_of(model)
        self.model = model
        if layer is None:
            record = default_layer(trace)
        else:
            record = model_graph.resolve_layers(trace, [layer])[0] if isinstance(layer, str) else None
            if record is None:
                raise TypeError(f"layer must be a layer name or None. Received: layer={layer!r}")
        self.layer_name: str = record.name
        if len(keras.tree.flatten(trace.output)) != 1:
            raise ValueError(
                f"Class activation maps need a model with one output. Received: model {model.name!r} with "
                f"{len(keras.tree.flatten(trace.output))} outputs"
            )
        head_input, self._dense, self.head = self._find_head(trace)
        units = int(trace.output.shape[-1]) if len(trace.output.shape) >= 2 else 1
        self.single_unit = units == 1
        self.num_classes: int = 2 if self.single_unit else units
        # The same replay with a tap on the target layer: the gradient with respect to the tap is the gradient
        # with respect to the layer's output (see model_graph.build_trace).
        tapped = model_graph.build_trace(model, tuple(trace.input.shape[1:]), tap=record.path)
        tap_record = tapped.find(record.name)
        tap_head, _, _ = self._find_head(tapped, warn=False)
        self._model = keras.Model(
            [tapped.input, tapped.tap], [tap_record.output, tap_head], name=f"{model.name}_featureviz_cam"
        )
        self._head_model = keras.Model(trace.input, head_input, name=f"{model.name}_featureviz_head")
        self._fmap = (trace.input, record.output)
        self._fmap_shapes: dict[tuple[int, ...], tuple[int, ...]] = {}
        shape = tuple(trace.input.shape[1:])
        image_spec = ((None, *shape), "float32")
        tap_spec = ((None, *tap_record.output.shape[1:]), "float32")
        weights = model.weights
        self._maps = backend.compile_step(
            self._maps_fn, weights, [image_spec, ((None,), "int32"), tap_spec], feature="Grad-CAM"
        )
        self._probs = backend.compile_step(self._probs_fn, weights, [image_spec], feature="class probabilities")

    @staticmethod
    def _find_head(
        trace: model_graph.Trace, warn: bool = True
    ) -> tuple[keras.KerasTensor, keras.layers.Layer | None, str]:
        leaves = [r for r in trace.records if not r.container]
        last = leaves[-1] if leaves else None
        if last is None or id(last.output) != id(trace.output) or len(last.inputs) != 1:
            return trace.output, None, "output"
        name = _activation_name(last.layer)
        if isinstance(last.layer, keras.layers.Dense) and name in ("softmax", "sigmoid"):
            return last.inputs[0], last.layer, f"dense_{name}"
        if isinstance(last.layer, keras.layers.Softmax):
            return last.inputs[0], None, "softmax"
        if isinstance(last.layer, keras.layers.Activation) and name in ("softmax", "sigmoid"):
            return last.inputs[0], None, name
        if isinstance(last.layer, keras.layers.Dense) and name == "linear":
            return trace.output, None, "dense_linear"
        if warn:
            logger.warning(
                "Grad-CAM: last layer %r is not a Dense/softmax head; using its output as the score.", last.name
            )
        return trace.output, None, "output"

    def _logits(self, head_input: Tensor) -> Tensor:
        if self._dense is None:
            return ops.convert_to_tensor(head_input)
        logits = ops.matmul(head_input, self._dense.kernel)
        if self._dense.bias is not None:
            logits = logits + self._dense.bias
        return logits

    @staticmethod
    def _rows(x: Tensor) -> Tensor:
        return ops.reshape(x, (ops.shape(x)[0], -1))

    def _class_scores(self, logits: Tensor) -> Tensor:
        """``[N, num_classes]`` scores whose gradients the maps use."""
        logits = self._rows(logits)
        if self.single_unit:
            return ops.concatenate([-logits, logits], axis=1)
        return logits

    def _probabilities(self, logits: Tensor) -> Tensor:
        logits = self._rows(logits)
        kind = self.head.removeprefix("dense_")
        if kind == "output":
            p = logits  # not a known head: the output is used as it is
            return ops.concatenate([1.0 - p, p], axis=1) if self.single_unit else p
        if self.single_unit:
            p = ops.sigmoid(logits)
            return ops.concatenate([1.0 - p, p], axis=1)
        return ops.sigmoid(logits) if kind == "sigmoid" else ops.softmax(logits, axis=-1)

    def channel_weights(self, activations: Tensor, gradients: Tensor) -> Tensor:
        """The hook: one weight per image and channel.

        Runs inside a compiled step of the running backend (``tf.function``, ``jax.jit``): use ``keras.ops``.

        Args:
            activations: ``[N, h, w, K]`` target-layer output.
            gradients: ``[N, h, w, K]`` gradient of each image's class score with respect to ``activations``.

        Returns:
            ``[N, K]`` channel weights.
        """
        raise NotImplementedError

    def _maps_fn(self, images: Tensor, classes: Tensor, tap: Tensor) -> Tensor:
        def score(zeros: Tensor) -> tuple[Tensor, Tensor]:
            fmap, head_input = self._model([images, zeros], training=False)
            scores = self._class_scores(self._logits(head_input))
            # Images are independent (inference mode), so one gradient of the sum gives every image's own.
            picked = ops.take_along_axis(scores, ops.expand_dims(classes, 1), axis=1)
            return ops.sum(picked), fmap

        _, fmap, grads = backend.value_and_grad(score, tap)
        weights = self.channel_weights(fmap, grads)
        cam = ops.relu(ops.einsum("nhwk,nk->nhw", fmap, weights))
        size = ops.shape(images)[1:3]
        # Bilinear with half-pixel centres and no antialiasing (tf.image.resize's default) on every backend.
        cam = ops.image.resize(
            cam[..., None], size, interpolation="bilinear", antialias=False, data_format="channels_last"
        )[..., 0]
        peak = ops.max(cam, axis=(1, 2), keepdims=True)
        return ops.where(peak > EPSILON, cam / ops.maximum(peak, EPSILON), ops.zeros_like(cam))

    def _probs_fn(self, images: Tensor) -> Tensor:
        return self._probabilities(self._logits(self._head_model(images, training=False)))

    def _tap_zeros(self, images_shape: tuple[int, ...]) -> np.ndarray:
        """Zeros shaped as the target layer's output for images of this shape (the tap's input)."""
        shape = self._fmap_shapes.get(images_shape)
        if shape is None:
            inputs, fmap = self._fmap
            if None in fmap.shape[1:]:  # an input of any size: Keras infers the shape, without computing
                shape = tuple(keras.Model(inputs, fmap).compute_output_shape(images_shape))
            else:
                shape = (images_shape[0], *fmap.shape[1:])
            self._fmap_shapes[images_shape] = shape
        return np.zeros(shape, np.float32)

    def class_probabilities(self, images: npt.ArrayLike) -> np.ndarray:
        """The model's class probabilities.

        Args:
            images: ``[N, H, W, C]`` images matching the model's input.

        Returns:
            ``[N, num_classes]`` float32; ``[1 - p, p]`` for a one-unit sigmoid output.

        Raises:
            ValueError: ``images`` has the wrong shape.
        """
        x = validate_images(self.model, images)
        return np.asarray(self._probs(x), dtype=np.float32)

    def _class_indices(self, class_index: int | Sequence[int] | np.ndarray | None, n: int, x: np.ndarray) -> np.ndarray:
        if class_index is None:
            return np.argmax(self.class_probabilities(x), axis=1).astype(np.int32)
        if isinstance(class_index, (numbers.Integral, np.integer)) and not isinstance(class_index, bool):
            values: list[Any] = [int(class_index)] * n  # ints, NumPy integers, or a None that fails the check
        elif isinstance(class_index, (Sequence, np.ndarray)) and not isinstance(class_index, str):
            values = list(np.asarray(class_index).reshape(-1)) if np.ndim(class_index) else [None]
            if any(
                not isinstance(v, (numbers.Integral, np.integer)) or isinstance(v, (bool, np.bool_)) for v in values
            ):
                raise TypeError(f"class_index must hold ints. Received: class_index={class_index!r}")
            if len(values) != n:
                raise ValueError(
                    f"class_index must have one entry per image ({n}). Received: class_index={class_index!r} "
                    f"with {len(values)} entries"
                )
        else:
            raise TypeError(f"class_index must be None, an int or a sequence of ints. Received: {class_index!r}")
        bad = [int(v) for v in values if not 0 <= int(v) < self.num_classes]
        if bad:
            raise ValueError(f"class_index out of range [0, {self.num_classes}). Received: class_index={class_index!r}")
        return np.asarray(values, dtype=np.int32)

    def __call__(
        self, images: npt.ArrayLike, class_index: int | Sequence[int] | np.ndarray | None = None
    ) -> np.ndarray:
        """Computes the maps.

        Args:
            images: ``[N, H, W, C]`` images matching the model's input.
            class_index: ``None`` for each image's predicted class, an int for the same class for all, or one
                int per image.

        Returns:
            ``[N, H, W]`` float32 maps in [0, 1] at input resolution.

        Raises:
            ValueError: wrong image shape; a class out of range or a wrong number of classes.
            TypeError: ``class_index`` is not an int or a sequence of ints.
        """
        x = validate_images(self.model, images)
        classes = self._class_indices(class_index, x.shape[0], x)
        return np.asarray(self._maps(x, classes, self._tap_zeros(x.shape)), dtype=np.float32)


class GradCAM(BaseCAM):
    """Grad-CAM: channel weights are the spatial mean of the class score's gradient.

    Selvaraju, Cogswell, Das, Vedantam, Parikh and Batra, "Grad-CAM: Visual Explanations from Deep Networks
    via Gradient-based Localization", ICCV 2017 (arXiv:1610.02391): ``alpha_k^c = mean_ij dy^c / dA^k_ij``,
    ``L^c = ReLU(sum_k alpha_k^c A^k)``, with ``y^c`` the score before the softmax.

    See ``BaseCAM`` for the arguments, attributes and errors.

    Example:
        >>> cam = GradCAM(model)              # target layer: the last 4-D layer
        >>> cam.layer_name
        'max_pooling2d_3'
        >>> heat = cam(images)                # [N, H, W] in [0, 1], predicted classes
        >>> heat_true = cam(images, class_index=labels)
    """

    def channel_weights(self, activations: Tensor, gradients: Tensor) -> Tensor:
        return ops.mean(gradients, axis=(1, 2))


def grad_cam(
    model: keras.Model,
    images: npt.ArrayLike,
    *,
    class_index: int | Sequence[int] | np.ndarray | None = None,
    layer: str | None = None,
) -> np.ndarray:
    """Grad-CAM heatmaps (Selvaraju et al. 2017) for ``images``.

    A one-off convenience over ``GradCAM``; to call it every epoch, build ``GradCAM`` once.

    Args:
        model: A built single-input, single-output, channels_last Keras model (nested models included).
        images: ``[N, H, W, C]`` images matching the model's input.
        class_index: ``None`` for each image's predicted class, an int, or one int per image. For a one-unit
            sigmoid output, 1 is the positive class and 0 the negated logit.
        layer: The target layer; ``None`` for the last layer with a 4-D output.

    Returns:
        ``[N, H, W]`` float32 maps in [0, 1] at input resolution.

    Raises:
        TypeError: see ``GradCAM``.
        ValueError: see ``GradCAM``; wrong image shape; bad ``class_index``.

    Example:
        >>> heat = grad_cam(model, images, class_index=1)
        >>> heat.shape
        (4, 150, 150)
    """
    return GradCAM(model, layer=layer)(images, class_index=class_index)
