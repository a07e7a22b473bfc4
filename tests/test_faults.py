"""Fault tests of the viewer side: one test per abuse case of issue 9, and damaged event files.

Everything runs against a real TensorBoard with each loader (the session ``tb_server`` fixture, and a
module logdir with damaged content):

1. an unbounded epoch range is a quick 400 (and exit code 2 from the CLI), never a set of every integer;
2. error bodies name a bounded sample, whatever the request's size;
3. over-long numbers are a bad parameter (400), not a 503;
4. forged blob keys (an index of ``[1, 2]``, ``null``, 64 zeros...) are a JSON 404, never process memory;
5. new experiment ids do not grow the server's memory (a bounded LRU of experiment states);
6. a very long ``/static/`` name is a 404, without a traceback in TensorBoard's log;
7. damaged images: a JSON 404 with ``"damaged": true`` for that image, every other epoch readable,
   exports leave them out and say so (exit code 3), never an undecodable PNG in a ZIP;
plus truncation and byte flips of event files: every intact epoch is still served, byte for byte, and
nothing corrupt is served or exported.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import struct
import time
import tracemalloc
import urllib.parse
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from tensorboard import errors as tb_errors
from tensorboard.compat.proto import event_pb2

from tb_featureviz import metadata
from tb_featureviz import reader as reader_lib
from tb_featureviz.export.cli import EXIT_DAMAGED, add_export_arguments, run_export
from tb_featureviz.export.options import EpochSelection, parse_epochs
from tb_featureviz.reader.integrity import png_problem, record_problem
from tests.support import fuzz_http, logdir_factory
from tests.support.routes import PLUGIN_ROUTE, http_get
from tests.support.server import TBServer, data_server_available, make_provider, process_rss, start_tensorboard_process

SMALL_ERROR = 2048
"""Bytes an error body may take in these tests (whatever the request's size)."""


def get_json_error(server: TBServer, path: str, status: int) -> dict[str, Any]:
    code, headers, body = server.get(PLUGIN_ROUTE + path)
    assert code == status, (path[:200], code, body[:300])
    assert headers["Content-Type"] == "application/json"
    assert len(body) <= SMALL_ERROR, (path[:200], len(body))
    doc = json.loads(body)
    assert isinstance(doc["error"], str) and doc["error"]
    return doc


def _cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="featureviz export")
    add_export_arguments(parser)
    return run_export(parser.parse_args(argv))


def _key(fields: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(fields, separators=(",", ":")).encode()).decode().rstrip("=")


# -- 1. unbounded epoch ranges -----------------------------------------------------------------------------


def test_unbounded_epoch_range_is_a_quick_400(tb_server: TBServer) -> None:
    for query in ("run=nope&epochs=0-99999999999", "run=exp1&epochs=0-99999999999&format=zip"):
        t0 = time.monotonic()
        error = get_json_error(tb_server, "/export?" + query, 400)["error"]
        assert time.monotonic() - t0 < 5
        assert "0-99999999999" in error and "'all'" in error
    # A range within the bound keeps the epochs that exist inside it.
    query = urllib.parse.urlencode(
        {"run": "exp1", "kinds": "activations", "layer": "conv2d", "epochs": "10-999999", "format": "zip"}
    )
    status, _, body = tb_server.get(f"{PLUGIN_ROUTE}/export?{query}")
    assert status == 200, body[:300]
    with zipfile.ZipFile(io.BytesIO(body)) as zf:
        assert json.loads(zf.read("manifest.json"))["runs"][0]["epochs"] == [10, 11]


def test_cli_unbounded_epoch_range_exits_2(featureviz_logdir: Any, tmp_path: Path, capsys: Any) -> None:
    out = tmp_path / "r.zip"
    argv = ["--logdir", featureviz_logdir.root, "--run", "exp1", "--format", "zip", "--out", str(out), "--quiet"]
    assert _cli([*argv, "--epochs", "0-99999999999"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("featureviz export: error: epoch range '0-99999999999'") and "Traceback" not in err
    assert not out.exists()


def test_epoch_ranges_are_never_expanded() -> None:
    tracemalloc.start()
    try:
        selection = parse_epochs("0-999999,5-999000,3")
        chosen, missing = selection.select(range(12))  # type: ignore[union-attr]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert selection == EpochSelection(epochs=(3,), ranges=((0, 999999),))
    assert (chosen, missing) == (list(range(12)), [])
    assert peak < 256 * 1024  # a set of the range's integers would take ~40 MB


# -- 2. bounded error bodies -------------------------------------------------------------------------------


def test_error_bodies_name_a_bounded_sample(tb_server: TBServer) -> None:
    long = "x" * 20000
    error = get_json_error(tb_server, "/export?run=exp1&epochs=" + ",".join(map(str, range(20, 1000))), 404)["error"]
    assert "epochs 20, 21," in error and "(980 missing)" in error and "its epochs are 0..11" in error
    for path, status in [
        (f"/step?run={long}&tag=probes&step=0", 404),
        (f"/step?run=exp1&tag={long}&step=0", 404),
        (f"/series?run=exp1&tag={long}", 404),
        (f"/scalars?run={long}", 404),
        (f"/blob?key={long}", 404),
        (f"/export?run={long}", 404),
        (f"/export?run=exp1&layer={long}", 404),
        (f"/export?run=exp1&kinds={long}", 400),
        (f"/export?run=exp1&format={long}", 400),
        (f"/export?run=exp1&colormap={long}", 400),
        (f"/export?run=exp1&epochs={long}", 400),
        (f"/export_progress?job={long}", 400),
    ]:
        error = get_json_error(tb_server, path, status)["error"]
        assert "(20000 characters)" in error or "…" in error, error


# -- 3. over-long numbers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/export?run=exp1&epochs=" + "9" * 4400,
        "/export?run=exp1&epochs=0-" + "9" * 4400,
        "/export?run=exp1&epochs=" + "9" * 19,
        "/export?run=exp1&scale=" + "9" * 4400,
        "/export?run=exp1&channel=" + "9" * 4400,
        "/export?run=exp1&probe=" + "9" * 19,
        "/step?run=exp1&tag=probes&step=" + "9" * 4400,
        "/series?run=exp1&tag=probes&index=" + "9" * 19,
    ],
    ids=["epochs", "epoch-range", "epochs-19", "scale", "channel", "probe", "step", "index"],
)
def test_over_long_numbers_are_400(tb_server: TBServer, path: str) -> None:
    assert "digits" in get_json_error(tb_server, path, 400)["error"]


# -- 4. forged blob keys -----------------------------------------------------------------------------------


def test_forged_blob_keys_are_404_json(tb_server: TBServer) -> None:
    """The keys of the issue (index ``[1, 2]``, ``null``, 64 zeros: heap addresses under the Python loader),
    in both loaders' formats, and every other forgery of ``fuzz_http.forged_keys``."""
    run, tag = "exp1/featureviz", "activations/conv2d"
    keys = [_key(["", "featureviz", run, tag, 0, index]) for index in ([1, 2], None, [0] * 64)]
    keys += [_key(["", run, tag, 0, index]) for index in ([1, 2], None, [0] * 64)]
    keys += [k for k in fuzz_http.forged_keys(run, tag, 3) if "\n" not in k]
    for key in keys:
        get_json_error(tb_server, "/blob?" + urllib.parse.urlencode({"key": key}), 404)
    # A real key still answers its PNG; the same key under another experiment id does not.
    step = json.loads(tb_server.get(f"{PLUGIN_ROUTE}/step?run=exp1&tag={tag}&step=0")[2])
    status, headers, png = tb_server.get(f"{PLUGIN_ROUTE}/{step['images'][0]}")
    assert status == 200 and headers["Content-Type"] == "image/png"
    assert png == tb_server.spec.activation_png("exp1", 0, "conv2d", 0)
    status, _, body = tb_server.get(f"/experiment/other{PLUGIN_ROUTE}/{step['images'][0]}")
    assert status == 404 and len(body) <= SMALL_ERROR


def test_forged_keys_never_reach_the_data_provider(featureviz_logdir: Any) -> None:
    """Every field is checked against the snapshot before ``read_blob`` is called."""
    dp, close = make_provider(featureviz_logdir.root, "python")
    calls: list[str] = []

    class Spy:
        def __getattr__(self, name: str) -> Any:
            return getattr(dp, name)

        def read_blob(self, ctx: Any, *, blob_key: str) -> bytes:
            calls.append(blob_key)
            return dp.read_blob(ctx, blob_key=blob_key)

    try:
        reader = reader_lib.FeatureVizReader(Spy())  # type: ignore[arg-type]
        reader.index(None)  # the snapshot reads the probes, sample and run_info records
        calls.clear()
        run, tag = "exp1/featureviz", "activations/conv2d"
        for key in [_key(["", "featureviz", run, tag, 0, [1, 2]]), *fuzz_http.forged_keys(run, tag, 1)]:
            with pytest.raises(tb_errors.NotFoundError):
                reader.blob(None, key)
        assert calls == []
        good = reader.step(None, "exp1", tag, 1)["images"][0]
        assert reader.blob(None, good.key)[:8] == b"\x89PNG\r\n\x1a\n"
        reader.close()
    finally:
        close()


# -- 5. experiment ids -------------------------------------------------------------------------------------


def test_experiment_states_are_a_bounded_lru(featureviz_logdir: Any) -> None:
    dp, close = make_provider(featureviz_logdir.root, "python")
    try:
        reader = reader_lib.FeatureVizReader(dp, max_experiments=4)
        for i in range(10):
            assert reader.index(None, experiment_id=f"e{i}")["runs"]
        assert reader.experiments_cached == 4
        # The blobs read for a forgotten experiment (its probes, sample and run_info records, and each
        # activation layer's first record, whose shape places the layer in a stage) go with it.
        per_run = 3 + len(featureviz_logdir.layers)
        assert len(reader.blobs) == 4 * per_run * len(featureviz_logdir.runs)
        reader.close()
    finally:
        close()
    assert reader_lib.MAX_EXPERIMENTS == 32


def test_new_experiment_ids_do_not_grow_memory(tb_server: TBServer) -> None:
    if tb_server.load_fast:
        pytest.skip("measured with the Python loader (each new id costs the Rust loader ~150 ms of listing)")
    client = fuzz_http.Client(tb_server.url)
    try:
        for i in range(2 * reader_lib.MAX_EXPERIMENTS):  # fill the LRU, then measure
            assert client.get(f"/experiment/warm{i}{PLUGIN_ROUTE}/index")[0] == 200
        before = process_rss(tb_server.pid)
        for i in range(200):
            assert client.get(f"/experiment/new{i}{PLUGIN_ROUTE}/index")[0] == 200
        after = process_rss(tb_server.pid)
    finally:
        client.close()
    if before:
        assert after - before < 200 * 20 * 1024, (before, after)  # was ~100-180 kB per id


# -- 6. long static names ----------------------------------------------------------------------------------


def test_long_static_names_are_404_without_traceback(tb_server: TBServer) -> None:
    for name in ["a" * 255, "a" * 256 + ".js", "a" * 300, "a" * 4000 + ".js", "/".join(["d" * 250] * 8) + "/x.js"]:
        get_json_error(tb_server, "/static/" + name, 404)
    assert tb_server.log_path is not None
    log = Path(tb_server.log_path).read_text(errors="replace")
    assert "File name too long" not in log and fuzz_http.tracebacks(log) == []


# -- 7. damaged images, truncation and byte flips ----------------------------------------------------------

DAMAGED = (
    ("damaged", 1, "activations/conv2d", 2),  # the grid of probe 1
    ("damaged", 2, "filters/conv2d", 0),  # a record: the whole step
    ("damaged", 3, "gradcam/conv2d_1", 1),  # a heatmap
)
TRUNCATED_AT = 4
"""The ``trunc`` run's featureviz file is cut in the middle of epoch 4's first record."""


@dataclass
class Faulty:
    """The module's logdir: damaged blobs in intact records, a truncated file, byte flips."""

    spec: logdir_factory.LogdirSpec
    touched: set[tuple[str, int]]
    """The ``(tag, step)`` of the ``flip`` run's records whose bytes a flip changed."""
    before: set[tuple[str, int]]
    """The ``(tag, step)`` of the ``flip`` run's featureviz records before the first flipped one."""
    every: set[tuple[str, int]]
    """The ``(tag, step)`` of every featureviz record of the ``flip`` run."""


def _records(path: str) -> list[tuple[int, int, event_pb2.Event]]:
    """``(offset, size, event)`` of each TFRecord of an event file."""
    data = Path(path).read_bytes()
    out, pos = [], 0
    while pos + 12 <= len(data):
        (n,) = struct.unpack("<Q", data[pos : pos + 8])
        out.append((pos, 16 + n, event_pb2.Event.FromString(data[pos + 12 : pos + 12 + n])))
        pos += 16 + n
    return out


def _featureviz_file(spec: logdir_factory.LogdirSpec, run: str) -> str:
    directory = spec.run_dir(run)
    (name,) = [n for n in os.listdir(directory) if n.startswith("events.out.tfevents.")]
    return os.path.join(directory, name)


def _tag_steps(event: event_pb2.Event) -> list[tuple[str, int]]:
    return [(v.tag, event.step) for v in event.summary.value if v.metadata.plugin_data.plugin_name == "featureviz"]


def _flip(path: str, records: list[tuple[int, int, event_pb2.Event]], tag: str, step: int, needle: bytes) -> int:
    """Inverts the middle byte of ``needle`` inside the record of ``(tag, step)``; returns the record's index."""
    data = bytearray(Path(path).read_bytes())
    for i, (off, size, event) in enumerate(records):
        if (tag, step) in _tag_steps(event):
            at = bytes(data).find(needle, off, off + size)
            assert at >= 0, (tag, step)
            data[at + len(needle) // 2] ^= 0xFF
            Path(path).write_bytes(bytes(data))
            return i
    raise AssertionError(f"no record of {tag} at step {step}")


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> Faulty:
    spec = logdir_factory.write_logdir(
        tmp_path_factory.mktemp("faulty_logdir"),
        runs=("damaged", "trunc", "flip"),
        epochs=6,
        layers=("conv2d", "conv2d_1"),
        probes=2,
        channels=4,
        damaged=DAMAGED,
    )
    # trunc: cut in the middle of the first record of epoch TRUNCATED_AT (epochs 0..3 stay whole).
    path = _featureviz_file(spec, "trunc")
    records = _records(path)
    cut = next(off for off, _, e in records if e.step == TRUNCATED_AT and _tag_steps(e))
    os.truncate(path, cut + 40)
    spec.steps["trunc"] = list(range(TRUNCATED_AT))
    # flip: a byte inside a PNG (epoch 2, probe 0 of conv2d) and inside a record (filters of epoch 4).
    path = _featureviz_file(spec, "flip")
    records = _records(path)
    i = _flip(path, records, "activations/conv2d", 2, spec.activation_png("flip", 2, "conv2d", 0))
    j = _flip(path, records, "filters/conv2d", 4, metadata.encode_record(spec.filter_record(4)))
    return Faulty(
        spec,
        touched={ts for k in (i, j) for ts in _tag_steps(records[k][2])},
        before={ts for _, _, e in records[: min(i, j)] for ts in _tag_steps(e)},
        every={ts for _, _, e in records for ts in _tag_steps(e)},
    )


@pytest.fixture(scope="module", params=[False, True], ids=["python", "rust"])
def faulty_server(
    request: pytest.FixtureRequest, faulty: Faulty, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TBServer]:
    load_fast = bool(request.param)
    if load_fast and not data_server_available():
        pytest.skip("tensorboard-data-server is not installed")
    log_path = tmp_path_factory.mktemp("faulty_tb_log") / "tensorboard.log"
    tb = start_tensorboard_process(faulty.spec.root, load_fast, log_path=log_path)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # until the intact runs are whole
            status, _, body = http_get(tb.url.rstrip("/") + f"{PLUGIN_ROUTE}/index")
            steps = {r["run"]: r["steps"] for r in json.loads(body)["runs"]} if status == 200 else {}
            if steps.get("damaged") == list(range(6)) and steps.get("trunc") == list(range(TRUNCATED_AT)):
                break
            time.sleep(0.2)
        yield TBServer(tb.url, faulty.spec.root, load_fast, faulty.spec, tb.stop, tb.pid, tb.log_path)
    finally:
        tb.stop()


def _written(spec: logdir_factory.LogdirSpec, run: str, tag: str, step: int) -> list[bytes]:
    """What the factory meant to write (before damage): element 0 the record."""
    return spec._blobs(run, step, tag)


def _served(server: TBServer, run: str, tag: str, step: int) -> tuple[int, Any, list[tuple[int, bytes, bool]]]:
    """``(status, record, [(status, bytes, damaged)])`` of one step and its images."""
    query = urllib.parse.urlencode({"run": run, "tag": tag, "step": step})
    status, _, body = server.get(f"{PLUGIN_ROUTE}/step?{query}")
    doc = json.loads(body)
    if status != 200:
        return status, doc, []
    images = []
    for url in doc["images"]:
        code, _, data = server.get(f"{PLUGIN_ROUTE}/{url}")
        damaged = code != 200 and json.loads(data).get("damaged") is True
        images.append((code, data, damaged))
    return status, doc["record"], images


def test_damaged_images_are_404_and_every_other_epoch_is_served(faulty_server: TBServer, faulty: Faulty) -> None:
    spec = faulty.spec
    index = json.loads(faulty_server.get(f"{PLUGIN_ROUTE}/index")[2])
    entry = next(r for r in index["runs"] if r["run"] == "damaged")
    assert entry["steps"] == list(range(6))
    damaged = {(t, s, e) for _, s, t, e in DAMAGED}
    for kind in entry["kinds"].values():
        for t in kind:
            for step in t["steps"]:
                written = _written(spec, "damaged", t["tag"], step)
                status, record, images = _served(faulty_server, "damaged", t["tag"], step)
                if (t["tag"], step, 0) in damaged:
                    assert status == 404 and record["damaged"] is True and "damaged" in record["error"]
                    continue
                assert status == 200 and record == json.loads(written[0])
                for i, (code, data, is_damaged) in enumerate(images):
                    if (t["tag"], step, i + 1) in damaged:
                        assert code == 404 and is_damaged, (t["tag"], step, i)
                        assert len(data) <= SMALL_ERROR
                    else:
                        assert code == 200 and data == written[i + 1], (t["tag"], step, i)
    # The damaged image's JSON error names what is wrong; asking again gives the same (cached) verdict.
    query = urllib.parse.urlencode({"run": "damaged", "tag": "activations/conv2d", "step": 1})
    url = json.loads(faulty_server.get(f"{PLUGIN_ROUTE}/step?{query}")[2])["images"][1]
    for _ in range(2):
        doc = get_json_error(faulty_server, "/" + url, 404)
        assert doc["damaged"] is True and "bad CRC" in doc["error"]


def test_truncated_file_serves_every_intact_epoch(faulty_server: TBServer, faulty: Faulty) -> None:
    spec = faulty.spec
    index = json.loads(faulty_server.get(f"{PLUGIN_ROUTE}/index")[2])
    entry = next(r for r in index["runs"] if r["run"] == "trunc")
    assert entry["steps"] == list(range(TRUNCATED_AT))
    for kind in entry["kinds"].values():
        for t in kind:
            assert t["steps"] == list(range(TRUNCATED_AT))
            for step in t["steps"]:
                written = _written(spec, "trunc", t["tag"], step)
                status, record, images = _served(faulty_server, "trunc", t["tag"], step)
                assert status == 200 and record == json.loads(written[0])
                assert [(c, d) for c, d, _ in images] == [(200, w) for w in written[1:]], (t["tag"], step)


def test_flipped_bytes_serve_nothing_corrupt(faulty_server: TBServer, faulty: Faulty) -> None:
    """The Python loader drops the file from the first record whose CRC fails; the Rust data server keeps
    reading and serves the damaged records, which the plugin then answers as damaged. Either way every
    record before the first flip is served byte for byte, and nothing corrupt is served."""
    spec = faulty.spec
    index = json.loads(faulty_server.get(f"{PLUGIN_ROUTE}/index")[2])
    entry = next(r for r in index["runs"] if r["run"] == "flip")
    listed = {(t["tag"], s) for kind in entry["kinds"].values() for t in kind for s in t["steps"]}
    before = {ts for ts in faulty.before if "/" in ts[0]}  # grids and heatmaps (not probes, run_info)
    assert before and before <= listed, before - listed
    if faulty_server.load_fast:  # the Rust data server reads past the damaged records
        assert listed == {ts for ts in faulty.every if "/" in ts[0]}
    damaged_answers = 0
    for tag, step in sorted(listed):
        written = _written(spec, "flip", tag, step)
        status, record, images = _served(faulty_server, "flip", tag, step)
        if status != 200:
            assert (tag, step) in faulty.touched and status == 404 and record["damaged"] is True
            damaged_answers += 1
            continue
        assert record == json.loads(written[0]), (tag, step)
        for i, (code, data, is_damaged) in enumerate(images):
            if code == 200:
                assert data == written[i + 1], (tag, step, i)  # never a corrupt image
                Image.open(io.BytesIO(data)).load()
            else:
                assert (tag, step) in faulty.touched and code == 404 and is_damaged
                damaged_answers += 1
    if faulty_server.load_fast:
        assert damaged_answers == 2  # the flipped PNG and the flipped record
    assert fuzz_http.tracebacks(Path(faulty_server.log_path or "").read_text(errors="replace")) == []


def test_exports_leave_damaged_images_out_and_say_so(
    faulty_server: TBServer, faulty: Faulty, tmp_path: Path, capsys: Any
) -> None:
    """``featureviz export`` (the same loader as the server) exits 3 naming the damaged images; the ZIP
    holds only PNGs that decode and lists what was left out. The dashboard's /export says it in a header."""
    out = tmp_path / "all.zip"
    argv = ["--logdir", faulty.spec.root, "--run", "damaged", "--run", "flip", "--run", "trunc"]
    argv += ["--epochs", "all", "--format", "zip", "--out", str(out), "--quiet"]
    code = _cli([*argv, "--load-fast"] if faulty_server.load_fast else argv)
    err = capsys.readouterr().err
    assert code == EXIT_DAMAGED, err
    assert "warning: left out" in err and "damaged activations conv2d epoch 1 image 2" in err
    with zipfile.ZipFile(out) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        for name in zf.namelist():
            if name.endswith(".png"):
                Image.open(io.BytesIO(zf.read(name))).load()  # every PNG decodes
        left_out = {(d["run"], d["epoch"], d["kind"], d["layer"], d["index"]) for d in manifest["damaged"]}
        expected = {("damaged", e, t.split("/")[0], t.split("/")[1], i) for r, e, t, i in DAMAGED}
        assert expected <= left_out
        flipped = {(d["run"], d["epoch"]) for d in manifest["damaged"]} - {("damaged", e) for _, e, _, _ in DAMAGED}
        # The Rust data server serves the flipped records (the export leaves them out); Python drops them.
        assert flipped == ({("flip", 2), ("flip", 4)} if faulty_server.load_fast else set())
        files = {(f["run"], f["kind"], f["layer"], f["epoch"], f["index"]) for f in manifest["files"]}
        assert ("damaged", "activations", "conv2d", 1, 2) not in files
        assert ("damaged", "activations", "conv2d", 1, 1) in files
        assert not any(f[:4] == ("damaged", "filters", "conv2d", 2) for f in files)
    query = urllib.parse.urlencode({"run": "damaged", "epochs": "all", "format": "html", "kinds": "activations"})
    status, headers, body = faulty_server.get(f"{PLUGIN_ROUTE}/export?{query}")
    assert status == 200 and headers.get("X-FeatureViz-Damaged") == "1"
    assert b"1 damaged image(s) left out" in body


@pytest.mark.parametrize("mode", ["L", "RGB"])
def test_png_check_finds_every_flipped_byte_and_truncation(mode: str) -> None:
    """The check the reader runs on every image: any flipped byte or truncation of a PNG is found."""
    value: Any = 7 if mode == "L" else (1, 2, 3)
    png = logdir_factory._png_constant_tiles(mode, (value,) * 5, 3, 4, 1)
    assert png_problem(png) is None
    for i in range(len(png)):
        flipped = bytearray(png)
        flipped[i] ^= 0x5A
        assert png_problem(bytes(flipped)) is not None, i
    for n in range(len(png)):
        assert png_problem(png[:n]) is not None, n


def test_record_check() -> None:
    """A record must be a UTF-8 JSON object; anything else is damaged."""
    assert record_problem(metadata.encode_record({"a": 1})) is None
    for bad in (b"[1]", b"\xff{}", b"[" * 5000, b"", b'{"a": 1', logdir_factory.damage(b'{"a": 1}')):
        assert record_problem(bad) is not None, bad


def test_nonfinite_records_are_flagged_in_exports() -> None:
    """The viewer half of a diverged model's epochs (issue 9, item 8): records with ``"nonfinite": n`` are
    flagged in export captions and the manifest; null scores stay null."""
    from tb_featureviz.export.collect import _figures
    from tb_featureviz.export.content import RunExport

    png = logdir_factory._png_constant_tiles("L", (0, 0), 2, 4, 1)
    run = RunExport(run="exp1", steps=[0], epochs=[0])
    layout = metadata.GridLayout(rows=1, cols=2, tile_height=4, tile_width=4, padding=1, count=2)
    record = {"probes": 1, "dead": [], "shape": [4, 4, 2], "nonfinite": 32}
    (grid,) = _figures(run, "activations", "c1", 0, record, [png], layout, None, None)
    assert grid.nonfinite == 32 and "32 non-finite values" in grid.caption()
    assert grid.manifest_entry()["nonfinite"] == 32
    target = {"target": "predicted", "class": 0, "score": None, "heatmap": 1, "overlay": None}
    probe = {"probe": 0, "true": None, "predicted": 0, "probabilities": [None, None], "targets": [target]}
    cam = {"nonfinite": 18, "probes": [probe]}
    (heat,) = _figures(run, "gradcam", "c2", 0, cam, [png], None, None, None)
    assert heat.score is None and heat.nonfinite == 18 and "18 non-finite" in heat.caption()
    (clean,) = _figures(run, "activations", "c1", 0, {"probes": 1, "dead": []}, [png], layout, None, None)
    assert clean.nonfinite == 0 and "non-finite" not in clean.caption() and "nonfinite" not in clean.manifest_entry()
