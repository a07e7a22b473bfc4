"""The reader hands out blob keys, never URLs; the plugin writes them as ``blob?key=`` URLs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tb_featureviz.plugin.plugin import blob_url
from tb_featureviz.reader import BlobKey, encode_json, map_blob_keys, open_logdir
from tests.support import logdir_factory


def _strings(doc: object) -> list[str]:
    if isinstance(doc, dict):
        return [s for v in doc.values() for s in _strings(v)]
    if isinstance(doc, list):
        return [s for v in doc for s in _strings(v)]
    return [doc] if isinstance(doc, str) else []


def test_map_blob_keys_replaces_keys_only() -> None:
    doc = {"a": [BlobKey("k1"), ("x", BlobKey("k2"))], "b": {"c": 1, "d": None}, "e": "blob"}
    expected = {"a": ["K1", ["x", "K2"]], "b": {"c": 1, "d": None}, "e": "blob"}
    assert map_blob_keys(doc, lambda k: k.key.upper()) == expected


def test_encode_json_writes_keys_with_blob_ref_and_refuses_other_objects() -> None:
    doc = {"images": [BlobKey("a=b")], "n": 1}
    assert encode_json(doc, blob_url) == b'{"images":["blob?key=a%3Db"],"n":1}'
    with pytest.raises(TypeError, match="object"):
        encode_json({"x": object()}, blob_url)


def test_reader_documents_carry_keys_not_urls(tmp_path: Path) -> None:
    spec = logdir_factory.write_logdir(tmp_path, runs=("exp1",), epochs=2)
    with open_logdir(spec.root) as reader:
        index = reader.index(None)
        step = reader.step(None, "exp1", "activations/conv2d", 1)
        series = reader.series(None, "exp1", "activations/conv2d", 0)
        for doc in (index, step, series):
            assert not [s for s in _strings(doc) if "blob?key=" in s]
        probes = index["runs"][0]["probes"]["images"]
        assert probes and all(isinstance(k, BlobKey) for k in probes)
        assert all(isinstance(k, BlobKey) for k in step["images"] + series["images"])
        assert reader.blob(None, step["images"][0])[:8] == b"\x89PNG\r\n\x1a\n"
        assert reader.blob(None, step["images"][0].key) == reader.blob(None, step["images"][0])
        # Without a blob_ref, the pre-encoded index writes the bare keys.
        encoded = json.loads(reader.index_json(None))
        assert encoded["runs"][0]["probes"]["images"] == [k.key for k in probes]


def test_plugin_blob_url_quotes_the_key() -> None:
    assert blob_url(BlobKey("WyJh=")) == "blob?key=WyJh%3D"
