"""Scrubbing epochs with the arrow key held, in real Chromium: milliseconds per frame and requests per frame.

``scrub_timings`` opens TensorBoard's page on the FeatureViz tab (a fresh browser context: empty HTTP cache,
1400x900) with ``panels`` runs selected at epoch 0, then presses ArrowRight at the OS auto-repeat rate
(~30 presses/s) through the epochs: the first pass is cold (nothing of those epochs was loaded before).
A frame's time runs from the key's ``keydown`` (its event time stamp, in the plugin iframe's clock) to the
``featureviz:frame`` performance mark the dashboard sets once every panel in view shows that epoch
(``tb_featureviz/frontend/panels.js``). A press whose epoch was overtaken by the next press before it was
drawn is *dropped*: its time runs to the first frame drawn after it. Requests per frame count the page's
``/frame``, ``/step``, ``/blob`` and ``/series`` requests (not the ``/index`` and ``/scalars`` polls).

``benchmarks/bench_sweep.py`` imports :func:`scrub_timings`. Run on its own
(``python -m benchmarks._scrub [--runs 20 --epochs 20 --layers 8 --probes 4]``), it writes a logdir of
``--runs`` runs x ``--epochs`` epochs and prints the figures for 1 and all panels under both loaders.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import urllib.parse
from typing import Any

PRESS_INTERVAL_MS = 33
"""Between two presses: the OS auto-repeat rate (~30/s)."""

_DATA_ROUTES = ("/frame", "/step", "/blob", "/series")


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def _plugin_frame(page: Any, timeout_s: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        frame = next((f for f in page.frames if "plugin_entry.html" in f.url), None)
        if frame is not None:
            return frame
        page.wait_for_timeout(20)
    raise RuntimeError("the FeatureViz iframe did not appear")


def _wait_mark(frame: Any, epoch: int, timeout_ms: int = 60_000) -> None:
    frame.wait_for_function(
        "(e) => performance.getEntriesByName('featureviz:frame').some((m) => m.detail && m.detail.epoch === e)",
        arg=epoch,
        timeout=timeout_ms,
        polling=20,
    )


def scrub_timings(browser: Any, url: str, runs: list[str], epochs: int, *, panels: int, presses: int) -> dict:
    """Holds ArrowRight across the epochs of ``panels`` runs on show; times each frame.

    Args:
        browser: A Playwright Chromium (``tests.support.browser.launch_chromium``).
        url: TensorBoard's base URL.
        runs: Run names; the first ``panels`` are selected.
        epochs: Epochs written (``0 .. epochs - 1``); the page starts at epoch 0.
        panels: Runs on show.
        presses: Key presses; past the last epoch the key turns round (ArrowLeft), and those frames are
            warm (reported apart from the cold first pass).

    Returns:
        ``{"panels", "presses", "cold": {...}, "all": {...}, "requests", "requests_per_frame", "dropped",
        "times_ms"}``
        where ``cold``/``all`` are ``{"frames", "p50_ms", "p95_ms", "max_ms"}``; ``requests`` counts the
        data requests by route.
    """
    if not 1 <= panels <= len(runs):
        raise ValueError(f"panels must be between 1 and {len(runs)}. Received: panels={panels}")
    if epochs < 2 or presses < 1:
        raise ValueError(f"need epochs >= 2 and presses >= 1. Received: epochs={epochs}, presses={presses}")
    params = [("run", r) for r in runs[:panels]] + [("epoch", "0")]
    hash_params = "&".join(f"p.featureviz.{k}={urllib.parse.quote(v, safe='')}" for k, v in params)
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        page = context.new_page()
        requests: dict[str, int] = {}
        counting = [False]

        def on_request(request: Any) -> None:
            path = urllib.parse.urlsplit(request.url).path
            route = next((r for r in _DATA_ROUTES if path.endswith("/featureviz" + r)), None)
            if counting[0] and route is not None:
                requests[route] = requests.get(route, 0) + 1

        page.on("request", on_request)
        page.goto(url.rstrip("/") + "/#featureviz&" + hash_params)
        frame = _plugin_frame(page)
        _wait_mark(frame, 0)
        page.wait_for_timeout(300)  # the first view's requests are over
        frame.evaluate(
            "() => { window.__fvKeys = []; document.addEventListener('keydown', (e) => "
            "window.__fvKeys.push(e.timeStamp), true); }"
        )
        frame.locator("#epoch-slider").focus()
        counting[0] = True
        epoch, step, targets = 0, 1, []
        for _ in range(presses):
            if not 0 <= epoch + step < epochs:
                step = -step
            epoch += step
            targets.append(epoch)
            page.keyboard.press("ArrowRight" if step > 0 else "ArrowLeft")
            page.wait_for_timeout(PRESS_INTERVAL_MS)
        _wait_mark(frame, targets[-1])
        page.wait_for_timeout(300)
        counting[0] = False
        keys = frame.evaluate("() => window.__fvKeys")
        marks = frame.evaluate(
            "() => performance.getEntriesByName('featureviz:frame').map((m) => [m.startTime, m.detail.epoch])"
        )
    finally:
        context.close()
    if len(keys) != len(targets):
        raise RuntimeError(f"{len(targets)} presses, {len(keys)} keydown events in the plugin iframe")
    times: list[float] = []
    dropped = 0
    for i, (t, e) in enumerate(zip(keys, targets, strict=True)):
        until = keys[i + 1] if i + 1 < len(keys) else float("inf")
        own = [m for m, me in marks if me == e and t <= m]
        own_in_time = [m for m in own if m <= until] or ([min(own)] if own and i + 1 == len(keys) else [])
        if own_in_time:
            times.append(min(own_in_time) - t)
        else:
            dropped += 1
            later = [m for m, _ in marks if m >= t]
            times.append(min(later) - t if later else float("inf"))
    cold_n = min(epochs - 1, len(times))

    def stats(values: list[float]) -> dict[str, float]:
        return {
            "frames": len(values),
            "p50_ms": round(statistics.median(values), 1),
            "p95_ms": round(_percentile(values, 0.95), 1),
            "max_ms": round(max(values), 1),
        }

    total = sum(requests.values())
    return {
        "panels": panels,
        "presses": presses,
        "cold": stats(times[:cold_n]),
        "all": stats(times),
        "requests": dict(sorted(requests.items())),
        "requests_per_frame": round(total / len(targets), 2),
        "dropped": dropped,
        "times_ms": [round(t, 1) for t in times],
    }


def main() -> None:
    from playwright.sync_api import sync_playwright

    from benchmarks._common import LOADERS, add_logdir_arguments, serving, write_logdir
    from tests.support.browser import launch_chromium

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_logdir_arguments(parser)
    parser.set_defaults(epochs=20)
    parser.add_argument("--panels", type=int, nargs="*", default=None, help="panel counts (default 1 and --runs)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_scrub_") as root:
        spec = write_logdir(
            root, args, run_name="run_{0:02d}", channels=32, tile=12, cols=8, padding=1, filter_size=12, image_size=48
        )
        runs = list(spec.runs)
        print(f"logdir: {args.runs} runs x {args.epochs} epochs x {args.layers} layers x {args.probes} probes")
        with sync_playwright() as p:
            browser = launch_chromium(p)
            try:
                for load_fast, name in LOADERS:
                    with serving(spec, load_fast) as url:
                        for n in args.panels or [1, args.runs]:
                            r = scrub_timings(browser, url, runs, args.epochs, panels=n, presses=args.epochs - 1)
                            c = r["cold"]
                            print(
                                f"{name}, {n} panel(s): first pass p50 {c['p50_ms']:.0f} ms, p95 {c['p95_ms']:.0f} ms, "
                                f"max {c['max_ms']:.0f} ms over {c['frames']} frames; {r['requests_per_frame']} "
                                f"requests per frame {r['requests']}; {r['dropped']} dropped; target p95 <= 100 ms: "
                                f"{'met' if c['p95_ms'] <= 100 else 'MISSED'}"
                            )
            finally:
                browser.close()


if __name__ == "__main__":
    main()
