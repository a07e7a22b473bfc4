"""A sweep of many runs: listed from the data provider's listing only, read in full on demand, served stale
while it refreshes, with caches bounded in bytes. Both data providers; the sweep is ``detail_runs`` lowered
to 2 over a logdir of 4 runs."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from tensorboard import errors

from tb_featureviz import reader as reader_lib
from tb_featureviz.reader.cache import ByteLRU, ExperimentState, ScalarsEntry
from tests.support import logdir_factory
from tests.support.routes import PLUGIN_ROUTE
from tests.support.server import make_provider
from tests.support.wsgi import Client

RUNS = ("exp1", "exp2", "exp3", "exp4")


class Counting:
    """A data provider that counts its calls by method (and can hold ``list_blob_sequences`` back)."""

    def __init__(self, dp: Any) -> None:
        self.dp = dp
        self.calls: dict[str, int] = {}
        self.read_runs: list[list[str]] = []
        self.gate: threading.Event | None = None

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.dp, name)

        def wrapped(*a: Any, **k: Any) -> Any:
            self.calls[name] = self.calls.get(name, 0) + 1
            if name == "read_blob_sequences":
                self.read_runs.append(sorted(k["run_tag_filter"].runs))
            if name == "list_blob_sequences" and self.gate is not None:
                assert self.gate.wait(10)
            return attr(*a, **k)

        return wrapped


@pytest.fixture(scope="module", params=["python", "rust"])
def sweep(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Any]]:
    spec = logdir_factory.write_logdir(tmp_path_factory.mktemp("sweep"), runs=RUNS, epochs=2)
    dp, close = make_provider(spec.root, request.param)
    yield dp, spec
    close()


def _entry(index: dict[str, Any], run: str) -> dict[str, Any]:
    return next(e for e in index["runs"] if e["run"] == run)


def test_a_sweep_is_listed_without_reading_a_step(sweep: tuple[Any, Any]) -> None:
    dp, spec = sweep
    counting = Counting(dp)
    reader = reader_lib.FeatureVizReader(counting, detail_runs=2)  # type: ignore[arg-type]
    index = reader.index(None)
    assert [e["run"] for e in index["runs"]] == list(RUNS)
    assert "read_blob_sequences" not in counting.calls and "read_blob" not in counting.calls
    entry = _entry(index, "exp3")
    assert entry["partial"] is True
    assert (entry["steps"], entry["max_step"], entry["stages"], entry["probes"], entry["run_info"]) == (
        [],
        1,
        None,
        None,
        None,
    )
    assert entry["curves"] == ["accuracy", "loss"] and entry["curve_source"] == "keras"
    assert [(k["tag"], k["layer"], k["steps"], k["images"]) for k in entry["kinds"]["activations"]] == [
        ("activations/conv2d", "conv2d", [], spec.probes),
        ("activations/conv2d_1", "conv2d_1", [], spec.probes),
        ("activations/max_pooling2d", "max_pooling2d", [], spec.probes),
    ]
    assert [k["tag"] for k in entry["kinds"]["gradcam"]] == ["gradcam/conv2d_1"]
    reader.close()


def test_runs_asked_for_are_read_in_full_exactly_as_a_small_logdir_reads_them(sweep: tuple[Any, Any]) -> None:
    dp, _ = sweep
    counting = Counting(dp)
    reader = reader_lib.FeatureVizReader(counting, detail_runs=2)  # type: ignore[arg-type]
    small = reader_lib.FeatureVizReader(dp)  # 4 runs <= 64: everything read in full
    reader.index(None)
    index = reader.index(None, runs=["exp2"])
    assert counting.read_runs == [["exp2/featureviz"]]  # only the run asked for
    full = _entry(small.index(None), "exp2")
    assert _entry(index, "exp2") == full and "partial" not in full
    assert [e.get("partial", False) for e in index["runs"]] == [True, False, True, True]
    # Reading another run's step reads that run; exp2 is kept (its listing did not change).
    assert reader.step(None, "exp4", "activations/conv2d", 1)["step"] == 1
    assert counting.read_runs == [["exp2/featureviz"], ["exp4/featureviz"]]
    assert [e.get("partial", False) for e in reader.index(None)["runs"]] == [True, False, True, False]
    # Two runs at most are read in full: a third pushes the one asked for least recently out.
    reader.index(None, runs=["exp1"])
    assert [e.get("partial", False) for e in reader.index(None)["runs"]] == [False, True, True, False]
    assert counting.read_runs[-1] == ["exp1/featureviz"]
    with pytest.raises(errors.NotFoundError, match="no step 7"):
        reader.step(None, "exp3", "activations/conv2d", 7)
    reader.close()
    small.close()


def test_the_index_route_reads_the_runs_it_names(sweep: tuple[Any, Any]) -> None:
    dp, spec = sweep
    client = Client(dp, spec.root)
    client.plugin.reader.detail_runs = 2
    listed = client.json(f"{PLUGIN_ROUTE}/index")
    assert [e.get("partial", False) for e in listed["runs"]] == [True] * 4
    named = client.json(f"{PLUGIN_ROUTE}/index?run=exp1&run=exp3")
    assert [e.get("partial", False) for e in named["runs"]] == [False, True, False, True]
    assert _entry(named, "exp3")["steps"] == [0, 1]
    too_many = client.json(f"{PLUGIN_ROUTE}/index?" + "&".join(f"run=r{i}" for i in range(65)), status=400)
    assert too_many == {
        "error": "Invalid argument: /index reads at most 64 runs in full at a time. Received: 65 run parameters"
    }


def test_a_stale_snapshot_is_served_at_once_while_it_refreshes(sweep: tuple[Any, Any]) -> None:
    dp, _ = sweep
    counting = Counting(dp)
    reader = reader_lib.FeatureVizReader(counting, fresh_s=0.05)  # type: ignore[arg-type]
    first = reader.index_json(None)
    state = reader.snapshots.state("")
    # Older than fresh_s (or ten times the build): the next request starts a refresh, which the gate holds.
    time.sleep(reader.snapshots.refresh_after(state) + 0.05)
    counting.gate = threading.Event()
    t0 = time.monotonic()
    assert reader.index_json(None) is first
    time.sleep(0.2)
    assert reader.index_json(None) is first  # still refreshing: the old snapshot, at once
    assert time.monotonic() - t0 < 1.0
    assert state.refreshing
    counting.gate.set()
    deadline = time.monotonic() + 5
    while state.refreshing:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert json.loads(reader.index_json(None)) == json.loads(first)  # nothing changed on disk
    reader.close()


def test_byte_lru_evicts_by_bytes_and_skips_values_over_a_quarter() -> None:
    cache: ByteLRU[bytes] = ByteLRU(max_bytes=100)
    for key in "abcd":
        cache.put(key, b"x" * 20, owner="e1")
    assert (cache.size, len(cache)) == (80, 4)
    assert cache.get("a") == b"x" * 20  # a is now the most recently used
    cache.put("e", b"y" * 25)  # 105 bytes: b (least recently used) goes
    assert (cache.get("b"), cache.size, len(cache)) == (None, 85, 4)
    cache.put("big", b"z" * 26)  # over a quarter of 100: never cached
    assert (cache.get("big"), cache.size) == (None, 85)
    cache.drop_owner("e1")
    assert (sorted(k for k in "acde" if cache.get(k) is not None), cache.size) == (["e"], 25)
    sized: ByteLRU[str] = ByteLRU(max_bytes=40, size_of=lambda v: 2 * len(v))
    for key in "klmno":
        sized.put(key, "abcd")  # 8 bytes each: the fifth makes 40, a sixth would evict
    sized.put("p", "abcd")
    assert (sized.get("k"), sized.get("l"), sized.size) == (None, "abcd", 40)


def test_scalars_documents_are_cached_within_a_byte_bound() -> None:
    state = ExperimentState(scalars_bytes=3000, wanted_runs=2)
    for run in "abcde":  # 3 x 148 + 256 = 700 bytes each: the fifth makes 3500 > 3000 and a goes
        state.scalars.put(run, ScalarsEntry((), {"run": run}, b"x" * 148, '"e"'))
    assert [r for r in "abcde" if state.scalars.get(r) is not None] == ["b", "c", "d", "e"]
    state.want(["x/featureviz", "y/featureviz", "z/featureviz"])
    assert state.wanted_now() == {"y/featureviz", "z/featureviz"}


def test_the_index_has_an_entity_tag_and_answers_304_while_unchanged(sweep: tuple[Any, Any]) -> None:
    dp, spec = sweep
    client = Client(dp, spec.root).client
    first = client.get(f"{PLUGIN_ROUTE}/index")
    etag = first.headers["ETag"]
    assert first.status_code == 200 and first.headers["Cache-Control"] == "no-cache"
    assert etag.startswith('"') and etag.endswith('"') and len(etag) == 26
    again = client.get(f"{PLUGIN_ROUTE}/index", headers={"If-None-Match": etag})
    assert (again.status_code, again.data, again.headers["ETag"]) == (304, b"", etag)
    zipped = client.get(f"{PLUGIN_ROUTE}/index", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip" and zipped.headers["ETag"] == etag[:-1] + '-gzip"'
    assert client.get(f"{PLUGIN_ROUTE}/index", headers={"If-None-Match": '"other"'}).status_code == 200
    assert client.get(f"{PLUGIN_ROUTE}/index", headers={"If-None-Match": f'"x", W/{etag}'}).status_code == 304


def test_scalars_have_an_entity_tag_and_answer_304_while_unchanged(sweep: tuple[Any, Any]) -> None:
    dp, spec = sweep
    client = Client(dp, spec.root).client
    first = client.get(f"{PLUGIN_ROUTE}/scalars?run=exp2")
    etag = first.headers["ETag"]
    assert (first.status_code, first.headers["Cache-Control"], len(etag)) == (200, "no-cache", 26)
    assert json.loads(first.data)["run"] == "exp2"
    again = client.get(f"{PLUGIN_ROUTE}/scalars?run=exp2", headers={"If-None-Match": etag})
    assert (again.status_code, again.data, again.headers["ETag"]) == (304, b"", etag)
    other = client.get(f"{PLUGIN_ROUTE}/scalars?run=exp3")
    assert other.headers["ETag"] != etag


def test_names_that_are_not_listed_never_push_a_run_out(sweep: tuple[Any, Any]) -> None:
    dp, _ = sweep
    reader = reader_lib.FeatureVizReader(dp, detail_runs=2)
    reader.index(None, runs=["exp1", "exp2"])
    index = reader.index(None, runs=["ghost", "gone/run", "exp9"])  # a bookmark of deleted runs, say
    assert [e.get("partial", False) for e in index["runs"]] == [False, False, True, True]
    assert reader.snapshots.state("").wanted_now() == {"exp1/featureviz", "exp2/featureviz"}
    reader.close()


def test_an_export_of_more_runs_than_are_read_in_full_says_so(sweep: tuple[Any, Any]) -> None:
    from tb_featureviz.export import ExportArgumentError, ExportOptions
    from tb_featureviz.export.api import export_from_reader

    dp, _ = sweep
    reader = reader_lib.FeatureVizReader(dp, detail_runs=2)
    with pytest.raises(ExportArgumentError, match=r"at most 2 runs in full at a time.*Received: 3 runs"):
        export_from_reader(reader, None, ExportOptions.parse("exp1,exp2,exp3", format="zip"))
    reader.close()
