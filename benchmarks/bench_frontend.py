"""Time from the FeatureViz iframe's navigation start to the first grid drawn, in real Chromium.

A generated logdir of 20 runs x 50 epochs x 8 layers x 4 probe images (``tests/support/logdir_factory.py``) is
served by a real TensorBoard with each loader (``--load_fast=false``: Python; ``true``: the Rust data
server). For each load, a fresh browser context (empty HTTP cache) opens TensorBoard's page on the
FeatureViz tab; the frontend sets ``performance.mark('featureviz:first-grid')`` once the first grid image
has been decoded, colourised and drawn, and its ``startTime`` is measured from the iframe's own time
origin (its navigation start). The first load after TensorBoard started is reported on its own (the
plugin's caches are cold), then the median of the next loads.

Run: ``python -m benchmarks.bench_frontend [--loads 7] [--runs 20 --epochs 50 --layers 8 --probes 4]``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

from playwright.sync_api import sync_playwright

from benchmarks._common import LOADERS, add_logdir_arguments, serving, write_logdir
from tests.support.browser import launch_chromium

TARGET_MS = 1000.0


def one_load(browser, url: str) -> float:
    """Milliseconds from the plugin iframe's navigation start to 'featureviz:first-grid'."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        page = context.new_page()
        page.goto(url.rstrip("/") + "/#featureviz")
        frame = None
        deadline = time.monotonic() + 60
        while frame is None and time.monotonic() < deadline:
            frame = next((f for f in page.frames if "plugin_entry.html" in f.url), None)
            if frame is None:
                page.wait_for_timeout(20)
        if frame is None:
            raise RuntimeError("the FeatureViz iframe did not appear")
        frame.wait_for_function(
            "() => performance.getEntriesByName('featureviz:first-grid').length > 0", timeout=60_000, polling=20
        )
        return float(frame.evaluate("() => performance.getEntriesByName('featureviz:first-grid')[0].startTime"))
    finally:
        context.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_logdir_arguments(parser)
    parser.add_argument("--loads", type=int, default=7, help="loads per loader after the first (cold) one")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench_frontend_") as root:
        t0 = time.monotonic()
        spec = write_logdir(
            root,
            args,
            run_name="run_{0:02d}",
            channels=32,
            tile=12,
            cols=8,
            padding=1,
            filter_size=12,
            image_size=48,
        )
        print(
            f"logdir: {args.runs} runs x {args.epochs} epochs x {args.layers} layers x {args.probes} probes, "
            f"32 channels of 12x12 px per grid; written in {time.monotonic() - t0:.1f} s"
        )
        results = {}
        with sync_playwright() as p:
            browser = launch_chromium(p)
            try:
                for load_fast, name in LOADERS:
                    t1 = time.monotonic()
                    with serving(spec, load_fast) as url:
                        loaded = time.monotonic() - t1
                        cold = one_load(browser, url)
                        warm = [one_load(browser, url) for _ in range(args.loads)]
                    med = statistics.median(warm)
                    results[name] = med
                    print(
                        f"{name}: TensorBoard loaded the logdir in {loaded:.1f} s; first grid drawn after "
                        f"{cold:.0f} ms (first load), median {med:.0f} ms over {len(warm)} loads "
                        f"(min {min(warm):.0f}, max {max(warm):.0f}); target <= {TARGET_MS:.0f} ms: "
                        f"{'met' if med <= TARGET_MS else 'MISSED'}"
                    )
            finally:
                browser.close()


if __name__ == "__main__":
    main()
