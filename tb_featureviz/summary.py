"""Summary ops for featureviz, called under any ``tf.summary`` writer, the way ``tf.summary.image`` is.

Each op renders NumPy arrays to PNG (``tb_featureviz.render``) and writes one rank-1 string tensor
``[record_json, png, ...]`` with featureviz metadata (``tb_featureviz.metadata``). ``step`` defaults to
``tf.summary.experimental.get_step()``; the callback uses the epoch index.

Example:
    >>> writer = tf.summary.create_file_writer("runs/exp1/featureviz")
    >>> with writer.as_default():
    ...     acts = tb_featureviz.activations(model, images)
    ...     for layer, a in acts.items():
    ...         tb_featureviz.summary.activations(layer, a, step=epoch)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import tensorflow as tf
from numpy.typing import ArrayLike
from tensorboard.compat.proto import summary_pb2

from tb_featureviz import metadata, render
from tb_featureviz.metadata import Record

__all__ = ["activations", "filter_patterns", "gradcam", "plan", "probes", "run_info"]


def _write(tag: str, blobs: Sequence[bytes], step: int | None, meta: summary_pb2.SummaryMetadata) -> bool:
    tensor = tf.constant(list(blobs), dtype=tf.string)
    return bool(tf.summary.write(tag, tensor, step=step, metadata=meta))


def _finite(data: ArrayLike) -> tuple[np.ndarray, int]:
    """``data`` as an array with NaN and inf replaced by 0, and how many there were.

    A diverged model (a NaN in its weights) must not stop training over its summaries: its non-finite
    values are drawn as zeros and counted in the record (``"nonfinite": n``) for the viewers to show.
    """
    a = np.asarray(data)
    if not np.issubdtype(a.dtype, np.floating):
        return a, 0
    bad = ~np.isfinite(a)
    count = int(bad.sum())
    return (np.where(bad, 0.0, a).astype(a.dtype) if count else a), count


def _floats(values: ArrayLike, digits: int | None = None) -> list[float | None]:
    """JSON-safe floats: non-finite values become null."""
    out: list[float | None] = []
    for v in np.asarray(values, dtype=np.float64).reshape(-1):
        out.append(None if not np.isfinite(v) else (round(float(v), digits) if digits is not None else float(v)))
    return out


def _as_int_list(values: ArrayLike | None, name: str, n: int) -> list[int] | None:
    if values is None:
        return None
    arr = np.asarray(values).reshape(-1)
    if arr.shape[0] != n:
        raise ValueError(f"{name} must have one entry per probe image ({n}). Received {arr.shape[0]} entries")
    return [int(v) for v in arr]


def activations(
    name: str,
    data: np.ndarray | tf.Tensor,
    step: int | None = None,
    *,
    cols: int | None = None,
    channels: Sequence[int] | np.ndarray | None = None,
    scale: int = 1,
    description: str | None = None,
) -> bool:
    """Writes one layer's activation grids: one grayscale grid per probe image.

    Args:
        name: The layer name. The tag is ``activations/<name>``.
        data: ``[N, h, w, C]`` activations of the layer for N probe images.
        step: The epoch index; defaults to ``tf.summary.experimental.get_step()``.
        cols: Tiles per grid row (default 16).
        channels: Draw only these channels (a reduced grid; see ``render.grid_reduction``). Keep the same
            channels at every step: the grid layout of a tag is fixed by its first step.
        scale: Shrink tiles by this integer factor (a reduced grid).
        description: Optional markdown description.

    Returns:
        True on success, False if no default writer is set.

    Raises:
        ValueError: ``data`` is not 4-D.
    """
    a = np.asarray(data)
    if a.ndim != 4:
        raise ValueError(f"activations expects [N, h, w, C] data. Received shape {a.shape} for layer {name!r}")
    a, nonfinite = _finite(a)
    kept = None if channels is None else [int(c) for c in channels]
    if kept is not None and (not kept or not all(0 <= c < a.shape[-1] for c in kept)):
        raise ValueError(f"channels must be indices in [0, {a.shape[-1]}). Received: channels={channels!r}")
    grids = [render.activation_grid(a[i], cols=cols, channels=kept, scale=scale) for i in range(a.shape[0])]
    layout = grids[0][1]
    record: Record = {
        "probes": int(a.shape[0]),
        "shape": [int(s) for s in a.shape[1:]],
        "dead": [int(c) for c in render.dead_channels(a)],
    }
    if kept is not None or scale > 1:
        # A reduced grid: tile k is channel channels[k], each tile shrunk by scale.
        record["channels"] = kept if kept is not None else list(range(a.shape[-1]))
        record["scale"] = int(scale)
    if nonfinite:
        record["nonfinite"] = nonfinite
    meta = metadata.create_summary_metadata(
        "activations", layer=name, layout=layout, description=description or f"Activations of layer `{name}`."
    )
    blobs = [metadata.encode_record(record)] + [render.encode_png(g) for g, _ in grids]
    return _write(metadata.tag_for("activations", name), blobs, step, meta)


def filter_patterns(
    name: str,
    data: np.ndarray | tf.Tensor,
    step: int | None = None,
    *,
    filters: Sequence[int] | None = None,
    activation: Sequence[float] | np.ndarray | None = None,
    cols: int | None = None,
    scale: int = 1,
    schedule: Mapping[str, object] | None = None,
    relative: Sequence[float] | np.ndarray | None = None,
    description: str | None = None,
) -> bool:
    """Writes one layer's filter patterns as one RGB grid.

    Args:
        name: The layer name. The tag is ``filters/<name>``.
        data: ``[F, s, s, 3]`` patterns in [0, 1] (``tb_featureviz.filter_patterns``).
        step: The epoch index.
        filters: The filter index of each pattern (default ``range(F)``).
        activation: The mean activation each pattern reaches, ``[F]``.
        cols: Tiles per grid row (default 16).
        scale: Shrink each pattern by this integer factor (a reduced grid).
        schedule: Where this pass is in the layer's rotation, stored in the record as it is:
            ``{"window": [a, b], "of": C, "next": [c, d], "next_epoch": e | None, "fixed": k}``.
        relative: ``[F]`` each pattern's activation over the probes' mean activation of its filter (NaN where
            the probes leave it silent); stored as ``relative`` with ``relative_median``, their median over
            distinct filters (a filter shown twice counts once).
        description: Optional markdown description.

    Returns:
        True on success, False if no default writer is set.
    """
    p, nonfinite = _finite(data)
    if p.ndim != 4 or p.shape[-1] != 3:
        raise ValueError(f"filter_patterns expects [F, s, s, 3] data. Received shape {p.shape} for layer {name!r}")
    count = p.shape[0]
    idx = list(range(count)) if filters is None else [int(f) for f in filters]
    if len(idx) != count:
        raise ValueError(f"filters must have {count} entries, one per pattern. Received {len(idx)}")
    act = [] if activation is None else _floats(activation)
    if act and len(act) != count:
        raise ValueError(f"activation must have {count} entries, one per pattern. Received {len(act)}")
    grid, layout = render.filter_grid(p, cols=cols, scale=scale)
    record: Record = {"filters": idx, "activation": act, "size": int(p.shape[1])}
    if scale > 1:
        record["scale"] = int(scale)
    nonfinite += sum(v is None for v in act)
    if nonfinite:
        record["nonfinite"] = nonfinite
    if schedule:
        record["schedule"] = dict(schedule)
    if relative is not None:
        record.update(_relative(relative, idx))
    meta = metadata.create_summary_metadata(
        "filters", layer=name, layout=layout, description=description or f"Filter patterns of layer `{name}`."
    )
    blobs = [metadata.encode_record(record), render.encode_png(grid)]
    return _write(metadata.tag_for("filters", name), blobs, step, meta)


def _relative(relative: Sequence[float] | np.ndarray, filters: Sequence[int]) -> Record:
    """``filter_patterns``' ``relative`` and ``relative_median`` entries, for the patterns of ``filters``.

    Raises:
        ValueError: ``relative`` does not have one entry per pattern.
    """
    ratios = np.asarray(relative, dtype=np.float64).reshape(-1)
    if ratios.size != len(filters):
        raise ValueError(f"relative must have {len(filters)} entries, one per pattern. Received {ratios.size}")
    # Each filter counts once: a pass may show a filter twice (its fixed subset and its window overlap), and
    # the median is over filters, as the patterns/relative_activation/<layer> scalar is.
    per_filter: dict[int, float] = {}
    for f, v in zip(filters, ratios.tolist(), strict=True):
        per_filter.setdefault(f, v)
    distinct = np.asarray(list(per_filter.values()), dtype=np.float64)
    finite = distinct[np.isfinite(distinct)]
    return {
        "relative": [float(f"{v:.4g}") if np.isfinite(v) else None for v in ratios],
        "relative_median": float(f"{np.median(finite):.4g}") if finite.size else None,
    }


def gradcam(
    name: str,
    images: np.ndarray | tf.Tensor,
    heatmaps: np.ndarray | tf.Tensor,
    step: int | None = None,
    *,
    target_classes: np.ndarray | Sequence[Sequence[int]],
    probabilities: np.ndarray | tf.Tensor,
    labels: Sequence[int] | np.ndarray | None = None,
    target_names: Sequence[str] = ("predicted", "true"),
    class_names: Sequence[str] | None = None,
    colormap: str = "inferno",
    alpha: float = 0.45,
    overlays: bool = True,
    description: str | None = None,
) -> bool:
    """Writes Grad-CAM heatmaps and overlays for the probe images.

    Args:
        name: The target layer's name. The tag is ``gradcam/<name>``.
        images: ``[N, H, W, C]`` probe images as fed to the model.
        heatmaps: ``[N, T, H, W]`` maps in [0, 1], T targets per image (``[N, H, W]`` means T=1).
        step: The epoch index.
        target_classes: ``[N, T]`` class index of each map.
        probabilities: ``[N, K]`` class probabilities of each image.
        labels: ``[N]`` true classes, if known.
        target_names: Name of each of the T targets.
        class_names: Names of the K classes, recorded in the metadata.
        colormap: Colour map of the ready overlays.
        alpha: Heatmap opacity of the ready overlays.
        overlays: Whether to store ready overlays. Without them (``"overlay": null`` in the record) a viewer
            lays the heatmap over the ``probes`` image itself; each overlay is an RGB image at input size,
            most of the bytes of this summary.
        description: Optional markdown description.

    Returns:
        True on success, False if no default writer is set.
    """
    img = render.to_uint8_image(np.asarray(images))
    heat, nonfinite = _heatmaps(heatmaps, img.shape)
    n, t = heat.shape[0], heat.shape[1]
    classes, probs = _target_classes(target_classes, target_names, probabilities, n, t)
    nonfinite += int((~np.isfinite(probs)).sum())
    true = _as_int_list(labels, "labels", n)
    maps = _CamMaps(overlays=overlays, alpha=alpha, colormap=colormap)
    probe_records = [
        maps.probe(i, img[i], heat[i], classes[i], probs[i], target_names, None if true is None else true[i])
        for i in range(n)
    ]
    record: Record = {"probes": probe_records}
    if nonfinite:
        record["nonfinite"] = nonfinite
    meta = metadata.create_summary_metadata(
        "gradcam",
        layer=name,
        extra={"class_names": list(class_names) if class_names else None, "targets": list(target_names[:t])},
        description=description or f"Grad-CAM on layer `{name}`.",
    )
    return _write(metadata.tag_for("gradcam", name), [metadata.encode_record(record), *maps.pngs], step, meta)


def _heatmaps(heatmaps: np.ndarray | tf.Tensor, image_shape: tuple[int, ...]) -> tuple[np.ndarray, int]:
    """``gradcam``'s maps as ``[N, T, H, W]`` float32 with non-finite values drawn as 0, and how many there were.

    Raises:
        ValueError: they do not match the ``[N, H, W, C]`` images of ``image_shape``.
    """
    heat, nonfinite = _finite(np.asarray(heatmaps, dtype=np.float32))
    if heat.ndim == 3:
        heat = heat[:, None]
    if heat.ndim != 4 or heat.shape[0] != image_shape[0] or heat.shape[2:] != image_shape[1:3]:
        raise ValueError(
            f"heatmaps must be [N, T, H, W] matching images {image_shape[:3]}. Received shape {heat.shape}"
        )
    return heat, nonfinite


def _target_classes(
    target_classes: np.ndarray | Sequence[Sequence[int]],
    target_names: Sequence[str],
    probabilities: np.ndarray | tf.Tensor,
    n: int,
    t: int,
) -> tuple[np.ndarray, np.ndarray]:
    """``gradcam``'s ``[N, T]`` target classes and ``[N, K]`` probabilities (float64), checked against ``n``
    images of ``t`` maps each and the ``t`` target names.

    Raises:
        ValueError: a shape does not match, or there are fewer than ``t`` target names.
    """
    classes = np.asarray(target_classes).reshape(n, -1)
    if classes.shape[1] != t:
        raise ValueError(f"target_classes must be [N, {t}]. Received shape {np.shape(target_classes)}")
    if len(target_names) < t:
        raise ValueError(f"target_names needs {t} names. Received {list(target_names)}")
    probs = np.asarray(probabilities, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[0] != n:
        raise ValueError(f"probabilities must be [N, K] with N={n}. Received shape {probs.shape}")
    return classes, probs


@dataclass
class _CamMaps:
    """The PNGs of a ``gradcam`` summary, in blob order after its record (blob 0): each map, then its ready
    overlay when ``overlays``."""

    overlays: bool
    alpha: float
    colormap: str
    pngs: list[bytes] = field(default_factory=list)

    def probe(
        self,
        i: int,
        image: np.ndarray,
        heat: np.ndarray,
        classes: np.ndarray,
        probs: np.ndarray,
        target_names: Sequence[str],
        true: int | None,
    ) -> Record:
        """Encodes probe ``i``'s ``[T, H, W]`` maps over its uint8 ``image``; returns its record, whose targets name
        the blobs of their map and overlay (``None`` without overlays)."""
        targets = []
        for j in range(heat.shape[0]):
            c = int(classes[j])
            heat_index, overlay_index = self._encode(image, heat[j])
            targets.append(
                {
                    "target": target_names[j],
                    "class": c,
                    "score": _floats([probs[c]], 6)[0],
                    "heatmap": heat_index,
                    "overlay": overlay_index,
                }
            )
        return {
            "probe": i,
            "true": true,
            "predicted": int(np.argmax(np.nan_to_num(probs, nan=-np.inf))),
            "probabilities": _floats(probs, 6),
            "targets": targets,
        }

    def _encode(self, image: np.ndarray, heat: np.ndarray) -> tuple[int, int | None]:
        """Adds one map in [0, 1] as an 8-bit PNG (and its overlay); returns their blob indices."""
        h8 = np.round(np.clip(heat, 0.0, 1.0) * 255.0).astype(np.uint8)
        self.pngs.append(render.encode_png(h8))
        heat_index = len(self.pngs)
        if not self.overlays:
            return heat_index, None
        self.pngs.append(render.encode_png(render.heatmap_overlay(image, h8, alpha=self.alpha, colormap=self.colormap)))
        return heat_index, len(self.pngs)


def probes(
    images: np.ndarray | tf.Tensor,
    step: int | None = None,
    *,
    labels: Sequence[int] | np.ndarray | None = None,
    class_names: Sequence[str] | None = None,
) -> bool:
    """Writes the probe images (once, at the first logged epoch) so viewers can overlay heatmaps.

    Args:
        images: ``[N, H, W, C]`` probe images as fed to the model.
        step: The epoch index.
        labels: ``[N]`` true classes, if known.
        class_names: Names of the classes.

    Returns:
        True on success, False if no default writer is set.
    """
    img = render.to_uint8_image(np.asarray(images))
    record = {
        "labels": _as_int_list(labels, "labels", img.shape[0]),
        "class_names": list(class_names) if class_names else None,
    }
    meta = metadata.create_summary_metadata("probes", description="The fixed probe images.")
    blobs = [metadata.encode_record(record)] + [render.encode_png(im) for im in img]
    return _write("probes", blobs, step, meta)


def sample(
    images: np.ndarray | tf.Tensor, step: int | None = None, *, labels: Sequence[int] | np.ndarray | None = None
) -> bool:
    """Writes the fixed image sample the exemplars are cut from (once), as RGB PNGs.

    Args:
        images: ``[M, H, W, C]`` images as fed to the model.
        step: The epoch index.
        labels: ``[M]`` their classes, if known.

    Returns:
        True on success, False if no default writer is set.
    """
    img = render.to_uint8_image(np.asarray(images))
    record = {"count": int(img.shape[0]), "labels": _as_int_list(labels, "labels", img.shape[0])}
    meta = metadata.create_summary_metadata("sample", description="The images the exemplars come from.")
    blobs = [metadata.encode_record(record)] + [render.encode_png(im) for im in img]
    return _write("sample", blobs, step, meta)


def exemplars(layer: str, record: Mapping[str, object], step: int | None = None) -> bool:
    """Writes a layer's exemplars record: each channel's top images of the ``sample``, and where.

    Args:
        layer: The layer name.
        record: ``{"k", "size", "sample", "channels", "exemplars"}`` (see ``tb_featureviz.metadata``).
        step: The epoch index.

    Returns:
        True on success, False if no default writer is set.
    """
    meta = metadata.create_summary_metadata(
        "exemplars", layer=layer, description=f"The sample images each channel of `{layer}` likes best."
    )
    return _write(metadata.tag_for("exemplars", layer), [metadata.encode_record(dict(record))], step, meta)


def run_info(info: Mapping[str, object], step: int | None = None) -> bool:
    """Writes facts about the run (model summary, hyper-parameters, start time) as a JSON record.

    Args:
        info: JSON-serialisable mapping.
        step: The epoch index.

    Returns:
        True on success, False if no default writer is set.
    """
    meta = metadata.create_summary_metadata("run_info", description="Model and training configuration.")
    return _write("run_info", [metadata.encode_record(dict(info))], step, meta)


def plan(record: Mapping[str, object], step: int | None = None) -> bool:
    """Writes what the planner chose at this epoch and why (see ``tb_featureviz.writer.planner``) as a JSON record.

    Args:
        record: JSON-serialisable mapping: the layers and filters drawn, the measured costs, the budget.
        step: The epoch index.

    Returns:
        True on success, False if no default writer is set.
    """
    meta = metadata.create_summary_metadata("plan", description="What featureviz drew at this epoch, and why.")
    return _write("plan", [metadata.encode_record(dict(record))], step, meta)
