"""Writes featureviz logdirs with real event files and predictable content, without TensorFlow.

The event files follow ``tb_featureviz.metadata`` exactly (the storage format the callback writes), so
the plugin, the frontend's browser tests, the export module and the benchmarks can run on them with
either TensorBoard loader. Every pixel value, score and scalar is a function of (run, epoch, layer,
probe, channel) that :class:`LogdirSpec` exposes, so tests can predict what the plugin returns.

Layout written for each run ``r`` (``r`` may be ``"."`` for a logdir that is itself the run)::

    <root>/<r>/featureviz   activations/<layer>, filters/<layer>, gradcam/<layer>, exemplars/<layer>,
                            probes, sample, run_info,
                            epoch_loss, epoch_accuracy, epoch_val_loss, epoch_val_accuracy,
                            health/dead_fraction/<layer>, the CHECK_TAGS (faithfulness/, sanity/)
    <root>/<r>/train        epoch_loss, epoch_accuracy          (keras_curves=True, Keras' callback)
    <root>/<r>/validation   epoch_loss, epoch_accuracy          (keras_curves=True)
    <root>/<r>/images       images/<layer>: TensorBoard images-plugin data with the same PNGs as
                            activations/<layer> (images_plugin=True; for benchmarks)

Files are written with ``RecordWriter`` + ``event_pb2`` (the record format of ``EventFileWriter``;
``EventFileWriter`` itself goes through ``tensorboard.compat.tf``, which imports TensorFlow when it is
installed and costs seconds). Appending an epoch works with a kept-open :class:`RunWriter` or with a new,
later-named event file (:func:`append_epoch`); TensorBoard's Python loader follows a directory's newest
file, so both are visible to it.

Usable from ``benchmarks/`` too (run from the repository root, ``python -m benchmarks.bench_x``)::

    from tests.support import logdir_factory
"""

from __future__ import annotations

import functools
import io
import itertools
import json
import os
import re
import statistics
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image
from tensorboard.compat.proto import event_pb2, summary_pb2
from tensorboard.plugins.image import metadata as image_metadata
from tensorboard.summary.writer.record_writer import RecordWriter
from tensorboard.util import tensor_util

from tb_featureviz import metadata
from tb_featureviz.reader import BlobKey

CHECK_TAGS = ("faithfulness/deletion_auc", "faithfulness/insertion_auc", "sanity/randomization_spearman")
"""The Grad-CAM measures the factory writes to every featureviz run (as the callback does)."""

__all__ = [
    "ANY_BLOB",
    "BASE_WALL_TIME",
    "LogdirSpec",
    "RunWriter",
    "append_epoch",
    "damage",
    "decode_png",
    "mask_blobs",
    "write_logdir",
]

BASE_WALL_TIME = 1_700_000_000.0
"""Wall time of epoch 0 of the first run; epoch ``e`` of run ``i`` is ``BASE + 1000 i + 10 e``."""

_FILE_SEQ = itertools.count()
_FILE_LOCK = threading.Lock()


ANY_BLOB = "blob?key=*"
"""Stands for any blob in expected documents (blob keys differ between loaders); see :func:`mask_blobs`."""


def mask_blobs(doc: Any) -> Any:
    """Returns ``doc`` with every blob replaced by :data:`ANY_BLOB`: a ``"blob?key=..."`` URL (an HTTP
    document) or a :class:`~tb_featureviz.reader.BlobKey` (a reader document)."""
    if isinstance(doc, BlobKey):
        return ANY_BLOB
    if isinstance(doc, dict):
        return {k: mask_blobs(v) for k, v in doc.items()}
    if isinstance(doc, list):
        return [mask_blobs(v) for v in doc]
    if isinstance(doc, str) and doc.startswith("blob?key="):
        return ANY_BLOB
    return doc


def damage(data: bytes) -> bytes:
    """``data`` with its middle byte inverted: a PNG whose chunk CRC no longer matches, a record that is no
    longer UTF-8 JSON (what a flipped byte in an event file does, when the loader does not check the
    record's own CRC)."""
    out = bytearray(data)
    out[len(out) // 2] ^= 0xFF
    return bytes(out)


def decode_png(data: bytes) -> np.ndarray:
    """Decodes PNG bytes into a ``uint8`` array (``[H, W]`` for mode L, ``[H, W, 3]`` for RGB)."""
    with Image.open(io.BytesIO(data)) as im:
        im.load()
        return np.asarray(im)


@functools.lru_cache(maxsize=65536)
def _png_constant_tiles(mode: str, values: tuple[Any, ...], cols: int, tile: int, padding: int) -> bytes:
    """A grid PNG whose tile ``k`` is filled with ``values[k]`` (padding pixels 0)."""
    rows = -(-len(values) // cols)
    width = cols * tile + (cols - 1) * padding
    height = rows * tile + (rows - 1) * padding
    shape: tuple[int, ...] = (height, width) if mode == "L" else (height, width, 3)
    arr = np.zeros(shape, dtype=np.uint8)
    for k, v in enumerate(values):
        r, c = divmod(k, cols)
        y, x = r * (tile + padding), c * (tile + padding)
        arr[y : y + tile, x : x + tile] = v
    buf = io.BytesIO()
    Image.fromarray(arr, mode=mode).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def _png_array(pixels: np.ndarray) -> bytes:
    """An RGB PNG of ``[H, W, 3]`` uint8 pixels."""
    buf = io.BytesIO()
    Image.fromarray(pixels, mode="RGB").save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def _blob_event(tag: str, blobs: Sequence[bytes], step: int, wall_time: float, meta: Any) -> event_pb2.Event:
    proto = tensor_util.make_tensor_proto(np.array(list(blobs), dtype=object))
    value = summary_pb2.Summary.Value(tag=tag, tensor=proto, metadata=meta)
    return event_pb2.Event(step=step, wall_time=wall_time, summary=summary_pb2.Summary(value=[value]))


_SCALAR_META = summary_pb2.SummaryMetadata(
    plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars"),
    data_class=summary_pb2.DATA_CLASS_SCALAR,
)


def _scalar_event(values: dict[str, float], step: int, wall_time: float) -> event_pb2.Event:
    """One event with TF2-style scalar summaries (``tf.summary.scalar``: float32 rank-0 tensors)."""
    summary = summary_pb2.Summary(
        value=[
            summary_pb2.Summary.Value(
                tag=tag, tensor=tensor_util.make_tensor_proto(np.float32(v)), metadata=_SCALAR_META
            )
            for tag, v in values.items()
        ]
    )
    return event_pb2.Event(step=step, wall_time=wall_time, summary=summary)


@dataclass
class LogdirSpec:
    """What :func:`write_logdir` wrote, and the value of every pixel and number in it.

    Attributes:
        root: The logdir.
        runs: The run names (groups), e.g. ``("exp1",)``; ``"."`` is the logdir itself.
        epochs: Epochs written by :func:`write_logdir` (steps ``0 .. epochs - 1``).
        layers: Layer names with activations (and filters, see ``filter_layers``).
        probes: Number of probe images.
        channels: Channels of every layer (tiles per activation grid; filters per filter grid).
        tile: Tile height and width of activation grids (the layer's spatial size).
        cols: Tiles per grid row.
        padding: Pixels between tiles.
        filter_size: Tile size of filter-pattern grids.
        image_size: Probe image height and width (Grad-CAM maps have this size too).
        class_names: Class names; ``len`` is the number of classes.
        filter_layers: Layers with a ``filters/<layer>`` tag.
        gradcam_layers: Layers with a ``gradcam/<layer>`` tag.
        keras_curves: Whether ``<run>/train`` and ``<run>/validation`` exist.
        images_plugin: Whether ``<run>/images`` (TensorBoard images-plugin data) exists.
        steps: Every step written so far, per run (grows with :func:`append_epoch`).
        reduced_layers: Layers whose activation grids are *reduced* (the callback's ``max_grid_pixels``):
            their records carry ``"channels": grid_channels`` and ``"scale": grid_scale``.
        grid_channels: The channel each tile of a reduced grid shows (tile ``k`` is channel
            ``grid_channels[k]``); every value below ``channels``.
        grid_scale: How many times the tiles of a reduced grid were shrunk (the record's ``shape`` is
            ``[tile * grid_scale, tile * grid_scale, channels]``).
        filter_of: With a rotation, the number of filters of each filter layer; tile ``k`` of epoch ``e``
            shows filter :meth:`filters_at` ``(e)[k]`` and the record carries a ``"schedule"``. ``None``: no
            rotation (tile ``k`` is filter ``k``, no schedule).
        filter_fixed: The fixed filters drawn at every pass of a rotation (the first tiles).
        filter_scale: How many times the patterns were shrunk (``"scale"`` in the record when > 1; the
            record's ``size`` is ``filter_size * filter_scale``).
        gradcam_overlays: Whether Grad-CAM records store ready overlays; without them every target's
            ``"overlay"`` is ``null`` and the blob sequence holds the heatmaps only.
        exemplar_layers: Layers with an ``exemplars/<layer>`` tag (every epoch); the ``sample`` images are
            written at epoch 0 when there is one.
        sample_count: Images in the ``sample`` (``image_size`` square RGB, :meth:`sample_value`).
        exemplar_k: Exemplars per channel (distinct sample images, best first).
        exemplar_size: Side of an exemplar's crop (the record's ``size``).
        damaged: ``(run, epoch, tag, element)`` of blobs written damaged (:func:`damage`): element 0 is the
            record, ``i`` image ``i - 1``. The event records themselves are intact (valid CRCs), so both
            loaders serve these bytes.
        nonfinite: ``(run, epoch, tag, n)`` of records written with ``"nonfinite": n`` (a diverged model).
        layer_tiles: Tile side (the layer's spatial size) of the layers whose activation grids are not
            ``tile`` pixels square (a model with several resolution stages); see :meth:`tile_of`.
        model_order: Whether ``run_info`` records the model order of the layers (``"layers"``, as the
            callback writes it); older logs have none.
        hparams: Extra ``run_info["hparams"]`` entries per run (beside ``"run"``), e.g.
            ``{"exp1": {"learning_rate": 0.01}}``.
    """

    root: str
    runs: tuple[str, ...]
    epochs: int
    layers: tuple[str, ...]
    probes: int
    channels: int
    tile: int
    cols: int
    padding: int
    filter_size: int
    image_size: int
    class_names: tuple[str, ...]
    filter_layers: tuple[str, ...]
    gradcam_layers: tuple[str, ...]
    keras_curves: bool
    images_plugin: bool
    steps: dict[str, list[int]] = field(default_factory=dict)
    reduced_layers: tuple[str, ...] = ()
    grid_channels: tuple[int, ...] = ()
    grid_scale: int = 1
    filter_of: int | None = None
    filter_fixed: tuple[int, ...] = ()
    filter_scale: int = 1
    gradcam_overlays: bool = True
    exemplar_layers: tuple[str, ...] = ()
    sample_count: int = 6
    exemplar_k: int = 3
    exemplar_size: int = 4
    damaged: tuple[tuple[str, int, str, int], ...] = ()
    nonfinite: tuple[tuple[str, int, str, int], ...] = ()
    layer_tiles: dict[str, int] = field(default_factory=dict)
    model_order: bool = False
    hparams: dict[str, dict[str, Any]] = field(default_factory=dict)

    # -- names ------------------------------------------------------------------------------------

    def run_dir(self, run: str, sub: str = metadata.RUN_SUBDIR) -> str:
        """The directory of TensorBoard run ``<run>/<sub>``."""
        return os.path.join(self.root, run, sub)

    def tb_run(self, run: str, sub: str = metadata.RUN_SUBDIR) -> str:
        """TensorBoard's run name for ``<run>/<sub>`` (``"featureviz"`` when ``run == "."``)."""
        return sub if run == "." else f"{run}/{sub}"

    def run_index(self, run: str) -> int:
        return self.runs.index(run)

    def wall_time(self, run: str, epoch: int) -> float:
        return BASE_WALL_TIME + 1000.0 * self.run_index(run) + 10.0 * epoch

    @property
    def layout(self) -> metadata.GridLayout:
        """Layout of activation grids that are not reduced (see :meth:`layout_for`)."""
        return metadata.GridLayout(
            rows=-(-self.channels // self.cols),
            cols=min(self.cols, self.channels),
            tile_height=self.tile,
            tile_width=self.tile,
            padding=self.padding,
            count=self.channels,
        )

    def tile_of(self, layer: str) -> int:
        """Tile side of ``layer``'s activation grids: its spatial size (``layer_tiles``, else ``tile``)."""
        return self.layer_tiles.get(layer, self.tile)

    def tile_channels(self, layer: str) -> list[int]:
        """The channel each tile of ``layer``'s activation grid shows."""
        return list(self.grid_channels) if layer in self.reduced_layers else list(range(self.channels))

    def layout_for(self, layer: str) -> metadata.GridLayout:
        """Layout of ``layer``'s activation grids (fewer tiles when the grid is reduced)."""
        count = len(self.tile_channels(layer))
        return metadata.GridLayout(
            rows=-(-count // self.cols),
            cols=min(self.cols, count),
            tile_height=self.tile_of(layer),
            tile_width=self.tile_of(layer),
            padding=self.padding,
            count=count,
        )

    @property
    def filter_layout(self) -> metadata.GridLayout:
        """Layout of filter-pattern grids."""
        return metadata.GridLayout(
            rows=-(-self.channels // self.cols),
            cols=min(self.cols, self.channels),
            tile_height=self.filter_size,
            tile_width=self.filter_size,
            padding=self.padding,
            count=self.channels,
        )

    # -- values -----------------------------------------------------------------------------------

    def dead(self, run: str, epoch: int, layer: str) -> list[int]:
        """Dead channels of ``layer`` at ``epoch``: the last channel at epoch 0, none later."""
        return [self.channels - 1] if epoch == 0 else []

    def activation_value(self, run: str, epoch: int, layer: str, probe: int, channel: int) -> int:
        """The gray value filling tile ``channel`` of the activation grid of ``probe`` (0 if dead)."""
        if channel in self.dead(run, epoch, layer):
            return 0
        li = self.layers.index(layer)
        ri = self.run_index(run)
        return 1 + (17 * epoch + 29 * probe + 37 * channel + 53 * li + 7 * ri) % 254

    def filter_value(self, run: str, epoch: int, layer: str, index: int) -> tuple[int, int, int]:
        """The RGB colour filling the tile of filter ``index`` (tile ``index`` unless there is a rotation)."""
        li = self.layers.index(layer)
        return ((13 * epoch + 7 * index + 5 * li) % 256, (40 * index + li) % 256, (50 * epoch + 3) % 256)

    def filter_activation(self, epoch: int, index: int) -> float:
        return 0.5 + 0.125 * index + 0.25 * epoch

    def filter_relative(self, epoch: int, index: int) -> float | None:
        """Pattern ``index``'s activation relative to the probes'; ``None`` (the probes leave it silent) for
        the last filter at epoch 0, the channel that is dead then."""
        if epoch == 0 and index == self.channels - 1:
            return None
        return 1.5 + 0.25 * index + 0.5 * epoch

    def filter_relative_median(self, epoch: int) -> float | None:
        """The median of :meth:`filter_relative` over the tiles of ``epoch`` (``null``s left out)."""
        values = [v for v in (self.filter_relative(epoch, f) for f in self.filters_at(epoch)) if v is not None]
        return float(statistics.median(values)) if values else None

    def filter_window(self, epoch: int) -> tuple[int, int]:
        """``(first, last)`` filter of the rotating window drawn at ``epoch`` (as ``plan.FilterRotation``)."""
        assert self.filter_of is not None
        window = self.channels - len(self.filter_fixed)
        windows = -(-self.filter_of // window)
        start = min((epoch % windows) * window, self.filter_of - window)
        return start, start + window - 1

    def filter_next_epoch(self, epoch: int) -> int | None:
        """When the next window is expected: ``epoch + 1`` after even epochs, ``None`` after odd ones."""
        return epoch + 1 if epoch % 2 == 0 else None

    def filters_at(self, epoch: int) -> list[int]:
        """The filter index of each tile of the filter grids of ``epoch``."""
        if self.filter_of is None:
            return list(range(self.channels))
        first, last = self.filter_window(epoch)
        return [*self.filter_fixed, *range(first, last + 1)]

    def label(self, probe: int) -> int:
        return probe % len(self.class_names)

    def predicted(self, epoch: int, probe: int) -> int:
        return (probe + epoch) % len(self.class_names)

    def probabilities(self, epoch: int, probe: int) -> list[float]:
        """Class probabilities of ``probe``: 0.75 for the predicted class, the rest shared."""
        k = len(self.class_names)
        rest = 0.25 / (k - 1) if k > 1 else 0.0
        pred = self.predicted(epoch, probe)
        return [0.75 if c == pred else round(rest, 6) for c in range(k)]

    def heat_value(self, epoch: int, probe: int, target: int) -> int:
        return (11 * epoch + 23 * probe + 101 * target) % 256

    def overlay_value(self, epoch: int, probe: int, target: int) -> tuple[int, int, int]:
        return ((31 * epoch + probe) % 256, (61 * probe + target) % 256, (90 * target + epoch) % 256)

    def probe_value(self, probe: int) -> tuple[int, int, int]:
        return ((60 * probe) % 256, (100 + 30 * probe) % 256, 200)

    def sample_value(self, image: int, y: int, x: int) -> tuple[int, int, int]:
        """RGB of pixel ``(y, x)`` of sample image ``image``: red is the position, green and blue the image."""
        return ((16 * x + y) % 256, (40 * image + 3 * y + 5) % 256, (60 * image + 7 * x + 11) % 256)

    def sample_pixels(self, image: int) -> np.ndarray:
        """Sample image ``image`` as ``[image_size, image_size, 3]`` uint8."""
        n = self.image_size
        return np.array([[self.sample_value(image, y, x) for x in range(n)] for y in range(n)], dtype=np.uint8)

    def sample_label(self, image: int) -> int:
        return image % len(self.class_names)

    def exemplar(self, run: str, epoch: int, layer: str, channel: int, rank: int) -> list[Any]:
        """``[image, y, x, value]``: exemplar ``rank`` of ``channel`` (distinct images, values decreasing)."""
        li = self.layers.index(layer)
        n = self.image_size
        return [
            (channel + epoch + li + rank + self.run_index(run)) % self.sample_count,
            (5 * channel + 3 * rank + epoch) % n,
            (3 * channel + 7 * rank + 2 * epoch + li) % n,
            4.0 + 0.5 * channel + 0.25 * epoch - 0.75 * rank + 0.125 * li,
        ]

    def exemplar_crop(self, run: str, epoch: int, layer: str, channel: int, rank: int) -> np.ndarray:
        """The pixels a viewer shows for an exemplar: its ``metadata.crop_box`` of the sample image."""
        image, y, x, _ = self.exemplar(run, epoch, layer, channel, rank)
        x0, y0, x1, y1 = metadata.crop_box(y, x, self.exemplar_size, (self.image_size, self.image_size))
        return self.sample_pixels(image)[y0:y1, x0:x1]

    def scalar(self, run: str, tag: str, epoch: int) -> float:
        """A scalar value as stored (float32) and read back (float). ``tag`` like ``epoch_val_loss``."""
        ri = self.run_index(run)
        if tag == "epoch_loss":
            v = 2.0 - 0.03125 * epoch - 0.125 * ri
        elif tag == "epoch_val_loss":
            v = 2.25 - 0.03125 * epoch - 0.125 * ri
        elif tag == "epoch_accuracy":
            v = 0.5 + 0.0078125 * epoch
        elif tag == "epoch_val_accuracy":
            v = 0.4375 + 0.0078125 * epoch
        elif tag.startswith("health/dead_fraction/"):
            v = len(self.dead(run, epoch, tag.rsplit("/", 1)[1])) / self.channels
        elif tag in CHECK_TAGS:
            v = 0.25 + 0.0625 * CHECK_TAGS.index(tag) + 0.015625 * epoch + 0.125 * ri
        else:
            raise ValueError(f"No scalar {tag!r} in the factory's logdir.")
        return float(np.float32(v))

    # -- records ----------------------------------------------------------------------------------

    def activation_record(self, run: str, epoch: int, layer: str) -> dict[str, Any]:
        if layer not in self.reduced_layers:
            return {
                "probes": self.probes,
                "shape": [self.tile_of(layer), self.tile_of(layer), self.channels],
                "dead": self.dead(run, epoch, layer),
            }
        side = self.tile_of(layer) * self.grid_scale
        return {
            "probes": self.probes,
            "shape": [side, side, self.channels],
            "dead": self.dead(run, epoch, layer),
            "channels": list(self.grid_channels),
            "scale": self.grid_scale,
        }

    def filter_record(self, epoch: int) -> dict[str, Any]:
        filters = self.filters_at(epoch)
        record: dict[str, Any] = {
            "filters": filters,
            "activation": [self.filter_activation(epoch, f) for f in filters],
            "size": self.filter_size * self.filter_scale,
            "relative": [self.filter_relative(epoch, f) for f in filters],
            "relative_median": self.filter_relative_median(epoch),
        }
        if self.filter_scale > 1:
            record["scale"] = self.filter_scale
        if self.filter_of is not None:
            record["schedule"] = {
                "fixed": len(self.filter_fixed),
                "window": list(self.filter_window(epoch)),
                "of": self.filter_of,
                "next": list(self.filter_window(epoch + 1)),
                "next_epoch": self.filter_next_epoch(epoch),
            }
        return record

    def gradcam_record(self, epoch: int) -> dict[str, Any]:
        probes = []
        blob = 1
        for p in range(self.probes):
            targets = []
            for t, (name, cls) in enumerate((("predicted", self.predicted(epoch, p)), ("true", self.label(p)))):
                del t
                targets.append(
                    {
                        "target": name,
                        "class": cls,
                        "score": self.probabilities(epoch, p)[cls],
                        "heatmap": blob,
                        "overlay": blob + 1 if self.gradcam_overlays else None,
                    }
                )
                blob += 2 if self.gradcam_overlays else 1
            probes.append(
                {
                    "probe": p,
                    "true": self.label(p),
                    "predicted": self.predicted(epoch, p),
                    "probabilities": self.probabilities(epoch, p),
                    "targets": targets,
                }
            )
        return {"probes": probes}

    def probes_record(self) -> dict[str, Any]:
        return {"labels": [self.label(p) for p in range(self.probes)], "class_names": list(self.class_names)}

    def sample_record(self) -> dict[str, Any]:
        return {"count": self.sample_count, "labels": [self.sample_label(m) for m in range(self.sample_count)]}

    def exemplars_record(self, run: str, epoch: int, layer: str) -> dict[str, Any]:
        channels = self.tile_channels(layer)
        return {
            "k": self.exemplar_k,
            "size": self.exemplar_size,
            "sample": self.sample_count,
            "channels": channels,
            "exemplars": [[self.exemplar(run, epoch, layer, c, j) for j in range(self.exemplar_k)] for c in channels],
        }

    def run_info_record(self, run: str) -> dict[str, Any]:
        order = {"layers": list(self.layers)} if self.model_order else {}
        return {
            **order,
            "model": f"tiny_cnn_{self.run_index(run)}",
            "summary": "Model: tiny_cnn",
            "params": 1234,
            "input_shape": [None, self.image_size, self.image_size, 3],
            "optimizer": {"name": "RMSprop", "learning_rate": 0.0001},
            "hparams": {"run": run, **self.hparams.get(run, {})},
            "class_names": list(self.class_names),
            "first_epoch": 0,
            "started": "2023-11-14T22:13:20+00:00",
        }

    # -- blobs (what the event files hold) --------------------------------------------------------

    def activation_png(self, run: str, epoch: int, layer: str, probe: int) -> bytes:
        shown = self.tile_channels(layer)
        values = tuple(self.activation_value(run, epoch, layer, probe, c) for c in shown)
        return _png_constant_tiles("L", values, min(self.cols, len(shown)), self.tile_of(layer), self.padding)

    def filter_png(self, run: str, epoch: int, layer: str) -> bytes:
        values = tuple(self.filter_value(run, epoch, layer, f) for f in self.filters_at(epoch))
        return _png_constant_tiles("RGB", values, min(self.cols, self.channels), self.filter_size, self.padding)

    def _square(self, mode: str, value: Any) -> bytes:
        return _png_constant_tiles(mode, (value,), 1, self.image_size, 0)

    def blobs(self, run: str, epoch: int, tag: str) -> list[bytes]:
        """The blob sequence of ``tag`` at ``epoch``, exactly as written (element 0 is the record)."""
        out = self._blobs(run, epoch, tag)
        for n_run, n_epoch, n_tag, n in self.nonfinite:
            if (n_run, n_epoch, n_tag) == (run, epoch, tag):
                out[0] = metadata.encode_record({**json.loads(out[0]), "nonfinite": n})
        for d_run, d_epoch, d_tag, element in self.damaged:
            if (d_run, d_epoch, d_tag) == (run, epoch, tag):
                out[element] = damage(out[element])
        return out

    def _blobs(self, run: str, epoch: int, tag: str) -> list[bytes]:
        kind, _, layer = tag.partition("/")
        if kind == "activations":
            pngs = [self.activation_png(run, epoch, layer, p) for p in range(self.probes)]
            return [metadata.encode_record(self.activation_record(run, epoch, layer)), *pngs]
        if kind == "filters":
            return [metadata.encode_record(self.filter_record(epoch)), self.filter_png(run, epoch, layer)]
        if kind == "gradcam":
            out = [metadata.encode_record(self.gradcam_record(epoch))]
            for p in range(self.probes):
                for t in range(2):
                    out.append(self._square("L", self.heat_value(epoch, p, t)))
                    if self.gradcam_overlays:
                        out.append(self._square("RGB", self.overlay_value(epoch, p, t)))
            return out
        if kind == "probes":
            return [metadata.encode_record(self.probes_record())] + [
                self._square("RGB", self.probe_value(p)) for p in range(self.probes)
            ]
        if kind == "exemplars":
            return [metadata.encode_record(self.exemplars_record(run, epoch, layer))]
        if kind == "sample":
            return [metadata.encode_record(self.sample_record())] + [
                _png_array(self.sample_pixels(m)) for m in range(self.sample_count)
            ]
        if kind == "run_info":
            return [metadata.encode_record(self.run_info_record(run))]
        raise ValueError(f"No featureviz tag {tag!r} in the factory's logdir.")

    def featureviz_tags(self, epoch: int | None = None) -> list[str]:
        """Tags of the featureviz run; with ``epoch``, only those written at that epoch."""
        tags = [f"activations/{layer}" for layer in self.layers]
        tags += [f"filters/{layer}" for layer in self.filter_layers]
        tags += [f"gradcam/{layer}" for layer in self.gradcam_layers]
        tags += [f"exemplars/{layer}" for layer in self.exemplar_layers]
        if epoch is None or epoch == 0:
            tags += ["probes", "run_info"] + (["sample"] if self.exemplar_layers else [])
        return tags

    # -- what the plugin should answer -------------------------------------------------------------

    def expected_index_entry(self, run: str) -> dict[str, Any]:
        """The ``/index`` entry of ``run``, with every blob URL written as :data:`ANY_BLOB`."""
        steps = sorted(self.steps.get(run, []))
        first = steps[0] if steps else 0
        flay = self.filter_layout.to_json()
        gextra = {"class_names": list(self.class_names), "targets": ["predicted", "true"]}

        def key(layer: str) -> list[Any]:
            return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", layer)]

        def entry(kind: str, layer: str, images: int, layout: Any, extra: dict[str, Any]) -> dict[str, Any]:
            tag = f"{kind}/{layer}"
            return {"tag": tag, "layer": layer, "steps": steps, "images": images, "layout": layout, "extra": extra}

        tb = self.tb_run(run, "").rstrip("/")
        prefix = "" if run == "." else tb + "/"
        return {
            "run": run,
            "featureviz": True,
            "steps": steps,
            "max_wall_time": self.wall_time(run, steps[-1]) if steps else None,
            "kinds": {
                "activations": [
                    entry("activations", la, self.probes, self.layout_for(la).to_json(), {})
                    for la in sorted(self.layers, key=key)
                ],
                "filters": [entry("filters", la, 1, flay, {}) for la in sorted(self.filter_layers, key=key)],
                "gradcam": [
                    entry("gradcam", la, (4 if self.gradcam_overlays else 2) * self.probes, None, gextra)
                    for la in sorted(self.gradcam_layers, key=key)
                ],
                "exemplars": [entry("exemplars", la, 0, None, {}) for la in sorted(self.exemplar_layers, key=key)],
            },
            "probes": {
                "count": self.probes,
                "labels": [self.label(p) for p in range(self.probes)],
                "class_names": list(self.class_names),
                "step": first,
                "images": [ANY_BLOB] * self.probes,
            },
            "sample": {
                "count": self.sample_count,
                "labels": [self.sample_label(m) for m in range(self.sample_count)],
                "step": first,
                "images": [ANY_BLOB] * self.sample_count,
            }
            if self.exemplar_layers
            else None,
            "run_info": self.run_info_record(run),
            "status": None,
            "plan": [],
            "stages": self.expected_stages(),
            "curves": ["accuracy", "loss"],
            "curve_source": "keras" if self.keras_curves else "featureviz",
            "tb_runs": {
                "featureviz": prefix + "featureviz",
                "train": prefix + "train" if self.keras_curves else None,
                "validation": prefix + "validation" if self.keras_curves else None,
            },
        }

    def expected_stages(self, align: dict[str, list[int | None]] | None = None) -> dict[str, Any]:
        """The ``stages`` of an ``/index`` entry of this spec's runs: one stage per distinct tile side
        (largest first); the representative is the last layer of a stage in model order (``layers``'
        order when ``model_order``, natural order otherwise). ``align``: default, the runs of this spec
        only (all have the same stage count, so stage ``k`` is stage ``k``)."""

        def key(layer: str) -> list[Any]:
            return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", layer)]

        order = list(self.layers) if self.model_order else sorted(self.layers, key=key)
        sides = sorted({self.tile_of(la) for la in self.layers if self.tile_of(la) > 1}, reverse=True)
        stages = []
        for k, side in enumerate(sides, start=1):
            members = [la for la in order if self.tile_of(la) == side]
            filters = [f for f in members if f in self.filter_layers]
            stages.append(
                {
                    "stage": k,
                    "height": side,
                    "width": side,
                    "layers": members,
                    "activations": members[-1],
                    "filters": filters[-1] if filters else None,
                }
            )
        gradcam = sorted(self.gradcam_layers, key=key)
        if align is None:
            align = {str(len(sides)): list(range(1, len(sides) + 1))} if sides else {}
        return {"count": len(sides), "list": stages, "gradcam": gradcam[-1] if gradcam else None, "align": align}

    def expected_index(self) -> dict[str, Any]:
        """The whole ``/index`` document (runs sorted by name), blob URLs as :data:`ANY_BLOB`."""
        return {"runs": [self.expected_index_entry(run) for run in sorted(self.runs)]}

    def expected_scalars(self, run: str) -> dict[str, Any]:
        """The ``/scalars`` document of ``run``."""
        steps = sorted(self.steps.get(run, []))

        def pts(tag: str) -> list[list[float]]:
            return [[e, self.wall_time(run, e), self.scalar(run, tag, e)] for e in steps]

        series = []
        for metric in ("accuracy", "loss"):
            series.append({"metric": metric, "split": "train", "points": pts(f"epoch_{metric}")})
            series.append({"metric": metric, "split": "validation", "points": pts(f"epoch_val_{metric}")})
        health = [{"layer": la, "points": pts(f"health/dead_fraction/{la}")} for la in sorted(self.layers)]
        checks = [{"tag": tag, "points": pts(tag)} for tag in sorted(CHECK_TAGS)]
        return {
            "run": run,
            "source": "keras" if self.keras_curves else "featureviz",
            "series": series,
            "health": health,
            "checks": checks,
        }

    def metadata_for(self, tag: str) -> summary_pb2.SummaryMetadata:
        kind, _, layer = tag.partition("/")
        if kind == "activations":
            return metadata.create_summary_metadata(kind, layer=layer, layout=self.layout_for(layer))
        if kind == "filters":
            return metadata.create_summary_metadata(kind, layer=layer, layout=self.filter_layout)
        if kind == "gradcam":
            extra = {"class_names": list(self.class_names), "targets": ["predicted", "true"]}
            return metadata.create_summary_metadata(kind, layer=layer, extra=extra)
        if kind == "exemplars":
            return metadata.create_summary_metadata(kind, layer=layer)
        return metadata.create_summary_metadata(kind)


class _EventFile:
    """One event file (``events.out.tfevents.<stamp>.<host>.<seq>``); later files sort later."""

    def __init__(self, directory: str, wall_time: float) -> None:
        os.makedirs(directory, exist_ok=True)
        with _FILE_LOCK:
            seq = next(_FILE_SEQ)
            stamp = int(time.time())
            existing = [n for n in os.listdir(directory) if n.startswith("events.out.tfevents.")]
            name = f"events.out.tfevents.{stamp:010d}.factory.{os.getpid()}.{seq:08d}"
            while existing and name <= max(existing):  # strictly after every file already there
                stamp += 1
                name = f"events.out.tfevents.{stamp:010d}.factory.{os.getpid()}.{seq:08d}"
            self.path = os.path.join(directory, name)
            self._writer = RecordWriter(open(self.path, "wb"))  # noqa: SIM115 - closed in close()
        self.add(event_pb2.Event(wall_time=wall_time, file_version="brain.Event:2"))

    def add(self, event: event_pb2.Event) -> None:
        self._writer.write(event.SerializeToString())

    def flush(self) -> None:
        self._writer.flush()

    def close(self) -> None:
        if not self._writer.closed:
            self._writer.close()


class RunWriter:
    """Writes the epochs of one run of a :class:`LogdirSpec`; keep it open to append live.

    Each subdirectory gets one new event file, created on first use and named after every event file
    already there. Call :meth:`flush` (or use it as a context manager) to make events visible.
    """

    def __init__(self, spec: LogdirSpec, run: str) -> None:
        self.spec = spec
        self.run = run
        self._files: dict[str, _EventFile] = {}

    def _file(self, sub: str, wall_time: float) -> _EventFile:
        if sub not in self._files:
            self._files[sub] = _EventFile(self.spec.run_dir(self.run, sub), wall_time)
        return self._files[sub]

    def write_epoch(self, epoch: int) -> None:
        """Writes every summary of ``epoch`` (probes and run_info at epoch 0 only) and flushes."""
        spec, run = self.spec, self.run
        wt = spec.wall_time(run, epoch)
        fv = self._file(metadata.RUN_SUBDIR, wt)
        for tag in spec.featureviz_tags(epoch):
            fv.add(_blob_event(tag, spec.blobs(run, epoch, tag), epoch, wt, spec.metadata_for(tag)))
        scalars = {t: spec.scalar(run, t, epoch) for t in ("epoch_loss", "epoch_accuracy")}
        scalars.update({t: spec.scalar(run, t, epoch) for t in ("epoch_val_loss", "epoch_val_accuracy")})
        scalars.update(
            {
                f"health/dead_fraction/{layer}": spec.scalar(run, f"health/dead_fraction/{layer}", epoch)
                for layer in spec.layers
            }
        )
        scalars.update({tag: spec.scalar(run, tag, epoch) for tag in CHECK_TAGS})
        fv.add(_scalar_event(scalars, epoch, wt))
        if spec.keras_curves:
            self._file("train", wt).add(
                _scalar_event({t: spec.scalar(run, t, epoch) for t in ("epoch_loss", "epoch_accuracy")}, epoch, wt)
            )
            self._file("validation", wt).add(
                _scalar_event(
                    {
                        "epoch_loss": spec.scalar(run, "epoch_val_loss", epoch),
                        "epoch_accuracy": spec.scalar(run, "epoch_val_accuracy", epoch),
                    },
                    epoch,
                    wt,
                )
            )
        if spec.images_plugin:
            images = self._file("images", wt)
            for layer in spec.layers:
                meta = image_metadata.create_summary_metadata(display_name=layer, description="")
                lay = spec.layout_for(layer)
                pngs = [spec.activation_png(run, epoch, layer, p) for p in range(spec.probes)]
                blobs = [str(lay.width).encode(), str(lay.height).encode(), *pngs]
                images.add(_blob_event(f"images/{layer}", blobs, epoch, wt, meta))
        steps = spec.steps.setdefault(run, [])
        if epoch not in steps:
            steps.append(epoch)
            steps.sort()
        self.flush()

    def flush(self) -> None:
        for f in self._files.values():
            f.flush()

    def close(self) -> None:
        for f in self._files.values():
            f.close()

    def __enter__(self) -> RunWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_logdir(
    root: str | os.PathLike[str],
    runs: Sequence[str] = ("exp1",),
    epochs: int = 2,
    layers: Sequence[str] = ("conv2d", "max_pooling2d", "conv2d_1"),
    probes: int = 4,
    keras_curves: bool = True,
    *,
    channels: int = 6,
    tile: int = 4,
    cols: int = 4,
    padding: int = 1,
    filter_size: int = 5,
    image_size: int = 8,
    class_names: Sequence[str] = ("cat", "dog"),
    filter_layers: Sequence[str] | None = None,
    gradcam_layers: Sequence[str] | None = None,
    images_plugin: bool = False,
    reduced_layers: Sequence[str] = (),
    grid_channels: Sequence[int] = (),
    grid_scale: int = 1,
    filter_of: int | None = None,
    filter_fixed: Sequence[int] = (),
    filter_scale: int = 1,
    gradcam_overlays: bool = True,
    exemplar_layers: Sequence[str] | None = None,
    sample_count: int = 6,
    exemplar_k: int = 3,
    exemplar_size: int | None = None,
    damaged: Sequence[tuple[str, int, str, int]] = (),
    nonfinite: Sequence[tuple[str, int, str, int]] = (),
    layer_tiles: dict[str, int] | None = None,
    model_order: bool = False,
    hparams: dict[str, dict[str, Any]] | None = None,
) -> LogdirSpec:
    """Writes a logdir of featureviz runs with predictable content.

    Args:
        root: The logdir (created if needed).
        runs: Run (group) names; nested names such as ``"a/b"`` work, ``"."`` writes into ``root``.
        epochs: Steps ``0 .. epochs - 1`` are written for every run.
        layers: Layers with ``activations/<layer>`` (and, by default, ``filters/<layer>``).
        probes: Probe images (activation grids per step; Grad-CAM probes).
        keras_curves: Also write Keras-style ``<run>/train`` and ``<run>/validation`` scalars.
        channels: Channels per layer.
        tile: Activation tile size in pixels.
        cols: Grid columns.
        padding: Grid padding.
        filter_size: Filter-pattern tile size.
        image_size: Probe image size (Grad-CAM maps too).
        class_names: Class names (at least one).
        filter_layers: Layers with filter patterns (default: ``layers[0]`` and ``layers[-1]``).
        gradcam_layers: Layers with Grad-CAM (default: ``layers[-1]``).
        images_plugin: Also write ``<run>/images`` with TensorBoard images-plugin data holding the
            activation PNGs (``images/<layer>``: ``[w, h, png_0 .. png_{probes-1}]``).
        reduced_layers: Layers whose activation grids are reduced to ``grid_channels`` (tile ``k`` shows
            channel ``grid_channels[k]``), shrunk ``grid_scale`` times.
        grid_channels: See ``reduced_layers``.
        grid_scale: See ``reduced_layers``.
        filter_of: Filters per filter layer for a rotation (``channels - len(filter_fixed)`` per window,
            see :meth:`LogdirSpec.filters_at`); ``None``: tile ``k`` is filter ``k``, no schedule.
        filter_fixed: The fixed filters of a rotation (the first tiles of every filter grid).
        filter_scale: ``"scale"`` of the filter records (patterns shrunk that many times).
        gradcam_overlays: ``False`` writes Grad-CAM records with ``"overlay": null`` and heatmaps only.
        exemplar_layers: Layers with ``exemplars/<layer>`` (default: every layer; ``()``: none, and no
            ``sample``).
        sample_count: Images of the ``sample`` the exemplars come from.
        exemplar_k: Exemplars per channel (at most ``sample_count``).
        exemplar_size: Crop side of the exemplars (default ``image_size // 2``).
        damaged: ``(run, epoch, tag, element)`` of blobs to write damaged (see :attr:`LogdirSpec.damaged`).
        nonfinite: ``(run, epoch, tag, n)`` of records to write with ``"nonfinite": n``.
        layer_tiles: Spatial size (tile side) of layers that differ from ``tile``: several stages.
        model_order: Record the model order (``layers``, in the given order) in ``run_info``.
        hparams: Extra ``run_info["hparams"]`` entries per run, e.g. ``{"exp1": {"learning_rate": 0.01}}``.

    Returns:
        The :class:`LogdirSpec` describing (and predicting) everything written.

    Example:
        >>> spec = write_logdir("example", runs=("exp1", "exp2"), epochs=12)
        >>> spec.activation_value("exp1", 3, "conv2d", probe=0, channel=2)  # the predicted pixel value
        126
    """
    if reduced_layers and (not grid_channels or not all(0 <= c < channels for c in grid_channels)):
        raise ValueError(f"grid_channels must be channels in [0, {channels}). Received: {grid_channels!r}")
    if filter_of is not None and not len(filter_fixed) < channels <= filter_of + len(filter_fixed):
        raise ValueError(
            f"a rotation needs len(filter_fixed) < channels <= filter_of + len(filter_fixed). Received: "
            f"channels={channels}, filter_of={filter_of}, filter_fixed={filter_fixed!r}"
        )
    if not 1 <= exemplar_k <= sample_count:
        raise ValueError(f"write_logdir needs 1 <= exemplar_k <= sample_count. Received: {exemplar_k}, {sample_count}")
    if epochs < 0 or probes < 1 or channels < 1 or not layers or not class_names:
        raise ValueError(
            f"write_logdir needs epochs >= 0, probes >= 1, channels >= 1, layers and class_names. Received: "
            f"epochs={epochs}, probes={probes}, channels={channels}, layers={layers!r}, class_names={class_names!r}"
        )
    layers = tuple(layers)
    spec = LogdirSpec(
        root=os.fspath(root),
        runs=tuple(runs),
        epochs=epochs,
        layers=layers,
        probes=probes,
        channels=channels,
        tile=tile,
        cols=cols,
        padding=padding,
        filter_size=filter_size,
        image_size=image_size,
        class_names=tuple(class_names),
        filter_layers=tuple(dict.fromkeys((layers[0], layers[-1]))) if filter_layers is None else tuple(filter_layers),
        gradcam_layers=(layers[-1],) if gradcam_layers is None else tuple(gradcam_layers),
        keras_curves=keras_curves,
        images_plugin=images_plugin,
        reduced_layers=tuple(reduced_layers),
        grid_channels=tuple(int(c) for c in grid_channels),
        grid_scale=grid_scale,
        filter_of=filter_of,
        filter_fixed=tuple(int(f) for f in filter_fixed),
        filter_scale=filter_scale,
        gradcam_overlays=gradcam_overlays,
        exemplar_layers=layers if exemplar_layers is None else tuple(exemplar_layers),
        sample_count=sample_count,
        exemplar_k=exemplar_k,
        exemplar_size=max(1, image_size // 2) if exemplar_size is None else exemplar_size,
        damaged=tuple((str(r), int(e), str(t), int(i)) for r, e, t, i in damaged),
        nonfinite=tuple((str(r), int(e), str(t), int(n)) for r, e, t, n in nonfinite),
        layer_tiles=dict(layer_tiles or {}),
        model_order=model_order,
        hparams={str(r): dict(h) for r, h in (hparams or {}).items()},
    )
    os.makedirs(spec.root, exist_ok=True)
    for run in spec.runs:
        with RunWriter(spec, run) as writer:
            for epoch in range(epochs):
                writer.write_epoch(epoch)
    return spec


def append_epoch(spec: LogdirSpec, run: str, epoch: int | None = None, writer: RunWriter | None = None) -> int:
    """Appends one epoch to a run, as live training does.

    Args:
        spec: The spec returned by :func:`write_logdir`.
        run: The run to extend.
        epoch: The step to write; default one past the last written step.
        writer: A kept-open :class:`RunWriter` of ``run``; without it, new (later-named) event files
            are written and closed.

    Returns:
        The epoch written.
    """
    if epoch is None:
        epoch = max(spec.steps.get(run, [-1])) + 1
    if writer is not None:
        writer.write_epoch(epoch)
    else:
        with RunWriter(spec, run) as w:
            w.write_epoch(epoch)
    return epoch


def dump_expected(spec: LogdirSpec) -> str:
    """A JSON digest of ``spec`` (debugging aid)."""
    return json.dumps({"root": spec.root, "runs": spec.runs, "steps": spec.steps}, sort_keys=True)
