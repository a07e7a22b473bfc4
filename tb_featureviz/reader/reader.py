"""``FeatureVizReader``: the one data-access layer over a TensorBoard data provider.

It turns what a ``tensorboard.data.provider.DataProvider`` holds (the Python
``MultiplexerDataProvider`` or the Rust data server's ``GrpcDataProvider``) into the documents of
``http_api.md``, with :class:`~tb_featureviz.reader.keys.BlobKey` where a document refers to a blob.
The plugin routes and the export both read through it; nothing here imports TensorFlow or touches
``context.multiplexer``.

* A blob is read only for a key that names a blob of the snapshot (every field of the decoded key
  checked: experiment, run, tag, step, index), and cached only once checked: a PNG must decode, a
  record must be a JSON object (``integrity.py``); a damaged blob answers :class:`DamagedBlobError` and
  the verdict is cached.
* The snapshot (``cache.py``) is rebuilt in the background when older than ``fresh_s``. Its refresh
  first compares a fingerprint of the cheap ``list_*`` answers (tags, ``max_step``, ``max_wall_time``)
  and re-reads the blob sequences only when it changed.
* A request for a run or step that the snapshot lacks rebuilds it synchronously (at most every
  ``min_rebuild_s``), so a new epoch is served as soon as TensorBoard has loaded it.
"""

from __future__ import annotations

import collections
import dataclasses
import gzip
import hashlib
import json
import logging
import math
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent import futures
from typing import TypeVar

from tensorboard import context as tb_context
from tensorboard import errors
from tensorboard.backend import json_util
from tensorboard.data import provider

from tb_featureviz import metadata
from tb_featureviz.metadata import Record
from tb_featureviz.reader import documents
from tb_featureviz.reader.cache import (
    DETAIL_RUNS,
    BlobCache,
    EntryKey,
    ExperimentState,
    ScalarsEntry,
    Snapshot,
    SnapshotCache,
)
from tb_featureviz.reader.documents import RunGroup
from tb_featureviz.reader.integrity import (
    DamagedBlobError,
    clip,
    png_content_type,
    png_problem,
    record_problem,
    sample,
)
from tb_featureviz.reader.keys import BLOB_KEY_RE, BlobAddress, BlobKey, decode_blob_key
from tb_featureviz.validation import positive_int

logger = logging.getLogger(__name__)

__all__ = [
    "DOWNSAMPLE_ALL",
    "MAX_EXPERIMENTS",
    "MAX_FRAME_IMAGES",
    "MAX_FRAME_ITEMS",
    "SCALARS_PLUGIN",
    "FeatureVizReader",
    "Frame",
    "FrameRequest",
    "blob_etag",
    "downsample_from_hint",
]

DOWNSAMPLE_ALL = 1_000_000_000
"""``downsample`` meaning "every step" (TensorBoard treats ``downsample=0`` as "nothing")."""

SCALARS_PLUGIN = "scalars"
"""The plugin name of TensorBoard's scalar summaries (the curves)."""

MAX_EXPERIMENTS = 32
"""Experiment ids whose snapshot a reader keeps (least recently used first out)."""

_INDEX_RECORDS = tuple(metadata.tag_for(kind) for kind in ("probes", "sample", "run_info", "status"))
"""The record tags whose contents the index shows."""

MAX_FRAME_ITEMS = 64
"""Most items (run, tag, step) one :meth:`FeatureVizReader.frame` reads."""

MAX_FRAME_IMAGES = 16
"""Most images one item of a frame asks for."""

_FRAME_FORMAT = "fvf1"
"""Version of the frame bundle, part of its ETag (a new format never matches an old cached one)."""

_MAX_DAMAGED = 4096
_T = TypeVar("_T")


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


def _etag(body: bytes) -> str:
    """A strong HTTP entity tag of ``body`` (quoted, 26 characters)."""
    return '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'


def _with_own_stages(entry: Record) -> Record:
    """A shallow copy of an index entry with its own ``stages`` dict (``add_align_tables`` writes into it)."""
    stages = entry.get("stages")
    return {**entry, "stages": dict(stages)} if isinstance(stages, dict) else dict(entry)


def _key_itself(key: BlobKey) -> str:
    return key.key


def blob_etag(key: str) -> str:
    """The entity tag of a blob: derived from its key (a written blob never changes), 34 characters.

    Example:
        >>> blob_etag("abc")
        'b-cf4ab791c62b8d2b2109c90275287816'
    """
    return "b-" + hashlib.blake2b(key.encode("utf-8"), digest_size=16).hexdigest()


@dataclasses.dataclass(frozen=True)
class FrameRequest:
    """One item of a frame: a step of a tag of a run, and which of its images to send.

    Attributes:
        run: Run group name (``"exp1"``).
        tag: Featureviz tag (``"activations/conv2d"``).
        step: The epoch.
        images: Indices into the step's ``images`` (``0`` is element 1 of the blob sequence).
    """

    run: str
    tag: str
    step: int
    images: tuple[int, ...] = ()


@dataclasses.dataclass
class Frame:
    """What :meth:`FeatureVizReader.frame` read.

    Attributes:
        header: ``{"items": [...]}``, one item per request in order (``http_api.md``, ``/frame``), with
            :class:`BlobKey` references; ``None`` when ``not_modified``.
        blobs: The bytes of the images the header lists, in order (their ``offset`` counts into their
            concatenation).
        etag: The frame's entity tag when every item and image was found (a frame of written steps never
            changes), else ``None``.
        not_modified: ``etag`` was one of ``if_none_match``: nothing was read.
    """

    header: Record | None
    blobs: list[bytes]
    etag: str | None
    not_modified: bool = False


def _check_frame_requests(requests: Sequence[FrameRequest]) -> None:
    """Raises ``InvalidArgumentError`` for a frame of too many items, an item of too many images, or a negative
    image index."""
    if len(requests) > MAX_FRAME_ITEMS:
        raise errors.InvalidArgumentError(
            f"A frame holds at most {MAX_FRAME_ITEMS} items. Received: {len(requests)} items"
        )
    for r in requests:
        if len(r.images) > MAX_FRAME_IMAGES:
            raise errors.InvalidArgumentError(
                f"A frame item asks for at most {MAX_FRAME_IMAGES} images. Received: {len(r.images)} images "
                f"for run {clip(r.run)} tag {clip(r.tag)} step {r.step}"
            )
        if any(i < 0 for i in r.images):
            raise errors.InvalidArgumentError(f"Image indices must be >= 0. Received: {list(r.images)}")


@dataclasses.dataclass
class _FrameLayout:
    """A frame's items and image bytes, laid out one item at a time from the blobs read for it.

    Attributes:
        read: The checked bytes (or the error) of each blob, keyed ``(blob key, index in the sequence)``.
        items: The header's items so far.
        blobs: The bytes of the images the items list, in order.
        offset: Where the next image's bytes start in the concatenation of ``blobs``.
        complete: Whether every item and image so far was served (the frame's entity tag stands).
    """

    read: Mapping[tuple[str, int], bytes | errors.PublicError]
    items: list[Record] = dataclasses.field(default_factory=list)
    blobs: list[bytes] = dataclasses.field(default_factory=list)
    offset: int = 0
    complete: bool = True

    def add(self, r: FrameRequest, datum: provider.BlobSequenceDatum | errors.PublicError) -> None:
        """Lays out the item of ``r``: its step document and image entries, or its error in its place."""
        if not isinstance(datum, provider.BlobSequenceDatum):
            self.items.append(documents.frame_error_item(datum.http_code, str(datum)))
            self.complete = False
            return
        record: Record | None = None
        if datum.values:
            raw = self.read[(datum.values[0].blob_key, 0)]
            if isinstance(raw, errors.PublicError):
                damaged = isinstance(raw, DamagedBlobError)
                self.items.append(documents.frame_error_item(raw.http_code, str(raw), damaged=damaged))
                self.complete = False
                return
            record = metadata.decode_record(raw)
        entries = [self._image(r, datum, i) for i in r.images]
        self.items.append(documents.frame_item(documents.step_doc(r.run, r.tag, datum, record), entries))

    def _image(self, r: FrameRequest, datum: provider.BlobSequenceDatum, i: int) -> Record:
        """The entry of image ``i`` of an item (its bytes appended to ``blobs``), or its error in its place."""
        if i + 1 >= len(datum.values):
            self.complete = False
            count = max(len(datum.values) - 1, 0)
            missing = errors.NotFoundError(
                f"Run {clip(r.run)} tag {clip(r.tag)} step {r.step} has {count} image(s); no index {i}."
            )
            return documents.frame_error_item(404, str(missing), index=i)
        data = self.read[(datum.values[i + 1].blob_key, i + 1)]
        if isinstance(data, errors.PublicError):
            self.complete = False
            damaged = isinstance(data, DamagedBlobError)
            return documents.frame_error_item(data.http_code, str(data), damaged=damaged, index=i)
        entry = documents.frame_image_entry(i, self.offset, len(data), png_content_type(data))
        self.blobs.append(data)
        self.offset += len(data)
        return entry


class FeatureVizReader:
    """Reads featureviz data (and the curves beside it) through a TensorBoard data provider.

    Args:
        data_provider: ``context.data_provider`` of a plugin, or any ``DataProvider``.
        experiment_id: Default experiment id (``""`` for a plain ``--logdir``); every method also
            takes ``experiment_id=`` (what ``plugin_util.experiment_id(environ)`` returns).
        downsample: Maximum steps read per tag; default all (see :func:`downsample_from_hint`).
        fresh_s: Age after which the snapshot is refreshed in the background (and served meanwhile).
        max_stale_s: Age after which it is rebuilt before answering (default never: a stale snapshot is
            served while it refreshes).
        min_rebuild_s: Minimum age for a synchronous rebuild caused by an unknown run or step.
        blob_cache_bytes: Capacity of the blob cache in bytes.
        max_experiments: Experiment ids whose snapshot is kept (least recently used out first).
        detail_runs: A logdir of at most this many featureviz runs is read in full; a larger one is listed,
            and the runs asked for lately (at most this many) are read in full (see ``cache.py``).
        blob_ref: How :meth:`index_json` writes a :class:`BlobKey` (the plugin: a relative URL of its
            blob route); default the key itself.

    Every method takes ``ctx``, a ``tensorboard.context.RequestContext`` (``None`` makes a default
    one), and raises ``tensorboard.errors.NotFoundError`` (unknown run, tag, step, blob) or
    ``tensorboard.errors.InvalidArgumentError`` (bad argument) with a message that lists what exists.

    Example:
        >>> reader = FeatureVizReader(data_provider)
        >>> step = reader.step(None, "exp1", "activations/conv2d", 0)
        >>> png = reader.blob(None, step["images"][0])
    """

    def __init__(
        self,
        data_provider: provider.DataProvider,
        experiment_id: str = "",
        *,
        downsample: int = DOWNSAMPLE_ALL,
        fresh_s: float = 1.0,
        max_stale_s: float = math.inf,
        min_rebuild_s: float = 0.25,
        blob_cache_bytes: int = 64 * 1024 * 1024,
        max_experiments: int = MAX_EXPERIMENTS,
        detail_runs: int = DETAIL_RUNS,
        blob_ref: Callable[[BlobKey], str] = _key_itself,
    ) -> None:
        if data_provider is None:
            raise ValueError("FeatureVizReader needs a data provider. Received: data_provider=None")
        self.data_provider = data_provider
        self.experiment_id = experiment_id
        self.downsample = positive_int("downsample", downsample)
        self.min_rebuild_s = min_rebuild_s
        self.detail_runs = positive_int("detail_runs", detail_runs)
        self.blob_ref = blob_ref
        self._pool = futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="featureviz-reader")
        self.blobs = BlobCache(blob_cache_bytes)
        self.snapshots = SnapshotCache(
            self._build,
            self._pool,
            fresh_s=fresh_s,
            max_stale_s=max_stale_s,
            max_experiments=max_experiments,
            on_forget=self.blobs.drop_owner,
            new_state=lambda: ExperimentState(wanted_runs=self.detail_runs),
        )
        self._damaged: collections.OrderedDict[str, str] = collections.OrderedDict()
        self._damaged_lock = threading.Lock()

    @property
    def experiments_cached(self) -> int:
        """How many experiment ids have a state (at most ``max_experiments``)."""
        return len(self.snapshots)

    # -- public API ---------------------------------------------------------------------------------

    def run_groups(
        self, ctx: tb_context.RequestContext | None = None, *, experiment_id: str | None = None
    ) -> list[RunGroup]:
        """The run groups, sorted by name."""
        snap = self._snapshot(ctx, self._eid(experiment_id))
        return [snap.groups[name] for name in sorted(snap.groups)]

    def index(
        self,
        ctx: tb_context.RequestContext | None = None,
        *,
        experiment_id: str | None = None,
        runs: Sequence[str] = (),
    ) -> Record:
        """The ``/index`` document: every run group with its tags, steps, probes and curves.

        Args:
            ctx: Request context.
            experiment_id: The experiment (default the reader's).
            runs: Run groups whose entries must be full (read now if they are ``partial``): in a logdir of
                more than ``detail_runs`` featureviz runs, the others may be listed only.

        Returns:
            ``{"runs": [{"run", "featureviz", "steps", "kinds", "probes", "curves", ...}]}`` as
            documented in ``http_api.md``, ``probes.images`` as :class:`BlobKey`. Do not mutate it: it
            is shared by the cache.
        """
        return self._snapshot(ctx, self._eid(experiment_id), groups=runs).index

    def index_payload(
        self,
        ctx: tb_context.RequestContext | None = None,
        *,
        experiment_id: str | None = None,
        gzipped: bool = False,
        runs: Sequence[str] = (),
    ) -> tuple[bytes, str]:
        """:meth:`index_json` and the HTTP entity tag of those bytes (quoted), from one snapshot."""
        snap = self._snapshot(ctx, self._eid(experiment_id), groups=runs)
        return (snap.index_gzip if gzipped else snap.index_bytes), snap.index_etag

    def index_json(
        self,
        ctx: tb_context.RequestContext | None = None,
        *,
        experiment_id: str | None = None,
        gzipped: bool = False,
        runs: Sequence[str] = (),
    ) -> bytes:
        """The ``/index`` document as UTF-8 JSON bytes (gzip-compressed with ``gzipped=True``), each
        :class:`BlobKey` written by ``blob_ref``.

        Encoded once per snapshot (in the background refresh), so serving it costs no encoding.
        """
        return self.index_payload(ctx, experiment_id=experiment_id, gzipped=gzipped, runs=runs)[0]

    def step(
        self,
        ctx: tb_context.RequestContext | None,
        run: str,
        tag: str,
        step: int,
        *,
        experiment_id: str | None = None,
    ) -> Record:
        """One step of a featureviz tag: its JSON record and the keys of its images.

        Args:
            ctx: Request context.
            run: Run group name (``"exp1"``).
            tag: Featureviz tag (``"activations/conv2d"``).
            step: The epoch.

        Returns:
            ``{"run", "tag", "step", "wall_time", "record", "images": [BlobKey, ...]}``; ``images[i]``
            is element ``i + 1`` of the blob sequence.

        Raises:
            NotFoundError: unknown run, tag or step.
            DamagedBlobError: the record is damaged (not a JSON object); a 404 too.
        """
        ctx = ctx or tb_context.RequestContext()
        eid = self._eid(experiment_id)
        datum = self._find_datum(ctx, eid, run, tag, step)
        record: Record | None = None
        if datum.values:
            raw = self._read_checked(ctx, datum.values[0].blob_key, 0, eid)
            record = metadata.decode_record(raw)
        return documents.step_doc(run, tag, datum, record)

    def series(
        self,
        ctx: tb_context.RequestContext | None,
        run: str,
        tag: str,
        index: int,
        *,
        experiment_id: str | None = None,
    ) -> Record:
        """One image of a tag across every step that has it (a filmstrip).

        Args:
            ctx: Request context.
            run: Run group name.
            tag: Featureviz tag.
            index: Image index, ``0`` for element 1 of the blob sequence (as in ``step()["images"]``).

        Returns:
            ``{"run", "tag", "index", "steps": [...], "wall_times": [...], "images": [BlobKey, ...]}``.

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
        return documents.series_doc(run, tag, index, chosen)

    def frame(
        self,
        ctx: tb_context.RequestContext | None,
        requests: Sequence[FrameRequest],
        *,
        experiment_id: str | None = None,
        if_none_match: Collection[str] = (),
    ) -> Frame:
        """Several steps with the bytes of some of their images, in one go (the dashboard's scrubbing).

        Each item is what :meth:`step` answers plus the checked bytes of its requested images; an item
        that fails (unknown run, tag or step, damaged record) or an image that does (no such index,
        damaged bytes) says so in its place, with the status and message of the single-item route, and
        the rest is served. Only blobs the snapshot lists are read (as :meth:`step` and :meth:`blob`).

        Args:
            ctx: Request context.
            requests: At most :data:`MAX_FRAME_ITEMS` items of at most :data:`MAX_FRAME_IMAGES` images.
            experiment_id: The experiment of the request (default the reader's).
            if_none_match: Entity tags the client holds: when the frame's is one of them, nothing is read
                and the answer is ``not_modified``.

        Returns:
            A :class:`Frame`.

        Raises:
            InvalidArgumentError: too many items or images, or a negative image index.
        """
        _check_frame_requests(requests)
        ctx = ctx or tb_context.RequestContext()
        eid = self._eid(experiment_id)
        # One snapshot with every run of the frame read in full (one build for a sweep's listed runs, not one each).
        self._snapshot(ctx, eid, groups=list(dict.fromkeys(r.run for r in requests)))
        found = self._frame_data(ctx, eid, requests)
        etag = self._frame_etag(eid, requests, found)
        if etag is not None and etag in if_none_match:
            return Frame(header=None, blobs=[], etag=etag, not_modified=True)
        # Read every blob first (concurrently: the Rust data server answers each in ~1 ms), then lay out.
        layout = _FrameLayout(self._read_frame_blobs(ctx, eid, requests, found))
        for r, datum in zip(requests, found, strict=True):
            layout.add(r, datum)
        return Frame(header={"items": layout.items}, blobs=layout.blobs, etag=etag if layout.complete else None)

    def _frame_data(
        self, ctx: tb_context.RequestContext, eid: str, requests: Sequence[FrameRequest]
    ) -> list[provider.BlobSequenceDatum | errors.PublicError]:
        """The datum of each item of a frame, or the error that :meth:`step` would raise for it."""
        found: list[provider.BlobSequenceDatum | errors.PublicError] = []
        for r in requests:
            try:
                found.append(self._find_datum(ctx, eid, r.run, r.tag, r.step))
            except errors.PublicError as e:
                found.append(e)
        return found

    def _read_frame_blobs(
        self,
        ctx: tb_context.RequestContext,
        eid: str,
        requests: Sequence[FrameRequest],
        found: Sequence[provider.BlobSequenceDatum | errors.PublicError],
    ) -> dict[tuple[str, int], bytes | errors.PublicError]:
        """The checked bytes (or the error) of every blob a frame serves: each found item's record and the
        requested images it has, keyed ``(blob key, index in the sequence)``; read concurrently."""
        wanted: list[tuple[str, int]] = []
        for r, datum in zip(requests, found, strict=True):
            if isinstance(datum, provider.BlobSequenceDatum) and datum.values:
                wanted.append((datum.values[0].blob_key, 0))
                wanted.extend((datum.values[i + 1].blob_key, i + 1) for i in r.images if i + 1 < len(datum.values))
        reads = (
            [self._read_or_error(ctx, k, i, eid) for k, i in wanted]
            if len(wanted) <= 1
            else list(self._pool.map(lambda w: self._read_or_error(ctx, w[0], w[1], eid), wanted))
        )
        return dict(zip(wanted, reads, strict=True))

    def blob_etag(self, ctx: tb_context.RequestContext | None, key: str, *, experiment_id: str | None = None) -> str:
        """The entity tag of the blob ``key`` names (:func:`blob_etag`), once the key is checked as
        :meth:`blob` checks it; its bytes are not read.

        Raises:
            NotFoundError: the key is malformed or names no blob of this experiment.
            DamagedBlobError: the blob is known to be damaged.
        """
        ctx = ctx or tb_context.RequestContext()
        eid = self._eid(experiment_id)
        if self.blobs.get(key) is None:
            addr = self._checked_address(ctx, key, self._decoded_key(key, eid), eid)
            with self._damaged_lock:
                reason = self._damaged.get(key)
            if reason is not None:
                raise DamagedBlobError(key, reason, "record" if addr.index == 0 else "image")
        return blob_etag(key)

    def blob(
        self, ctx: tb_context.RequestContext | None, key: BlobKey | str, *, experiment_id: str | None = None
    ) -> bytes:
        """The bytes of one blob (a PNG, or the JSON record of element 0), checked.

        The key is decoded (:func:`decode_blob_key`) and must name, field by field, a blob of this
        experiment's snapshot (its experiment id, run, tag, step and index, and the very key the
        provider listed) before the data provider is asked for it. The bytes are checked once and
        cached: an image must be a PNG that decodes, element 0 a JSON object.

        Args:
            ctx: Request context.
            key: A :class:`BlobKey` of a document, or its ``key`` string (as a client sends it back).
            experiment_id: The experiment of the request (default the reader's).

        Raises:
            NotFoundError: the key is malformed or names no blob of this experiment (either provider).
            DamagedBlobError: the blob exists but its bytes are damaged (a ``NotFoundError`` too).
        """
        if isinstance(key, BlobKey):
            key = key.key
        ctx = ctx or tb_context.RequestContext()
        eid = self._eid(experiment_id)
        addr = self._decoded_key(key, eid)
        cached = self.blobs.get(key)
        if cached is not None:
            return cached
        self._checked_address(ctx, key, addr, eid)
        return self._read_checked(ctx, key, addr.index, eid)

    def _decoded_key(self, key: object, eid: str) -> BlobAddress:
        """The fields of a key a client sent, checked for form and experiment (no snapshot lookup)."""
        if not isinstance(key, str) or not BLOB_KEY_RE.fullmatch(key):
            raise errors.NotFoundError(f"Malformed blob key {clip(str(key))}.")
        addr = decode_blob_key(key)
        if addr is None:
            raise errors.NotFoundError(f"No blob with key {clip(key)}: not a key of a featureviz blob.")
        if addr.experiment_id != eid:
            raise errors.NotFoundError(f"No blob with key {clip(key)}: it is not a key of this experiment.")
        return addr

    def _checked_address(self, ctx: tb_context.RequestContext, key: str, addr: BlobAddress, eid: str) -> BlobAddress:
        """``addr`` (``key`` decoded by :meth:`_decoded_key`), once the snapshot lists that very key (rebuilt
        once when it does not)."""
        problem: str | None = None
        for attempt in range(2):  # the key may name a step written since the snapshot: rebuild once
            snap = self._snapshot(
                ctx, eid, rebuild_older_than=self.min_rebuild_s if attempt else None, tb_runs=(addr.run,)
            )
            problem = snap.address_problem(addr, key)
            if problem is None:
                return addr
        raise errors.NotFoundError(f"No blob with key {clip(key)}: {problem}.")

    def scalars(self, ctx: tb_context.RequestContext | None, run: str, *, experiment_id: str | None = None) -> Record:
        """Loss and metric curves of a run group, the dead-channel fraction per layer and the Grad-CAM checks.

        Curves come from Keras' ``<run>/train`` and ``<run>/validation`` (``source="keras"``) when
        either has ``epoch_*`` scalars, else from the ``epoch_*`` / ``epoch_val_*`` scalars of
        ``<run>/featureviz`` (``source="featureviz"``); ``source`` is ``null`` when there are none.

        Returns:
            ``{"run", "source", "series": [{"metric", "split", "points": [[step, wall_time, value]]}],
            "health": [{"layer", "points"}], "checks": [{"tag", "points"}]}``, series sorted by metric then
            split, checks (``faithfulness/*``, ``sanity/*``) by tag.

        Raises:
            NotFoundError: unknown run.
        """
        return self._scalars_entry(ctx, run, experiment_id).doc

    def scalars_payload(
        self, ctx: tb_context.RequestContext | None, run: str, *, experiment_id: str | None = None
    ) -> tuple[bytes, str]:
        """:meth:`scalars` as UTF-8 JSON bytes with their HTTP entity tag (quoted), encoded once per change."""
        entry = self._scalars_entry(ctx, run, experiment_id)
        return entry.body, entry.etag

    def _scalars_entry(
        self, ctx: tb_context.RequestContext | None, run: str, experiment_id: str | None
    ) -> ScalarsEntry:
        ctx = ctx or tb_context.RequestContext()
        eid = self._eid(experiment_id)
        snap = self._snapshot(ctx, eid)
        group = snap.groups.get(run)
        if group is None:
            snap = self._snapshot(ctx, eid, rebuild_older_than=self.min_rebuild_s)
            group = self._group_or_404(snap, run)
        tb_runs = [r for r in (group.featureviz, group.train, group.validation) if r]
        fingerprint = tuple((r, tuple(sorted(snap.scalar_tags.get(r, {}).items()))) for r in tb_runs)
        state = self.snapshots.state(eid)
        cached = state.scalars.get(run)
        if cached is not None and cached.fingerprint == fingerprint:
            return cached
        data: Mapping[str, Mapping[str, Sequence[provider.ScalarDatum]]] = {}
        if any(snap.scalar_tags.get(r) for r in tb_runs):
            data = self.data_provider.read_scalars(
                ctx,
                experiment_id=eid,
                plugin_name=SCALARS_PLUGIN,
                downsample=DOWNSAMPLE_ALL,
                run_tag_filter=provider.RunTagFilter(runs=tb_runs),
            )
        doc = documents.scalars_doc(run, group, data)
        # As TensorBoard's http_util.Respond encodes a dict (NaN and infinities as strings: a diverged run).
        body = json.dumps(json_util.Cleanse(doc, "utf-8"), ensure_ascii=True).encode("ascii")
        entry = ScalarsEntry(fingerprint, doc, body, _etag(body))
        state.scalars.put(run, entry)
        return entry

    def close(self) -> None:
        """Stops the background refresh workers."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- snapshot -----------------------------------------------------------------------------------

    def _eid(self, experiment_id: str | None) -> str:
        return self.experiment_id if experiment_id is None else experiment_id

    def _snapshot(
        self,
        ctx: tb_context.RequestContext | None,
        eid: str,
        *,
        rebuild_older_than: float | None = None,
        groups: Sequence[str] = (),
        tb_runs: Sequence[str] = (),
    ) -> Snapshot:
        """The snapshot of ``eid``, with the run groups ``groups`` and the featureviz TensorBoard runs
        ``tb_runs`` read in full (built now when the cached one lists them only)."""
        ctx = ctx or tb_context.RequestContext()
        if not groups and not tb_runs:
            return self.snapshots.get(ctx, eid, rebuild_older_than=rebuild_older_than)
        state: ExperimentState = self.snapshots.state(eid)
        listed = (state.snapshot or self.snapshots.get(ctx, eid)).run_fingerprints
        # Only runs the listing has (a bookmarked name of a deleted run, or a made-up one, never pushes a real
        # run out), and at most ``detail_runs`` of them: the ones named last.
        names = dict.fromkeys([*(documents.featureviz_run(name) for name in groups), *tb_runs])
        wanted = [run for run in names if run in listed][-state.wanted_runs :]
        if not wanted:
            return self.snapshots.get(ctx, eid, rebuild_older_than=rebuild_older_than)
        state.want(wanted)
        return self.snapshots.get(
            ctx,
            eid,
            rebuild_older_than=rebuild_older_than,
            rebuild_if=lambda snap: any(run in snap.partial for run in wanted),
        )

    def _build(self, ctx: tb_context.RequestContext, eid: str, previous: Snapshot | None) -> Snapshot:
        listed_blobs_f = self._pool.submit(
            self.data_provider.list_blob_sequences, ctx, experiment_id=eid, plugin_name=metadata.PLUGIN_NAME
        )
        listed_scalars = self.data_provider.list_scalars(ctx, experiment_id=eid, plugin_name=SCALARS_PLUGIN)
        listed_blobs = listed_blobs_f.result()
        scalar_tags = {
            run: {tag: (ts.max_step, ts.max_wall_time) for tag, ts in tags.items()}
            for run, tags in listed_scalars.items()
        }
        fingerprint = Snapshot.fingerprint_of(listed_blobs, scalar_tags)
        run_fingerprints = Snapshot.run_fingerprints_of(listed_blobs)
        if len(run_fingerprints) <= self.detail_runs:
            full = set(run_fingerprints)
        else:
            full = set(run_fingerprints) & self.snapshots.state(eid).wanted_now()
        if previous is not None and previous.fingerprint == fingerprint and full <= previous.sequences.keys():
            return dataclasses.replace(previous, built=time.monotonic())
        # A run whose listing is unchanged keeps its sequences: only new or grown runs are read.
        kept: dict[str, Mapping[str, Sequence[provider.BlobSequenceDatum]]] = {}
        if previous is not None:
            kept = {
                run: previous.sequences[run]
                for run in full
                if run in previous.sequences and previous.run_fingerprints.get(run) == run_fingerprints[run]
            }
        sequences = dict(kept)
        to_read = sorted(full - kept.keys())
        if to_read:
            sequences.update(
                self.data_provider.read_blob_sequences(
                    ctx,
                    experiment_id=eid,
                    plugin_name=metadata.PLUGIN_NAME,
                    downsample=self.downsample,
                    run_tag_filter=provider.RunTagFilter(runs=to_read),
                )
            )
        snap = Snapshot(
            built=time.monotonic(),
            fingerprint=fingerprint,
            groups=documents.group_runs(listed_blobs, scalar_tags),
            contents=documents.plugin_contents(listed_blobs),
            sequences=sequences,
            scalar_tags=scalar_tags,
            index={},
            partial=frozenset(run_fingerprints.keys() - full),
            run_fingerprints=run_fingerprints,
            # A copy first: request threads add to ``previous.by_step`` while this reads it.
            by_step={k: v for k, v in dict(previous.by_step).items() if k[0] in kept} if previous is not None else {},
        )
        snap.index = self._build_index(ctx, eid, snap, listed_blobs, previous)
        snap.index_bytes = documents.encode_json(snap.index, self.blob_ref)
        snap.index_gzip = gzip.compress(snap.index_bytes, compresslevel=6, mtime=0)
        snap.index_etag = _etag(snap.index_bytes)
        snap.built = time.monotonic()  # its age counts from when it is ready
        return snap

    def _build_index(
        self,
        ctx: tb_context.RequestContext,
        eid: str,
        snap: Snapshot,
        listed_blobs: Mapping[str, Mapping[str, provider.BlobSequenceTimeSeries]],
        previous: Snapshot | None,
    ) -> Record:
        entries: dict[str, Record] = {}
        keys: dict[str, EntryKey] = {}
        for name, group in snap.groups.items():
            run = group.featureviz or ""
            if run in snap.partial:
                entries[name] = documents.partial_entry(
                    group, listed_blobs.get(run, {}), snap.contents.get(run, {}), snap.scalar_tags
                )
                continue
            tb_runs = [r for r in (group.featureviz, group.train, group.validation) if r]
            keys[name] = (
                snap.run_fingerprints.get(run),
                tuple((r, tuple(sorted(snap.scalar_tags.get(r, {})))) for r in tb_runs),
            )
            cached = previous.entries.get(name) if previous is not None else None
            if cached is not None and cached[0] == keys[name]:
                entries[name] = cached[1]
        # Records shown in the index (probes, sample, run_info, status), and the first record of each
        # activations tag (its "shape" places the layer in a stage) of the entries to build: fetch them
        # concurrently, through the cache.
        wanted: dict[tuple[str, str], str] = {}
        for name in keys.keys() - entries.keys():
            group = snap.groups[name]
            sequences = snap.sequences.get(group.featureviz or "", {})
            contents = snap.contents.get(group.featureviz or "", {})
            activations = [tag for tag, c in contents.items() if c is not None and c.kind == "activations"]
            for tag in (*_INDEX_RECORDS, *activations):
                data = sequences.get(tag)
                if data and data[0].values:
                    wanted[(name, tag)] = data[0].values[0].blob_key
        records = dict(
            zip(wanted, self._map(lambda k: self._record_or_none(ctx, k, eid), list(wanted.values())), strict=True)
        )
        for name in keys.keys() - entries.keys():
            group = snap.groups[name]
            run = group.featureviz or ""
            sequences, contents = snap.sequences.get(run, {}), snap.contents.get(run, {})
            entries[name] = documents.index_entry(group, sequences, contents, snap.scalar_tags, records)
        snap.entries = {name: (keys[name], entries[name]) for name in keys}
        # The align tables span every full entry: each run gets fresh copies (a cached entry is shared).
        runs = [_with_own_stages(entries[name]) for name in sorted(entries)]
        documents.add_align_tables(runs)
        return {"runs": runs}

    def _map(self, fn: Callable[[str], _T], items: list[str]) -> list[_T]:
        if len(items) <= 1:
            return [fn(i) for i in items]
        return list(self._pool.map(fn, items))

    def _record_or_none(self, ctx: tb_context.RequestContext, key: str, eid: str) -> Record | None:
        try:
            return metadata.decode_record(self._read_checked(ctx, key, 0, eid))
        except (errors.PublicError, ValueError):
            logger.warning("featureviz: unreadable record blob %r", key)
            return None

    # -- lookups ------------------------------------------------------------------------------------

    def _group_or_404(self, snap: Snapshot, run: str) -> RunGroup:
        group = snap.groups.get(run)
        if group is None:
            raise errors.NotFoundError(f"Unknown run {clip(run)}. Existing runs: {sample(sorted(snap.groups))}")
        return group

    def _tag_data(
        self, ctx: tb_context.RequestContext, eid: str, run: str, tag: str
    ) -> Sequence[provider.BlobSequenceDatum]:
        for attempt in range(2):
            snap = self._snapshot(ctx, eid, rebuild_older_than=self.min_rebuild_s if attempt else None, groups=(run,))
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
                self._snapshot(ctx, eid, rebuild_older_than=self.min_rebuild_s, groups=(run,))
                data = self._tag_data(ctx, eid, run, tag)
        raise errors.NotFoundError(
            f"Run {clip(run)} tag {clip(tag)} has no step {step}. Existing steps: {sample(d.step for d in data)}"
        )

    def _read_or_error(
        self, ctx: tb_context.RequestContext, key: str, index: int, eid: str
    ) -> bytes | errors.PublicError:
        """:meth:`_read_checked`, its ``NotFoundError``/``DamagedBlobError`` returned instead of raised."""
        try:
            return self._read_checked(ctx, key, index, eid)
        except errors.PublicError as e:
            return e

    @staticmethod
    def _frame_etag(
        eid: str,
        requests: Sequence[FrameRequest],
        found: Sequence[provider.BlobSequenceDatum | errors.PublicError],
    ) -> str | None:
        """A frame's entity tag, from the keys of every blob it serves (``None`` when an item or image is
        missing: such an answer is not cached)."""
        h = hashlib.blake2b(digest_size=16)
        h.update(f"{_FRAME_FORMAT}\0{eid}\0".encode())
        for r, datum in zip(requests, found, strict=True):
            if not isinstance(datum, provider.BlobSequenceDatum) or any(i + 1 >= len(datum.values) for i in r.images):
                return None
            keys = [datum.values[0].blob_key] if datum.values else []
            keys += [datum.values[i + 1].blob_key for i in r.images]
            h.update(json.dumps([r.run, r.tag, r.step, list(r.images), keys]).encode())
        return f"{_FRAME_FORMAT}-{h.hexdigest()}"

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
