"""Blob keys: how the reader names one stored image or record.

The documents of :mod:`tb_featureviz.reader.documents` carry a :class:`BlobKey` wherever they refer to a
blob. The reader neither knows nor builds URLs: the plugin turns a key into the relative URL of its
``/blob`` route when it serialises a response, and the export passes the key back to
``FeatureVizReader.blob``.

A key is the opaque string a TensorBoard data provider lists. :func:`decode_blob_key` reads its fields
(experiment, run, tag, step, index), so that the reader can check a key a client sent before asking the
provider for it.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import re
from collections.abc import Callable
from typing import Any

from tb_featureviz import metadata

__all__ = ["BLOB_KEY_RE", "BlobAddress", "BlobKey", "decode_blob_key", "map_blob_keys"]

BLOB_KEY_RE = re.compile(r"[A-Za-z0-9_\-=.~]{1,4096}")
"""What a blob key of either loader looks like (URL-safe base64, at most 4096 characters)."""

_INT64 = 1 << 63


@dataclasses.dataclass(frozen=True, slots=True)
class BlobKey:
    """A reference to one blob in a reader document (an image or a step's JSON record).

    Attributes:
        key: The data provider's blob key, as ``FeatureVizReader.blob`` takes it.
    """

    key: str


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


def decode_blob_key(key: object) -> BlobAddress | None:
    """Decodes a blob key of either TensorBoard loader, checking the type and range of every field.

    The Python loader's keys are URL-safe base64 of the JSON array
    ``[experiment_id, plugin_name, run, tag, step, index]``, the Rust data server's of
    ``[experiment_id, run, tag, step, index]``.

    Returns:
        The :class:`BlobAddress`, or ``None`` for anything else (wrong shape, types, plugin, range).
    """
    if not isinstance(key, str) or not BLOB_KEY_RE.fullmatch(key):
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


def map_blob_keys(doc: Any, fn: Callable[[BlobKey], Any]) -> Any:
    """A copy of a document with every :class:`BlobKey` replaced by ``fn(key)``.

    Dicts keep their order; tuples become lists (as in JSON). Other values are shared, not copied.

    Example:
        >>> map_blob_keys({"images": [BlobKey("k1")]}, lambda k: "blob?key=" + k.key)
        {'images': ['blob?key=k1']}
    """
    if isinstance(doc, BlobKey):
        return fn(doc)
    if isinstance(doc, dict):
        return {k: map_blob_keys(v, fn) for k, v in doc.items()}
    if isinstance(doc, (list, tuple)):
        return [map_blob_keys(v, fn) for v in doc]
    return doc
