"""The backend side of featureviz: activations, filter patterns and class activation maps as NumPy.

Everything that needs a Keras backend on the writer side lives here; ``tb_featureviz.render`` and the plugin
only see the NumPy arrays these return. The computations are written with ``keras.ops``; the two things that
differ between TensorFlow, JAX and PyTorch (compiling a step, and gradients) are in ``compute.backend``.

Supported models: Keras 3 on the TensorFlow, JAX or PyTorch backend, built, with one channels_last image input
``[N, H, W, C]``: Sequential, functional, and models nested in them (a ``keras.applications`` base used as a
layer). Nested Sequential/functional models are descended into, so their layers are reachable by name;
subclassed models are treated as one opaque layer.

Use the classes (``ActivationExtractor``, ``FilterPatternGenerator``, ``GradCAM``) where you call them
repeatedly: each builds its model once and reads the current weights at every call. The functions
(``activations``, ``filter_patterns``, ``grad_cam``) are one-off conveniences that build one each call.

Example:
    >>> from tb_featureviz import compute
    >>> maps = compute.activations(model, images)               # {layer: [N, h, w, C]}
    >>> heat = compute.grad_cam(model, images, class_index=1)   # [N, H, W] in [0, 1]
    >>> patterns = compute.filter_patterns(model, "conv2d_1")   # [64, 16, 16, 3] in [0, 1]
"""

from tb_featureviz.compute import backend
from tb_featureviz.compute.activations import ActivationExtractor, activations
from tb_featureviz.compute.cam import BaseCAM, GradCAM, grad_cam
from tb_featureviz.compute.faithfulness import MapChecks
from tb_featureviz.compute.filters import FilterPatternGenerator, filter_patterns
from tb_featureviz.compute.input_space import InputSpace, resolve_input_space
from tb_featureviz.compute.layers import (
    conv_layers,
    feature_layers,
    input_hw,
    layer_table,
    receptive_field,
    select_layers,
    validate_images,
)
from tb_featureviz.compute.model_graph import check_model

__all__ = [
    "ActivationExtractor",
    "BaseCAM",
    "FilterPatternGenerator",
    "GradCAM",
    "InputSpace",
    "MapChecks",
    "activations",
    "backend",
    "check_model",
    "conv_layers",
    "feature_layers",
    "filter_patterns",
    "grad_cam",
    "input_hw",
    "layer_table",
    "receptive_field",
    "resolve_input_space",
    "select_layers",
    "validate_images",
]
