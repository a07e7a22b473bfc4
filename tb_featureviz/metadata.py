"""Summary metadata and the on-disk format of featureviz summaries.

This module is imported by both sides (the TensorFlow writer and the TensorBoard plugin) and must not
import TensorFlow.

Storage format (version 1)
--------------------------

Every featureviz summary is a rank-1 ``tf.string`` tensor, written with ``step`` = epoch index under the
run ``<log_dir>/featureviz``. Its summary metadata has ``plugin_name="featureviz"``,
``data_class=DATA_CLASS_BLOB_SEQUENCE`` and, as ``content``, UTF-8 JSON::

    {"version": 1, "kind": "activations", "layer": "conv2d", "layout": {...}, "extra": {...}}

TensorBoard keeps the metadata of the first event of a tag only, so the metadata holds what never
changes for a tag (kind, layer, grid layout). What changes per epoch lives in the data: element 0 of
every blob sequence is a UTF-8 JSON *record*; elements 1.. are PNG images that the record describes.

Tags and their blob sequences:

``activations/<layer>``
    ``[record, grid_probe_0, ..., grid_probe_{N-1}]``: one grayscale (mode ``L``) PNG grid per probe
    image, every channel of the layer's output normalised on its own. ``layout`` describes the grid.
    Record: ``{"probes": N, "dead": [channel, ...], "shape": [h, w, C]}`` where ``dead`` lists the
    channels that are zero everywhere for all probe images. A *reduced* grid (past the callback's
    ``max_grid_pixels``) adds ``"channels": [channel, ...]`` (tile ``k`` shows channel ``channels[k]``; the
    same channels at every step) and ``"scale": s`` (each tile shrunk ``s`` times by a box filter).
``filters/<layer>``
    ``[record, rgb_grid]``: one RGB PNG grid with one tile per filter pattern.
    Record: ``{"filters": [index, ...], "activation": [float, ...], "size": px}``: the filter index of
    each tile and the mean activation each pattern reaches. Optional: ``"scale": s`` (patterns shrunk ``s``
    times) and ``"schedule": {"fixed": k, "window": [a, b], "of": C, "next": [c, d], "next_epoch": e}``: the
    first ``k`` tiles are a fixed seeded subset drawn at every pass, the rest filters ``a..b`` of the layer's
    ``C``; the next pass draws ``c..d``, expected at epoch ``e`` (``null``: not within the budget's rate).
    ``"relative": [float | null, ...]`` (per tile) is each pattern's own activation divided by the mean
    activation of that filter over the probe images (``null`` where the probes do not activate it), and
    ``"relative_median"`` their median over distinct filters (a filter shown twice counts once): how far
    beyond natural images the patterns drive their filters.
``exemplars/<layer>``
    ``[record]``: the natural images each channel likes best (``tb_featureviz.compute.exemplars``)::

        {"k": 5, "size": px, "sample": M, "channels": [c, ...],
         "exemplars": [[[image, y, x, value], ...k], ...]}

    ``exemplars[i]`` are channel ``channels[i]``'s top ``k`` images of the ``sample`` (distinct, best
    first): ``image`` indexes the ``sample`` images, ``(y, x)`` is the centre of the strongest response in
    input pixels, ``value`` that response. A viewer shows the ``size`` x ``size`` crop around ``(y, x)``,
    moved inside the image (:func:`crop_box`). ``channels`` are the grid's channels (all of
    them, or a reduced grid's).
``sample``
    ``[record, png_0, ..., png_{M-1}]``: the fixed sample of validation images the exemplars come from, as
    RGB PNGs at input resolution, written once, at the first epoch that draws exemplars.
    Record: ``{"count": M, "labels": [int, ...] | null}``.
``gradcam/<layer>``
    ``[record, heat, overlay, heat, overlay, ...]``: for each probe image and each target (predicted
    class, then true class when labels are known) a grayscale heatmap PNG at input resolution and a
    ready RGB overlay PNG. Record::

        {"probes": [{"probe": 0, "true": 1 | null, "predicted": 0, "probabilities": [..],
                     "targets": [{"target": "predicted", "class": 0, "score": 0.93,
                                  "heatmap": 1, "overlay": 2}, ...]}, ...]}

    ``heatmap``/``overlay`` are indices into the blob sequence; ``score`` is the model's probability
    for that class. ``overlay`` is ``null`` when no ready overlay was stored (the callback's default: a
    viewer lays the heatmap over the ``probes`` image).
``probes``
    ``[record, png_0, ..., png_{N-1}]``: the probe images as RGB PNGs at input resolution, written at
    the first logged epoch only. Record: ``{"labels": [int, ...] | null, "class_names": [...] | null}``.
``run_info``
    ``[record]``: written at the first logged epoch. Record: model name, text summary, parameter
    count, input shape, optimizer config, user hyper-parameters, start time (ISO 8601), class names, and
    ``featureviz_options`` (what the callback was asked to draw; ``featureviz watch`` reuses them), and
    ``input_space`` (``compute.input_space.InputSpace.to_json``: what pixels the model takes and how they
    were learnt, with a ``description`` for people).
``status``
    ``[record]``: written by ``featureviz demo`` (``tb_featureviz.status``, without TensorFlow) when the
    training process stops with an error, at step 0 (the index does not count it as an epoch). Record::

        {"state": "failed", "message": "ModuleNotFoundError: ...", "exit_code": 1, "log_tail": "..."}
``plan``
    ``[record]`` at every logged epoch: what the planner drew and why (``tb_featureviz.writer.planner``)::

        {"epoch": 3, "activations": [layer, ...], "gradcam": layer | null,
         "grids": {layer: {"channels": n | null, "scale": s}},
         "filters": {layer: {"fixed": k, "window": [a, b], "of": C, "next": [c, d], "next_epoch": e}},
         "extras": ["metrics", "exemplars"], "skipped": {layer or extra: reason},
         "checks": {"variant": "full" | "light", "steps": s, "random_draws": d, "probes": n,
                    "drift_from": epoch | null} | null,
         "epoch_costs": {task: seconds}, "hook_seconds": s,
         "budget": {"fraction": f | null, "seconds_per_epoch": s | null}, "train_seconds": s,
         "spent_seconds": s, "allowed_seconds": s | null, "room_seconds": s | null, "over_budget": bool,
         "reserved_seconds": s, "warm_up_seconds": s, "writer_seconds": s, "costs": {task: seconds},
         "estimates": {task: seconds}}

``checks``: how the Grad-CAM measures (``"metrics"``) were drawn, ``null`` when they were not: ``"full"`` (the first
draw, the last epoch, and when the budget has room) or ``"light"`` between them (``steps`` points per deletion and
insertion curve, ``random_draws`` re-initialisations: a subset of the full computation, written under the same
scalar tags); ``drift_from`` is the epoch the drift compares with.
``reserved_seconds``: what the epoch kept aside for the Grad-CAM measures that the last epoch draws when the
run can pay for them (0 at the last epoch, when the run's budget cannot cover them, or when the run's length or
the budget is unknown). ``warm_up_seconds``: the CPU time of the background warm-up that traced the first
epoch's functions while it trained; ``writer_seconds``: the CPU time of the writer thread so far (counted at the
next logged epoch); both part of ``spent_seconds``. ``estimates``: an extra's cost estimate before it is first
drawn (the planner plans with 1.5 times it). ``skipped`` keys are layers, extras, or ``activations/<layer>``
for a layer whose grid waits while the callback is over budget; the reasons follow
``tb_featureviz.writer.planner.SKIP_REASONS``.

Any record may carry ``"nonfinite": n``: the model produced ``n`` NaN or inf values for it (a diverged
model); they are drawn as 0 in the images and written as ``null`` in the record's floats.

Scalars (ordinary ``tf.summary.scalar``, read by TensorBoard's scalars plugin) in the same run:
``epoch_<metric>`` and ``epoch_val_<metric>`` (the epoch logs, so curves exist without Keras'
TensorBoard callback), ``health/dead_fraction/<layer>``, ``cost/<kind>_seconds``, the Grad-CAM measures
``faithfulness/deletion_auc``, ``faithfulness/insertion_auc``, ``faithfulness/pointing_game``,
``sanity/randomization_spearman`` and ``sanity/drift_spearman`` (``tb_featureviz.compute.faithfulness``),
and ``patterns/relative_activation/<layer>`` (a filter pass's ``relative_median``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, TypeAlias

from tensorboard.compat.proto import summary_pb2

from tb_featureviz.kinds import RECORDS, REGISTRY
from tb_featureviz.validation import non_negative_int, positive_int

Record: TypeAlias = dict[str, Any]
"""A JSON object as stored in a summary or served over HTTP: a decoded record, a document, an index entry."""

RecordView: TypeAlias = Mapping[str, Any]
"""A :data:`Record` that the code only reads (a function that takes one accepts any mapping)."""

CHECKS_TASK = "metrics"
"""The name plan records and cost tags give the Grad-CAM checks' task (``extras``, ``skipped``,
``cost/metrics_seconds``): the one logs have always stored, so code says ``CHECKS_TASK``, never the word."""

PLUGIN_NAME = "featureviz"
"""The plugin name: in summary metadata, TensorBoard routes and the run subdirectory."""

RUN_SUBDIR = "featureviz"
"""Subdirectory of the user's log dir that the callback writes to."""

CONTENT_VERSION = 1

KINDS: tuple[str, ...] = (
    *(name for name, k in REGISTRY.items() if k.stored),
    *RECORDS,
)
"""Every summary kind written as a blob summary, in display order, then the records (``tb_featureviz.kinds``:
``activations``, ``filters``, ``gradcam``, ``exemplars``, ``probes``, ``sample``, ``run_info``, ``plan``,
``status``)."""

TAG_PREFIX: dict[str, str] = {name: k.tag_prefix for name, k in REGISTRY.items() if k.stored and k.layered}
"""Blob tag prefix of each per-layer kind: the tag is the prefix plus the layer name."""

EPOCH_SCALAR_PREFIX = "epoch_"
"""Scalar tag prefix of an epoch log value (``epoch_loss``), as Keras' TensorBoard callback names it."""

VALIDATION_SCALAR_PREFIX = "epoch_val_"
"""Scalar tag prefix of a validation value in the callback's own run (``epoch_val_loss``)."""

DEAD_FRACTION_PREFIX = "health/dead_fraction/"
"""Scalar tag prefix of the fraction of dead channels of a layer."""

FAITHFULNESS_PREFIX, SANITY_PREFIX = REGISTRY["checks"].scalar_prefixes
"""Scalar tag prefixes of the Grad-CAM faithfulness measures (``faithfulness/deletion_auc``) and sanity checks
(``sanity/randomization_spearman``): the ``checks`` kind's (``tb_featureviz.kinds.checks``)."""

RELATIVE_ACTIVATION_PREFIX = "patterns/relative_activation/"
"""Scalar tag prefix of a filter pass's median pattern activation relative to the probes'."""

COST_PREFIX = "cost/"
"""Scalar tag prefix of the seconds each kind cost at an epoch (``cost/filters_seconds``)."""


def cost_tag(kind: str) -> str:
    """The scalar tag of the seconds ``kind`` cost at an epoch: ``cost/<kind>_seconds``."""
    return f"{COST_PREFIX}{kind}_seconds"


def epoch_metric(tag: str) -> tuple[str, str] | None:
    """Splits an epoch scalar tag into ``(metric, split)``, or ``None`` when it is not one.

    ``epoch_val_<m>`` is ``(m, "validation")`` and ``epoch_<m>`` is ``(m, "train")``; the longer prefix
    is tested first, which is the one ordering rule every reader of these tags must follow. In Keras'
    ``validation`` run the tag is ``epoch_<m>``: the caller overrides the split from the run's name.

    Example:
        >>> epoch_metric("epoch_val_loss"), epoch_metric("epoch_loss"), epoch_metric("cost/x")
        (('loss', 'validation'), ('loss', 'train'), None)
    """
    if tag.startswith(VALIDATION_SCALAR_PREFIX):
        return tag[len(VALIDATION_SCALAR_PREFIX) :], "validation"
    if tag.startswith(EPOCH_SCALAR_PREFIX):
        return tag[len(EPOCH_SCALAR_PREFIX) :], "train"
    return None


@dataclass(frozen=True)
class GridLayout:
    """Geometry of a tiled grid image, so a viewer can map a pixel to a tile.

    Tile ``k`` (row-major, ``k < count``) has its top-left corner at
    ``x = (k % cols) * (tile_width + padding)``, ``y = (k // cols) * (tile_height + padding)``.
    The image is ``cols * tile_width + (cols - 1) * padding`` pixels wide and
    ``rows * tile_height + (rows - 1) * padding`` high; there is no outer border.
    """

    rows: int
    cols: int
    tile_height: int
    tile_width: int
    padding: int
    count: int

    def __post_init__(self) -> None:
        for name in ("rows", "cols", "tile_height", "tile_width", "count"):
            positive_int(f"GridLayout.{name}", getattr(self, name))
        non_negative_int("GridLayout.padding", self.padding)
        if self.count > self.rows * self.cols:
            raise ValueError(f"GridLayout.count={self.count} does not fit in {self.rows}x{self.cols} tiles.")

    @property
    def width(self) -> int:
        return self.cols * self.tile_width + (self.cols - 1) * self.padding

    @property
    def height(self) -> int:
        return self.rows * self.tile_height + (self.rows - 1) * self.padding

    def tile_origin(self, index: int) -> tuple[int, int]:
        """Returns ``(x, y)`` of the top-left pixel of tile ``index``."""
        if not 0 <= index < self.count:
            raise ValueError(f"Tile index out of range [0, {self.count}). Received: index={index}")
        row, col = divmod(index, self.cols)
        return col * (self.tile_width + self.padding), row * (self.tile_height + self.padding)

    def to_json(self) -> dict[str, int]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> GridLayout:
        return cls(**{k: int(data[k]) for k in ("rows", "cols", "tile_height", "tile_width", "padding", "count")})


def crop_box(y: int, x: int, size: int, input_hw: tuple[int, int]) -> tuple[int, int, int, int]:
    """The ``size`` x ``size`` crop around ``(y, x)``, moved inside the image: ``(x0, y0, x1, y1)``.

    The box of an exemplar (``exemplars/<layer>`` records): the writer, the dashboard (``frontend/layout.js``
    ``cropBox``, its twin) and the export all cut crops with it. A crop never shrinks at the border (it
    moves instead), so every exemplar of a layer has one size; a side longer than the image is the image's.

    Args:
        y: Row of the crop's centre, in input pixels.
        x: Column of the crop's centre.
        size: Side of the crop (``size`` of the record), >= 1.
        input_hw: ``(H, W)`` of the image.

    Returns:
        ``(x0, y0, x1, y1)``, end-exclusive: the crop is ``image[y0:y1, x0:x1]``.

    Raises:
        TypeError, ValueError: ``size`` or a side of ``input_hw`` is not a positive int.

    Example:
        >>> crop_box(1, 7, 4, (8, 8))   # near the top-right corner: moved inside
        (4, 0, 8, 4)
    """
    positive_int("size", size)
    height, width = (positive_int("input_hw[0]", input_hw[0]), positive_int("input_hw[1]", input_hw[1]))
    side_y, side_x = min(size, height), min(size, width)
    y0 = max(0, min(int(y) - side_y // 2, height - side_y))
    x0 = max(0, min(int(x) - side_x // 2, width - side_x))
    return x0, y0, x0 + side_x, y0 + side_y


@dataclass(frozen=True)
class PluginContent:
    """The parsed ``content`` of a featureviz summary's metadata."""

    kind: str
    layer: str | None = None
    layout: GridLayout | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    version: int = CONTENT_VERSION

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "kind": self.kind,
            "layer": self.layer,
            "layout": self.layout.to_json() if self.layout else None,
            "extra": self.extra,
        }


def create_summary_metadata(
    kind: str,
    *,
    layer: str | None = None,
    layout: GridLayout | None = None,
    extra: dict[str, Any] | None = None,
    description: str | None = None,
) -> summary_pb2.SummaryMetadata:
    """Creates the ``SummaryMetadata`` of a featureviz summary.

    Args:
        kind: One of ``KINDS``.
        layer: The layer name, for ``activations``, ``filters`` and ``gradcam``.
        layout: The grid geometry of the images, where they are grids.
        extra: Further JSON-serialisable facts that never change for this tag.
        description: Markdown shown by TensorBoard as the tag's description.

    Returns:
        A ``SummaryMetadata`` proto with ``data_class=DATA_CLASS_BLOB_SEQUENCE``.

    Raises:
        ValueError: ``kind`` is unknown.
    """
    if kind not in KINDS:
        raise ValueError(f"Unknown summary kind. Expected one of {KINDS}. Received: kind={kind!r}")
    content = PluginContent(kind=kind, layer=layer, layout=layout, extra=dict(extra or {}))
    return summary_pb2.SummaryMetadata(
        summary_description=description or "",
        plugin_data=summary_pb2.SummaryMetadata.PluginData(
            plugin_name=PLUGIN_NAME,
            content=json.dumps(content.to_json(), sort_keys=True).encode("utf-8"),
        ),
        data_class=summary_pb2.DATA_CLASS_BLOB_SEQUENCE,
    )


def _json_object(raw: bytes, what: str) -> dict[str, Any]:
    """``raw`` parsed as a UTF-8 JSON object; a ``ValueError`` naming ``what`` otherwise."""
    try:
        data = json.loads(bytes(raw).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"featureviz {what} is not valid JSON: {bytes(raw)[:80]!r}") from e
    if not isinstance(data, dict):
        raise ValueError(f"featureviz {what} must be a JSON object. Received: {data!r}")
    return data


def parse_plugin_metadata(content: bytes) -> PluginContent:
    """Parses the ``plugin_data.content`` bytes written by ``create_summary_metadata``.

    Raises:
        ValueError: the content is not featureviz JSON or has an unsupported version.
    """
    data = _json_object(content, "metadata")
    version = data.get("version")
    if version != CONTENT_VERSION:
        raise ValueError(
            f"Unsupported featureviz metadata version {version!r}; this tb-featureviz reads version "
            f"{CONTENT_VERSION}. Upgrade tb-featureviz to read these logs."
        )
    kind = data.get("kind")
    if kind not in KINDS:
        raise ValueError(f"Unknown featureviz summary kind {kind!r}.")
    layout = data.get("layout")
    return PluginContent(
        kind=kind,
        layer=data.get("layer"),
        layout=GridLayout.from_json(layout) if layout else None,
        extra=dict(data.get("extra") or {}),
        version=version,
    )


def encode_record(record: dict[str, Any]) -> bytes:
    """Encodes element 0 of a blob sequence (the per-step JSON record)."""
    return json.dumps(record, sort_keys=True, allow_nan=False).encode("utf-8")


def decode_record(blob: bytes) -> dict[str, Any]:
    """Decodes element 0 of a blob sequence.

    Raises:
        ValueError: the blob is not a JSON object.
    """
    return _json_object(blob, "record")


def tag_for(kind: str, layer: str | None = None) -> str:
    """Returns the tag of a summary: ``activations/<layer>``, ``probes``, ..."""
    if kind in TAG_PREFIX:
        if not layer:
            raise ValueError(f"kind={kind!r} needs a layer name. Received: layer={layer!r}")
        return TAG_PREFIX[kind] + layer
    if kind not in KINDS:
        raise ValueError(f"Unknown summary kind. Expected one of {KINDS}. Received: kind={kind!r}")
    return kind


def probe_label(index: int, name: str | None = None) -> str:
    """How every view names probe image ``index``: 0-based, as ``--probe``, the URL and the API count them,
    with its true class where known.

    The dashboard's ``records.js`` ``probeLabel`` writes the same text; both are tested on the table in
    ``tests/support/label_cases.json``.

    Example:
        >>> probe_label(0, "discs"), probe_label(3)
        ('probe 0 (discs)', 'probe 3')
    """
    return f"probe {index}" + (f" ({name})" if name not in (None, "") else "")
