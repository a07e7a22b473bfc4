"""Which process writes: only the chief of a ``tf.distribute`` multi-worker cluster, or process 0 of a JAX or
PyTorch distributed run."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import keras

from tb_featureviz.compute import backend

if TYPE_CHECKING:
    import tensorflow as tf

__all__ = ["chief_task", "is_chief"]


def chief_task(task_type: str | None, task_id: int | None, cluster: Mapping[str, object] | None) -> bool:
    """Whether a task of a ``tf.distribute`` cluster is the chief (the one that writes).

    The chief is the ``chief`` task if the cluster has one, else worker 0; a task outside any cluster
    (``task_type`` None) is a single worker and writes. Parameter servers and evaluators never write.
    """
    if task_type is None:
        return True
    if task_type == "chief":
        return True
    if task_type == "worker":
        return "chief" not in (cluster or {}) and int(task_id or 0) == 0
    return False


def is_chief(
    model: keras.Model | None = None, resolver: tf.distribute.cluster_resolver.ClusterResolver | None = None
) -> bool:
    """Whether this process writes: true except on the non-chief tasks of a multi-worker strategy.

    Args:
        model: The model; its ``distribute_strategy`` is used when there is one, else the current strategy.
        resolver: A cluster resolver to decide from instead (``tf.distribute.cluster_resolver``).

    On the JAX and PyTorch backends, the process of index 0 writes (``jax.process_index()``, the
    ``torch.distributed`` rank); ``tf.distribute`` is not asked.
    """
    if resolver is None and backend.name() != "tensorflow":
        return backend.process_index() == 0
    if resolver is None:
        import tensorflow as tf

        strategy = getattr(model, "distribute_strategy", None) if model is not None else None
        if strategy is None:
            strategy = tf.distribute.get_strategy()
        resolver = getattr(strategy, "cluster_resolver", None)
        extended = getattr(strategy, "extended", None)
        if resolver is None and extended is not None and hasattr(extended, "should_checkpoint"):
            # MultiWorkerMirroredStrategy without a resolver attribute: its own chief rule.
            return bool(extended.should_checkpoint)
    if resolver is None:
        return True
    try:
        cluster = resolver.cluster_spec().as_dict()
    except Exception:
        cluster = {}
    return chief_task(getattr(resolver, "task_type", None), getattr(resolver, "task_id", None), cluster)
