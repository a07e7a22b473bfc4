"""Latency of the featureviz routes in a real TensorBoard, with both loaders, against the images plugin.

Writes a logdir of RUNS runs x EPOCHS epochs x LAYERS layers x PROBES probe images (plus the same PNGs
as TensorBoard images-plugin data, every epoch kept: ``images=<epochs>``, since ``images=0`` makes the
images plugin show nothing, TensorBoard issue #5550), starts ``tensorboard`` with ``--load_fast=false``
and ``true``, and times warm requests of ``/index``, one featureviz ``/blob`` and one images-plugin ``/individualImage``
of the same PNG.

Usage:
    python -m benchmarks.bench_plugin [--runs 20] [--epochs 50] [--layers 8] [--probes 4] [-n 300]
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import json
import statistics
import tempfile
import time
import urllib.parse

from benchmarks._common import LOADERS, add_logdir_arguments, serving, write_logdir
from tests.support import logdir_factory
from tests.support.server import make_provider

_CONNECTIONS: dict[tuple[str, int], http.client.HTTPConnection] = {}


def _get(host: str, port: int, path: str) -> tuple[int, bytes, float]:
    """One GET over a reused connection (http.client reconnects when the server closed it)."""
    conn = _CONNECTIONS.get((host, port))
    if conn is None:
        conn = _CONNECTIONS[(host, port)] = http.client.HTTPConnection(host, port, timeout=30)
    t0 = time.perf_counter()
    conn.request("GET", path, headers={"Accept-Encoding": "gzip"})
    resp = conn.getresponse()
    body = resp.read()
    elapsed = time.perf_counter() - t0
    if resp.getheader("Content-Encoding") == "gzip":
        body = gzip.decompress(body)
    return resp.status, body, elapsed


def _time_wsgi(dp: object, root: str, paths: dict[str, str], n: int) -> dict[str, dict[str, float]]:
    """Latency of the plugin inside TensorBoard's WSGI app, without HTTP (what the plugin controls)."""
    from tensorboard.backend import application
    from tensorboard.plugins import base_plugin
    from werkzeug import test as werkzeug_test
    from werkzeug import wrappers

    from tb_featureviz.plugin.plugin import FeatureVizPlugin

    ctx = base_plugin.TBContext(logdir=root, data_provider=dp, sampling_hints={})
    client = werkzeug_test.Client(
        application.TensorBoardWSGI([FeatureVizPlugin(ctx)], data_provider=dp), wrappers.Response
    )
    out = {}
    for name, path in paths.items():
        for _ in range(10):
            assert client.get(path, headers={"Accept-Encoding": "gzip"}).status_code == 200
        samples = []
        for _ in range(n):
            t0 = time.perf_counter()
            client.get(path, headers={"Accept-Encoding": "gzip"})
            samples.append((time.perf_counter() - t0) * 1e3)
        out[name] = _stats(samples)
    return out


def _stats(samples: list[float]) -> dict[str, float]:
    samples = sorted(samples)
    n = len(samples)
    return {"p50": statistics.median(samples), "p95": samples[min(n - 1, round(0.95 * n) - 1)], "max": samples[-1]}


def _time(host: str, port: int, path: str, n: int) -> dict[str, float]:
    for _ in range(10):  # warm up caches
        status, body, _ = _get(host, port, path)
        if status != 200:
            raise RuntimeError(f"GET {path} -> {status}: {body[:200]!r}")
    return _stats([_get(host, port, path)[2] * 1e3 for _ in range(n)])


def bench(url: str, spec: logdir_factory.LogdirSpec, n: int) -> dict[str, dict[str, float]]:
    parsed = urllib.parse.urlparse(url)
    host, port = parsed.hostname or "127.0.0.1", int(parsed.port or 80)
    base = "/data/plugin/featureviz"
    run, layer, epoch, probe = spec.runs[-1], spec.layers[-1], spec.epochs - 1, spec.probes - 1
    step_q = urllib.parse.urlencode({"run": run, "tag": f"activations/{layer}", "step": epoch})
    _, body, _ = _get(host, port, f"{base}/step?{step_q}")
    blob_url = json.loads(body)["images"][probe]
    img_q = urllib.parse.urlencode({"run": f"{run}/images", "tag": f"images/{layer}", "sample": probe})
    deadline = time.monotonic() + 120
    while True:  # the loader may reach the images runs after the featureviz runs
        status, body, _ = _get(host, port, f"/data/plugin/images/images?{img_q}")
        entries = json.loads(body) if status == 200 else []
        image_entry = next((e for e in entries if e["step"] == epoch), None)
        if image_entry is not None:
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"images plugin has no step {epoch}: {status} {body[:200]!r}")
        time.sleep(0.5)
    _, fv_png, _ = _get(host, port, f"{base}/{blob_url}")
    _, tb_png, _ = _get(host, port, f"/data/plugin/images/individualImage?{image_entry['query']}")
    if not fv_png.startswith(b"\x89PNG") or fv_png != tb_png:
        raise RuntimeError("featureviz and images plugin do not serve the same PNG")
    bench.blob_path = f"{base}/{blob_url}"  # type: ignore[attr-defined]
    return {
        "featureviz /index": _time(host, port, f"{base}/index", n),
        "featureviz /blob": _time(host, port, f"{base}/{blob_url}", n),
        "images /individualImage": _time(host, port, f"/data/plugin/images/individualImage?{image_entry['query']}", n),
        "images /images (metadata)": _time(host, port, f"/data/plugin/images/images?{img_q}", n),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_logdir_arguments(parser)
    parser.add_argument("-n", type=int, default=300, help="timed requests per route")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench_plugin_") as root:
        t0 = time.perf_counter()
        spec = write_logdir(root, args, run_name="run{0:02d}", channels=16, tile=8, images_plugin=True)
        n_png = args.runs * args.epochs * args.layers * args.probes
        print(
            f"logdir: {args.runs} runs x {args.epochs} epochs x {args.layers} layers x {args.probes} probes "
            f"= {n_png} activation PNGs (+ the same in images-plugin format), written in "
            f"{time.perf_counter() - t0:.1f} s"
        )
        results: dict[str, dict[str, dict[str, float]]] = {}
        for load_fast, loader in LOADERS:
            t0 = time.perf_counter()
            with serving(
                spec, load_fast, extra_args=["--samples_per_plugin", f"images={args.epochs}"], reload_interval=5
            ) as url:
                print(f"{loader}: loaded in {time.perf_counter() - t0:.1f} s")
                results[loader] = bench(url, spec, args.n)
            # The same routes in-process (TensorBoardWSGI + the same loader), without HTTP.
            dp, close = make_provider(root, "rust" if load_fast else "python")
            try:
                paths = {"featureviz /index": "/data/plugin/featureviz/index", "featureviz /blob": bench.blob_path}  # type: ignore[attr-defined]
                for route, r in _time_wsgi(dp, root, paths, args.n).items():
                    results[loader][route + " (WSGI)"] = r
            finally:
                close()

    print()
    print("HTTP: warm GETs to the real TensorBoard over one reused connection; WSGI: in-process app call.")
    print(f"{'loader':28} {'route':34} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for loader, rows in results.items():
        for route, r in rows.items():
            print(f"{loader:28} {route:34} {r['p50']:8.2f} {r['p95']:8.2f} {r['max']:8.2f}")
    print()
    for loader, rows in results.items():
        fv, im = rows["featureviz /blob"], rows["images /individualImage"]
        print(
            f"{loader}: featureviz blob / images individualImage p50 ratio {fv['p50'] / im['p50']:.2f}, "
            f"p95 ratio {fv['p95'] / im['p95']:.2f}"
        )
    for kind, suffix in (("HTTP", ""), ("WSGI", " (WSGI)")):
        ok = all(
            r["featureviz /blob" + suffix]["p95"] <= 2.0 and r["featureviz /index" + suffix]["p95"] <= 15.0
            for r in results.values()
        )
        print(f"targets (blob p95 <= 2 ms, index p95 <= 15 ms, both loaders), {kind}: {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
