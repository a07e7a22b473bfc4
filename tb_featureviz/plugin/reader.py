"""The one data-access layer of the featureviz viewer, over a TensorBoard data provider.

``FeatureVizReader`` turns what a ``tensorboard.data.provider.DataProvider`` holds (the Python
``MultiplexerDataProvider`` or the Rust data server's ``GrpcDataProvider``) into the JSON documents of
``http_api.md``. The plugin routes and the export module both read through it; nothing here imports
TensorFlow or touches ``context.multiplexer``.

Runs are grouped by parent directory: TensorBoard runs ``exp1/featureviz``, ``exp1/train`` and
``exp1/validation`` form the group ``exp1`` (``.`` when they sit directly in the logdir).

Caching, so that both loaders answer fast (every list/read call of the Rust data server costs ~44 ms,
``read_blob`` ~0.7 ms):

* Blob bytes are immutable (a written step never changes): an LRU cache bounded in bytes. A blob is read
  only for a key that names a blob of the snapshot (every field of the decoded key checked: experiment,
  run, tag, step, index), and cached only once checked: a PNG must decode, a record must be a JSON
  object (``integrity.py``); a damaged blob answers :class:`DamagedBlobError` and the verdict is cached.
* Per-experiment state (snapshot, curves) is kept for the ``max_experiments`` most recently used
  experiment ids (``/experiment/<id>/``), so memory does not grow with every new id.
* The *snapshot* (runs, tags, every blob key of every step, the index JSON) is rebuilt at most every
  ``fresh_s`` seconds, stale-while-revalidate: a request that finds it older than ``fresh_s`` gets the
  cached one at once and starts one background refresh. The refresh first compares a fingerprint of
  the cheap ``list_*`` answers (tags, ``max_step``, ``max_wall_time``) and re-reads the blob sequences
  only when it changed. A snapshot older than ``max_stale_s`` is rebuilt synchronously.
* A request for a run or step that the snapshot lacks rebuilds it synchronously (at most every
  ``min_rebuild_s``), so a new epoch is served as soon as TensorBoard has loaded it.

Example:
    >>> with open_logdir("logs", load_fast=False) as reader:
    ...     index = reader.index()
    ...     first = index["runs"][0]
    ...     step = reader.step(None, first["run"], first["kinds"]["activations"][0]["tag"], 0)
    ...     png = reader.blob(None, step["images"][0].split("=", 1)[1])
"""

from __future__ import annotations

import base64
import collections
import contextlib
import dataclasses
import gzip
import json
import logging
import re
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent import futures
from typing import Any, TypeVar

from tensorboard import context as tb_context
from tensorboard import errors
from tensorboard.data import provider

from tb_featureviz import metadata
from tb_featureviz.plugin.integrity import DamagedBlobError, clip, png_problem, record_problem, sample

logger = logging.getLogger(__name__)

__all__ = [
    "DOWNSAMPLE_ALL",
    "MAX_EXPERIMENTS",
    "BlobAddress",
    "BlobCache",
    "DamagedBlobError",
    "FeatureVizReader",
    "RunGroup",
    "decode_blob_key",
    "downsample_from_hint",
    "open_logdir",
    "split_run",
]

DOWNSAMPLE_ALL = 1_000_000_000
"""``downsample`` meaning "every step" (TensorBoard treats ``downsample=0`` as "nothing")."""

SCALARS_PLUGIN = "scalars"
KERAS_SPLITS = ("train", "validation")
GRID_KINDS = ("activations", "filters", "gradcam")
_BLOB_KEY_RE = re.compile(r"[A-Za-z0-9_\-=.~]{1,4096}")
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_T = TypeVar("_T")

MAX_EXPERIMENTS = 32
"""Experiment ids whose snapshot a reader keeps (least recently used first out)."""

_MAX_DAMAGED = 4096
_INT64 = 1 << 63


@dataclasses.dataclass(frozen=True)
class BlobAddress:
    """The fields of a blob key: which element of which step of which tag.

    Attributes:
        experiment_id: The experiment the key was made for (``""`` for a plain ``--logdir``).
        run: The TensorBoard run (``"exp1/featureviz"``).
        tag: The tag (``"activations/conv2d"``).
        step: The step.
        index: The element of the blob sequence (0 is the record, 1.. the images).
    """

    experiment_id: str
    run: str
    tag: str
    step: int
    index: int


def decode_blob_key(key: Any) -> BlobAddress | None:
    """Decodes a blob key of either TensorBoard loader, checking the type and range of every field.

    The Python loader's keys are URL-safe base64 of the JSON array
    ``[experiment_id, plugin_name, run, tag, step, index]``, the Rust data server's of
    ``[experiment_id, run, tag, step, index]``.

    Returns:
        The :class:`BlobAddress`, or ``None`` for anything else (wrong shape, types, plugin, range).
    """
    if not isinstance(key, str) or not _BLOB_KEY_RE.fullmatch(key):
        return None
    try:
        fields = json.loads(base64.urlsafe_b64decode(key + "=" * (-len(key) % 4)).decode("ascii"))
    except Exception:  # binascii.Error, UnicodeDecodeError, JSONDecodeError, RecursionError
        return None
    if not isinstance(fields, list):
        return None
    if len(fields) == 6:
        eid, plugin, run, tag, step, index = fields
        if plugin != metadata.PLUGIN_NAME:
            return None
    elif len(fields) == 5:
        eid, run, tag, step, index = fields
    else:
        return None
    if not all(isinstance(v, str) for v in (eid, run, tag)):
        return None
    if type(step) is not int or type(index) is not int or not -_INT64 <= step < _INT64 or not 0 <= index < 1 << 31:
        return None
    return BlobAddress(experiment_id=eid, run=run, tag=tag, step=step, index=index)


def downsample_from_hint(hint: int | None) -> int:
    """Maps a ``--samples_per_plugin`` hint to a ``downsample`` argument.

    Args:
        hint: The user's hint for ``featureviz``; ``None`` or ``0`` mean "all".

    Returns:
        ``hint`` when positive, else :data:`DOWNSAMPLE_ALL` (never 0: a provider returns nothing then).
    """
    if hint is None or hint <= 0:
        return DOWNSAMPLE_ALL
    return int(hint)


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


def blob_url(key: str) -> str:
    """The relative URL of a blob route for ``key`` (what the JSON routes hand to the frontend)."""
    return "blob?key=" + urllib.parse.quote(key, safe="")


def png_content_type(data: bytes) -> str:
    """``image/png`` for PNG bytes, else ``application/octet-stream``."""
    return "image/png" if data[:8] == _PNG_MAGIC else "application/octet-stream"


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


class BlobCache:
    """A thread-safe LRU cache of blob bytes, bounded by their total size.

    Each entry may name an *owner* (the experiment id the key belongs to): :meth:`drop_owner` forgets
    an owner's entries at once, when the reader forgets that experiment.

    Args:
        max_bytes: Capacity; a single blob larger than a quarter of it is never cached.
    """

    def __init__(self, max_bytes: int = 256 * 1024 * 1024) -> None:
        if max_bytes < 0:
            raise ValueError(f"max_bytes must be >= 0. Received: max_bytes={max_bytes}")
        self.max_bytes = max_bytes
        self._data: collections.OrderedDict[str, bytes] = collections.OrderedDict()
        self._owner_of: dict[str, str] = {}
        self._owned: dict[str, set[str]] = {}
        self._size = 0
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key: str, value: bytes, owner: str | None = None) -> None:
        if len(value) > self.max_bytes // 4:
            return
        with self._lock:
            self._pop(key)
            self._data[key] = value
            self._size += len(value)
            if owner is not None:
                self._owner_of[key] = owner
                self._owned.setdefault(owner, set()).add(key)
            while self._size > self.max_bytes and self._data:
                self._pop(next(iter(self._data)))

    def drop_owner(self, owner: str) -> None:
        """Forgets every entry put with ``owner``."""
        with self._lock:
            for key in self._owned.pop(owner, ()):
                self._pop(key)

    def _pop(self, key: str) -> None:
        old = self._data.pop(key, None)
        if old is not None:
            self._size -= len(old)
        owner = self._owner_of.pop(key, None)
        if owner is not None:
            keys = self._owned.get(owner)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._owned[owner]

    @property
    def size(self) -> int:
        """Bytes held."""
        return self._size

    def __len__(self) -> int:
        return len(self._data)


@dataclasses.dataclass
class _Snapshot:
    """Everything the JSON routes need, read at one moment."""

    built: float
    fingerprint: tuple[Any, ...]
    groups: dict[str, RunGroup]
    contents: dict[str, dict[str, metadata.PluginContent | None]]
    sequences: Mapping[str, Mapping[str, Sequence[provider.BlobSequenceDatum]]]
    scalar_tags: dict[str, dict[str, tuple[int, float]]]
    index: dict[str, Any]
    index_bytes: bytes = b""
    index_gzip: bytes = b""
    by_step: dict[tuple[str, str], dict[int, provider.BlobSequenceDatum]] = dataclasses.field(default_factory=dict)

    def datum(self, run: str, tag: str, step: int) -> provider.BlobSequenceDatum | None:
        """The datum of ``step`` of TensorBoard run ``run`` and ``tag``, or ``None``."""
        steps = self.by_step.get((run, tag))
        if steps is None:
            data = self.sequences.get(run, {}).get(tag)
            if data is None:
                return None
            steps = {}
            for d in data:
                steps.setdefault(d.step, d)  # several events at one step: the first, as the providers do
            self.by_step[(run, tag)] = steps
        return steps.get(step)


class _ExperimentState:
    def __init__(self) -> None:
        self.snapshot: _Snapshot | None = None
        self.build_lock = threading.Lock()
        self.refreshing = False
        self.scalars: dict[str, tuple[tuple[Any, ...], dict[str, Any]]] = {}


class FeatureVizReader:
    """Reads featureviz data (and the curves beside it) through a TensorBoard data provider.

    Args:
        data_provider: ``context.data_provider`` of a plugin, or any ``DataProvider``.
        experiment_id: Default experiment id (``""`` for a plain ``--logdir``); every method also
            takes ``experiment_id=`` (what ``plugin_util.experiment_id(environ)`` returns).
        downsample: Maximum steps read per tag; default all (see :func:`downsample_from_hint`).
        fresh_s: Age after which the snapshot is refreshed in the background.
        max_stale_s: Age after which it is rebuilt before answering.
        min_rebuild_s: Minimum age for a synchronous rebuild caused by an unknown run or step.
        blob_cache_bytes: Capacity of the blob cache.
        max_experiments: Experiment ids whose snapshot is kept (least recently used out first).

    Every method takes ``ctx``, a ``tensorboard.context.RequestContext`` (``None`` makes a default
    one), and raises ``tensorboard.errors.NotFoundError`` (unknown run, tag, step, blob) or
    ``tensorboard.errors.InvalidArgumentError`` (bad argument) with a message that lists what exists.
    """

    def __init__(
        self,
        data_provider: provider.DataProvider,
        experiment_id: str = "",
        *,
        downsample: int = DOWNSAMPLE_ALL,
        fresh_s: float = 1.0,
        max_stale_s: float = 60.0,
        min_rebuild_s: float = 0.25,
        blob_cache_bytes: int = 256 * 1024 * 1024,
        max_experiments: int = MAX_EXPERIMENTS,
    ) -> None:
        if data_provider is None:
            raise ValueError("FeatureVizReader needs a data provider. Received: data_provider=None")
        if downsample <= 0:
            raise ValueError(f"downsample must be > 0 (0 reads nothing). Received: downsample={downsample}")
        if max_experiments < 1:
            raise ValueError(f"max_experiments must be >= 1. Received: max_experiments={max_experiments}")
        self.data_provider = data_provider
        self.experiment_id = experiment_id
        self.downsample = downsample
        self.fresh_s = fresh_s
        self.max_stale_s = max(max_stale_s, fresh_s)
        self.min_rebuild_s = min_rebuild_s
        self.blobs = BlobCache(blob_cache_bytes)
        self.max_experiments = max_experiments
        self._damaged: collections.OrderedDict[str, str] = collections.OrderedDict()
        self._damaged_lock = threading.Lock()
        self._states: collections.OrderedDict[str, _ExperimentState] = collections.OrderedDict()
        self._states_lock = threading.Lock()
        self._pool = futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="featureviz-reader")

    # -- public API ---------------------------------------------------------------------------------

    def run_groups(
        self, ctx: tb_context.RequestContext | None = None, *, experiment_id: str | None = None
    ) -> list[RunGroup]:
        """The run groups, sorted by name."""
        snap = self._snapshot(ctx, self._eid(experiment_id))
        return [snap.groups[name] for name in sorted(snap.groups)]

    def index(
        self, ctx: tb_context.RequestContext | None = None, *, experiment_id: str | None = None
    ) -> dict[str, Any]:
        """The ``/index`` document: every run group with its tags, steps, probes and curves.

        Returns:
            ``{"runs": [{"run", "featureviz", "steps", "kinds", "probes", "curves", ...}]}`` as
            documented in ``http_api.md``. Do not mutate it: it is shared by the cache.
        """
        return self._snapshot(ctx, self._eid(experiment_id)).index

    def index_json(
        self,
        ctx: tb_context.RequestContext | None = None,
        *,
        experiment_id: str | None = None,
        gzipped: bool = False,
    ) -> bytes:
        """The ``/index`` document as UTF-8 JSON bytes (gzip-compressed with ``gzipped=True``).

        Serialised once per snapshot, so serving it costs no encoding.
        """
        snap = self._snapshot(ctx, self._eid(experiment_id))
        return snap.index_gzip if gzipped else snap.index_bytes

    def step(
        self,
        ctx: tb_context.RequestContext | None,
        run: str,
        tag: str,
        step: int,
        *,
        experiment_id: str | None = None,
    ) -> dict[str, Any]:
        """One step of a featureviz tag: its JSON record and the URLs of its images.

        Args:
            ctx: Request context.
            run: Run group name (``"exp1"``).
            tag: Featureviz tag (``"activations/conv2d"``).
            step: The epoch.

        Returns:
            ``{"run", "tag", "step", "wall_time", "record", "images": ["blob?key=..."]}``; ``images[i]``
            is element ``i + 1`` of the blob sequence.

        Raises:
            NotFoundError: unknown run, tag or step.
            DamagedBlobError: the record is damaged (not a JSON object); a 404 too.
        """
        ctx = ctx or tb_context.RequestContext()
        eid = self._eid(experiment_id)
        datum = self._find_datum(ctx, eid, run, tag, step)
        record: Any = None
        if datum.values:
            raw = self._read_checked(ctx, datum.values[0].blob_key, 0, eid)
            record = metadata.decode_record(raw)
        return {
            "run": run,
            "tag": tag,
            "step": datum.step,
            "wall_time": datum.wall_time,
            "record": record,
            "images": [blob_url(ref.blob_key) for ref in datum.values[1:]],
        }

    def series(
        self,
        ctx: tb_context.RequestContext | None,
        run: str,
        tag: str,
        index: int,
        *,
        experiment_id: str | None = None,
    ) -> dict[str, Any]:
        """One image of a tag across every step that has it (a filmstrip).

        Args:
            ctx: Request context.
            run: Run group name.
            tag: Featureviz tag.
            index: Image index, ``0`` for element 1 of the blob sequence (as in ``step()["images"]``).

        Returns:
            ``{"run", "tag", "index", "steps": [...], "wall_times": [...], "images": [...]}``.

        Raises:
            InvalidArgumentError: ``index < 0``.
            NotFoundError: unknown run or tag, or no step has image ``index``.
        """
        if index < 0:
            raise errors.InvalidArgumentError(f"index must be >= 0. Received: index={index}")
        ctx = ctx or tb_context.RequestContext()
        eid = self._eid(experiment_id)
        data = self._tag_data(ctx, eid, run, tag)
        chosen = [d for d in data if len(d.values) > index + 1]
        if not chosen:
            most = max((len(d.values) - 1 for d in data), default=0)
            raise errors.NotFoundError(
                f"Run {clip(run)} tag {clip(tag)} has no image index {index}; it has {most} image(s) per step "
                f"(indices 0..{most - 1})."
            )
        return {
            "run": run,
            "tag": tag,
            "index": index,
            "steps": [d.step for d in chosen],
            "wall_times": [d.wall_time for d in chosen],
            "images": [blob_url(d.values[index + 1].blob_key) for d in chosen],
        }

    def blob(self, ctx: tb_context.RequestContext | None, key: str, *, experiment_id: str | None = None) -> bytes:
        """The bytes of one blob (a PNG, or the JSON record of element 0), checked.

        The key is decoded (:func:`decode_blob_key`) and must name, field by field, a blob of this
        experiment's snapshot (its experiment id, run, tag, step and index, and the very key the
        provider listed) before the data provider is asked for it. The bytes are checked once and
        cached: an image must be a PNG that decodes, element 0 a JSON object.

        Args:
            ctx: Request context.
            key: A key from a ``blob?key=...`` URL of the JSON documents.
            experiment_id: The experiment of the request (default the reader's).

        Raises:
            NotFoundError: the key is malformed or names no blob of this experiment (either provider).
            DamagedBlobError: the blob exists but its bytes are damaged (a ``NotFoundError`` too).
        """
        ctx = ctx or tb_context.RequestContext()
        eid = self._eid(experiment_id)
        if not isinstance(key, str) or not _BLOB_KEY_RE.fullmatch(key):
            raise errors.NotFoundError(f"Malformed blob key {clip(str(key))}.")
        addr = decode_blob_key(key)
        if addr is None:
            raise errors.NotFoundError(f"No blob with key {clip(key)}: not a key of a featureviz blob.")
        if addr.experiment_id != eid:
            raise errors.NotFoundError(f"No blob with key {clip(key)}: it is not a key of this experiment.")
        cached = self.blobs.get(key)
        if cached is not None:
            return cached
        problem: str | None = None
        for attempt in range(2):  # the key may name a step written since the snapshot: rebuild once
            snap = self._snapshot(ctx, eid, rebuild_older_than=self.min_rebuild_s if attempt else None)
            problem = _address_problem(snap, addr, key)
            if problem is None:
                return self._read_checked(ctx, key, addr.index, eid)
        raise errors.NotFoundError(f"No blob with key {clip(key)}: {problem}.")

    def scalars(
        self, ctx: tb_context.RequestContext | None, run: str, *, experiment_id: str | None = None
    ) -> dict[str, Any]:
        """Loss and metric curves of a run group, plus the dead-channel fraction per layer.

        Curves come from Keras' ``<run>/train`` and ``<run>/validation`` (``source="keras"``) when
        either has ``epoch_*`` scalars, else from the ``epoch_*`` / ``epoch_val_*`` scalars of
        ``<run>/featureviz`` (``source="featureviz"``); ``source`` is ``null`` when there are none.

        Returns:
            ``{"run", "source", "series": [{"metric", "split", "points": [[step, wall_time, value]]}],
            "health": [{"layer", "points"}]}``, series sorted by metric then split.

        Raises:
            NotFoundError: unknown run.
        """
        ctx = ctx or tb_context.RequestContext()
        eid = self._eid(experiment_id)
        snap = self._snapshot(ctx, eid)
        group = snap.groups.get(run)
        if group is None:
            snap = self._snapshot(ctx, eid, rebuild_older_than=self.min_rebuild_s)
            group = self._group_or_404(snap, run)
        tb_runs = [r for r in (group.featureviz, group.train, group.validation) if r]
        fingerprint = tuple((r, tuple(sorted(snap.scalar_tags.get(r, {}).items()))) for r in tb_runs)
        state = self._state(eid)
        cached = state.scalars.get(run)
        if cached is not None and cached[0] == fingerprint:
            return cached[1]
        data: Mapping[str, Mapping[str, Sequence[provider.ScalarDatum]]] = {}
        if any(snap.scalar_tags.get(r) for r in tb_runs):
            data = self.data_provider.read_scalars(
                ctx,
                experiment_id=eid,
                plugin_name=SCALARS_PLUGIN,
                downsample=DOWNSAMPLE_ALL,
                run_tag_filter=provider.RunTagFilter(runs=tb_runs),
            )
        doc = _scalars_doc(run, group, data)
        state.scalars[run] = (fingerprint, doc)
        return doc

    def close(self) -> None:
        """Stops the background refresh workers."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- snapshot -----------------------------------------------------------------------------------

    def _eid(self, experiment_id: str | None) -> str:
        return self.experiment_id if experiment_id is None else experiment_id

    def _state(self, eid: str) -> _ExperimentState:
        with self._states_lock:
            state = self._states.get(eid)
            if state is None:
                state = self._states[eid] = _ExperimentState()
                while len(self._states) > self.max_experiments:
                    forgotten, _ = self._states.popitem(last=False)
                    self.blobs.drop_owner(forgotten)
            else:
                self._states.move_to_end(eid)
            return state

    @property
    def experiments_cached(self) -> int:
        """How many experiment ids have a state (at most ``max_experiments``)."""
        return len(self._states)

    def _snapshot(
        self, ctx: tb_context.RequestContext | None, eid: str, *, rebuild_older_than: float | None = None
    ) -> _Snapshot:
        ctx = ctx or tb_context.RequestContext()
        state = self._state(eid)
        snap = state.snapshot
        now = time.monotonic()
        limit = self.max_stale_s if rebuild_older_than is None else rebuild_older_than
        if snap is None or now - snap.built > limit:
            with state.build_lock:
                snap = state.snapshot
                if snap is None or time.monotonic() - snap.built > limit:
                    snap = self._build(ctx, eid, snap)
                    state.snapshot = snap
            return snap
        if now - snap.built > self.fresh_s and not state.refreshing:
            state.refreshing = True
            try:
                self._pool.submit(self._refresh_in_background, ctx, eid, state)
            except RuntimeError:  # pool shut down
                state.refreshing = False
        return snap

    def _refresh_in_background(self, ctx: tb_context.RequestContext, eid: str, state: _ExperimentState) -> None:
        try:
            with state.build_lock:
                if state.snapshot is None or time.monotonic() - state.snapshot.built > self.fresh_s:
                    state.snapshot = self._build(ctx, eid, state.snapshot)
        except Exception:  # a failed refresh keeps the old snapshot; the next request retries
            logger.warning("featureviz: background refresh failed", exc_info=True)
        finally:
            state.refreshing = False

    def _build(self, ctx: tb_context.RequestContext, eid: str, previous: _Snapshot | None) -> _Snapshot:
        listed_blobs_f = self._pool.submit(
            self.data_provider.list_blob_sequences, ctx, experiment_id=eid, plugin_name=metadata.PLUGIN_NAME
        )
        listed_scalars = self.data_provider.list_scalars(ctx, experiment_id=eid, plugin_name=SCALARS_PLUGIN)
        listed_blobs = listed_blobs_f.result()
        scalar_tags = {
            run: {tag: (ts.max_step, ts.max_wall_time) for tag, ts in tags.items()}
            for run, tags in listed_scalars.items()
        }
        fingerprint = (
            tuple(
                sorted(
                    (run, tag, ts.max_step, ts.max_wall_time, ts.max_length)
                    for run, tags in listed_blobs.items()
                    for tag, ts in tags.items()
                )
            ),
            tuple(sorted((run, tag, v) for run, tags in scalar_tags.items() for tag, v in tags.items())),
        )
        if previous is not None and previous.fingerprint == fingerprint:
            return dataclasses.replace(previous, built=time.monotonic())

        contents: dict[str, dict[str, metadata.PluginContent | None]] = {}
        for run, tags in listed_blobs.items():
            for tag, ts in tags.items():
                try:
                    parsed: metadata.PluginContent | None = metadata.parse_plugin_metadata(ts.plugin_content)
                except ValueError:
                    logger.warning("featureviz: ignoring run %r tag %r with unreadable metadata", run, tag)
                    parsed = None
                contents.setdefault(run, {})[tag] = parsed
        sequences: Mapping[str, Mapping[str, Sequence[provider.BlobSequenceDatum]]] = {}
        if listed_blobs:
            sequences = self.data_provider.read_blob_sequences(
                ctx,
                experiment_id=eid,
                plugin_name=metadata.PLUGIN_NAME,
                downsample=self.downsample,
                run_tag_filter=provider.RunTagFilter(runs=sorted(listed_blobs)),
            )
        groups = _group_runs(listed_blobs, scalar_tags)
        snap = _Snapshot(
            built=time.monotonic(),
            fingerprint=fingerprint,
            groups=groups,
            contents=contents,
            sequences=sequences,
            scalar_tags=scalar_tags,
            index={},
        )
        snap.index = self._build_index(ctx, eid, snap)
        snap.index_bytes = json.dumps(snap.index, allow_nan=False, separators=(",", ":")).encode("utf-8")
        snap.index_gzip = gzip.compress(snap.index_bytes, compresslevel=6, mtime=0)
        return snap

    def _build_index(self, ctx: tb_context.RequestContext, eid: str, snap: _Snapshot) -> dict[str, Any]:
        # Records shown in the index (probes, run_info): fetch them concurrently, through the cache.
        wanted: dict[tuple[str, str], str] = {}
        for name, group in snap.groups.items():
            for tag in ("probes", "run_info"):
                data = snap.sequences.get(group.featureviz or "", {}).get(tag)
                if data and data[0].values:
                    wanted[(name, tag)] = data[0].values[0].blob_key
        records = dict(
            zip(wanted, self._map(lambda k: self._record_or_none(ctx, k, eid), list(wanted.values())), strict=True)
        )
        runs = []
        for name in sorted(snap.groups):
            runs.append(_index_entry(snap, snap.groups[name], records))
        return {"runs": runs}

    def _map(self, fn: Callable[[str], _T], items: list[str]) -> list[_T]:
        if len(items) <= 1:
            return [fn(i) for i in items]
        return list(self._pool.map(fn, items))

    def _record_or_none(self, ctx: tb_context.RequestContext, key: str, eid: str) -> dict[str, Any] | None:
        try:
            return metadata.decode_record(self._read_checked(ctx, key, 0, eid))
        except (errors.PublicError, ValueError):
            logger.warning("featureviz: unreadable record blob %r", key)
            return None

    # -- lookups ------------------------------------------------------------------------------------

    def _group_or_404(self, snap: _Snapshot, run: str) -> RunGroup:
        group = snap.groups.get(run)
        if group is None:
            raise errors.NotFoundError(f"Unknown run {clip(run)}. Existing runs: {sample(sorted(snap.groups))}")
        return group

    def _tag_data(
        self, ctx: tb_context.RequestContext, eid: str, run: str, tag: str
    ) -> Sequence[provider.BlobSequenceDatum]:
        for attempt in range(2):
            snap = self._snapshot(ctx, eid, rebuild_older_than=self.min_rebuild_s if attempt else None)
            group = snap.groups.get(run)
            tags = snap.sequences.get(group.featureviz or "", {}) if group else {}
            if tag in tags:
                return tags[tag]
            if attempt:
                group = self._group_or_404(snap, run)
                raise errors.NotFoundError(
                    f"Run {clip(run)} has no featureviz tag {clip(tag)}. Existing tags: {sample(sorted(tags))}"
                )
        raise AssertionError("unreachable")

    def _find_datum(
        self, ctx: tb_context.RequestContext, eid: str, run: str, tag: str, step: int
    ) -> provider.BlobSequenceDatum:
        data = self._tag_data(ctx, eid, run, tag)
        for attempt in range(2):
            for datum in data:
                if datum.step == step:
                    return datum
            if attempt == 0:  # maybe written since the snapshot: rebuild once
                self._snapshot(ctx, eid, rebuild_older_than=self.min_rebuild_s)
                data = self._tag_data(ctx, eid, run, tag)
        raise errors.NotFoundError(
            f"Run {clip(run)} tag {clip(tag)} has no step {step}. Existing steps: {sample(d.step for d in data)}"
        )

    def _read_checked(self, ctx: tb_context.RequestContext, key: str, index: int, eid: str) -> bytes:
        """Reads a blob the snapshot lists (element ``index`` of its sequence) and checks its bytes.

        Checked bytes are cached (owned by experiment ``eid``: forgotten with it), and so is the verdict
        on damaged ones.

        Raises:
            NotFoundError: the provider does not have it.
            DamagedBlobError: an image that is not a PNG that decodes, or a record that is not JSON.
        """
        cached = self.blobs.get(key)
        if cached is not None:
            return cached
        with self._damaged_lock:
            reason = self._damaged.get(key)
        what = "record" if index == 0 else "image"
        if reason is not None:
            raise DamagedBlobError(key, reason, what)
        try:
            data = bytes(self.data_provider.read_blob(ctx, blob_key=key))
        except Exception as e:  # malformed or unknown keys fail differently in each provider
            raise errors.NotFoundError(f"No blob with key {clip(key)}.") from e
        reason = record_problem(data) if index == 0 else png_problem(data)
        if reason is not None:
            with self._damaged_lock:
                self._damaged[key] = reason
                while len(self._damaged) > _MAX_DAMAGED:
                    self._damaged.popitem(last=False)
            logger.warning("featureviz: damaged %s in the event files (%s), key %s", what, reason, key[:200])
            raise DamagedBlobError(key, reason, what)
        self.blobs.put(key, data, owner=eid)
        return data


# -- pure helpers (no provider calls) ------------------------------------------------------------------


def _address_problem(snap: _Snapshot, addr: BlobAddress, key: str) -> str | None:
    """Why ``addr`` (decoded from ``key``) names no blob of ``snap``, or ``None`` when it names one."""
    tags = snap.sequences.get(addr.run)
    if tags is None:
        return f"no featureviz run {clip(addr.run)}"
    if addr.tag not in tags:
        return f"run {clip(addr.run)} has no featureviz tag {clip(addr.tag)}"
    datum = snap.datum(addr.run, addr.tag, addr.step)
    if datum is None:
        return f"run {clip(addr.run)} tag {clip(addr.tag)} has no step {addr.step}"
    if addr.index >= len(datum.values):
        return f"step {addr.step} of tag {clip(addr.tag)} has {len(datum.values)} blob(s), not index {addr.index}"
    if datum.values[addr.index].blob_key != key:
        return "not the key of that blob"
    return None


def _group_runs(
    listed_blobs: Mapping[str, Mapping[str, Any]], scalar_tags: Mapping[str, Mapping[str, Any]]
) -> dict[str, RunGroup]:
    fields: dict[str, dict[str, str]] = {}
    for run in listed_blobs:
        group, sub = split_run(run)
        if sub == metadata.RUN_SUBDIR:
            fields.setdefault(group, {})["featureviz"] = run
    for run, tags in scalar_tags.items():
        group, sub = split_run(run)
        if sub in KERAS_SPLITS and any(t.startswith("epoch_") for t in tags):
            fields.setdefault(group, {})[sub] = run
    return {name: RunGroup(name=name, **f) for name, f in fields.items()}


def _natural_key(text: str) -> list[Any]:
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", text)]


def _curve_metrics(group: RunGroup, scalar_tags: Mapping[str, Mapping[str, Any]]) -> tuple[str | None, list[str]]:
    metrics: set[str] = set()
    for run in (group.train, group.validation):
        metrics.update(t[len("epoch_") :] for t in scalar_tags.get(run or "", {}) if t.startswith("epoch_"))
    if metrics:
        return "keras", sorted(metrics)
    for tag in scalar_tags.get(group.featureviz or "", {}):
        if tag.startswith("epoch_val_"):
            metrics.add(tag[len("epoch_val_") :])
        elif tag.startswith("epoch_"):
            metrics.add(tag[len("epoch_") :])
    return ("featureviz" if metrics else None), sorted(metrics)


def _index_entry(
    snap: _Snapshot, group: RunGroup, records: Mapping[tuple[str, str], dict[str, Any] | None]
) -> dict[str, Any]:
    seqs = snap.sequences.get(group.featureviz or "", {})
    contents = snap.contents.get(group.featureviz or "", {})
    kinds: dict[str, list[dict[str, Any]]] = {kind: [] for kind in GRID_KINDS}
    all_steps: set[int] = set()
    max_wall_time: float | None = None
    for tag in sorted(seqs, key=_natural_key):
        data = seqs[tag]
        steps = [d.step for d in data]
        all_steps.update(steps)
        if data:
            wt = max(d.wall_time for d in data)
            max_wall_time = wt if max_wall_time is None else max(max_wall_time, wt)
        content = contents.get(tag)
        if content is None or content.kind not in kinds:
            continue
        kinds[content.kind].append(
            {
                "tag": tag,
                "layer": content.layer,
                "steps": steps,
                "images": max((len(d.values) - 1 for d in data), default=0),
                "layout": content.layout.to_json() if content.layout else None,
                "extra": content.extra,
            }
        )
    # Model order where the callback recorded it (run_info "layers"), natural tag order otherwise.
    model_order = (records.get((group.name, "run_info")) or {}).get("layers")
    if isinstance(model_order, list) and model_order:
        rank = {str(name): i for i, name in enumerate(model_order)}
        for entries in kinds.values():
            entries.sort(key=lambda e: rank.get(str(e["layer"]), len(rank)))  # stable: unknown layers keep order
    probes: dict[str, Any] | None = None
    probe_data = seqs.get("probes")
    if probe_data:
        rec = records.get((group.name, "probes")) or {}
        first = probe_data[0]
        probes = {
            "count": len(first.values) - 1,
            "labels": rec.get("labels"),
            "class_names": rec.get("class_names"),
            "step": first.step,
            "images": [blob_url(ref.blob_key) for ref in first.values[1:]],
        }
    source, curves = _curve_metrics(group, snap.scalar_tags)
    return {
        "run": group.name,
        "featureviz": group.featureviz is not None,
        "steps": sorted(all_steps),
        "max_wall_time": max_wall_time,
        "kinds": kinds,
        "probes": probes,
        "run_info": records.get((group.name, "run_info")),
        "curves": curves,
        "curve_source": source,
        "tb_runs": {"featureviz": group.featureviz, "train": group.train, "validation": group.validation},
    }


def _points(data: Sequence[provider.ScalarDatum]) -> list[list[float]]:
    return [[d.step, d.wall_time, float(d.value)] for d in data]


def _scalars_doc(
    run: str, group: RunGroup, data: Mapping[str, Mapping[str, Sequence[provider.ScalarDatum]]]
) -> dict[str, Any]:
    series: list[dict[str, Any]] = []
    for split, tb_run in (("train", group.train), ("validation", group.validation)):
        for tag, points in (data.get(tb_run) or {}).items() if tb_run else ():
            if tag.startswith("epoch_"):
                series.append({"metric": tag[len("epoch_") :], "split": split, "points": _points(points)})
    source: str | None = "keras" if series else None
    fv = data.get(group.featureviz or "") or {}
    if not series:
        for tag, points in fv.items():
            if tag.startswith("epoch_val_"):
                series.append({"metric": tag[len("epoch_val_") :], "split": "validation", "points": _points(points)})
            elif tag.startswith("epoch_"):
                series.append({"metric": tag[len("epoch_") :], "split": "train", "points": _points(points)})
        source = "featureviz" if series else None
    series.sort(key=lambda s: (s["metric"], KERAS_SPLITS.index(s["split"])))
    prefix = "health/dead_fraction/"
    health = [
        {"layer": tag[len(prefix) :], "points": _points(points)}
        for tag, points in sorted(fv.items(), key=lambda kv: _natural_key(kv[0]))
        if tag.startswith(prefix)
    ]
    return {"run": run, "source": source, "series": series, "health": health}


# -- offline use ---------------------------------------------------------------------------------------


def _wait_until_loaded(dp: provider.DataProvider, timeout_s: float) -> None:
    """Polls a data provider until two successive listings agree and are not empty (or timeout)."""
    ctx = tb_context.RequestContext()
    deadline = time.monotonic() + timeout_s
    previous: Any = None
    while time.monotonic() < deadline:
        listing = (
            {
                r: {t: ts.max_step for t, ts in tags.items()}
                for r, tags in dp.list_blob_sequences(ctx, experiment_id="", plugin_name=metadata.PLUGIN_NAME).items()
            },
            {
                r: {t: ts.max_step for t, ts in tags.items()}
                for r, tags in dp.list_scalars(ctx, experiment_id="", plugin_name=SCALARS_PLUGIN).items()
            },
        )
        if listing == previous and (listing[0] or listing[1]):
            return
        previous = listing
        time.sleep(0.2)
    logger.warning("featureviz: the data server was still loading after %.0f s", timeout_s)


@contextlib.contextmanager
def open_logdir(
    logdir: str,
    load_fast: bool = False,
    *,
    samples_per_plugin: Mapping[str, int] | None = None,
    timeout_s: float = 60.0,
    **reader_kwargs: Any,
) -> Iterator[FeatureVizReader]:
    """Opens a logdir for reading without a TensorBoard server (for exports and scripts).

    Args:
        logdir: The log directory (as passed to ``tensorboard --logdir``).
        load_fast: ``False``: TensorBoard's Python loader, loaded fully before returning. ``True``: the
            Rust data server (``tensorboard-data-server``) in a subprocess, stopped on exit; raises
            ``tensorboard.data.server_ingester.NoDataServerError`` where it is not installed.
        samples_per_plugin: Per-plugin sampling, as ``--samples_per_plugin``; featureviz keeps every
            step by default.
        timeout_s: With ``load_fast``, how long to wait for the data server to finish loading.
        **reader_kwargs: Passed to :class:`FeatureVizReader`.

    Yields:
        A :class:`FeatureVizReader`; call its methods with ``ctx=None``.
    """
    samples = {metadata.PLUGIN_NAME: 0, **(samples_per_plugin or {})}
    if not load_fast:
        from tensorboard.backend.event_processing import data_provider as mux_provider
        from tensorboard.backend.event_processing import plugin_event_multiplexer

        multiplexer = plugin_event_multiplexer.EventMultiplexer(tensor_size_guidance=dict(samples))
        multiplexer.AddRunsFromDirectory(logdir)
        multiplexer.Reload()
        reader = FeatureVizReader(mux_provider.MultiplexerDataProvider(multiplexer, logdir), **reader_kwargs)
        try:
            yield reader
        finally:
            reader.close()
        return

    from tensorboard.data import server_ingester
    from tensorboard.util import grpc_util

    ingester = server_ingester.SubprocessServerDataIngester(
        server_binary=server_ingester.get_server_binary(),
        logdir=logdir,
        reload_interval=0,
        channel_creds_type=grpc_util.ChannelCredsType.LOCAL,
        samples_per_plugin=dict(samples),
    )
    ingester.start()
    reader = FeatureVizReader(ingester.data_provider, **reader_kwargs)
    try:
        _wait_until_loaded(ingester.data_provider, timeout_s)
        yield reader
    finally:
        reader.close()
        stdin = getattr(ingester, "_stdin_handle", None)
        if stdin is not None:  # the server runs with --die-after-stdin
            stdin.close()
