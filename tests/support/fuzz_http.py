"""A seeded fuzzer of the featureviz plugin's HTTP routes: every route of ``http_api.md``, valid and hostile.

Used by ``tests/test_fuzz.py`` (a few hundred requests per loader in CI) and ``benchmarks/bench_fuzz.py``
(10,000). Requests come in classes (:data:`CLASSES`), each aimed at one route; the values mix what the
server listed in ``/index`` and ``/step`` (real runs, tags, steps, blob keys) with hostile ones: huge and
over-long numbers, ranges like ``0-99999999999``, forged blob keys of both loaders' formats, long and
traversing static names, new experiment ids, markup, control characters.

Usable from ``benchmarks/`` too (run from the repository root, ``python -m benchmarks.bench_fuzz``)::

    from tests.support import fuzz_http
"""

from __future__ import annotations

import base64
import dataclasses
import http.client
import json
import random
import re
import time
import urllib.parse
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

ROUTE = "/data/plugin/featureviz"
API_DOC = Path(__file__).resolve().parents[2] / "tb_featureviz" / "plugin" / "http_api.md"

CLASSES: dict[str, str] = {
    "index": "/index",
    "experiment": "/index",  # a new /experiment/<id>/ each time
    "step": "/step",
    "series": "/series",
    "blob": "/blob",
    "forged_blob": "/blob",
    "frame": "/frame",
    "scalars": "/scalars",
    "export": "/export",
    "export_progress": "/export_progress",
    "static": "/static",
}
"""Request classes and the route each one aims at."""

WEIGHTS: dict[str, int] = {
    "index": 1,
    "experiment": 1,
    "step": 3,
    "series": 2,
    "blob": 2,
    "forged_blob": 3,
    "frame": 2,
    "scalars": 1,
    "export": 2,
    "export_progress": 1,
    "static": 2,
}

ERROR_BODY_MAX = 4096
"""Largest error body allowed (bytes): messages name a bounded sample of what was asked and what exists."""

OK_BODY_MAX = {"export": 16 * 1024 * 1024}
"""Largest successful body allowed per class (bytes); :data:`OK_BODY_DEFAULT` for the others."""

OK_BODY_DEFAULT = 1024 * 1024

LONG = 4400
"""Digits of an over-long number (Python refuses ``int()`` of more than 4,300 digits)."""

HOSTILE_TEXT = (
    "",
    " ",
    "nope",
    "a" * 5000,
    "<img src=x onerror=alert(1)>",
    "../../../../etc/passwd",
    "..\\..\\setup.py",
    "%00",
    "\u00e9\u6f22\u5b57\U0001f600",
    "null",
    "[]",
    "{}",
    "'\"`",
    "\x00\x01\x7f",
    "exp1/featureviz",
    "group/exp2/../exp1",
    "1e309",
    "NaN",
)
HOSTILE_NUMBERS = (
    "-1",
    "1.5",
    "x",
    "0x10",
    " 1",
    "1 ",
    "\u0663",  # ARABIC-INDIC DIGIT THREE
    "9" * 18,
    "9" * 19,
    "-" + "9" * 18,
    "9" * LONG,
    "-" + "9" * LONG,
    "+5",
    "",
)
HOSTILE_EPOCHS = (
    "0-99999999999",
    "0-" + "9" * LONG,
    "9" * LONG,
    "0-3000000",
    ",".join(str(i) for i in range(1500)),
    ",".join(str(i) for i in range(20, 900)),
    "5-1",
    "0..3",
    "-1",
    "1-",
    ",,,",
    "all,last",
    "0-9,x",
    "\u0663",
)


def documented_routes(doc: Path = API_DOC) -> list[str]:
    """The routes ``http_api.md`` documents (``## `GET /route...``` headings), e.g. ``["/index", ...]``."""
    routes = []
    for m in re.finditer(r"^## `GET (/[a-z_]+)", doc.read_text(encoding="utf-8"), flags=re.M):
        if m.group(1) not in routes:
            routes.append(m.group(1))
    return routes


def _b64(fields: Any) -> str:
    raw = fields if isinstance(fields, bytes) else json.dumps(fields, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def forged_keys(run: str, tag: str, step: int, experiment_id: str = "") -> list[str]:
    """Blob keys no loader handed out, in both loaders' formats: wrong types, ranges, names, encodings."""
    eid = experiment_id
    out = []
    for index in ([1, 2], None, [0] * 64, True, 1e30, -1, 2**63, "1", {"a": 1}, 10**6):
        out.append(_b64([eid, "featureviz", run, tag, step, index]))  # Python loader's format
        out.append(_b64([eid, run, tag, step, index]))  # Rust data server's format
    for s in (-1, 2**64, None, "0", 1.5, [0]):
        out.append(_b64([eid, "featureviz", run, tag, s, 1]))
        out.append(_b64([eid, run, tag, s, 1]))
    out += [
        _b64([eid, "images", run, tag, step, 1]),
        _b64(["other-experiment", "featureviz", run, tag, step, 1]),
        _b64([eid, "featureviz", "nope/featureviz", tag, step, 1]),
        _b64([eid, "featureviz", run, "nope", step, 1]),
        _b64([eid, "featureviz", run, tag, 999999, 1]),
        _b64([eid, "featureviz", run, tag, step, 1, 7]),
        _b64([eid, run, tag]),
        _b64({"run": run, "tag": tag, "step": step, "index": 1}),
        _b64(b"[" * 2000),
        _b64(b'"' + b"a" * 2000 + b'"'),
        _b64(b"\xff\xfe\x00"),
        "abc",
        "%%%",
        "A" * 5000,
        "WyIi\nLCJ",
        "=" * 10,
    ]
    return out


@dataclasses.dataclass(frozen=True)
class Result:
    """One fuzzed request and its answer."""

    cls: str
    path: str
    status: int
    size: int
    seconds: float
    json_error: bool


class Fuzzer:
    """Makes seeded requests of every class from what a server lists.

    Args:
        index: The server's ``/index`` document.
        steps: Some ``/step`` documents (their image URLs give real blob keys).
        seed: The random seed: the same seed and documents give the same requests.
    """

    def __init__(self, index: dict[str, Any], steps: Sequence[dict[str, Any]], seed: int = 0) -> None:
        self.rng = random.Random(seed)
        self.runs = [r["run"] for r in index["runs"]]
        self.tags = sorted({t["tag"] for r in index["runs"] for k in r["kinds"].values() for t in k})
        self.layers = sorted({t["layer"] for r in index["runs"] for k in r["kinds"].values() for t in k})
        self.steps = sorted({s for r in index["runs"] for s in r["steps"]}) or [0]
        self.keys = [
            urllib.parse.unquote(u.split("=", 1)[1]) for doc in steps for u in doc.get("images", []) if "=" in u
        ]
        probes = [r.get("probes") or {} for r in index["runs"]]
        self.keys += [urllib.parse.unquote(u.split("=", 1)[1]) for p in probes for u in p.get("images") or []]
        self.tb_runs = sorted({r["tb_runs"]["featureviz"] for r in index["runs"] if r["tb_runs"]["featureviz"]})
        self.statics = ["index.js", "model.js", "views.js", "style.css", "state.js", "chart.js", "colormap.js"]
        self._job = 0
        self._experiment = 0

    # -- value pools ---------------------------------------------------------------------------------

    def _pick(self, good: Sequence[Any], bad: Sequence[Any], p_good: float = 0.6) -> Any:
        return self.rng.choice(good) if good and self.rng.random() < p_good else self.rng.choice(bad)

    def run(self) -> str:
        return self._pick(self.runs, HOSTILE_TEXT)

    def tag(self) -> str:
        return self._pick([*self.tags, "probes", "run_info"], HOSTILE_TEXT)

    def number(self, good: Sequence[int]) -> str:
        return str(self.rng.choice(good)) if self.rng.random() < 0.6 else self.rng.choice(HOSTILE_NUMBERS)

    def epochs(self) -> str:
        good = ["last", "all", str(self.rng.choice(self.steps)), f"0-{self.rng.randint(0, 3)}", "3-99999"]
        return self._pick(good, HOSTILE_EPOCHS, 0.5)

    # -- requests ------------------------------------------------------------------------------------

    def request(self, cls: str) -> str:
        """A path (from the server root, with the query) of class ``cls``."""
        q = urllib.parse.urlencode
        if cls == "index":
            return f"{ROUTE}/index"
        if cls == "experiment":
            self._experiment += 1
            eid = f"fuzz-{self.rng.getrandbits(32):08x}-{self._experiment}"
            route = self.rng.choice(["/index", "/index", f"/scalars?{q({'run': self.run()})}"])
            return f"/experiment/{eid}{ROUTE}{route}"
        if cls == "step":
            params = {"run": self.run(), "tag": self.tag(), "step": self.number(self.steps)}
            if self.rng.random() < 0.1:
                params.pop(self.rng.choice(list(params)))
            return f"{ROUTE}/step?{q(params)}"
        if cls == "series":
            params = {"run": self.run(), "tag": self.tag(), "index": self.number([0, 1, 2, 3, 7])}
            if self.rng.random() < 0.2:
                params.pop("index")
            return f"{ROUTE}/series?{q(params)}"
        if cls == "blob":
            key = self.rng.choice(self.keys) if self.keys else "abc"
            return f"{ROUTE}/blob?{q({'key': key})}"
        if cls == "forged_blob":
            run = self._pick(self.tb_runs, HOSTILE_TEXT, 0.8)
            tag = self._pick(self.tags, HOSTILE_TEXT, 0.8)
            key = self.rng.choice(forged_keys(run, tag, self.rng.choice(self.steps)))
            prefix = f"/experiment/x{self.rng.randint(0, 3)}" if self.rng.random() < 0.1 else ""
            return f"{prefix}{ROUTE}/blob?{q({'key': key})}"
        if cls == "frame":
            return f"{ROUTE}/frame?{q({'q': self._frame_query()})}"
        if cls == "scalars":
            return f"{ROUTE}/scalars?{q({'run': self.run()})}"
        if cls == "export":
            return f"{ROUTE}/export?{q(self._export_params())}"
        if cls == "export_progress":
            job = self._pick([f"fuzz{self._job}", "j1", "a" * 64], ["", "a/b", "x" * 5000, "<b>", "\x00"], 0.5)
            return f"{ROUTE}/export_progress?{q({'job': job})}"
        if cls == "static":
            return f"{ROUTE}/static/{self._static_name()}"
        raise ValueError(f"unknown request class {cls!r}")

    def _frame_query(self) -> str:
        """A ``/frame`` ``q``: items of listed or hostile runs, tags, steps and image indices, or hostile JSON."""
        if self.rng.random() < 0.25:
            return self.rng.choice(
                ["", "[", "{}", "[[]]", '[["a"]]', "[1,2]", "null", "[" * 5000, '[["r","t",0,[-1]]]', "x" * 20000]
            )
        n = self.rng.choice([1, 2, 5, 20, 64, 65, 100])
        items: list[Any] = []
        for _ in range(n):
            step: Any = self._pick(self.steps, [-1, 10**18, 10**30, "7", 1.5, None, True], 0.8)
            images: Any = self.rng.choice([[], [0], [0, 1, 2, 3], list(range(17)), [99], [-1], "0"])
            items.append([self.run(), self.tag(), step, images])
        while len(items) > 1 and len(json.dumps(items)) > 20000:  # under the HTTP server's URL limit (its 414)
            items.pop()
        return json.dumps(items)

    def _export_params(self) -> dict[str, str]:
        rng = self.rng
        params: dict[str, str] = {"run": self._pick(self.runs, HOSTILE_TEXT, 0.85), "epochs": self.epochs()}
        params["format"] = self._pick(["html", "png", "gif", "zip"], ["pdf", "", "HTML", "x" * 5000], 0.85)
        if params["epochs"] == "all" or rng.random() < 0.7:  # keep most exports small: one kind, one layer
            params["kinds"] = self._pick(["activations", "filters", "gradcam"], ["all", "nope", "a" * 5000, ","], 0.8)
            params["layer"] = self._pick(self.layers, HOSTILE_TEXT, 0.8)
        for name, good in (("probe", [0, 1, 3]), ("channel", [0, 2, 5]), ("scale", [1, 2])):
            if rng.random() < 0.3:
                params[name] = self.number(good)
        if rng.random() < 0.2:
            params["colormap"] = self._pick(["viridis", "magma", "gray"], HOSTILE_TEXT, 0.5)
        if rng.random() < 0.2:
            params["caption"] = rng.choice(["0", "1", "maybe", ""])
        if rng.random() < 0.3:
            self._job += 1
            params["job"] = self._pick([f"fuzz{self._job}"], ["a/b", "x" * 65, "<b>"], 0.8)
        if rng.random() < 0.1:
            params.pop("run")
        return params

    def _static_name(self) -> str:
        rng = self.rng
        choice = rng.random()
        if choice < 0.3:
            return rng.choice(self.statics)
        if choice < 0.6:  # long names: 255 is the file system's limit
            n = rng.choice([200, 255, 256, 300, 1000, 4000])
            return "a" * n + rng.choice(["", ".js", ".css"])
        if choice < 0.7:
            return "/".join("d" * rng.randint(1, 300) for _ in range(rng.randint(2, 12))) + "/x.js"
        return rng.choice(
            [
                "../plugin.py",
                "%2e%2e/plugin.py",
                "..%2fsetup.py",
                "%2fetc/passwd",
                "/etc/passwd",
                ".hidden.js",
                "__init__.py",
                "model.js%00.png",
                "",
                "%E2%80%AE.js",
                "index.js/",
                "index.js?x=1",
                "..;/index.js",
            ]
        )

    def requests(self, n: int, classes: Iterable[str] | None = None) -> list[tuple[str, str]]:
        """``n`` requests ``(class, path)``, classes drawn with :data:`WEIGHTS` (every class at least once
        when ``n`` allows)."""
        names = list(classes) if classes is not None else list(CLASSES)
        weights = [WEIGHTS[c] for c in names]
        chosen = names[: min(n, len(names))] + self.rng.choices(names, weights, k=max(0, n - len(names)))
        self.rng.shuffle(chosen)
        return [(c, self.request(c)) for c in chosen]


class Client:
    """GETs over one kept-alive HTTP connection (reconnecting when the server closes it)."""

    def __init__(self, url: str, timeout_s: float = 60.0) -> None:
        parsed = urllib.parse.urlsplit(url)
        self.host = parsed.hostname or "127.0.0.1"
        self.port = parsed.port or 80
        self.timeout_s = timeout_s
        self._conn: http.client.HTTPConnection | None = None

    def get(self, path: str) -> tuple[int, dict[str, str], bytes]:
        for attempt in range(2):
            if self._conn is None:
                self._conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout_s)
            try:
                self._conn.request("GET", path)
                resp = self._conn.getresponse()
                body = resp.read()
                if resp.getheader("Connection", "").lower() == "close":
                    self.close()
                return resp.status, dict(resp.getheaders()), body
            except (http.client.HTTPException, ConnectionError):
                self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def prepare(client: Client, seed: int = 0) -> Fuzzer:
    """A :class:`Fuzzer` over what the server at ``client`` lists (its index and a few steps)."""
    status, _, body = client.get(f"{ROUTE}/index")
    assert status == 200, (status, body[:300])
    index = json.loads(body)
    steps = []
    for r in index["runs"]:
        for kind in r["kinds"].values():
            for t in kind[:2]:
                for step in t["steps"][:2]:
                    q = urllib.parse.urlencode({"run": r["run"], "tag": t["tag"], "step": step})
                    status, _, body = client.get(f"{ROUTE}/step?{q}")
                    if status == 200:
                        steps.append(json.loads(body))
    return Fuzzer(index, steps, seed)


def send(client: Client, cases: Iterable[tuple[str, str]]) -> list[Result]:
    """Sends the requests; a request that gets no answer is a :class:`Result` with status 0."""
    results = []
    for cls, path in cases:
        t0 = time.perf_counter()
        try:
            status, headers, body = client.get(path)
        except (OSError, http.client.HTTPException):
            results.append(Result(cls, path, 0, 0, time.perf_counter() - t0, False))
            continue
        is_json = headers.get("Content-Type", "").startswith("application/json")
        json_error = False
        if status >= 400 and is_json:
            try:
                json_error = isinstance(json.loads(body).get("error"), str)
            except ValueError:
                json_error = False
        results.append(Result(cls, path, status, len(body), time.perf_counter() - t0, json_error))
    return results


def problems(results: Iterable[Result]) -> list[str]:
    """What the answers broke: no answer, a 5xx, an error body too large or not JSON ``{"error"}`` (but for
    TensorBoard's own plain 404 of a static path that never reaches the plugin, such as ``/static/``), a
    success body past :data:`OK_BODY_MAX`."""
    out = []
    for r in results:
        where = f"{r.cls} {r.path[:160]!r}"
        if r.status == 0:
            out.append(f"no answer: {where}")
        elif r.status >= 500:
            out.append(f"{r.status}: {where}")
        elif r.status >= 400 and r.size > ERROR_BODY_MAX:
            out.append(f"{r.status} with a {r.size}-byte body: {where}")
        elif r.status >= 400 and not r.json_error and not (r.cls == "static" and r.status == 404):
            out.append(f"{r.status} without a JSON error: {where}")  # TensorBoard's own 404 for '/static/'
        elif r.status < 400 and r.size > OK_BODY_MAX.get(r.cls, OK_BODY_DEFAULT):
            out.append(f"{r.status} with a {r.size}-byte body: {where}")
    return out


def tracebacks(log_text: str) -> list[str]:
    """The tracebacks (and werkzeug's "Error on request") in a server log, a few lines each."""
    lines = log_text.splitlines()
    return [
        "\n".join(lines[i : i + 6])
        for i, line in enumerate(lines)
        if "Traceback (most recent call last)" in line or "Error on request" in line
    ]
