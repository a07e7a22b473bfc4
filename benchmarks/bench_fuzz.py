"""Fuzzes every route of ``http_api.md`` in a real TensorBoard with both loaders, and counts what broke.

Writes the test suite's logdir (``tests/support/server.py``'s ``TB_SERVER_LOGDIR``: 2 runs x 12 epochs), starts
``tensorboard`` with ``--load_fast=false`` and ``true`` (stderr to a log file), and sends seeded requests
from ``tests/support/fuzz_http.py``: valid ones built from what the server lists and hostile ones (over-long
numbers, epoch ranges like ``0-99999999999``, forged blob keys of both loaders' formats, long static names,
a new ``/experiment/<id>/`` each time...). A warm-up pass of every class runs first (and fills the plugin's
LRU of experiment states); then each request class runs as a block, so that the server's resident memory
(TensorBoard plus its Rust data server) before and after the block gives the growth per request of that
class.

Prints, per loader and in all: requests, 5xx seen, requests with no answer, other problems (an error body
over 4 KiB or not JSON, a success over its bound), tracebacks in TensorBoard's log, the largest error and
success bodies, and memory growth per request class. Exits 1 if anything broke.

Usage:
    python -m benchmarks.bench_fuzz [-n 10000] [--seed 0]
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._common import LOADERS
from tb_featureviz.reader import MAX_EXPERIMENTS
from tests.support import fuzz_http, logdir_factory
from tests.support.server import (
    TB_SERVER_LOGDIR,
    data_server_available,
    process_rss,
    start_tensorboard_process,
    wait_for_featureviz,
)


def fuzz_loader(spec: logdir_factory.LogdirSpec, load_fast: bool, n: int, seed: int, log_path: Path) -> dict[str, Any]:
    tb = start_tensorboard_process(spec.root, load_fast, log_path=log_path)
    try:
        wait_for_featureviz(tb.url, spec, timeout_s=120)
        client = fuzz_http.Client(tb.url)
        fuzzer = fuzz_http.prepare(client, seed=seed)
        # Warm up every class, and fill the reader's LRU of experiment states (32 ids) before measuring.
        warm = fuzz_http.send(client, fuzzer.requests(10 * len(fuzz_http.CLASSES)))
        warm += fuzz_http.send(client, fuzzer.requests(MAX_EXPERIMENTS + 8, classes=["experiment"]))
        weights = sum(fuzz_http.WEIGHTS.values())
        left = max(0, n - len(warm))
        counts = {cls: left * w // weights for cls, w in fuzz_http.WEIGHTS.items()}
        counts["forged_blob"] += left - sum(counts.values())
        results = list(warm)
        growth: dict[str, tuple[int, int]] = {}
        for cls, count in counts.items():
            before = process_rss(tb.pid)
            block = fuzz_http.send(client, fuzzer.requests(count, classes=[cls]))
            growth[cls] = (process_rss(tb.pid) - before, len(block))
            results += block
        client.close()
        rss = process_rss(tb.pid)
    finally:
        tb.stop()
    log = log_path.read_text(errors="replace")
    return {
        "results": results,
        "growth": growth,
        "rss": rss,
        "tracebacks": fuzz_http.tracebacks(log),
    }


def report(name: str, out: dict[str, Any]) -> tuple[int, int, int, int]:
    results = out["results"]
    statuses = collections.Counter(r.status for r in results)
    server_errors = sum(v for k, v in statuses.items() if k >= 500)
    no_answer = statuses.get(0, 0)
    problems = fuzz_http.problems(results)
    errors = [r.size for r in results if r.status >= 400]
    oks = [r.size for r in results if 0 < r.status < 400]
    slowest = max(results, key=lambda r: r.seconds)
    print(f"\n{name}")
    print(f"  requests {len(results)}  5xx {server_errors}  no answer {no_answer}  problems {len(problems)}  "
          f"tracebacks in the log {len(out['tracebacks'])}")  # fmt: skip
    print(f"  statuses {dict(sorted(statuses.items()))}")
    print(f"  largest error body {max(errors, default=0)} B; largest success body {max(oks, default=0)} B; "
          f"slowest {slowest.seconds * 1e3:.0f} ms ({slowest.cls})")  # fmt: skip
    print(f"  resident memory at the end {out['rss'] / 2**20:.1f} MiB; growth per request class:")
    for cls, (delta, count) in out["growth"].items():
        print(f"    {cls:<16} {count:>5} requests  {delta / 1024:>+9.0f} KiB  ({delta / max(1, count):+.0f} B/request)")
    for p in problems[:10]:
        print(f"  ! {p}")
    for t in out["tracebacks"][:3]:
        print("  ! traceback:\n" + "\n".join("      " + line for line in t.splitlines()))
    return len(results), server_errors, no_answer + len(problems), len(out["tracebacks"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=10_000, help="requests in all, split between the loaders")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    loaders = [(fast, name) for fast, name in LOADERS if not fast or data_server_available()]
    totals = [0, 0, 0, 0]
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench_fuzz_") as root:
        spec = logdir_factory.write_logdir(os.path.join(root, "logs"), **TB_SERVER_LOGDIR)
        print(f"logdir: {TB_SERVER_LOGDIR}; routes fuzzed: {', '.join(fuzz_http.documented_routes())}")
        for i, (load_fast, name) in enumerate(loaders):
            n = args.n // len(loaders) + (1 if i < args.n % len(loaders) else 0)
            out = fuzz_loader(spec, load_fast, n, args.seed + i, Path(root) / f"tensorboard-{i}.log")
            for k, v in enumerate(report(name, out)):
                totals[k] += v
    requests, server_errors, problems, tracebacks = totals
    print(
        f"\nall loaders: {requests} requests fuzzed, {server_errors} 5xx, {problems} other problems, "
        f"{tracebacks} tracebacks ({time.perf_counter() - t0:.0f} s)"
    )
    return 1 if server_errors or problems or tracebacks else 0


if __name__ == "__main__":
    sys.exit(main())
