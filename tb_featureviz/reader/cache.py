"""The reader's caches: blob bytes (LRU, bounded in bytes) and per-experiment snapshots.

Both loaders must answer fast: every list/read call of the Rust data server costs ~44 ms,
``read_blob`` ~0.7 ms.

* Blob bytes are immutable (a written step never changes): :class:`BlobCache` keeps them, bounded by
  their total size, each entry owned by the experiment it was read for.
* A :class:`Snapshot` is everything the JSON documents need (runs, tags, every blob key of every step,
  the index) read at one moment. :class:`SnapshotCache` keeps one per experiment id, for the
  ``max_experiments`` most recently used ids, and rebuilds it stale-while-revalidate: a request that
  finds it older than ``fresh_s`` gets the cached one at once and starts one background refresh; one
  older than ``max_stale_s`` is rebuilt before answering. Callers may ask for a synchronous rebuild of a
  snapshot older than a given age (a run or step it lacks may have been written since).
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent import futures
from typing import Any

from tensorboard import context as tb_context
from tensorboard.data import provider

from tb_featureviz import metadata
from tb_featureviz.reader.documents import RunGroup
from tb_featureviz.reader.integrity import clip
from tb_featureviz.reader.keys import BlobAddress
from tb_featureviz.validation import non_negative_int, positive_int

logger = logging.getLogger(__name__)

__all__ = ["BlobCache", "Snapshot", "SnapshotCache"]


class BlobCache:
    """A thread-safe LRU cache of blob bytes, bounded by their total size.

    Each entry may name an *owner* (the experiment id the key belongs to): :meth:`drop_owner` forgets
    an owner's entries at once, when the reader forgets that experiment.

    Args:
        max_bytes: Capacity; a single blob larger than a quarter of it is never cached.
    """

    def __init__(self, max_bytes: int = 256 * 1024 * 1024) -> None:
        self.max_bytes = non_negative_int("max_bytes", max_bytes)
        self._data: collections.OrderedDict[str, bytes] = collections.OrderedDict()
        self._owner_of: dict[str, str] = {}
        self._owned: dict[str, set[str]] = {}
        self._size = 0
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        """The bytes cached for ``key`` (now the most recently used), or ``None``."""
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key: str, value: bytes, owner: str | None = None) -> None:
        """Caches ``value`` (unless it is too large), evicting the least recently used entries."""
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
class Snapshot:
    """Everything the JSON documents need, read at one moment.

    Attributes:
        built: ``time.monotonic()`` when it was read (or found unchanged).
        fingerprint: The cheap ``list_*`` answers it was read from; equal fingerprints, equal data.
        groups: The run groups by name.
        contents: The parsed plugin metadata by TensorBoard run and tag (``None``: unreadable).
        sequences: The blob sequences by TensorBoard run and tag.
        scalar_tags: ``(max_step, max_wall_time)`` of each scalar tag, by TensorBoard run.
        index: The ``/index`` document (with :class:`~tb_featureviz.reader.keys.BlobKey` references).
        index_bytes: ``index`` encoded as JSON by the reader's ``blob_ref``.
        index_gzip: ``index_bytes`` gzip-compressed.
    """

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

    @staticmethod
    def fingerprint_of(
        listed_blobs: Mapping[str, Mapping[str, provider.BlobSequenceTimeSeries]],
        scalar_tags: Mapping[str, Mapping[str, tuple[int, float]]],
    ) -> tuple[Any, ...]:
        """The fingerprint of a blob listing and the scalar tags (``(max_step, max_wall_time)``) beside it."""
        return (
            tuple(
                sorted(
                    (run, tag, ts.max_step, ts.max_wall_time, ts.max_length)
                    for run, tags in listed_blobs.items()
                    for tag, ts in tags.items()
                )
            ),
            tuple(sorted((run, tag, v) for run, tags in scalar_tags.items() for tag, v in tags.items())),
        )

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

    def address_problem(self, addr: BlobAddress, key: str) -> str | None:
        """Why ``addr`` (decoded from ``key``) names no blob of this snapshot, or ``None`` when it names one."""
        tags = self.sequences.get(addr.run)
        if tags is None:
            return f"no featureviz run {clip(addr.run)}"
        if addr.tag not in tags:
            return f"run {clip(addr.run)} has no featureviz tag {clip(addr.tag)}"
        datum = self.datum(addr.run, addr.tag, addr.step)
        if datum is None:
            return f"run {clip(addr.run)} tag {clip(addr.tag)} has no step {addr.step}"
        if addr.index >= len(datum.values):
            return f"step {addr.step} of tag {clip(addr.tag)} has {len(datum.values)} blob(s), not index {addr.index}"
        if datum.values[addr.index].blob_key != key:
            return "not the key of that blob"
        return None


class ExperimentState:
    """The cached state of one experiment id: its snapshot and its ``/scalars`` documents."""

    def __init__(self) -> None:
        self.snapshot: Snapshot | None = None
        self.build_lock = threading.Lock()
        self.refreshing = False
        # run -> (fingerprint, document): a document is reused while its fingerprint holds.
        self.scalars: dict[str, tuple[tuple[Any, ...], dict[str, Any]]] = {}


SnapshotBuilder = Callable[[tb_context.RequestContext, str, "Snapshot | None"], Snapshot]
"""``build(ctx, experiment_id, previous)``: reads a new snapshot (or returns ``previous`` refreshed)."""


class SnapshotCache:
    """Per-experiment snapshots, rebuilt stale-while-revalidate (see the module docstring).

    Args:
        build: Reads a snapshot; see :data:`SnapshotBuilder`.
        pool: Runs the background refreshes.
        fresh_s: Age after which a snapshot is refreshed in the background.
        max_stale_s: Age after which it is rebuilt before answering (at least ``fresh_s``).
        max_experiments: Experiment ids whose state is kept (least recently used out first).
        on_forget: Called with an experiment id when its state is forgotten.
    """

    def __init__(
        self,
        build: SnapshotBuilder,
        pool: futures.Executor,
        *,
        fresh_s: float,
        max_stale_s: float,
        max_experiments: int,
        on_forget: Callable[[str], None] = lambda eid: None,
    ) -> None:
        self._build = build
        self._pool = pool
        self.fresh_s = fresh_s
        self.max_stale_s = max(max_stale_s, fresh_s)
        self.max_experiments = positive_int("max_experiments", max_experiments)
        self._on_forget = on_forget
        self._states: collections.OrderedDict[str, ExperimentState] = collections.OrderedDict()
        self._states_lock = threading.Lock()

    def state(self, eid: str) -> ExperimentState:
        """The state of experiment ``eid`` (made, and the oldest forgotten, when new)."""
        with self._states_lock:
            state = self._states.get(eid)
            if state is None:
                state = self._states[eid] = ExperimentState()
                while len(self._states) > self.max_experiments:
                    forgotten, _ = self._states.popitem(last=False)
                    self._on_forget(forgotten)
            else:
                self._states.move_to_end(eid)
            return state

    def __len__(self) -> int:
        return len(self._states)

    def get(self, ctx: tb_context.RequestContext, eid: str, *, rebuild_older_than: float | None = None) -> Snapshot:
        """The snapshot of ``eid``, rebuilt first when older than ``rebuild_older_than`` (default
        ``max_stale_s``); one older than ``fresh_s`` is answered and refreshed in the background."""
        state = self.state(eid)
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

    def _refresh_in_background(self, ctx: tb_context.RequestContext, eid: str, state: ExperimentState) -> None:
        try:
            with state.build_lock:
                if state.snapshot is None or time.monotonic() - state.snapshot.built > self.fresh_s:
                    state.snapshot = self._build(ctx, eid, state.snapshot)
        except Exception:  # a failed refresh keeps the old snapshot; the next request retries
            logger.warning("featureviz: background refresh failed", exc_info=True)
        finally:
            state.refreshing = False
