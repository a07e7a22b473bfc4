"""FeatureVizReader: grouping, sampling, caches and offline use, with both data providers."""

from __future__ import annotations

import time
from typing import Any

import pytest
from tensorboard import errors

from tb_featureviz import reader as reader_lib
from tests.support import logdir_factory
from tests.support.server import data_server_available, make_provider


@pytest.mark.parametrize(
    ("run", "expected"),
    [("exp1/featureviz", ("exp1", "featureviz")), ("featureviz", (".", "featureviz")), ("a/b/train", ("a/b", "train"))],
)
def test_split_run(run: str, expected: tuple[str, str]) -> None:
    assert reader_lib.split_run(run) == expected


@pytest.mark.parametrize(
    ("hint", "expected"),
    [(None, reader_lib.DOWNSAMPLE_ALL), (0, reader_lib.DOWNSAMPLE_ALL), (-1, reader_lib.DOWNSAMPLE_ALL), (7, 7)],
)
def test_downsample_from_hint_never_zero(hint: int | None, expected: int) -> None:
    assert reader_lib.downsample_from_hint(hint) == expected


def test_reader_rejects_zero_downsample() -> None:
    with pytest.raises(ValueError, match="downsample=0"):
        reader_lib.FeatureVizReader(object(), downsample=0)  # type: ignore[arg-type]


def test_blob_cache_evicts_least_recently_used_by_bytes() -> None:
    cache = reader_lib.BlobCache(max_bytes=40)
    for key in "abcd":
        cache.put(key, b"x" * 10)
    assert cache.get("a") == b"x" * 10  # a is now most recent
    cache.put("e", b"y" * 10)
    assert cache.get("b") is None and cache.get("a") is not None
    assert cache.size == 40 and len(cache) == 4
    cache.put("big", b"z" * 11)  # larger than a quarter: not cached
    assert cache.get("big") is None


def test_groups_without_keras_and_flat_logdir(tmp_path: Any) -> None:
    spec = logdir_factory.write_logdir(tmp_path, runs=(".",), epochs=2, keras_curves=False)
    with reader_lib.open_logdir(spec.root) as reader:
        assert reader.run_groups(None) == [reader_lib.RunGroup(".", featureviz="featureviz")]
        assert logdir_factory.mask_blobs(reader.index(None)) == spec.expected_index()
        assert reader.scalars(None, ".") == spec.expected_scalars(".")


@pytest.mark.parametrize("load_fast", [False, True], ids=["python", "rust"])
def test_open_logdir_both_loaders(featureviz_logdir: Any, load_fast: bool) -> None:
    if load_fast and not data_server_available():
        pytest.skip("tensorboard-data-server is not installed")
    spec = featureviz_logdir
    with reader_lib.open_logdir(spec.root, load_fast=load_fast) as reader:
        assert logdir_factory.mask_blobs(reader.index(None)) == spec.expected_index()
        step = reader.step(None, "exp1", "activations/conv2d", 11)
        key = step["images"][0].key  # a BlobKey: the plugin writes it as a URL
        png = reader.blob(None, key)
        pixels = logdir_factory.decode_png(png)
        assert pixels[0, 0] == spec.activation_value("exp1", 11, "conv2d", 0, 0)
        with pytest.raises(errors.NotFoundError, match="Existing steps"):
            reader.step(None, "exp1", "activations/conv2d", 99)
        with pytest.raises(errors.NotFoundError, match="No blob"):
            reader.blob(None, "WyJub3BlIl0")


def test_caches_blobs_and_index(provider: tuple[str, Any, Any]) -> None:
    _, dp, _ = provider
    calls: dict[str, int] = {}

    class Counting:
        def __getattr__(self, name: str) -> Any:
            attr = getattr(dp, name)

            def wrapped(*a: Any, **k: Any) -> Any:
                calls[name] = calls.get(name, 0) + 1
                return attr(*a, **k)

            return wrapped

    reader = reader_lib.FeatureVizReader(Counting(), fresh_s=60)  # type: ignore[arg-type]
    first = reader.index(None)
    assert reader.index(None) is first
    listed = calls["list_blob_sequences"]
    step = reader.step(None, "exp1", "probes", 0)
    key = step["images"][0].key
    reads = calls["read_blob"]
    assert reader.blob(None, key) == reader.blob(None, key)
    assert calls["read_blob"] == reads + 1
    assert calls["list_blob_sequences"] == listed  # step/blob served from the snapshot
    reader.close()


def test_stale_snapshot_refreshes_in_background(tmp_path: Any) -> None:
    spec = logdir_factory.write_logdir(tmp_path, epochs=1)
    dp, close = make_provider(spec.root, "python")
    reader = reader_lib.FeatureVizReader(dp, fresh_s=0.05)
    assert reader.index(None)["runs"][0]["steps"] == [0]
    logdir_factory.append_epoch(spec, "exp1")
    dp._multiplexer.Reload()  # what TensorBoard's reload thread does
    time.sleep(0.1)
    reader.index(None)  # stale: answered from cache, refresh started
    deadline = time.monotonic() + 5
    while reader.index(None)["runs"][0]["steps"] != [0, 1]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    # An unknown step re-reads the provider at once, however fresh the snapshot is meant to be.
    slow = reader_lib.FeatureVizReader(dp, fresh_s=60)
    assert slow.index(None)["runs"][0]["steps"] == [0, 1]
    logdir_factory.append_epoch(spec, "exp1")
    dp._multiplexer.Reload()
    time.sleep(0.3)
    assert slow.step(None, "exp1", "activations/conv2d", 2)["step"] == 2
    reader.close()
    slow.close()
    close()
