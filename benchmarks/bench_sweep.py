"""Many runs, measured as a user meets them: listing a sweep, scrubbing 20 panels, and TensorBoard's memory.

For each size (runs of ``--epochs`` epochs x ``--layers`` layers x 4 probes, with the same PNGs as
images-plugin data) and each loader, in one run:

* **listing**: a real TensorBoard is started and, from the moment it is launched, ``/index`` and the images
  plugin's ``/tags`` are polled side by side; reported are the seconds until the featureviz tab lists
  every run, until it shows every run's last epoch, and until the images plugin lists every run's tags;
* **/index** warm (p50/p95 of 50 requests, beside the images plugin's ``/tags``) and, with ``--idle``, the
  first one after a minute idle;
* **scrub**: in real Chromium at 1400x900, the arrow key held over every epoch with 1 and 20 panels, first
  pass: ms per frame (p50/p95) and requests per frame (``benchmarks/_scrub.py``);
* **memory**: the resident memory of TensorBoard and its Rust data server after all that, against the same
  TensorBoard with the featureviz plugin left out, on the same logdir and loader, once the images plugin
  lists every run (both keep every featureviz step: ``--samples_per_plugin featureviz=0``).

Logdirs are written once, two processes in parallel, and cached under ``$FEATUREVIZ_BENCH_CACHE`` (default
``~/.cache/tb-featureviz``): 1,000 x 50 x 8 takes about 4 minutes and 1.4 GB.

Usage:
    python -m benchmarks.bench_sweep [--sizes 20,200,1000] [--loaders python,rust] [--epochs 50] [--idle]
"""

from __future__ import annotations

import argparse
import gzip
import json
import multiprocessing
import os
import statistics
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.support import logdir_factory
from tests.support.server import process_rss, start_tensorboard_process

LAYERS = 8
PROBES = 4
PLUGIN = "/data/plugin/featureviz"


def cache_root() -> Path:
    return Path(os.environ.get("FEATUREVIZ_BENCH_CACHE", Path.home() / ".cache" / "tb-featureviz")) / "sweep"


def run_names(runs: int) -> list[str]:
    return [f"run{i:04d}" for i in range(runs)]


def _write_run(args: tuple[str, str, int]) -> None:
    root, run, epochs = args
    logdir_factory.write_logdir(
        root,
        runs=[run],
        epochs=epochs,
        layers=[f"conv2d_{i}" for i in range(LAYERS)],
        probes=PROBES,
        channels=16,
        tile=8,
        images_plugin=True,
    )


def sweep_logdir(runs: int, epochs: int) -> Path:
    """The cached logdir of ``runs`` runs x ``epochs`` epochs (written now, two processes, if missing)."""
    root = cache_root() / f"{runs}x{epochs}x{LAYERS}"
    done = root / "complete.json"
    if done.exists():
        return root
    t0 = time.perf_counter()
    root.mkdir(parents=True, exist_ok=True)
    for child in root.iterdir():  # a write that was interrupted: start over
        if child.is_dir():
            for path in sorted(child.rglob("*"), reverse=True):
                path.unlink() if path.is_file() else path.rmdir()
            child.rmdir()
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        for _ in pool.imap_unordered(_write_run, [(str(root), run, epochs) for run in run_names(runs)]):
            pass
    done.write_text(json.dumps({"runs": runs, "epochs": epochs, "layers": LAYERS, "probes": PROBES}))
    print(f"wrote {root} ({runs} runs x {epochs} epochs x {LAYERS} layers) in {time.perf_counter() - t0:.0f} s")
    return root


def _get_json(url: str, timeout: float = 60.0) -> tuple[Any, float]:
    request = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"})
    t0 = time.perf_counter()
    with urllib.request.urlopen(request, timeout=timeout) as response:
        body = response.read()
        if response.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
    return json.loads(body), time.perf_counter() - t0


def _fv_state(index: dict[str, Any], runs: set[str], last: int) -> tuple[int, int]:
    """``(listed, at their last epoch)`` of ``runs`` in an ``/index`` document."""
    listed = complete = 0
    for entry in index.get("runs", []):
        if entry["run"] not in runs:
            continue
        listed += 1
        top = entry.get("max_step") if entry.get("partial") else (entry["steps"][-1] if entry["steps"] else None)
        complete += top == last
    return listed, complete


def _images_listed(tags: dict[str, Any], runs: set[str]) -> int:
    listed = {run.removesuffix("/images") for run, t in tags.items() if run.endswith("/images") and len(t) >= LAYERS}
    return len(listed & runs)


def _poll(url: str, errors: list[str]) -> Any:
    """A listing while TensorBoard loads: ``None`` (and the error noted) when it answers an error."""
    try:
        return _get_json(url)[0]
    except (urllib.error.URLError, OSError, ValueError) as e:
        errors.append(f"{url.rsplit('/', 1)[-1]}: {e}")
        return None


def listing(root: Path, load_fast: bool, runs: list[str], epochs: int, *, plugin: bool) -> tuple[Any, dict[str, float]]:
    """Starts TensorBoard and polls both listings from its launch. Returns ``(process, seconds)``."""
    wanted = set(runs)
    t0 = time.perf_counter()
    tb = start_tensorboard_process(
        root,
        load_fast,
        extra_args=["--samples_per_plugin", f"images={epochs},featureviz=0"],
        reload_interval=5.0,
        timeout_s=120,
        featureviz_plugin=plugin,
    )
    base = tb.url.rstrip("/")
    out: dict[str, float] = {"launched": time.perf_counter() - t0}
    errors: list[str] = []
    deadline = time.monotonic() + 3600
    while time.monotonic() < deadline:
        if "images" not in out:
            tags = _poll(f"{base}/data/plugin/images/tags", errors)
            if tags is not None and _images_listed(tags, wanted) == len(wanted):
                out["images"] = time.perf_counter() - t0
        if plugin and "complete" not in out:
            index = _poll(f"{base}{PLUGIN}/index", errors)
            listed, complete = _fv_state(index, wanted, epochs - 1) if index is not None else (0, 0)
            if listed == len(wanted) and "listed" not in out:
                out["listed"] = time.perf_counter() - t0
            if complete == len(wanted):
                out["complete"] = time.perf_counter() - t0
        if "images" in out and (not plugin or "complete" in out):
            if errors:
                print(f"  {len(errors)} error answers while loading, e.g. {errors[0]}")
            return tb, out
        time.sleep(0.1)
    tb.stop()
    raise TimeoutError(f"the runs were not listed within an hour: {out}")


def _pct(samples: list[float]) -> dict[str, float]:
    s = sorted(samples)
    return {"p50": statistics.median(s), "p95": s[min(len(s) - 1, round(0.95 * len(s)) - 1)]}


def one(
    root: Path, load_fast: bool, runs: list[str], epochs: int, *, idle: bool, scrub: Callable[..., Any] | None
) -> dict[str, Any]:
    row: dict[str, Any] = {}
    tb, times = listing(root, load_fast, runs, epochs, plugin=True)
    row["times"] = times
    try:
        base = tb.url.rstrip("/")
        row["index_warm_ms"] = _pct([_get_json(f"{base}{PLUGIN}/index")[1] * 1e3 for _ in range(50)])
        row["images_tags_warm_ms"] = _pct([_get_json(f"{base}/data/plugin/images/tags")[1] * 1e3 for _ in range(50)])
        if idle:
            time.sleep(65)
            row["index_idle_ms"] = _get_json(f"{base}{PLUGIN}/index")[1] * 1e3
        if scrub is not None:
            row["scrub"] = {n: scrub(tb.url, runs, epochs, panels=n) for n in (1, 20) if n <= len(runs)}
            for r in row["scrub"].values():
                r.pop("times_ms", None)
        row["rss"] = process_rss(tb.pid)
    finally:
        tb.stop()
    base_tb, base_times = listing(root, load_fast, runs, epochs, plugin=False)
    try:
        time.sleep(6)  # one more reload (5 s) after the listing, as the plugin run had
        row["rss_without"] = process_rss(base_tb.pid)
        row["times_without"] = base_times
    finally:
        base_tb.stop()
    return row


def _scrubber() -> tuple[Callable[..., Any], Callable[[], None]]:
    """``scrub(url, runs, epochs, panels=n)`` in one headless Chromium (``benchmarks/_scrub.py``), and its closer."""
    from playwright.sync_api import sync_playwright

    from benchmarks._scrub import scrub_timings
    from tests.support.browser import launch_chromium

    pw = sync_playwright().start()
    browser = launch_chromium(pw)

    def scrub(url: str, runs: list[str], epochs: int, *, panels: int) -> dict[str, Any]:
        return scrub_timings(browser, url, runs, epochs, panels=panels, presses=epochs - 1)

    def close() -> None:
        browser.close()
        pw.stop()

    return scrub, close


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="20,200,1000", help="run counts, comma-separated")
    parser.add_argument("--loaders", default="python,rust")
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--idle", action="store_true", help="also time the first /index after a minute idle")
    parser.add_argument("--no-scrub", action="store_true")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    loaders = [name.strip() for name in args.loaders.split(",")]
    scrub, close = (None, lambda: None) if args.no_scrub else _scrubber()
    rows = []
    try:
        for n in sizes:
            root = sweep_logdir(n, args.epochs)
            for loader in loaders:
                row = one(root, loader == "rust", run_names(n), args.epochs, idle=args.idle, scrub=scrub)
                rows.append((n, loader, row))
                print(json.dumps({"runs": n, "loader": loader, **row}), flush=True)
    finally:
        close()
    print()
    print(
        f"{'runs':>5} {'loader':7} {'listed s':>9} {'last epoch s':>13} {'images s':>9} {'ratio':>6} "
        f"{'/index p50/p95 ms':>18} {'idle ms':>8} {'scrub 1 p50/p95':>16} {'scrub 20 p50/p95':>17} "
        f"{'req/frame':>9} {'RSS GB':>7} {'without':>8} {'ratio':>6} {'images /tags p50/p95':>21}"
    )
    for n, loader, row in rows:
        t = row["times"]
        sc = row.get("scrub", {})
        one_p = f"{sc[1]['cold']['p50_ms']:.0f}/{sc[1]['cold']['p95_ms']:.0f}" if 1 in sc else "-"
        many = sc.get(20)
        many_p = f"{many['cold']['p50_ms']:.0f}/{many['cold']['p95_ms']:.0f}" if many else "-"
        req = f"{many['requests_per_frame']:.1f}" if many else "-"
        idle = f"{row['index_idle_ms']:.0f}" if "index_idle_ms" in row else "-"
        print(
            f"{n:>5} {loader:7} {t['listed']:9.1f} {t['complete']:13.1f} {t['images']:9.1f} "
            f"{t['listed'] / t['images']:6.2f} {row['index_warm_ms']['p50']:8.1f}/{row['index_warm_ms']['p95']:<9.1f} "
            f"{idle:>8} {one_p:>16} {many_p:>17} {req:>9} {row['rss'] / 1e9:7.2f} {row['rss_without'] / 1e9:8.2f} "
            f"{row['rss'] / max(row['rss_without'], 1):6.2f} "
            f"{row['images_tags_warm_ms']['p50']:10.1f}/{row['images_tags_warm_ms']['p95']:<10.1f}"
        )


if __name__ == "__main__":
    main()
