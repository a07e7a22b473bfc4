"""``FeatureVizPlugin``: the TensorBoard plugin's routes (see ``http_api.md``).

Every route reads through :class:`tb_featureviz.reader.FeatureVizReader` over
``context.data_provider`` (never ``context.multiplexer``, which is ``None`` under ``--load_fast``), and
answers JSON errors: 400 for a bad query, 404 for an unknown run, tag, step, blob or file (and, with
``"damaged": true``, for a blob whose bytes are damaged), never a 500 with a traceback. Error messages
repeat at most a clipped sample of the request (``integrity.clip``/``sample``), so their size is bounded.
The reader's documents name blobs by :class:`~tb_featureviz.reader.BlobKey`; the plugin writes each as
the relative URL of its ``/blob`` route (:func:`blob_url`) when it serialises a response. The export
routes (``export_route.py``, ``export_jobs.py``) run the export over the same reader.
No TensorFlow import.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import pathlib
import re
import urllib.parse
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, cast

from tensorboard import errors, plugin_util
from tensorboard.backend import http_util
from tensorboard.plugins import base_plugin
from werkzeug import wrappers

from tb_featureviz import metadata
from tb_featureviz.metadata import Record
from tb_featureviz.plugin.export_jobs import ExportJobs
from tb_featureviz.reader import (
    BlobKey,
    DamagedBlobError,
    FeatureVizReader,
    downsample_from_hint,
    map_blob_keys,
    png_content_type,
)
from tb_featureviz.reader.cache import DETAIL_RUNS
from tb_featureviz.reader.documents import FRAME_CONTENT_TYPE, encode_frame
from tb_featureviz.reader.integrity import clip
from tb_featureviz.reader.reader import MAX_FRAME_IMAGES, MAX_FRAME_ITEMS, FrameRequest, blob_etag

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment
    from werkzeug.datastructures import Headers

    from tb_featureviz.export.content import DamagedImage

logger = logging.getLogger(__name__)

__all__ = ["STATIC_CONTENT_TYPES", "FeatureVizPlugin", "blob_url", "frontend_dir", "parse_frame_query"]

_JSON = "application/json"
BLOB_MAX_AGE_S = 365 * 24 * 3600
BLOB_CACHE_CONTROL = f"private, max-age={BLOB_MAX_AGE_S}, immutable"

STATIC_CONTENT_TYPES = {
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".css": "text/css",
    ".html": "text/html",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".woff2": "font/woff2",
    ".map": "application/json",
}
"""Extensions served under ``/static/`` with their content types; any other file is 404."""

_STATIC_PREFIX = f"/data/plugin/{metadata.PLUGIN_NAME}/static/"
_SAFE_SEGMENT = re.compile(r"[A-Za-z0-9_\-][A-Za-z0-9_.\-]{0,127}")
_MAX_STATIC_PATH = 512
"""Longest ``/static/`` path looked up (the frontend's names are short; the file system's limit is 255)."""
MAX_INDEX_RUNS = DETAIL_RUNS
"""Most ``run`` parameters of one ``/index`` request (the runs it reads in full)."""
_INT_RE = re.compile(r"-?[0-9]{1,18}")
MAX_FRAME_QUERY = 64 * 1024
"""Longest ``q`` of ``/frame`` (characters), checked before it is parsed."""
_FRAME_ITEM_FORM = "[run, tag, step, [image indices]]"

_Handler = Callable[[wrappers.Request], wrappers.Response]
"""A route as written: a werkzeug request in, a response out."""
_Route = Callable[["FeatureVizPlugin", "WSGIEnvironment", "StartResponse"], Iterable[bytes]]
"""A route as ``_route`` makes it: a method whose bound form is the WSGI application TensorBoard serves."""


def frontend_dir() -> pathlib.Path | None:
    """The installed frontend directory (``tb_featureviz/frontend/`` in the repository), or ``None`` if missing."""
    try:
        import tb_featureviz.frontend as frontend_pkg
    except ImportError:
        return None
    paths = list(getattr(frontend_pkg, "__path__", []))
    return pathlib.Path(paths[0]).resolve() if paths else None


def blob_url(key: BlobKey) -> str:
    """The relative URL of the ``/blob`` route for ``key``: what the JSON routes hand to the frontend."""
    return "blob?key=" + urllib.parse.quote(key.key, safe="")


def _with_urls(doc: Record) -> Record:
    """A reader document with each :class:`BlobKey` written as its :func:`blob_url`."""
    return map_blob_keys(doc, blob_url)


def _json_error(request: wrappers.Request, code: int, message: str, **extra: object) -> wrappers.Response:
    return http_util.Respond(request, {"error": message, **extra}, _JSON, code=code)


def _route(handler: Callable[[FeatureVizPlugin, wrappers.Request], wrappers.Response]) -> _Route:
    """Wraps a route: werkzeug request in, JSON error out for every failure."""

    @functools.wraps(handler)
    def wrapper(self: FeatureVizPlugin, request: wrappers.Request) -> wrappers.Response:
        try:
            return handler(self, request)
        except DamagedBlobError as e:
            return _json_error(request, e.http_code, str(e), damaged=True)
        except errors.PublicError as e:
            return _json_error(request, e.http_code, str(e))
        except Exception:  # never a 500 with a traceback: log it, answer a JSON 503
            logger.exception("featureviz: %s failed", request.path)
            return _json_error(request, 503, "The featureviz data could not be read; see TensorBoard's log.")

    # werkzeug's decorator passes the request last, so it also wraps methods.
    return cast(_Route, wrappers.Request.application(cast(_Handler, wrapper)))


def _etags(request: wrappers.Request) -> set[str]:
    """The entity tags of ``If-None-Match`` (weak ones compared as strong: the bodies never change
    encoding for one tag)."""
    raw = request.headers.get("If-None-Match", "")
    return {t.strip().removeprefix("W/") for t in raw.split(",") if t.strip()}


def _revalidated(
    request: wrappers.Request, body: bytes, etag: str, *, content_encoding: str | None = None
) -> wrappers.Response:
    """A JSON answer the client keeps and revalidates on every poll (``no-cache``): a 304 without a body
    when its ``If-None-Match`` holds ``etag``."""
    if etag in _etags(request):  # unchanged since the client's copy: no body to send or parse
        response = _NotModified(status=304, content_type=_JSON)
        response.headers["X-Content-Type-Options"] = "nosniff"  # what TensorBoard's security check wants
    else:
        response = http_util.Respond(request, body, _JSON, content_encoding=content_encoding)
    response.headers["ETag"] = etag
    response.headers["Cache-Control"] = "no-cache"
    return response


def _arg(request: wrappers.Request, name: str) -> str:
    value = request.args.get(name)
    if value is None or value == "":
        raise errors.InvalidArgumentError(f"Missing query parameter {name!r}.")
    return value


def _int_arg(request: wrappers.Request, name: str) -> int:
    raw = _arg(request, name)
    if not _INT_RE.fullmatch(raw):
        raise errors.InvalidArgumentError(
            f"Query parameter {name!r} must be an integer of at most 18 digits. Received: {name}={clip(raw)}"
        )
    return int(raw)


def _is_int(value: object, low: int, high: int) -> bool:
    return type(value) is int and low <= value < high


def parse_frame_query(raw: str) -> list[FrameRequest]:
    """The items of ``/frame?q=``: a JSON list of ``[run, tag, step, [image indices]]`` (the list may be left
    out: no images).

    Raises:
        InvalidArgumentError: ``q`` is too long, not such a list, or has more than ``MAX_FRAME_ITEMS`` items
            or an item more than ``MAX_FRAME_IMAGES`` images; the message names the value.
    """
    if len(raw) > MAX_FRAME_QUERY:
        raise errors.InvalidArgumentError(
            f"Query parameter 'q' is {len(raw)} characters, more than {MAX_FRAME_QUERY}; ask for fewer items."
        )
    try:
        items = json.loads(raw)
    except (ValueError, RecursionError) as e:
        raise errors.InvalidArgumentError(
            f"Query parameter 'q' must be a JSON list of {_FRAME_ITEM_FORM}. Received: q={clip(raw)}"
        ) from e
    if not isinstance(items, list):
        raise errors.InvalidArgumentError(
            f"Query parameter 'q' must be a JSON list of {_FRAME_ITEM_FORM}. Received: q={clip(raw)}"
        )
    if len(items) > MAX_FRAME_ITEMS:
        raise errors.InvalidArgumentError(
            f"Query parameter 'q' has {len(items)} items; a frame holds at most {MAX_FRAME_ITEMS}."
        )
    requests = []
    for n, item in enumerate(items):
        if isinstance(item, list) and len(item) == 4 and isinstance(item[3], list) and len(item[3]) > MAX_FRAME_IMAGES:
            raise errors.InvalidArgumentError(
                f"Item {n} of query parameter 'q' asks for {len(item[3])} images; an item asks for at most "
                f"{MAX_FRAME_IMAGES}."
            )
        ok = (
            isinstance(item, list)
            and len(item) in (3, 4)
            and all(isinstance(v, str) and v for v in item[:2])
            and _is_int(item[2], -(1 << 63), 1 << 63)
            and (len(item) == 3 or (isinstance(item[3], list) and all(_is_int(i, 0, 1 << 31) for i in item[3])))
        )
        if not ok:
            raise errors.InvalidArgumentError(
                f"Item {n} of query parameter 'q' must be {_FRAME_ITEM_FORM} (strings, an integer step, "
                f"image indices >= 0). Received: {clip(json.dumps(item))}"
            )
        requests.append(FrameRequest(item[0], item[1], item[2], tuple(item[3]) if len(item) == 4 else ()))
    return requests


class _NotModified(wrappers.Response):
    """A 304 that keeps its ``Content-Type`` (werkzeug drops it; TensorBoard's response checks want it)."""

    def get_wsgi_headers(self, environ: WSGIEnvironment) -> Headers:
        headers = super().get_wsgi_headers(environ)
        headers["Content-Type"] = self.headers["Content-Type"]
        return headers


def _not_modified(etag: str, content_type: str) -> wrappers.Response:
    """A 304 with no body for a client that holds ``etag``."""
    response = _NotModified(status=304, content_type=content_type)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.set_etag(etag)
    response.headers["Cache-Control"] = BLOB_CACHE_CONTROL
    return response


class FeatureVizPlugin(base_plugin.TBPlugin):
    """Serves activation grids, filter patterns, Grad-CAM and curves to the ``featureviz`` tab.

    Args:
        context: TensorBoard's ``TBContext``; only ``data_provider`` and ``sampling_hints`` are used.
    """

    plugin_name = metadata.PLUGIN_NAME

    def __init__(self, context: base_plugin.TBContext) -> None:
        hints = getattr(context, "sampling_hints", None) or {}
        self._data_provider = context.data_provider
        self._reader: FeatureVizReader | None = None
        if self._data_provider is not None:
            full_runs = getattr(getattr(context, "flags", None), "featureviz_full_runs", None)
            self._reader = FeatureVizReader(
                self._data_provider,
                downsample=downsample_from_hint(hints.get(self.plugin_name)),
                blob_ref=blob_url,
                detail_runs=full_runs if isinstance(full_runs, int) and full_runs > 0 else DETAIL_RUNS,
            )
        self._static_root = frontend_dir()
        self._export_jobs = ExportJobs()

    @property
    def reader(self) -> FeatureVizReader:
        """The plugin's reader (raises ``NotFoundError`` when TensorBoard gave no data provider)."""
        if self._reader is None:
            raise errors.NotFoundError("TensorBoard has no data provider; featureviz has nothing to show.")
        return self._reader

    def get_plugin_apps(self) -> dict[str, WSGIApplication]:
        return {
            "/index": self._serve_index,
            "/step": self._serve_step,
            "/series": self._serve_series,
            "/blob": self._serve_blob,
            "/frame": self._serve_frame,
            "/scalars": self._serve_scalars,
            "/export": self._serve_export,
            "/export_progress": self._serve_export_progress,
            "/static/*": self._serve_static,
        }

    def is_active(self) -> bool:
        # TensorBoard enables the tab from data_provider.list_plugins(); this is only its fallback.
        return False

    def frontend_metadata(self) -> base_plugin.FrontendMetadata:
        return base_plugin.FrontendMetadata(es_module_path="/static/index.js", tab_name="FeatureViz")

    # -- routes -------------------------------------------------------------------------------------

    @_route
    def _serve_index(self, request: wrappers.Request) -> wrappers.Response:
        ctx = plugin_util.context(request.environ)
        eid = plugin_util.experiment_id(request.environ)
        # Served pre-encoded (and pre-compressed): the index of a large logdir is ~100 kB of JSON.
        gzipped = "gzip" in request.headers.get("Accept-Encoding", "").lower()
        runs = request.args.getlist("run")
        most = max(MAX_INDEX_RUNS, self.reader.detail_runs)
        if len(runs) > most:
            raise errors.InvalidArgumentError(
                f"/index reads at most {most} runs in full at a time. Received: {len(runs)} run parameters"
            )
        body, etag = self.reader.index_payload(ctx, experiment_id=eid, gzipped=gzipped, runs=runs)
        if gzipped:  # another representation, another tag
            etag = etag[:-1] + '-gzip"'
        return _revalidated(request, body, etag, content_encoding="gzip" if gzipped else None)

    @_route
    def _serve_step(self, request: wrappers.Request) -> wrappers.Response:
        run, tag, step = _arg(request, "run"), _arg(request, "tag"), _int_arg(request, "step")
        ctx = plugin_util.context(request.environ)
        eid = plugin_util.experiment_id(request.environ)
        doc = self.reader.step(ctx, run, tag, step, experiment_id=eid)
        return http_util.Respond(request, _with_urls(doc), _JSON)

    @_route
    def _serve_series(self, request: wrappers.Request) -> wrappers.Response:
        run, tag = _arg(request, "run"), _arg(request, "tag")
        index = _int_arg(request, "index") if "index" in request.args else 0
        ctx = plugin_util.context(request.environ)
        eid = plugin_util.experiment_id(request.environ)
        doc = self.reader.series(ctx, run, tag, index, experiment_id=eid)
        return http_util.Respond(request, _with_urls(doc), _JSON)

    @_route
    def _serve_blob(self, request: wrappers.Request) -> wrappers.Response:
        key = _arg(request, "key")
        ctx = plugin_util.context(request.environ)
        eid = plugin_util.experiment_id(request.environ)
        if request.if_none_match:  # a revalidation: the key is checked, the bytes are not read
            etag = self.reader.blob_etag(ctx, key, experiment_id=eid)
            if request.if_none_match.contains(etag):
                return _not_modified(etag, "image/png")
        data = self.reader.blob(ctx, key, experiment_id=eid)
        response = http_util.Respond(request, data, png_content_type(data), expires=BLOB_MAX_AGE_S)
        response.headers["Cache-Control"] = BLOB_CACHE_CONTROL
        response.set_etag(blob_etag(key))
        return response

    @_route
    def _serve_frame(self, request: wrappers.Request) -> wrappers.Response:
        requests = parse_frame_query(_arg(request, "q"))
        ctx = plugin_util.context(request.environ)
        eid = plugin_util.experiment_id(request.environ)
        held = request.if_none_match.as_set() if request.if_none_match else set()
        frame = self.reader.frame(ctx, requests, experiment_id=eid, if_none_match=held)
        if frame.not_modified and frame.etag is not None:
            return _not_modified(frame.etag, FRAME_CONTENT_TYPE)
        body = encode_frame(frame.header, frame.blobs, blob_url)
        if frame.etag is None:  # something was missing: it may be written later
            return http_util.Respond(request, body, FRAME_CONTENT_TYPE)
        response = http_util.Respond(request, body, FRAME_CONTENT_TYPE, expires=BLOB_MAX_AGE_S)
        response.headers["Cache-Control"] = BLOB_CACHE_CONTROL
        response.set_etag(frame.etag)
        return response

    @_route
    def _serve_scalars(self, request: wrappers.Request) -> wrappers.Response:
        run = _arg(request, "run")
        ctx = plugin_util.context(request.environ)
        eid = plugin_util.experiment_id(request.environ)
        body, etag = self.reader.scalars_payload(ctx, run, experiment_id=eid)
        return _revalidated(request, body, etag)

    @_route
    def _serve_export(self, request: wrappers.Request) -> wrappers.Response:
        # Imported on the first export: the export's charts need matplotlib (~45 MB that a TensorBoard
        # only browsing never loads).
        from tb_featureviz.plugin.export_route import handle_export

        ctx = plugin_util.context(request.environ)
        damaged: list[DamagedImage] = []
        body, mimetype, filename = handle_export(self.reader, ctx, request.args, self._export_jobs, damaged)
        response = http_util.Respond(request, body, mimetype)
        response.headers.set("Content-Disposition", "attachment", filename=filename)
        if damaged:  # left out of the file (HTML says so, a ZIP's manifest lists them)
            response.headers.set("X-FeatureViz-Damaged", str(len(damaged)))
        return response

    @_route
    def _serve_export_progress(self, request: wrappers.Request) -> wrappers.Response:
        from tb_featureviz.plugin.export_route import handle_export_progress

        return http_util.Respond(request, handle_export_progress(self._export_jobs, request.args.to_dict()), _JSON)

    @_route
    def _serve_static(self, request: wrappers.Request) -> wrappers.Response:
        path = self._static_file(request)
        try:
            with open(path, "rb") as f:
                body = f.read()
        except OSError as e:
            raise errors.NotFoundError(f"No static file {clip(request.path)}.") from e
        return http_util.Respond(request, body, STATIC_CONTENT_TYPES[path.suffix.lower()])

    def _static_file(self, request: wrappers.Request) -> pathlib.Path:
        """Resolves ``/static/<rel>`` inside the frontend directory, or raises ``NotFoundError``.

        Checks the name before touching the file system: safe segments of at most 128 characters, a path
        of at most 512, no encoded separators, dots or NUL; then the resolved file must lie inside the
        frontend directory and have a served extension. No ``OSError`` (a name too long, say) escapes.
        """
        not_found = errors.NotFoundError(f"No static file {clip(request.path)}.")
        if self._static_root is None:
            raise not_found
        raw = str(request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or "")
        if re.search(r"%(2f|5c|2e|00)", raw, flags=re.IGNORECASE):
            raise not_found  # encoded '/', '\', '.' or NUL: never needed by our frontend
        path = request.path
        marker = path.find("/static/")
        if not path.startswith(_STATIC_PREFIX) and marker < 0:
            raise not_found
        rel = path[len(_STATIC_PREFIX) :] if path.startswith(_STATIC_PREFIX) else path[marker + len("/static/") :]
        if not rel or len(rel) > _MAX_STATIC_PATH or "\\" in rel:
            raise not_found
        segments = rel.split("/")
        if any(not _SAFE_SEGMENT.fullmatch(s) or s in (".", "..") for s in segments):
            raise not_found
        try:
            target = self._static_root.joinpath(*segments).resolve()
            if not target.is_relative_to(self._static_root) or not target.is_file():
                raise not_found
        except (OSError, ValueError) as e:
            raise not_found from e
        if target.suffix.lower() not in STATIC_CONTENT_TYPES or os.path.basename(target).startswith("."):
            raise not_found
        return target
