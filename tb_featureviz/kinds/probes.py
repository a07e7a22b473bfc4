"""``probes``: the fixed probe images that activations and Grad-CAM are drawn for, written once per run.

Writer: :func:`tb_featureviz.summary.probes`. Tag ``probes``, blobs ``[record, png_0, ...]`` (RGB PNGs at
input resolution). The reader copies the record's ``index_fields`` into the ``/index`` entry's ``probes``;
every view shows them (the probe picker, Grad-CAM overlays), so the kind has no view of its own.
"""

from __future__ import annotations

from typing import TypedDict

from tb_featureviz.kinds.base import Kind


class ProbesRecord(TypedDict):
    """The true class of each probe image and the class names, where known."""

    labels: list[int] | None
    class_names: list[str] | None


KIND = Kind(
    name="probes",
    tag_prefix="probes",
    label="Probe images",
    noun="probe images",
    view=False,
    layered=False,
    summary_op="tb_featureviz.summary:probes",
    record=ProbesRecord,
    index_fields=("labels", "class_names"),
)
