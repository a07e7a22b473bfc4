"""The records of a run that are not kinds of their own: written beside the kinds, read by the reader, never
drawn as a view or an export figure (``metadata`` documents each record's keys)."""

from __future__ import annotations

from typing import TypedDict

from tb_featureviz.kinds.base import Kind


class SampleRecord(TypedDict):
    count: int
    labels: list[int] | None


class StatusRecord(TypedDict, total=False):
    state: str
    message: str
    exit_code: int
    log_tail: str


SAMPLE = Kind(
    name="sample",
    tag_prefix="sample",
    label="Validation sample",
    noun="sample images",
    view=False,
    layered=False,
    summary_op="tb_featureviz.summary:sample",
    record=SampleRecord,
    index_fields=("labels",),
)
"""The fixed sample of validation images the exemplars come from (``[record, png_0, ...]``)."""

RUN_INFO = Kind(
    name="run_info",
    tag_prefix="run_info",
    label="Run info",
    noun="run info",
    view=False,
    layered=False,
    summary_op="tb_featureviz.summary:run_info",
)
"""Model name and summary, hyper-parameters, options, input space: a record of documented keys."""

PLAN = Kind(
    name="plan",
    tag_prefix="plan",
    label="Plan",
    noun="plans",
    view=False,
    layered=False,
    summary_op="tb_featureviz.summary:plan",
)
"""What the planner drew at an epoch and why (``tb_featureviz.writer.planner``): a record of documented keys."""

STATUS = Kind(
    name="status",
    tag_prefix="status",
    label="Status",
    noun="status",
    view=False,
    layered=False,
    summary_op="tb_featureviz.status:write_status",
    record=StatusRecord,
)
"""Why a ``featureviz demo`` training process stopped (``tb_featureviz.status``, without TensorFlow)."""
