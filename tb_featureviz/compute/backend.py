"""The one module that knows which Keras backend runs: compiled steps and gradients, one function per backend.

Keras 3 runs on TensorFlow, JAX or PyTorch, and has no common gradient API. Everything in
``tb_featureviz.compute`` is written with ``keras.ops`` and asks this module for the things that differ:

* ``compile_step(fn, variables, signature)``: ``fn`` compiled for the backend (``tf.function``, ``jax.jit``,
  or a plain call under ``torch.no_grad`` for PyTorch, which has nothing to compile ahead), NumPy in and
  NumPy out, reading the current value of ``variables`` at every call. Under ``jax.jit`` a Keras variable
  read inside the function would be frozen into the compiled program, so the JAX step takes the variables'
  values as arguments and maps them in with ``keras.StatelessScope``.
* ``value_and_grad(fn, x)``: a scalar function's value, auxiliary outputs and gradient with respect to one
  input tensor, inside a step: ``tf.GradientTape``, ``jax.value_and_grad``, or ``torch.autograd.grad``.
* ``with_gradient(forward, backward, x, *args)``: a map with a gradient of one's choosing (the filter
  ascent's views): ``tf.custom_gradient``, ``jax.custom_vjp``, or a ``torch.autograd.Function``.

No other module of the package imports ``jax`` or ``torch``, and TensorFlow is imported only for the
TensorFlow backend's steps. The JAX and PyTorch steps never enter TensorFlow.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Sequence
from typing import Any, TypeAlias

import keras
import numpy as np

logger = logging.getLogger(__name__)

__all__ = [
    "LIMITED",
    "SUPPORTED",
    "BackendError",
    "Nest",
    "Step",
    "Tensor",
    "compile_step",
    "compiles",
    "name",
    "per_instance_function",
    "process_index",
    "require",
    "supports",
    "to_numpy",
    "unsupported",
    "value_and_grad",
    "with_gradient",
]

SUPPORTED = ("tensorflow", "jax", "torch")
"""The Keras backends featureviz computes on."""

LIMITED: dict[str, tuple[str, ...]] = {}
"""Features that only some of ``SUPPORTED`` can do, and those that can. None today: every feature runs on all
three. Kept so that a feature can be added on one backend first (``unsupported`` then warns once and the
callback writes the rest)."""

Signature = Sequence[tuple[tuple[int | None, ...], str]]
"""A step's inputs as ``(shape, dtype)`` pairs; ``None`` for an axis of any length (TensorFlow traces once)."""

Tensor: TypeAlias = Any
"""A tensor of the active Keras backend (``tf.Tensor``, ``jax.Array``, ``torch.Tensor``) or a NumPy array:
whatever ``keras.ops`` takes and returns. An alias, so signatures say what they take."""

Nest: TypeAlias = Any
"""A ``Tensor`` or a nested list, tuple or dict of them (what ``keras.tree`` maps over): a step's outputs, the
auxiliary outputs of ``value_and_grad``."""


class BackendError(ValueError):
    """A featureviz feature that the running Keras backend cannot do; the message names both."""


def name() -> str:
    """The running Keras backend: ``"tensorflow"``, ``"jax"``, ``"torch"``, ...

    The backend is chosen once per process, before Keras is imported (``KERAS_BACKEND`` or
    ``~/.keras/keras.json``).
    """
    return str(keras.backend.backend())


def supports(feature: str) -> bool:
    """Whether the running backend can do ``feature`` (see ``LIMITED``)."""
    return name() in LIMITED.get(feature, SUPPORTED)


def unsupported(feature: str, switch: str) -> bool:
    """Whether the running backend cannot do ``feature``; if so, logs one warning naming both, and ``switch``
    (the argument that turns the feature off, to silence it)."""
    if supports(feature):
        return False
    logger.warning(
        "featureviz: %s are not supported on the Keras %r backend yet; writing the other summaries. Pass %s to "
        "silence this.",
        feature,
        name(),
        switch,
    )
    return True


def require(feature: str, supported: Sequence[str] | None = None) -> str:
    """Returns the backend's name if it can do ``feature`` (by default: if it is in ``LIMITED.get(feature,
    SUPPORTED)``).

    Raises:
        BackendError: it cannot; the message names the feature, the backend and those that can.

    Example:
        >>> require("Grad-CAM")
        'jax'
    """
    backend = name()
    supported = LIMITED.get(feature, SUPPORTED) if supported is None else supported
    if backend not in supported:
        raise BackendError(
            f"featureviz: {feature} is not supported on the Keras {backend!r} backend. Supported backends: "
            f"{', '.join(supported)} (set KERAS_BACKEND before importing keras)."
        )
    return backend


def compiles() -> bool:
    """Whether steps are compiled ahead (TensorFlow, JAX): then tracing one early, off the training
    thread, saves the first epoch the compile time. A PyTorch step runs eagerly and has nothing to trace."""
    return name() in ("tensorflow", "jax")


def to_numpy(value: Tensor) -> np.ndarray:
    """A backend tensor (or a NumPy value) as a NumPy array, detached and on the host."""
    if hasattr(value, "detach"):  # torch: no autograd history, host memory
        value = value.detach().cpu()
    return np.asarray(value)


def per_instance_function(fn: Callable[..., Nest], **options: object) -> Callable[..., Nest]:
    """``tf.function(fn, **options)`` that TensorFlow counts as its own function (TensorFlow backend only).

    TensorFlow's retracing warning counts traces by code object, so every step built from the same method
    (one per model, one per layer) would add to one count, and a notebook that builds a few models would warn
    of "excessive retracing" although each function traced once. A ``functools.partial`` has no code object:
    each instance is counted on its own.
    """
    import tensorflow as tf

    if hasattr(fn, "__self__") and hasattr(fn, "__func__"):  # a bound method
        fn = functools.partial(fn.__func__, fn.__self__)
    return tf.function(fn, **options)


def compile_step(
    fn: Callable[..., Nest],
    variables: Sequence[keras.Variable],
    signature: Signature,
    *,
    feature: str = "this computation",
) -> Step:
    """``fn`` compiled for the running backend: NumPy arrays in, NumPy arrays (same structure) out.

    Args:
        fn: Takes backend tensors (one per ``signature`` entry) and returns a tensor or a list of them. It
            uses ``keras.ops`` and Keras models, and ``value_and_grad`` for gradients.
        variables: Every Keras variable ``fn`` reads (``model.weights``). Each call reads their current
            values: a step built once follows the training.
        signature: ``(shape, dtype)`` of each input; TensorFlow traces one graph for it (``None`` axes of any
            length), JAX compiles once per input shape.
        feature: What the step computes, for the error on an unsupported backend.

    Returns:
        A ``Step``: ``step(*arrays)``.

    Raises:
        BackendError: the backend is not one of ``SUPPORTED``.

    Example:
        >>> step = compile_step(lambda x: model(x, training=False), model.weights, [((None, 32, 32, 3), "float32")])
        >>> step(np.zeros((2, 32, 32, 3), np.float32)).shape
        (2, 10)
    """
    backend = require(feature)
    if backend == "tensorflow":
        return Step(_tf_step(fn, signature), backend)
    if backend == "jax":
        return Step(_jax_step(fn, variables), backend)
    return Step(_torch_step(fn), backend)


class Step:
    """A compiled step (see ``compile_step``): NumPy arrays in, NumPy arrays out."""

    def __init__(self, compiled: Any, backend: str) -> None:
        # Untyped: a tf.function, or a function with a ``jitted`` attribute (JAX), whose counts ``traces`` reads.
        self.compiled = compiled
        self.backend = backend

    def __call__(self, *arrays: np.ndarray | np.generic) -> Nest:
        return keras.tree.map_structure(to_numpy, self.compiled(*arrays))

    def traces(self) -> int:
        """How many programs were compiled so far (TensorFlow graphs, JAX executables; 0 for PyTorch)."""
        if self.backend == "tensorflow":
            return int(self.compiled.experimental_get_tracing_count())
        if self.backend == "jax":
            return int(self.compiled.jitted._cache_size())
        return 0


def _tf_step(fn: Callable[..., Nest], signature: Signature) -> Callable[..., Nest]:
    import tensorflow as tf

    specs = [tf.TensorSpec(shape, tf.as_dtype(dtype)) for shape, dtype in signature]
    # No AutoGraph: steps are keras.ops code that JAX traces as it is (loops are keras.ops.fori_loop), so there
    # is nothing to convert, and converting the filter ascent's nested closures failed in a long-running process
    # (a converted method called with one argument too many, after a ResNet50 had trained with the callback).
    return per_instance_function(fn, input_signature=specs, reduce_retracing=True, autograph=False)


def _jax_step(fn: Callable[..., Nest], variables: Sequence[keras.Variable]) -> Callable[..., Nest]:
    import jax

    variables = list(variables)

    def pure(values: list[Tensor], *args: Tensor) -> Nest:
        with keras.StatelessScope(state_mapping=list(zip(variables, values, strict=True))):
            return fn(*args)

    jitted = jax.jit(pure)

    def run(*args: Tensor) -> Nest:
        return jitted([v.value for v in variables], *args)

    run.jitted = jitted  # type: ignore[attr-defined]
    return run


def _torch_step(fn: Callable[..., Nest]) -> Callable[..., Nest]:
    import torch

    def run(*args: Tensor) -> Nest:
        tensors = [keras.ops.convert_to_tensor(a) for a in args]
        with torch.no_grad():
            return fn(*tensors)

    return run


def value_and_grad(fn: Callable[[Tensor], tuple[Tensor, Nest]], x: Tensor) -> tuple[Tensor, Nest, Tensor]:
    """A scalar function's value, its auxiliary outputs and its gradient with respect to ``x``.

    Call it inside a ``compile_step`` function. Where the value does not depend on ``x`` the gradient is zeros.

    Args:
        fn: ``x -> (scalar, aux)``; ``aux`` is any structure of tensors, returned without gradients.
        x: The input tensor.

    Returns:
        ``(value, aux, gradient)``, the gradient shaped as ``x``.

    Example:
        >>> value, aux, grad = value_and_grad(lambda d: (keras.ops.sum(d * d), d), x)  # grad == 2 * x
    """
    backend = require("gradients")
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch(x)
            value, aux = fn(x)
        grad = tape.gradient(value, x)
        return value, aux, tf.zeros_like(x) if grad is None else grad
    if backend == "jax":
        import jax

        (value, aux), grad = jax.value_and_grad(fn, has_aux=True)(x)
        return value, aux, grad
    import torch

    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        value, aux = fn(x)
        if value.requires_grad:
            (grad,) = torch.autograd.grad(value, [x], allow_unused=True)
        else:
            grad = None
    aux = keras.tree.map_structure(lambda t: t.detach() if hasattr(t, "detach") else t, aux)
    return value.detach(), aux, torch.zeros_like(x) if grad is None else grad


def with_gradient(forward: Callable[..., Tensor], backward: Callable[..., Tensor], x: Tensor, *args: Tensor) -> Tensor:
    """``forward(x, *args)``, whose gradient with respect to ``x`` is ``backward(upstream, *args)``.

    For a linear map whose automatic gradient (its exact adjoint) is costly or worse-conditioned than another
    linear map: the random views of the filter-pattern ascent take TensorFlow's gradient of an image warp, the
    warp back. ``args`` (tensors: indices, weights) get no gradient. ``tf.custom_gradient``,
    ``jax.custom_vjp`` or a ``torch.autograd.Function``.

    Example:
        >>> y = with_gradient(lambda x, m: m @ x, lambda dy, m: m @ dy, x, m)   # as if m were symmetric
    """
    backend = require("gradients")
    if backend == "tensorflow":
        import tensorflow as tf

        @tf.custom_gradient
        def tf_fn(value: Tensor) -> tuple[Tensor, Callable[[Tensor], Tensor]]:
            return forward(value, *args), lambda upstream: backward(upstream, *args)

        return tf_fn(x)
    if backend == "jax":
        import jax

        jax_fn = jax.custom_vjp(forward)
        jax_fn.defvjp(
            lambda value, *rest: (forward(value, *rest), rest),
            lambda rest, upstream: (backward(upstream, *rest), *(None for _ in rest)),
        )
        return jax_fn(x, *args)
    return _torch_with_gradient().apply(forward, backward, x, *args)


@functools.cache
def _torch_with_gradient() -> Any:
    import torch

    class WithGradient(torch.autograd.Function):
        @staticmethod
        def forward(
            ctx: Any, forward: Callable[..., Tensor], backward: Callable[..., Tensor], x: Tensor, *args: Tensor
        ) -> Tensor:
            ctx.backward, ctx.args = backward, args
            return forward(x, *args)

        @staticmethod
        def backward(ctx: Any, upstream: Tensor) -> tuple[Tensor | None, ...]:
            return (None, None, ctx.backward(upstream, *ctx.args), *(None for _ in ctx.args))

    return WithGradient


def process_index() -> int:
    """This process's index among the processes of a JAX or PyTorch distributed run (0 when alone).

    TensorFlow's ``tf.distribute`` has its own chief rule (``tb_featureviz.writer.distributed``).
    """
    backend = name()
    if backend == "jax":
        import jax

        return int(jax.process_index())
    if backend == "torch":
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            return int(dist.get_rank())
        return int(os.environ.get("RANK", "0") or 0)
    return 0
