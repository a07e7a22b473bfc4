"""The one way to read a featureviz logdir, under both the plugin and the export.

``FeatureVizReader`` reads through a TensorBoard data provider (either loader) and hands out the
documents of ``tb_featureviz/plugin/http_api.md``, in which a blob is a :class:`BlobKey`: URLs are the
plugin's business. Imports ``tensorboard``, never TensorFlow, and nothing of ``plugin/`` or ``export/``.

Modules, one job each:

- ``reader.py``: :class:`FeatureVizReader`, the public API (index, step, series, blob, scalars);
- ``cache.py``: the LRU blob cache and the stale-while-revalidate snapshot cache;
- ``documents.py``: building the JSON documents from what a provider lists (pure);
- ``keys.py``: blob keys, decoded and checked;
- ``integrity.py``: checks of blob bytes and bounded error messages;
- ``offline.py``: :func:`open_logdir`, a reader without a TensorBoard server.

Example:
    >>> from tb_featureviz.reader import open_logdir
    >>> with open_logdir("logs") as reader:
    ...     step = reader.step(None, "exp1", "activations/conv2d", 0)
    ...     png = reader.blob(None, step["images"][0])
"""

from tb_featureviz.reader.cache import BlobCache, Snapshot, SnapshotCache
from tb_featureviz.reader.documents import RunGroup, encode_json, split_run
from tb_featureviz.reader.integrity import DamagedBlobError, png_content_type
from tb_featureviz.reader.keys import BlobAddress, BlobKey, decode_blob_key, map_blob_keys
from tb_featureviz.reader.offline import open_logdir
from tb_featureviz.reader.reader import (
    DOWNSAMPLE_ALL,
    MAX_EXPERIMENTS,
    SCALARS_PLUGIN,
    FeatureVizReader,
    downsample_from_hint,
)

__all__ = [
    "DOWNSAMPLE_ALL",
    "MAX_EXPERIMENTS",
    "SCALARS_PLUGIN",
    "BlobAddress",
    "BlobCache",
    "BlobKey",
    "DamagedBlobError",
    "FeatureVizReader",
    "RunGroup",
    "Snapshot",
    "SnapshotCache",
    "decode_blob_key",
    "downsample_from_hint",
    "encode_json",
    "map_blob_keys",
    "open_logdir",
    "png_content_type",
    "split_run",
]
