"""``checks``: how far the Grad-CAM maps can be trusted (faithfulness and sanity measures), per epoch.

Stored as ordinary scalars of the featureviz run (``faithfulness/deletion_auc``, ``sanity/drift_spearman``,
...; ``tb_featureviz.compute.faithfulness``), not as a blob summary: the reader lists them under the ``/scalars``
document's ``checks``, the dashboard draws them as charts beside the curves (``frontend/view-checks.js``) and
the export as a chart (``export.charts``), so the kind has no tag or figures of its own.
"""

from __future__ import annotations

from tb_featureviz.kinds.base import Kind

FAITHFULNESS_PREFIX = "faithfulness/"
"""Scalar tag prefix of the Grad-CAM faithfulness measures (``faithfulness/deletion_auc``)."""

SANITY_PREFIX = "sanity/"
"""Scalar tag prefix of the Grad-CAM sanity checks (``sanity/randomization_spearman``)."""

KIND = Kind(
    name="checks",
    tag_prefix="",
    label="Grad-CAM checks",
    noun="Grad-CAM checks",
    view=True,
    layered=False,
    stored=False,
    summary_op=None,  # tf.summary.scalar, by the writer's checks task (tb_featureviz.writer.tasks)
    scalar_prefixes=(FAITHFULNESS_PREFIX, SANITY_PREFIX),
)
