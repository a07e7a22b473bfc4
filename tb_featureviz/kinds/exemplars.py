"""``exemplars``: the natural images each channel of a layer likes best, cut from the run's ``sample`` images.

Writer: :func:`tb_featureviz.summary.exemplars`. Tag ``exemplars/<layer>``, blobs ``[record]`` (no images:
a viewer crops the ``sample`` images, ``metadata.crop_box``). The dashboard shows them in the activations and
filters views (a channel's drill-down: ``frontend/view-exemplars.js``), the export with a channel export
(``export.collect``), so the kind has no figures of its own.
"""

from __future__ import annotations

from typing import TypedDict

from tb_featureviz.kinds.base import Kind


class ExemplarsRecord(TypedDict, total=False):
    """``exemplars[i]`` are channel ``channels[i]``'s top ``k`` ``[image, y, x, value]`` of the ``sample``."""

    k: int
    size: int
    sample: int
    channels: list[int]
    exemplars: list[list[list[float]]]
    nonfinite: int


KIND = Kind(
    name="exemplars",
    tag_prefix="exemplars/",
    label="Exemplars",
    noun="exemplars",
    view=True,
    summary_op="tb_featureviz.summary:exemplars",
    record=ExemplarsRecord,
)
