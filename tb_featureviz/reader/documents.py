"""The JSON documents of the viewer, built from what a data provider lists (pure: no provider calls).

Each builder returns plain ``dict``/``list`` data, except that a reference to a blob is a
:class:`~tb_featureviz.reader.keys.BlobKey`: the plugin turns those into URLs, the export reads them.
The shapes are documented in ``tb_featureviz/plugin/http_api.md``.

Runs are grouped by parent directory: TensorBoard runs ``exp1/featureviz``, ``exp1/train`` and
``exp1/validation`` form the group ``exp1`` (``.`` when they sit directly in the logdir).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import struct
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from tensorboard.data import provider

from tb_featureviz import metadata
from tb_featureviz.kinds import RECORDS, REGISTRY
from tb_featureviz.kinds.activations import layer_size
from tb_featureviz.reader import alignment
from tb_featureviz.reader.keys import BlobKey

if TYPE_CHECKING:
    from tb_featureviz.metadata import Record


logger = logging.getLogger(__name__)

__all__ = [
    "FRAME_CONTENT_TYPE",
    "GRID_KINDS",
    "INDEX_KINDS",
    "KERAS_SPLITS",
    "RunGroup",
    "add_align_tables",
    "encode_frame",
    "encode_json",
    "featureviz_run",
    "frame_error_item",
    "frame_image_entry",
    "frame_item",
    "group_runs",
    "index_entry",
    "layer_size",
    "natural_key",
    "partial_entry",
    "plugin_contents",
    "scalars_doc",
    "series_doc",
    "split_run",
    "step_doc",
]

KERAS_SPLITS = ("train", "validation")
"""The run subdirectories of Keras' TensorBoard callback, in the order curves are listed."""

GRID_KINDS: tuple[str, ...] = tuple(name for name, k in REGISTRY.items() if k.layered and k.export is not None)
"""The per-layer kinds whose images are grids or maps (``activations``, ``filters``, ``gradcam``): those the
export draws (``tb_featureviz.kinds``)."""

INDEX_KINDS: tuple[str, ...] = tuple(name for name, k in REGISTRY.items() if k.layered and k.stored)
"""The per-layer kinds the index lists: the grid kinds and ``exemplars`` (a record per step, no images)."""


@dataclasses.dataclass(frozen=True)
class RunGroup:
    """One user-visible run: the TensorBoard runs that share a parent directory.

    Attributes:
        name: The group name (``"exp1"``; ``"."`` for the logdir itself).
        featureviz: TensorBoard run with featureviz data (``"exp1/featureviz"``), if any.
        train: TensorBoard run of Keras' training scalars (``"exp1/train"``), if any.
        validation: TensorBoard run of Keras' validation scalars, if any.
    """

    name: str
    featureviz: str | None = None
    train: str | None = None
    validation: str | None = None


def split_run(tb_run: str) -> tuple[str, str]:
    """Splits a TensorBoard run name into ``(group, subdirectory)``.

    Example:
        >>> split_run("exp1/featureviz")
        ('exp1', 'featureviz')
        >>> split_run("featureviz")
        ('.', 'featureviz')
    """
    group, sep, sub = tb_run.rpartition("/")
    return (group if sep else "."), sub


def featureviz_run(group: str) -> str:
    """The TensorBoard run that holds a run group's featureviz data (the inverse of :func:`split_run`).

    Example:
        >>> featureviz_run("exp1"), featureviz_run(".")
        ('exp1/featureviz', 'featureviz')
    """
    return metadata.RUN_SUBDIR if group == "." else f"{group}/{metadata.RUN_SUBDIR}"


def group_runs(
    listed_blobs: Mapping[str, Mapping[str, object]], scalar_tags: Mapping[str, Mapping[str, object]]
) -> dict[str, RunGroup]:
    """The run groups of a logdir: featureviz runs (from the blob listing) and Keras' runs with epoch scalars."""
    fields: dict[str, dict[str, str]] = {}
    for run in listed_blobs:
        group, sub = split_run(run)
        if sub == metadata.RUN_SUBDIR:
            fields.setdefault(group, {})["featureviz"] = run
    for run, tags in scalar_tags.items():
        group, sub = split_run(run)
        if sub in KERAS_SPLITS and any(t.startswith(metadata.EPOCH_SCALAR_PREFIX) for t in tags):
            fields.setdefault(group, {})[sub] = run
    return {name: RunGroup(name=name, **f) for name, f in fields.items()}


def plugin_contents(
    listed_blobs: Mapping[str, Mapping[str, provider.BlobSequenceTimeSeries]],
) -> dict[str, dict[str, metadata.PluginContent | None]]:
    """The parsed featureviz metadata of every listed tag, by run and tag (``None``: unreadable, logged)."""
    contents: dict[str, dict[str, metadata.PluginContent | None]] = {}
    for run, tags in listed_blobs.items():
        for tag, ts in tags.items():
            try:
                parsed: metadata.PluginContent | None = metadata.parse_plugin_metadata(ts.plugin_content)
            except ValueError:
                logger.warning("featureviz: ignoring run %r tag %r with unreadable metadata", run, tag)
                parsed = None
            contents.setdefault(run, {})[tag] = parsed
    return contents


def natural_key(text: str) -> list[int | str]:
    """Sort key that orders digits by value: ``conv2`` before ``conv10``."""
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", text)]


def encode_json(doc: object, blob_ref: Callable[[BlobKey], object]) -> bytes:
    """A document as compact UTF-8 JSON, each :class:`BlobKey` written as ``blob_ref(key)``.

    Raises:
        ValueError: a NaN or infinite float.
        TypeError: a value JSON cannot hold.
    """

    def default(value: object) -> object:
        if isinstance(value, BlobKey):
            return blob_ref(value)
        raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")

    return json.dumps(doc, allow_nan=False, separators=(",", ":"), default=default).encode("utf-8")


def step_doc(run: str, tag: str, datum: provider.BlobSequenceDatum, record: object) -> Record:
    """The ``/step`` document: ``images[i]`` is the key of element ``i + 1`` of the blob sequence."""
    return {
        "run": run,
        "tag": tag,
        "step": datum.step,
        "wall_time": datum.wall_time,
        "record": record,
        "images": [BlobKey(ref.blob_key) for ref in datum.values[1:]],
    }


FRAME_CONTENT_TYPE = "application/x-featureviz-frame"
"""The media type of a ``/frame`` bundle (:func:`encode_frame`)."""

_FRAME_HEADER_LEN = struct.Struct(">I")


def frame_item(step: Record, images: list[Record]) -> Record:
    """One found item of the ``/frame`` header: its ``/step`` document and an entry per requested image."""
    return {"status": 200, "doc": step, "images": images}


def frame_error_item(code: int, message: str, *, damaged: bool = False, index: int | None = None) -> Record:
    """One item (or, with its ``index``, image entry) of the ``/frame`` header that failed: the status and
    JSON error of the single-item route (``/step``, ``/blob``), ``"damaged": true`` for damaged bytes."""
    head = {} if index is None else {"index": index}
    return {**head, "status": code, "error": message, **({"damaged": True} if damaged else {})}


def frame_image_entry(index: int, offset: int, length: int, content_type: str) -> Record:
    """A served image of a ``/frame`` item: where its bytes lie in the bundle's body."""
    return {"index": index, "status": 200, "offset": offset, "length": length, "type": content_type}


def encode_frame(header: object, blobs: Sequence[bytes], blob_ref: Callable[[BlobKey], object]) -> bytes:
    """The ``/frame`` bundle: a 4-byte big-endian length ``n``, ``n`` bytes of UTF-8 JSON ``header``
    (:func:`encode_json`, each :class:`BlobKey` written by ``blob_ref``), then ``blobs`` concatenated in
    order (the header's ``offset``/``length`` count from the first byte after the header).

    Example:
        >>> encode_frame({"items": []}, [b"ab"], str)
        b'\\x00\\x00\\x00\\x0c{"items":[]}ab'
    """
    head = encode_json(header, blob_ref)
    return b"".join((_FRAME_HEADER_LEN.pack(len(head)), head, *blobs))


def series_doc(run: str, tag: str, index: int, chosen: Sequence[provider.BlobSequenceDatum]) -> Record:
    """The ``/series`` document: image ``index`` of each step in ``chosen``."""
    return {
        "run": run,
        "tag": tag,
        "index": index,
        "steps": [d.step for d in chosen],
        "wall_times": [d.wall_time for d in chosen],
        "images": [BlobKey(d.values[index + 1].blob_key) for d in chosen],
    }


def _curve_metrics(group: RunGroup, scalar_tags: Mapping[str, Mapping[str, object]]) -> tuple[str | None, list[str]]:
    prefix = metadata.EPOCH_SCALAR_PREFIX
    metrics: set[str] = set()
    for run in (group.train, group.validation):
        metrics.update(t[len(prefix) :] for t in scalar_tags.get(run or "", {}) if t.startswith(prefix))
    if metrics:
        return "keras", sorted(metrics)
    for tag in scalar_tags.get(group.featureviz or "", {}):
        parsed = metadata.epoch_metric(tag)
        if parsed is not None:
            metrics.add(parsed[0])
    return ("featureviz" if metrics else None), sorted(metrics)


def index_entry(
    group: RunGroup,
    sequences: Mapping[str, Sequence[provider.BlobSequenceDatum]],
    contents: Mapping[str, metadata.PluginContent | None],
    scalar_tags: Mapping[str, Mapping[str, object]],
    records: Mapping[tuple[str, str], Record | None],
) -> Record:
    """One run group's entry of the ``/index`` document.

    Args:
        group: The run group.
        sequences: The blob sequences of its featureviz run, by tag.
        contents: The parsed plugin metadata of each of those tags (``None``: unreadable).
        scalar_tags: Every TensorBoard run's scalar tags (for the curves).
        records: The ``probes``, ``sample`` and ``run_info`` records, by ``(group name, tag)``, and the
            record of each activations tag's first step (its ``shape`` places the layer in a stage).

    The entry's ``stages`` has no ``align`` table: :func:`add_align_tables` adds it once every entry
    of the index is built.
    """
    kinds: dict[str, list[Record]] = {kind: [] for kind in INDEX_KINDS}
    all_steps: set[int] = set()
    max_wall_time: float | None = None
    for tag in sorted(sequences, key=natural_key):
        if tag == metadata.tag_for("status"):
            continue  # not an epoch of data: a failed run with no epoch written has no steps
        data = sequences[tag]
        steps = [d.step for d in data]
        all_steps.update(steps)
        if data:
            wt = max(d.wall_time for d in data)
            max_wall_time = wt if max_wall_time is None else max(max_wall_time, wt)
        content = contents.get(tag)
        if content is None or content.kind not in kinds:
            continue
        kinds[content.kind].append(_tag_entry(tag, content, steps, max((len(d.values) - 1 for d in data), default=0)))
    # Model order where the callback recorded it (run_info "layers"), natural tag order otherwise.
    run_info = records.get((group.name, metadata.tag_for("run_info")))
    model_order = (run_info or {}).get("layers")
    if isinstance(model_order, list) and model_order:
        rank = {str(name): i for i, name in enumerate(model_order)}
        for entries in kinds.values():
            entries.sort(key=lambda e: rank.get(str(e["layer"]), len(rank)))  # stable: unknown layers keep order
    stages = alignment.run_stages(
        [(str(e["layer"]), layer_size(e, records.get((group.name, e["tag"])))) for e in kinds["activations"]],
        model_order=[str(n) for n in model_order] if isinstance(model_order, list) else None,
        filter_layers=[str(e["layer"]) for e in kinds["filters"]],
        gradcam_layers=[str(e["layer"]) for e in kinds["gradcam"]],
    )
    probes = _image_set(group, sequences, records, "probes", REGISTRY["probes"].index_fields)
    sample = _image_set(group, sequences, records, "sample", RECORDS["sample"].index_fields)
    source, curves = _curve_metrics(group, scalar_tags)
    return {
        "run": group.name,
        "featureviz": group.featureviz is not None,
        "steps": sorted(all_steps),
        "max_wall_time": max_wall_time,
        "kinds": kinds,
        "probes": probes,
        "sample": sample,
        "run_info": run_info,
        "status": records.get((group.name, metadata.tag_for("status"))),
        "plan": [d.step for d in sequences.get(metadata.tag_for("plan"), ())],
        "stages": stages,
        "curves": curves,
        "curve_source": source,
        "tb_runs": {"featureviz": group.featureviz, "train": group.train, "validation": group.validation},
    }


def _tag_entry(tag: str, content: metadata.PluginContent, steps: list[int], images: int) -> Record:
    """One tag of an index entry's ``kinds``: its layer, steps, images per step, layout and extra metadata."""
    return {
        "tag": tag,
        "layer": content.layer,
        "steps": steps,
        "images": images,
        "layout": content.layout.to_json() if content.layout else None,
        "extra": content.extra,
    }


def partial_entry(
    group: RunGroup,
    listed: Mapping[str, provider.BlobSequenceTimeSeries],
    contents: Mapping[str, metadata.PluginContent | None],
    scalar_tags: Mapping[str, Mapping[str, object]],
) -> Record:
    """The ``/index`` entry of a run group not read in full (``"partial": true``): only what the data
    provider's listing knows, the tags of each kind and the run's last step (``max_step``), no steps,
    records or stages. ``/index?run=<name>`` (or any read of the run) reads it in full.
    """
    kinds: dict[str, list[Record]] = {kind: [] for kind in INDEX_KINDS}
    max_step: int | None = None
    max_wall_time: float | None = None
    for tag in sorted(listed, key=natural_key):
        if tag == metadata.tag_for("status"):
            continue
        ts = listed[tag]
        max_step = ts.max_step if max_step is None else max(max_step, ts.max_step)
        max_wall_time = ts.max_wall_time if max_wall_time is None else max(max_wall_time, ts.max_wall_time)
        content = contents.get(tag)
        if content is None or content.kind not in kinds:
            continue
        kinds[content.kind].append(_tag_entry(tag, content, [], max(ts.max_length - 1, 0)))
    source, curves = _curve_metrics(group, scalar_tags)
    return {
        "run": group.name,
        "featureviz": group.featureviz is not None,
        "partial": True,
        "steps": [],
        "max_step": max_step,
        "max_wall_time": max_wall_time,
        "kinds": kinds,
        "probes": None,
        "sample": None,
        "run_info": None,
        "status": None,
        "plan": [],
        "stages": None,
        "curves": curves,
        "curve_source": source,
        "tb_runs": {"featureviz": group.featureviz, "train": group.train, "validation": group.validation},
    }


def add_align_tables(entries: Sequence[Record]) -> None:
    """Adds ``stages.align`` to every full ``/index`` entry: its stage for each stage of every run's stage count
    (:func:`tb_featureviz.reader.alignment.align_table`)."""
    full = [e for e in entries if e.get("stages") is not None]  # a partial entry has no stages
    counts = [int(e["stages"]["count"]) for e in full]
    for e in full:
        e["stages"]["align"] = alignment.align_table(int(e["stages"]["count"]), counts)


def _image_set(
    group: RunGroup,
    sequences: Mapping[str, Sequence[provider.BlobSequenceDatum]],
    records: Mapping[tuple[str, str], Record | None],
    tag: str,
    fields: Sequence[str],
) -> Record | None:
    """The index entry of a set of images written once (``probes``, ``sample``): ``count``, the record's
    ``fields``, ``step`` and ``images`` (keys); ``None`` when the run has none."""
    data = sequences.get(tag)
    if not data:
        return None
    rec = records.get((group.name, tag)) or {}
    first = data[0]
    return {
        "count": len(first.values) - 1,
        **{name: rec.get(name) for name in fields},
        "step": first.step,
        "images": [BlobKey(ref.blob_key) for ref in first.values[1:]],
    }


CHECK_PREFIXES = REGISTRY["checks"].scalar_prefixes
"""Scalar tags of the featureviz run that ``/scalars`` lists under ``checks``."""


def _points(data: Sequence[provider.ScalarDatum]) -> list[list[float]]:
    return [[d.step, d.wall_time, float(d.value)] for d in data]


def scalars_doc(run: str, group: RunGroup, data: Mapping[str, Mapping[str, Sequence[provider.ScalarDatum]]]) -> Record:
    """The ``/scalars`` document of a run group from the scalars read for its TensorBoard runs.

    Curves come from Keras' ``train``/``validation`` runs when either has epoch scalars, else from the
    ``epoch_*``/``epoch_val_*`` scalars of the featureviz run (split by :func:`metadata.epoch_metric`).
    """
    prefix = metadata.EPOCH_SCALAR_PREFIX
    series: list[Record] = []
    for split, tb_run in (("train", group.train), ("validation", group.validation)):
        for tag, points in (data.get(tb_run) or {}).items() if tb_run else ():
            if tag.startswith(prefix):
                series.append({"metric": tag[len(prefix) :], "split": split, "points": _points(points)})
    source: str | None = "keras" if series else None
    fv = data.get(group.featureviz or "") or {}
    if not series:
        for tag, points in fv.items():
            parsed = metadata.epoch_metric(tag)
            if parsed is not None:
                series.append({"metric": parsed[0], "split": parsed[1], "points": _points(points)})
        source = "featureviz" if series else None
    series.sort(key=lambda s: (s["metric"], KERAS_SPLITS.index(s["split"])))
    dead = metadata.DEAD_FRACTION_PREFIX
    health = [
        {"layer": tag[len(dead) :], "points": _points(points)}
        for tag, points in sorted(fv.items(), key=lambda kv: natural_key(kv[0]))
        if tag.startswith(dead)
    ]
    checks = [
        {"tag": tag, "points": _points(points)}
        for tag, points in sorted(fv.items(), key=lambda kv: natural_key(kv[0]))
        if tag.startswith(CHECK_PREFIXES)
    ]
    return {"run": run, "source": source, "series": series, "health": health, "checks": checks}
