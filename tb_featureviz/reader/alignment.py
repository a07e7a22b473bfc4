"""Which layers of two runs are comparable: resolution stages, read back from what a run stored.

Runs of different architectures share no layer names, so the viewer and the export line them up by
*stage*: the layers of one spatial size (``conv3_block4_out`` of ResNet50 and ``block_6_expand_relu``
of MobileNetV2 are both "stage 3 of 5 · 28x28"), by their Grad-CAM layer, and by the filter layer of a
stage. Pure Python over plain data: :func:`run_stages` derives a run's stages from its activation
layers' output sizes (the ``shape`` of their records, else their grid layout), :func:`align_stage`
maps a stage of one run onto another run's stages, and :func:`aligned_layer` resolves a shared choice
to one run's layer from its ``/index`` entry. The ``/index`` document carries the result (``stages``,
``http_api.md``), so the dashboard and ``featureviz export`` use the same answer.

The stage rule mirrors the writer's (``tb_featureviz.writer.stages.stage_layers``): layers of one spatial size
form a stage, maps of 1x1 or unknown size are not stages, and the representative of a stage is its last
layer in model order. Stages are numbered from the largest map (stage 1) to the smallest.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tb_featureviz.metadata import Record, RecordView


__all__ = ["align_stage", "align_table", "aligned_layer", "parse_stage", "run_stages", "stage_label"]

_STAGE_RE = re.compile(r"^\s*(\d{1,6})\s*(?:/|of)\s*(\d{1,6})\s*$")


def align_stage(stage: int, of: int, count: int) -> int | None:
    """The stage of a ``count``-stage run that corresponds to stage ``stage`` of an ``of``-stage run.

    Stages are matched by relative depth: the first stages match, the last stages match, and the ones in
    between go to the nearest relative position (a half rounds up, to the deeper stage). Runs with the
    same number of stages match stage for stage.

    Args:
        stage: The stage, ``1 <= stage <= of``.
        of: The number of stages of the run it is a stage of (>= 1).
        count: The number of stages of the other run (>= 0).

    Returns:
        A stage of the other run (``1..count``), or ``None`` when it has none. A 1-stage run's only stage
        matches the other run's last (its deepest map).

    Raises:
        ValueError: ``stage`` is not in ``1..of``, or ``count`` is negative.

    Example:
        >>> [align_stage(k, 5, 4) for k in range(1, 6)]
        [1, 2, 3, 3, 4]
        >>> [align_stage(k, 4, 5) for k in range(1, 5)]
        [1, 2, 4, 5]
    """
    if not (isinstance(stage, int) and isinstance(of, int) and 1 <= stage <= of) or count < 0:
        raise ValueError(f"align_stage needs 1 <= stage <= of and count >= 0. Received: {stage}, {of}, {count}")
    if count == 0:
        return None
    if of == 1:
        return count
    # 1 + round((stage - 1) * (count - 1) / (of - 1)), halves up, in integers.
    return 1 + (2 * (stage - 1) * (count - 1) + (of - 1)) // (2 * (of - 1))


def parse_stage(text: str) -> tuple[int, int]:
    """``"3/5"`` (or ``"3 of 5"``) as ``(3, 5)``: stage 3 of a 5-stage run.

    Raises:
        ValueError: not of that form, or not ``1 <= stage <= of``.
    """
    m = _STAGE_RE.match(str(text))
    if not m or not 1 <= int(m.group(1)) <= int(m.group(2)):
        raise ValueError(f"A stage is written K/N with 1 <= K <= N, e.g. 3/5. Received: {str(text)[:100]!r}")
    return int(m.group(1)), int(m.group(2))


def stage_label(stage: RecordView, count: int) -> str:
    """``"stage 3 of 5 · 28x28"`` for an item of a ``stages.list``."""
    return f"stage {stage['stage']} of {count} · {stage['height']}x{stage['width']}"


def run_stages(
    activations: Sequence[tuple[str, tuple[int, int] | None]],
    *,
    model_order: Sequence[str] | None = None,
    filter_layers: Sequence[str] = (),
    gradcam_layers: Sequence[str] = (),
) -> Record:
    """The stages of one run, from its activation layers' output sizes.

    Args:
        activations: ``(layer, (height, width))`` of every activation layer, in the index's order (model
            order where the run recorded it); the size ``None`` where it is unknown.
        model_order: The run's recorded model order (``run_info["layers"]``), if any: the representative
            of a stage is its last layer in that order (layers the run added later come after it).
        filter_layers: Layers with filter patterns, in the index's order.
        gradcam_layers: Layers with Grad-CAM, in the index's order.

    Returns:
        The ``stages`` object of an ``/index`` entry (without ``align``, which :func:`align_table`
        adds)::

            {"count": n, "list": [{"stage": k, "height": h, "width": w, "layers": [...],
                                   "activations": layer, "filters": layer | None}, ...],
             "gradcam": layer | None}

        ``layers`` are the activation layers of the stage in the given order, ``activations`` its
        representative, ``filters`` its last filter layer (``None``: no filter layer of that size; a
        filter layer whose size is unknown belongs to no stage), ``gradcam`` the run's Grad-CAM layer
        (its last one, where it has several).

    Example:
        >>> run_stages([("conv2d", (8, 8)), ("pool", (4, 4)), ("conv2d_1", (4, 4))], filter_layers=["conv2d"])
        ... # doctest: +NORMALIZE_WHITESPACE
        {'count': 2, 'list': [{'stage': 1, 'height': 8, 'width': 8, 'layers': ['conv2d'],
          'activations': 'conv2d', 'filters': 'conv2d'}, {'stage': 2, 'height': 4, 'width': 4,
          'layers': ['pool', 'conv2d_1'], 'activations': 'conv2d_1', 'filters': None}], 'gradcam': None}
    """
    groups: dict[tuple[int, int], list[str]] = {}
    size_of: dict[str, tuple[int, int]] = {}
    for layer, size in activations:
        if size is None or size[0] * size[1] <= 1:
            continue
        groups.setdefault(size, []).append(layer)
        size_of[layer] = size
    rank = {name: i for i, name in enumerate(model_order or ())}
    ordered = sorted(groups, key=lambda s: -s[0] * s[1])  # stable: equal areas keep first-seen order
    stages = []
    for k, size in enumerate(ordered, start=1):
        layers = groups[size]
        known = [la for la in layers if la in rank]
        rep = max(known, key=rank.__getitem__) if known else layers[-1]
        filters = [f for f in filter_layers if size_of.get(f) == size]
        stages.append(
            {
                "stage": k,
                "height": size[0],
                "width": size[1],
                "layers": list(layers),
                "activations": rep,
                "filters": filters[-1] if filters else None,
            }
        )
    return {"count": len(stages), "list": stages, "gradcam": gradcam_layers[-1] if gradcam_layers else None}


def align_table(count: int, counts: Sequence[int]) -> dict[str, list[int | None]]:
    """The ``align`` table of a ``count``-stage run: for each stage count ``n`` in ``counts`` (the other
    runs'), ``table[str(n)][k - 1]`` is this run's stage for stage ``k`` of an ``n``-stage run
    (:func:`align_stage`). Counts below 1 are left out."""
    return {str(n): [align_stage(k, n, count) for k in range(1, n + 1)] for n in sorted(set(counts)) if n >= 1}


def aligned_layer(entry: RecordView, kind: str, stage: tuple[int, int] | None) -> str | None:
    """The layer of a run that a shared choice stands for.

    Args:
        entry: The run's ``/index`` entry (its ``stages``; an entry without them, from an older reader,
            has none).
        kind: ``activations``, ``filters`` or ``gradcam``.
        stage: ``(k, n)``: stage ``k`` of an ``n``-stage run (ignored for ``gradcam``).

    Returns:
        Grad-CAM: the run's Grad-CAM layer. Activations: the representative of the run's stage that
        matches stage ``k`` of ``n`` (:func:`align_stage`); filters: that stage's filter layer. ``None``
        when the run has no such layer.

    Raises:
        ValueError: an unknown ``kind``, or a ``stage`` that is not ``1 <= k <= n``.
    """
    stages = entry.get("stages") or {}
    if kind == "gradcam":
        return stages.get("gradcam")
    if kind not in ("activations", "filters"):
        raise ValueError(f"kind must be activations, filters or gradcam. Received: kind={kind!r}")
    if stage is None:
        return None
    listed = stages.get("list") or []
    j = align_stage(stage[0], stage[1], len(listed))
    return None if j is None else listed[j - 1].get(kind)
