"""tb-featureviz: see what a convolutional network learns while it trains.

The writer side (``FeatureVizCallback``, ``activations``, ``filter_patterns``, ``grad_cam`` and
``tb_featureviz.summary``) needs TensorFlow. The viewer side (``tb_featureviz.plugin``,
``tb_featureviz.export``) runs with ``tensorboard`` alone, so the names that need TensorFlow are imported
on first use.

Example:
    >>> from tb_featureviz import FeatureVizCallback
    >>> model.fit(train_ds, validation_data=val_ds, epochs=30,
    ...           callbacks=[FeatureVizCallback("runs/exp1", class_names=["cat", "dog"])])
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "FeatureVizCallback",
    "__version__",
    "activations",
    "filter_patterns",
    "grad_cam",
    "plot",
    "summary",
]

_LAZY = {
    "FeatureVizCallback": ("tb_featureviz.writer.callback", "FeatureVizCallback"),
    "activations": ("tb_featureviz.compute", "activations"),
    "filter_patterns": ("tb_featureviz.compute", "filter_patterns"),
    "grad_cam": ("tb_featureviz.compute", "grad_cam"),
    "plot": ("tb_featureviz.plot", None),
    "summary": ("tb_featureviz.summary", None),
}

if TYPE_CHECKING:
    from tb_featureviz import plot, summary
    from tb_featureviz.compute import filter_patterns, grad_cam
    from tb_featureviz.compute.activations import activations  # the function (the package's name is ambiguous)
    from tb_featureviz.writer.callback import FeatureVizCallback


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'tb_featureviz' has no attribute {name!r}")
    module_name, attr = _LAZY[name]
    module = importlib.import_module(module_name)
    value = module if attr is None else getattr(module, attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
