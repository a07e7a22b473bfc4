"""Model inspection: the layer graph replayed on a new input, nested models flattened.

Keras 3 keeps a nested model's layers in the nested model's own graph: ``inner_layer.output`` is connected
to the nested model's input, not to the outer model's, so ``keras.Model(outer.inputs, inner_layer.output)``
fails with "Graph disconnected". We avoid that by *replaying* the model: every layer is called again, in
the model's order, on a fresh ``keras.Input``; when a layer is itself a Sequential or functional model we
descend into it and replay its layers instead of calling it as one block. Every layer's output is then a
tensor of one graph rooted at the new input, and any of them can be a model output. Layers are shared,
not copied: the models built from a replay read the user's variables, so they see the current weights.

Subclassed models (a custom ``call``) cannot be looked into; they are replayed as one opaque layer.
"""

from __future__ import annotations

import itertools
import logging
import math
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import keras
import numpy as np

from tb_featureviz.compute import backend
from tb_featureviz.compute.backend import Nest

logger = logging.getLogger(__name__)

_OWN_NAMES = itertools.count()


def own_name(role: str) -> str:
    """A name for a layer, input or model that featureviz builds, which no user layer can have.

    Keras auto-names layers ``add``, ``add_1``, ... from a per-process counter, and a model loaded from a
    ``.keras`` file keeps the names it was saved with while the counter starts again at 0, so an auxiliary
    layer left to Keras' naming can collide with a user layer ("The name 'add' is used 2 times"). Ours carry
    a ``featureviz_`` prefix and a process-wide serial number.

    Example:
        >>> own_name("tap").startswith("featureviz_tap_")
        True
    """
    return f"featureviz_{role}_{next(_OWN_NAMES)}"


_SKIPPED_MODULES = ("keras.src.layers.preprocessing", "keras.src.layers.regularization")
"""Layers from these modules are input transforms or identities at inference: not feature layers."""


@dataclass
class LayerRecord:
    """One layer call of a replayed model.

    Attributes:
        name: The name users refer to it by: the layer's own name, or ``outer/inner`` where the plain name
            is not unique in the flattened model.
        path: Names of the enclosing nested models, then the layer's name.
        layer: The (shared) layer object.
        inputs: Symbolic input tensors of the call.
        output: Symbolic output of the call.
        container: Whether the layer is a nested model that was descended into.
        rf: Receptive field in input pixels of one output unit (``inf`` after global pooling/flatten).
        jump: Distance in input pixels between adjacent output units.
    """

    name: str
    path: tuple[str, ...]
    layer: keras.layers.Layer
    inputs: list[keras.KerasTensor]
    output: Nest
    container: bool
    rf: float
    jump: float

    @property
    def is_4d(self) -> bool:
        shape = getattr(self.output, "shape", None)
        return shape is not None and len(shape) == 4

    @property
    def is_feature(self) -> bool:
        """A leaf layer with a 4-D output that is not an input transform or an identity."""
        if self.container or not self.is_4d or isinstance(self.layer, keras.layers.InputLayer):
            return False
        return not type(self.layer).__module__.startswith(_SKIPPED_MODULES)


class _Stop(Exception):
    """Raised inside a replay once the requested layer has been recorded."""


@dataclass
class Trace:
    """A model replayed on a new input (see the module docstring).

    Attributes:
        input: The new ``keras.Input``.
        output: The replayed model output (``None`` for a truncated replay).
        records: Every layer call, in execution order (nested models flattened, containers after their
            layers).
        tap: With ``build_trace(..., tap=path)``: a second ``keras.Input`` shaped as that layer's output, added
            to it (see ``build_trace``); else ``None``.
    """

    input: keras.KerasTensor
    output: Nest = None
    records: list[LayerRecord] = field(default_factory=list)
    tap: keras.KerasTensor | None = None
    _by_name: dict[str, LayerRecord] = field(default_factory=dict)

    def names(self, predicate: Callable[[LayerRecord], bool] | None = None) -> list[str]:
        return [r.name for r in self.records if predicate is None or predicate(r)]

    def find(self, name: str) -> LayerRecord:
        """Returns the record of layer ``name`` (plain or ``outer/inner``).

        Raises:
            TypeError: ``name`` is not a string.
            ValueError: no such layer; the message lists the known names.
        """
        if not isinstance(name, str):
            raise TypeError(f"A layer name must be a string. Received: layer={name!r}")
        if name in self._by_name:
            return self._by_name[name]
        raise ValueError(
            f"Unknown layer {name!r}. Known layers: {', '.join(r.name for r in self.records if not _is_input(r))}"
        )


def _is_input(record: LayerRecord) -> bool:
    return isinstance(record.layer, keras.layers.InputLayer)


def _is_sequential(layer: object) -> bool:
    return isinstance(layer, keras.Sequential)


def _is_functional(layer: object) -> bool:
    # keras.src.models.functional.Functional is private; its graph attributes identify it.
    return (
        isinstance(layer, keras.Model)
        and not _is_sequential(layer)
        and getattr(layer, "_nodes_by_depth", None) is not None
        and hasattr(layer, "_run_through_graph")
    )


def _rf_update(layer: keras.layers.Layer, rf: float, jump: float) -> tuple[float, float]:
    """Receptive field and jump after ``layer`` (per spatial axis, the larger of the two)."""
    name = type(layer).__name__
    if name.startswith("Global") or isinstance(layer, (keras.layers.Flatten, keras.layers.Dense)):
        return math.inf, jump
    kernel = getattr(layer, "kernel_size", None) or getattr(layer, "pool_size", None)
    if kernel is not None and hasattr(layer, "strides"):
        k = max(int(v) for v in np.atleast_1d(kernel))
        strides = layer.strides if layer.strides is not None else kernel
        s = max(int(v) for v in np.atleast_1d(strides))
        d = max(int(v) for v in np.atleast_1d(getattr(layer, "dilation_rate", 1) or 1))
        k_eff = d * (k - 1) + 1
        if isinstance(layer, keras.layers.Conv2DTranspose):
            return rf + (k_eff - 1) * jump / s, jump / s
        return rf + (k_eff - 1) * jump, jump * s
    if isinstance(layer, keras.layers.UpSampling2D):
        return rf, jump / max(int(v) for v in np.atleast_1d(layer.size))
    return rf, jump


class _Replayer:
    def __init__(self, trace: Trace, stop_at: tuple[str, ...] | None, tap: tuple[str, ...] | None = None) -> None:
        self.trace = trace
        self.stop_at = stop_at
        self.tap = tap
        self.geometry: dict[int, tuple[float, float]] = {}

    def geometry_of(self, args: Nest) -> tuple[float, float]:
        rf, jump = 1.0, 1.0
        found = [self.geometry[id(t)] for t in keras.tree.flatten(args) if id(t) in self.geometry]
        # A merge of a feature map with a global branch (squeeze-and-excitation's channel gates) keeps the
        # feature map's geometry: the gates scale channels, they do not widen what a unit sees.
        spatial = [g for g in found if not math.isinf(g[0])]
        found = spatial or found
        if found:
            rf = max(g[0] for g in found)
            jump = max(g[1] for g in found)
        return rf, jump

    def call(
        self, op: keras.Operation, args: tuple[Nest, ...], kwargs: dict[str, object], prefix: tuple[str, ...]
    ) -> Nest:
        is_layer = isinstance(op, keras.layers.Layer)
        path = (*prefix, op.name) if is_layer else prefix
        rf, jump = self.geometry_of(args)
        container = is_layer and (_is_sequential(op) or _is_functional(op))
        if container:
            out = self.replay(op, args[0] if len(args) == 1 else list(args), path)
            rf, jump = self.geometry_of(out)
        else:
            out = op(*args, **kwargs)
            if is_layer:
                rf, jump = _rf_update(op, rf, jump)
        if is_layer and self.tap is not None and path == self.tap and self.trace.tap is None:
            # The first call only: a shared layer's record is its first call's.
            self.trace.tap = keras.Input(shape=tuple(out.shape[1:]), dtype=out.dtype, name=own_name("tap"))
            # A named layer, not keras.ops.add: an op would take Keras' next free "add", which a model loaded
            # from a .keras file in a fresh process may already use for one of its own unnamed add layers.
            out = keras.layers.Add(name=own_name("tap_add"))([out, self.trace.tap])
        for t in keras.tree.flatten(out):
            self.geometry[id(t)] = (rf, jump)
        if is_layer:
            inputs = [t for t in keras.tree.flatten(args) if isinstance(t, keras.KerasTensor)]
            record = LayerRecord("", path, op, inputs, out, container, rf, jump)
            self.trace.records.append(record)
            if self.stop_at is not None and path == self.stop_at:
                raise _Stop
        return out

    def replay(self, model: keras.Model, x: Nest, prefix: tuple[str, ...]) -> Nest:
        if _is_sequential(model):
            for layer in model.layers:
                x = self.call(layer, (x,), {}, prefix)
            return x

        def operation_fn(op: keras.Operation) -> Callable[..., Nest]:
            def run(*args: Nest, **kwargs: object) -> Nest:
                return self.call(op, args, kwargs, prefix)

            return run

        out = model._run_through_graph(x, operation_fn=operation_fn)
        if isinstance(out, (list, tuple)) and len(out) == 1:
            out = out[0]
        return out


def check_model(model: object) -> tuple[int | None, ...]:
    """Checks that featureviz supports ``model``; returns its input shape without the batch axis.

    Raises:
        TypeError: ``model`` is not a Keras model.
        ValueError: the backend is not TensorFlow, JAX or PyTorch (a ``backend.BackendError``), the model is
            subclassed or not built, has several inputs, its input is not an image batch ``[N, H, W, C]``, or a
            layer uses ``channels_first``.
    """
    backend.require("tb_featureviz.compute (activations, filter patterns, Grad-CAM)")
    if not isinstance(model, keras.Model):
        raise TypeError(f"Expected a keras.Model. Received: model={model!r} of type {type(model).__name__}")
    if not _is_sequential(model) and not _is_functional(model):
        raise ValueError(
            f"Model {model.name!r} is a subclassed model ({type(model).__name__} with its own call()), which "
            "featureviz cannot look into: it supports Sequential and functional models and models nested in "
            "them. Build the network functionally (x = keras.Input((H, W, C)); y = layer(x) ...; "
            "keras.Model(x, y)), or pass featureviz the functional or Sequential parts your subclass calls "
            "(a keras.applications backbone, say)."
        )
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        inputs = None
    if not inputs:
        raise ValueError(
            f"Sequential model {model.name!r} is not built: start it with keras.Input((H, W, C)) or call "
            "model.build((None, H, W, C)) first."
        )
    if len(inputs) != 1:
        raise ValueError(
            f"featureviz supports models with one image input. Received: model {model.name!r} with "
            f"{len(inputs)} inputs {[tuple(i.shape) for i in inputs]}"
        )
    shape = tuple(inputs[0].shape)
    if len(shape) != 4:
        raise ValueError(
            f"featureviz needs a model whose input is a 4-D image batch [N, H, W, C]. Received: model "
            f"{model.name!r} with input shape {shape}"
        )
    for layer in _all_layers(model):
        if getattr(layer, "data_format", None) == "channels_first":
            raise ValueError(
                f"featureviz supports channels_last models only. Received: layer {layer.name!r} "
                f"({type(layer).__name__}) with data_format='channels_first'"
            )
    return shape[1:]


def _all_layers(model: keras.Model) -> list[keras.layers.Layer]:
    out = []
    for layer in model.layers:
        out.append(layer)
        if isinstance(layer, keras.Model):
            out.extend(_all_layers(layer))
    return out


def build_trace(
    model: keras.Model,
    input_shape: Sequence[int | None] | None = None,
    stop_at: tuple[str, ...] | None = None,
    tap: tuple[str, ...] | None = None,
) -> Trace:
    """Replays ``model`` on ``keras.Input(input_shape)`` (default: the model's own input shape).

    Args:
        model: A model that passed ``check_model``.
        input_shape: Shape without the batch axis, e.g. ``(None, None, 3)``.
        stop_at: The path of a layer; the replay stops after it (a truncated model).
        tap: The path of a layer whose output gets a second input added to it, ``trace.tap``. Fed zeros, the
            model computes what it did; the gradient with respect to the tap is the gradient with respect to
            the layer's output, on every backend (JAX differentiates functions of inputs, not intermediates).

    Returns:
        The trace, with unique names assigned.
    """
    shape = tuple(input_shape) if input_shape is not None else check_model(model)
    trace = Trace(input=keras.Input(shape=shape, dtype="float32", name=own_name("input")))
    replayer = _Replayer(trace, stop_at, tap)
    replayer.geometry[id(trace.input)] = (1.0, 1.0)
    try:
        out = replayer.replay(model, trace.input, ())
        trace.output = out
    except _Stop:
        pass
    _assign_names(trace)
    return trace


def _assign_names(trace: Trace) -> None:
    counts: dict[str, int] = {}
    for r in trace.records:
        counts[r.path[-1]] = counts.get(r.path[-1], 0) + 1
    for r in trace.records:
        full = "/".join(r.path)
        r.name = r.path[-1] if counts[r.path[-1]] == 1 else full
        # A layer called twice (shared) keeps its first call.
        trace._by_name.setdefault(r.name, r)
        trace._by_name.setdefault(full, r)


_TRACES: weakref.WeakKeyDictionary[keras.Model, Trace] = weakref.WeakKeyDictionary()


def trace_of(model: keras.Model) -> Trace:
    """The full trace of ``model`` at its own input shape, built once per model and cached.

    Raises:
        ValueError: see ``check_model``; or the model has no layer with a 4-D output.
    """
    check_model(model)
    trace = _TRACES.get(model)
    if trace is None:
        trace = build_trace(model)
        if not any(r.is_feature for r in trace.records):
            found = ", ".join(f"{r.name} {tuple(getattr(r.output, 'shape', ()))}" for r in trace.records) or "none"
            raise ValueError(
                f"Model {model.name!r} has no layer with a 4-D output (conv, pooling, ...). Found layers: {found}"
            )
        _TRACES[model] = trace
    return trace


def resolve_layers(trace: Trace, layers: Sequence[str | type] | None) -> list[LayerRecord]:
    """Feature-layer records selected by names and/or classes, in model order.

    Args:
        trace: A full trace.
        layers: ``None`` for every feature layer, or names and/or layer classes. A class selects every
            feature layer that is an instance of it.

    Returns:
        The records, in model order, without duplicates.

    Raises:
        TypeError: an entry is neither a string nor a layer class.
        ValueError: an unknown name (the message lists the known ones), a layer whose output is not 4-D, a
            class that matches no feature layer, or an empty list.
    """
    features = [r for r in trace.records if r.is_feature]
    if layers is None:
        return features
    if isinstance(layers, (str, type)):
        layers = [layers]
    if len(layers) == 0:
        raise ValueError(f"layers must name at least one layer. Received: layers={layers!r}")
    chosen: set[int] = set()
    for entry in layers:
        if isinstance(entry, str):
            record = trace.find(entry)
            if not record.is_4d:
                raise ValueError(
                    f"Layer {entry!r} has output shape {tuple(record.output.shape)}; featureviz needs a 4-D "
                    f"output [N, h, w, C]. Layers with 4-D outputs: {', '.join(r.name for r in features)}"
                )
            chosen.add(id(record))
        elif isinstance(entry, type) and issubclass(entry, keras.layers.Layer):
            matched = [r for r in features if isinstance(r.layer, entry)]
            if not matched:
                raise ValueError(
                    f"No layer with a 4-D output is a {entry.__name__}. Layers with 4-D outputs: "
                    f"{', '.join(f'{r.name} ({type(r.layer).__name__})' for r in features)}"
                )
            chosen.update(id(r) for r in matched)
        else:
            raise TypeError(f"layers entries must be layer names or layer classes. Received: {entry!r}")
    return [r for r in trace.records if id(r) in chosen]
