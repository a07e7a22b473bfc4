"""A seeded fuzz of every route in ``http_api.md`` against a real TensorBoard, with each loader.

A few hundred requests per loader (``benchmarks/bench_fuzz.py`` sends 10,000): valid ones built from what
the server lists, and hostile ones (over-long numbers, huge epoch ranges, forged blob keys, long static
names, new experiment ids...). Every answer must be below 500, an error must be a small JSON
``{"error"}``, a success must stay under a size bound, TensorBoard's log must hold no traceback, and the
server's memory must not grow past a bound.
"""

from __future__ import annotations

import collections
from pathlib import Path

from tests.support import fuzz_http
from tests.support.server import TBServer, process_rss

REQUESTS = 300
"""Requests per loader in CI."""

MAX_GROWTH = 48 * 1024 * 1024
"""Resident memory the server (and its data server) may gain over the fuzz, after a warm-up pass."""


def test_fuzzer_covers_every_documented_route() -> None:
    documented = fuzz_http.documented_routes()
    assert documented == [
        "/index",
        "/step",
        "/series",
        "/blob",
        "/frame",
        "/scalars",
        "/export",
        "/export_progress",
        "/static",
    ]
    assert set(documented) == set(fuzz_http.CLASSES.values())


def test_fuzz_every_route(tb_server: TBServer) -> None:
    client = fuzz_http.Client(tb_server.url)
    try:
        fuzzer = fuzz_http.prepare(client, seed=9)
        assert fuzzer.keys, "no blob keys to fuzz with"
        # A warm-up pass of every class (caches, experiment states, thread pools), then the measured run.
        warm = fuzz_http.send(client, fuzzer.requests(60))
        rss_before = process_rss(tb_server.pid)
        results = fuzz_http.send(client, fuzzer.requests(REQUESTS))
        rss_after = process_rss(tb_server.pid)
    finally:
        client.close()
    all_results = warm + results
    assert fuzz_http.problems(all_results) == []
    by_class = collections.Counter(r.cls for r in results)
    assert set(by_class) == set(fuzz_http.CLASSES), by_class
    statuses = collections.Counter(r.status for r in all_results)
    assert statuses[200] > 0 and statuses[400] > 0 and statuses[404] > 0, statuses
    # Forged keys never reach bytes: none is answered 200.
    assert all(r.status in (400, 404) for r in all_results if r.cls == "forged_blob"), [
        (r.status, r.path[:120]) for r in all_results if r.cls == "forged_blob" and r.status not in (400, 404)
    ]
    assert tb_server.log_path is not None
    assert fuzz_http.tracebacks(Path(tb_server.log_path).read_text(errors="replace")) == []
    if rss_before:
        assert rss_after - rss_before < MAX_GROWTH, (rss_before, rss_after)
