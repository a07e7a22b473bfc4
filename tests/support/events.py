"""Reads event files back, for tests: every summary value of a run directory, by tag and step."""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass, field

from tensorboard.backend.event_processing import event_file_loader
from tensorboard.compat.proto import summary_pb2
from tensorboard.util import tensor_util


@dataclass
class Series:
    metadata: summary_pb2.SummaryMetadata | None = None
    values: dict[int, object] = field(default_factory=dict)


def read_run(run_dir: str | os.PathLike) -> dict[str, Series]:
    """``{tag: Series}`` with the first event's metadata and ``{step: numpy value}``."""
    out: dict[str, Series] = {}
    files = sorted(glob.glob(os.path.join(os.fspath(run_dir), "events.out.tfevents.*")))
    for path in files:
        for event in event_file_loader.EventFileLoader(path).Load():
            for v in event.summary.value:
                s = out.setdefault(v.tag, Series())
                if s.metadata is None and v.HasField("metadata"):
                    s.metadata = v.metadata
                s.values[event.step] = tensor_util.make_ndarray(v.tensor) if v.HasField("tensor") else v.simple_value
    return out


# What depends on the machine or the clock rather than on the weights (the sidecar has no training loop).
TIMING_TAGS = {
    "cost/activations_seconds",
    "cost/gradcam_seconds",
    "cost/filters_seconds",
    "cost/metrics_seconds",
    "cost/exemplars_seconds",
    "cost/callback_seconds",
}
