"""The reader's caches, each bounded in bytes: blob bytes, ``/scalars`` documents and per-experiment snapshots.

Both loaders must answer fast: every list/read call of the Rust data server costs ~44 ms,
``read_blob`` ~0.7 ms.

* Blob bytes are immutable (a written step never changes): :class:`BlobCache` keeps them, bounded by
  their total size, each entry owned by the experiment it was read for. :class:`ByteLRU` is the cache
  under it, and under each experiment's ``/scalars`` documents.
* A :class:`Snapshot` is everything the JSON documents need (runs, tags, the blob keys of every step of
  the runs read in full, the index) read at one moment. A logdir of at most :data:`DETAIL_RUNS`
  featureviz runs is read in full; a larger sweep is *listed* from what the data provider already knows
  (tags and their last step), and only the runs asked for lately (:meth:`ExperimentState.want`) are read
  in full, so listing 1,000 runs never reads every step of every run and the snapshot stays small.
* :class:`SnapshotCache` keeps one snapshot per experiment id, for the ``max_experiments`` most
  recently used ids, and rebuilds it stale-while-revalidate: a request that finds it older than
  ``fresh_s`` (or ten times its last build, for a large sweep) gets the cached one at once and starts one
  background refresh, however old it is (the
  first request after an idle hour is answered at once; ``max_stale_s`` can bound that). Callers may ask
  for a synchronous rebuild of a snapshot older than a given age (a run or step it lacks may have been
  written since), or of one that lacks a run they need in full.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import math
import threading
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from concurrent import futures
from typing import Generic, TypeVar

from tensorboard import context as tb_context
from tensorboard.data import provider

from tb_featureviz import metadata
from tb_featureviz.metadata import Record
from tb_featureviz.reader.documents import RunGroup
from tb_featureviz.reader.integrity import clip
from tb_featureviz.reader.keys import BlobAddress
from tb_featureviz.validation import non_negative_int, positive_int

logger = logging.getLogger(__name__)

__all__ = [
    "BlobCache",
    "ByteLRU",
    "EntryKey",
    "Fingerprint",
    "RunFingerprint",
    "ScalarsEntry",
    "Snapshot",
    "SnapshotCache",
]

Fingerprint = tuple[Hashable, ...]
"""The cheap ``list_*`` answers a cached document was built from, compared for equality only: equal
fingerprints, equal data."""

RunFingerprint = tuple[tuple[str, int, float, int], ...]
"""A TensorBoard run's blob listing: ``(tag, max_step, max_wall_time, max_length)`` of each tag, sorted."""

EntryKey = tuple[RunFingerprint | None, tuple[tuple[str, tuple[str, ...]], ...]]
"""What a run group's index entry was built from: its featureviz run's listing, and the scalar tags of each of
its TensorBoard runs."""

_V = TypeVar("_V")


class ByteLRU(Generic[_V]):
    """A thread-safe LRU cache bounded by the total size of its values, not by their number.

    Each entry may name an *owner* (the experiment id the key belongs to): :meth:`drop_owner` forgets
    an owner's entries at once, when the reader forgets that experiment.

    Args:
        max_bytes: Capacity; a single value larger than a quarter of it is never cached.
        size_of: The size of a value in bytes (``len`` by default, right for ``bytes``).

    Example:
        >>> cache = ByteLRU(max_bytes=16)
        >>> for key in "abcde": cache.put(key, b"1234")  # 20 bytes: "a", the least recently used, goes
        >>> cache.get("a") is None, cache.get("e"), cache.size
        (True, b'1234', 16)
    """

    def __init__(self, max_bytes: int, size_of: Callable[[_V], int] = len) -> None:  # type: ignore[assignment]
        self.max_bytes = non_negative_int("max_bytes", max_bytes)
        self._size_of = size_of
        self._data: collections.OrderedDict[str, tuple[_V, int]] = collections.OrderedDict()
        self._owner_of: dict[str, str] = {}
        self._owned: dict[str, set[str]] = {}
        self._size = 0
        self._lock = threading.Lock()

    def get(self, key: str) -> _V | None:
        """The value cached for ``key`` (now the most recently used), or ``None``."""
        with self._lock:
            entry = self._data.get(key)
            if entry is None:
                return None
            self._data.move_to_end(key)
            return entry[0]

    def put(self, key: str, value: _V, owner: str | None = None) -> None:
        """Caches ``value`` (unless it is too large), evicting the least recently used entries."""
        size = int(self._size_of(value))
        with self._lock:
            self._pop(key)
            if size > self.max_bytes // 4:
                return
            self._data[key] = (value, size)
            self._size += size
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
            self._size -= old[1]
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


class BlobCache(ByteLRU[bytes]):
    """The blob bytes a reader has checked: a :class:`ByteLRU` of ``bytes``.

    Args:
        max_bytes: Capacity; a single blob larger than a quarter of it is never cached.
    """

    def __init__(self, max_bytes: int = 64 * 1024 * 1024) -> None:
        super().__init__(max_bytes)


@dataclasses.dataclass
class Snapshot:
    """Everything the JSON documents need, read at one moment.

    Attributes:
        built: ``time.monotonic()`` when it was read (or found unchanged).
        fingerprint: The cheap ``list_*`` answers it was read from; equal fingerprints, equal data.
        groups: The run groups by name.
        contents: The parsed plugin metadata by TensorBoard run and tag (``None``: unreadable).
        sequences: The blob sequences by TensorBoard run and tag, of the runs read in full (every run of a
            logdir of at most ``detail_runs`` featureviz runs; otherwise the ones asked for lately).
        partial: The featureviz TensorBoard runs listed but not read (their index entries are ``partial``).
        run_fingerprints: The listing of each featureviz TensorBoard run (tags, ``max_step``,
            ``max_wall_time``, ``max_length``): a run whose listing is unchanged keeps its sequences.
        entries: Each run group's index entry with the key it was built from, reused while the key holds.
        scalar_tags: ``(max_step, max_wall_time)`` of each scalar tag, by TensorBoard run.
        index: The ``/index`` document (with :class:`~tb_featureviz.reader.keys.BlobKey` references).
        index_bytes: ``index`` encoded as JSON by the reader's ``blob_ref``.
        index_gzip: ``index_bytes`` gzip-compressed.
        index_etag: A strong HTTP entity tag of ``index_bytes`` (quoted).
    """

    built: float
    fingerprint: Fingerprint
    groups: dict[str, RunGroup]
    contents: dict[str, dict[str, metadata.PluginContent | None]]
    sequences: Mapping[str, Mapping[str, Sequence[provider.BlobSequenceDatum]]]
    scalar_tags: dict[str, dict[str, tuple[int, float]]]
    index: Record
    index_bytes: bytes = b""
    index_gzip: bytes = b""
    index_etag: str = ""
    partial: frozenset[str] = frozenset()
    run_fingerprints: dict[str, RunFingerprint] = dataclasses.field(default_factory=dict)
    entries: dict[str, tuple[EntryKey, Record]] = dataclasses.field(default_factory=dict)
    by_step: dict[tuple[str, str], dict[int, provider.BlobSequenceDatum]] = dataclasses.field(default_factory=dict)

    @staticmethod
    def fingerprint_of(
        listed_blobs: Mapping[str, Mapping[str, provider.BlobSequenceTimeSeries]],
        scalar_tags: Mapping[str, Mapping[str, tuple[int, float]]],
    ) -> Fingerprint:
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

    @staticmethod
    def run_fingerprints_of(
        listed_blobs: Mapping[str, Mapping[str, provider.BlobSequenceTimeSeries]],
    ) -> dict[str, RunFingerprint]:
        """Each TensorBoard run's part of the blob listing: equal parts, equal blob sequences."""
        return {
            run: tuple(sorted((tag, ts.max_step, ts.max_wall_time, ts.max_length) for tag, ts in tags.items()))
            for run, tags in listed_blobs.items()
        }

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


DETAIL_RUNS = 64
"""Featureviz runs a snapshot reads in full: all of a logdir with at most this many, else the ones asked
for lately (the dashboard asks for the runs it shows). Listing a larger sweep needs only the listing."""

REFRESH_COST_FACTOR = 10.0
"""A snapshot is refreshed at most once per this many times its last build's duration."""

MAX_REFRESH_S = 5.0
"""However long its builds take, a snapshot older than this is refreshed (new epochs show within it)."""

SCALARS_CACHE_BYTES = 32 * 1024 * 1024
"""Capacity of each experiment's cache of ``/scalars`` documents (sized by their JSON)."""


@dataclasses.dataclass(frozen=True)
class ScalarsEntry:
    """A cached ``/scalars`` document, its JSON encoding and entity tag, and the listing it was read from."""

    fingerprint: Fingerprint
    doc: Record
    body: bytes
    etag: str

    def size(self) -> int:
        """Bytes it holds, roughly: the encoding, and about twice that in the parsed document."""
        return 3 * len(self.body) + 256


class ExperimentState:
    """The cached state of one experiment id: its snapshot and its ``/scalars`` documents."""

    def __init__(self, scalars_bytes: int = SCALARS_CACHE_BYTES, wanted_runs: int = DETAIL_RUNS) -> None:
        self.snapshot: Snapshot | None = None
        self.build_seconds = 0.0  # how long the last build took
        self.changing = False  # whether it found new data
        self.build_lock = threading.Lock()
        self.refreshing = False
        # run -> its /scalars document, reused while its fingerprint holds.
        self.scalars: ByteLRU[ScalarsEntry] = ByteLRU(scalars_bytes, size_of=ScalarsEntry.size)
        # The featureviz TensorBoard runs asked for lately, most recent last: read in full by every build.
        self.wanted: collections.OrderedDict[str, None] = collections.OrderedDict()
        self.wanted_runs = wanted_runs
        self._wanted_lock = threading.Lock()

    def want(self, runs: Sequence[str]) -> None:
        """Marks ``runs`` (featureviz TensorBoard runs) as asked for: the next builds read them in full."""
        with self._wanted_lock:
            for run in runs:
                self.wanted[run] = None
                self.wanted.move_to_end(run)
            while len(self.wanted) > self.wanted_runs:
                self.wanted.popitem(last=False)

    def wanted_now(self) -> frozenset[str]:
        """The runs asked for lately."""
        with self._wanted_lock:
            return frozenset(self.wanted)


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
        new_state: Makes the state of an experiment id seen for the first time.
    """

    def __init__(
        self,
        build: SnapshotBuilder,
        pool: futures.Executor,
        *,
        fresh_s: float,
        max_stale_s: float = math.inf,
        max_experiments: int,
        on_forget: Callable[[str], None] = lambda eid: None,
        new_state: Callable[[], ExperimentState] = ExperimentState,
    ) -> None:
        self._new_state = new_state
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
                state = self._states[eid] = self._new_state()
                while len(self._states) > self.max_experiments:
                    forgotten, _ = self._states.popitem(last=False)
                    self._on_forget(forgotten)
            else:
                self._states.move_to_end(eid)
            return state

    def __len__(self) -> int:
        return len(self._states)

    def get(
        self,
        ctx: tb_context.RequestContext,
        eid: str,
        *,
        rebuild_older_than: float | None = None,
        rebuild_if: Callable[[Snapshot], bool] | None = None,
    ) -> Snapshot:
        """The snapshot of ``eid``, rebuilt first when there is none, when it is older than
        ``rebuild_older_than`` (default ``max_stale_s``) or when ``rebuild_if(snapshot)`` holds; one older
        than ``fresh_s`` is answered at once and refreshed in the background."""
        state = self.state(eid)
        snap = state.snapshot
        limit = self.max_stale_s if rebuild_older_than is None else rebuild_older_than

        def must_build(s: Snapshot | None) -> bool:
            return s is None or time.monotonic() - s.built > limit or (rebuild_if is not None and rebuild_if(s))

        if must_build(snap):
            with state.build_lock:
                snap = state.snapshot
                if must_build(snap):
                    snap = state.snapshot = self._timed_build(ctx, eid, state, snap)
            assert snap is not None
            return snap
        assert snap is not None
        if time.monotonic() - snap.built > self.refresh_after(state) and not state.refreshing:
            state.refreshing = True
            try:
                self._pool.submit(self._refresh_in_background, ctx, eid, state)
            except RuntimeError:  # pool shut down
                state.refreshing = False
        return snap

    def refresh_after(self, state: ExperimentState) -> float:
        """The age after which ``state``'s snapshot is refreshed: ``fresh_s``, or :data:`REFRESH_COST_FACTOR`
        times its last build (at most :data:`MAX_REFRESH_S`), whichever is longer: listing a 1,000-run sweep
        costs ~0.3 s of CPU, so it is refreshed every 3 s and takes a tenth of a core from TensorBoard. While
        the builds find new data (TensorBoard is still loading the logdir), a quarter of ``fresh_s`` or one
        build: a sweep is listed as soon as TensorBoard has it, for at most half a core while it loads."""
        if state.changing:  # TensorBoard is loading: follow it closely (a quarter of fresh_s, one build)
            return max(self.fresh_s / 4, min(state.build_seconds, MAX_REFRESH_S))
        return max(self.fresh_s, min(REFRESH_COST_FACTOR * state.build_seconds, MAX_REFRESH_S))

    def _timed_build(
        self, ctx: tb_context.RequestContext, eid: str, state: ExperimentState, previous: Snapshot | None
    ) -> Snapshot:
        t0 = time.monotonic()
        snap = self._build(ctx, eid, previous)
        state.build_seconds = time.monotonic() - t0
        state.changing = previous is None or snap.fingerprint != previous.fingerprint
        return snap

    def _refresh_in_background(self, ctx: tb_context.RequestContext, eid: str, state: ExperimentState) -> None:
        try:
            with state.build_lock:
                if state.snapshot is None or time.monotonic() - state.snapshot.built > self.refresh_after(state):
                    state.snapshot = self._timed_build(ctx, eid, state, state.snapshot)
        except Exception:  # a failed refresh keeps the old snapshot; the next request retries
            logger.warning("featureviz: background refresh failed", exc_info=True)
        finally:
            state.refreshing = False
