"""Shared fixtures: logdirs with real event files, data providers of both loaders, real TensorBoards.

Stable names other test files rely on (the browser tests too):

* ``start_tensorboard(logdir, load_fast, ...) -> (url, stop)``: a real ``tensorboard.program.TensorBoard``
  with every static and entry-point plugin (``featureviz`` from its installed entry point), in a
  subprocess so that ``stop()`` ends it and its Rust data server cleanly. ``start_tensorboard_process``
  is the same with the process id and a log file of its stderr (:class:`TBProcess`).
* ``process_rss(pid)``: resident memory of a process and its children (the Rust data server), in bytes.
* ``wait_for_featureviz(url, spec, timeout_s)``: polls ``/index`` until every run of ``spec`` shows every
  step it wrote.
* fixture ``tb_server`` (session scope, parametrised ``python`` / ``rust``): a :class:`TBServer` with
  ``.url``, ``.logdir``, ``.load_fast``, ``.spec`` over :data:`TB_SERVER_LOGDIR` content, loaded; ``.pid``
  and ``.log_path`` (TensorBoard's stderr) too.
* fixture ``featureviz_logdir`` (session): a :class:`logdir_factory.LogdirSpec` of the same content.
* fixture ``provider`` (module scope, parametrised ``python`` / ``rust``): ``(kind, data_provider, spec)``.

Browser scaffolding shared by the browser tests and ``benchmarks/bench_frontend.py``:

* :data:`CHROMIUM`, :data:`CHROMIUM_ARGS` and ``launch_chromium(playwright)``: Debian's Chromium, headless.
* fixture ``browser`` (module scope): one Chromium per module; skips when Chromium or Playwright is missing.
* ``new_page(browser, **context_options)``: a page in a fresh context, closed on exit.
* ``Watched`` and ``watched_page(browser, ...)``: a page plus what it reported (errors, dialogs, failed
  plugin requests, export requests, downloads), checked on exit.
* ``open_tab`` / ``open_entry``: TensorBoard's page on the FeatureViz tab, or the plugin's entry page.
* ``tile_center(spec, k)``, :data:`VIEWPORT`, :data:`ARTIFACTS`, ``save_screenshot(page, name)``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import logdir_factory

if TYPE_CHECKING:
    from playwright.sync_api import Browser, FrameLocator, Page, Playwright, ViewportSize

TB_SERVER_LOGDIR: dict[str, Any] = {"runs": ("exp1", "group/exp2"), "epochs": 12}
"""``write_logdir`` arguments of the ``tb_server`` and ``featureviz_logdir`` fixtures (12 epochs > the
10 TensorBoard keeps by default, so "every epoch kept" is checked everywhere)."""

PLUGIN_ROUTE = "/data/plugin/featureviz"

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT: ViewportSize = {"width": 1400, "height": 900}
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"


def pytest_sessionstart(session: pytest.Session) -> None:
    """Under CI the browser tests must run: a missing Chromium or Playwright fails the run, never skips."""
    if os.environ.get("CI", "").lower() not in ("1", "true", "yes"):
        return
    missing = [] if os.path.exists(CHROMIUM) else [f"{CHROMIUM} (apt-get install chromium)"]
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the playwright package (pip install -e '.[test]')")
    if missing:
        raise pytest.UsageError("CI=true but the browser tests cannot run; missing: " + ", ".join(missing))


_CHILD = textwrap.dedent(
    """
    import os, sys
    if os.environ.get("FEATUREVIZ_BLOCK_TF") == "1":
        sys.modules["tensorflow"] = None  # TensorBoard falls back to its TF stub; featureviz needs no TF
    from tensorboard import default, program
    tb = program.TensorBoard(plugins=default.get_static_plugins() + default.get_dynamic_plugins())
    tb.configure(argv=[None] + sys.argv[1:])
    url = tb.launch()
    print("URL " + url, flush=True)
    sys.stdin.read()  # the parent closes stdin to stop us
    os._exit(0)
    """
)


def data_server_available() -> bool:
    """Whether the Rust ``tensorboard-data-server`` binary is installed."""
    from tensorboard.data import server_ingester

    try:
        server_ingester.get_server_binary()
    except server_ingester.NoDataServerError:
        return False
    return True


@dataclasses.dataclass
class TBProcess:
    """A TensorBoard started by :func:`start_tensorboard_process`.

    Attributes:
        url: The base URL, ending in ``/``.
        stop: Stops the server (and its data server) and waits for it; calling it twice is harmless.
        pid: The TensorBoard process (the Rust data server is its child).
        log_path: The file that receives TensorBoard's stderr, or ``None`` when it is discarded.
    """

    url: str
    stop: Callable[[], None]
    pid: int
    log_path: str | None = None


def start_tensorboard(
    logdir: str | os.PathLike[str],
    load_fast: bool,
    *,
    extra_args: Sequence[str] = (),
    reload_interval: float = 1.0,
    block_tensorflow: bool = True,
    timeout_s: float = 60.0,
) -> tuple[str, Callable[[], None]]:
    """Starts a real TensorBoard on ``127.0.0.1`` and an ephemeral port.

    Args:
        logdir: ``--logdir``.
        load_fast: ``--load_fast=true`` (Rust data server) or ``false`` (Python loader).
        extra_args: Further TensorBoard flags.
        reload_interval: ``--reload_interval`` in seconds (TensorBoard's default is 5).
        block_tensorflow: Start TensorBoard with ``import tensorflow`` failing (faster; what a
            TensorFlow-free viewer machine sees).
        timeout_s: How long to wait for the server's URL.

    Returns:
        ``(url, stop)``: the base URL ending in ``/``, and a function that stops the server (and its
        data server) and waits for it; calling it twice is harmless.
    """
    tb = start_tensorboard_process(
        logdir,
        load_fast,
        extra_args=extra_args,
        reload_interval=reload_interval,
        block_tensorflow=block_tensorflow,
        timeout_s=timeout_s,
    )
    return tb.url, tb.stop


def start_tensorboard_process(
    logdir: str | os.PathLike[str],
    load_fast: bool,
    *,
    extra_args: Sequence[str] = (),
    reload_interval: float = 1.0,
    block_tensorflow: bool = True,
    timeout_s: float = 60.0,
    log_path: str | os.PathLike[str] | None = None,
) -> TBProcess:
    """:func:`start_tensorboard`, returning a :class:`TBProcess`; ``log_path`` receives its stderr."""
    argv = [
        sys.executable,
        "-c",
        _CHILD,
        "--logdir",
        os.fspath(logdir),
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        f"--load_fast={'true' if load_fast else 'false'}",
        f"--reload_interval={reload_interval}",
        *extra_args,
    ]
    env = dict(os.environ, FEATUREVIZ_BLOCK_TF="1" if block_tensorflow else "0", TF_CPP_MIN_LOG_LEVEL="3")
    log = open(log_path, "ab") if log_path is not None else None  # noqa: SIM115 - closed in stop()
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=log if log is not None else subprocess.DEVNULL,
        env=env,
        text=True,
    )

    def stop() -> None:
        if proc.poll() is None:
            try:
                assert proc.stdin is not None
                proc.stdin.close()
                proc.wait(timeout=10)
            except (subprocess.TimeoutExpired, OSError):
                proc.kill()
                proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()
        if log is not None:
            log.close()

    deadline = time.monotonic() + timeout_s
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.startswith("URL "):
            return TBProcess(line[4:].strip(), stop, proc.pid, os.fspath(log_path) if log_path is not None else None)
        if not line and proc.poll() is not None:
            break
    stop()
    raise RuntimeError(f"TensorBoard did not start (exit code {proc.poll()}); argv={argv[3:]}")


def process_rss(pid: int) -> int:
    """Resident memory of process ``pid`` and its descendants (TensorBoard and its Rust data server), in bytes.

    Reads ``/proc``; 0 where it is not available.
    """
    total = 0
    todo = [pid]
    seen: set[int] = set()
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
        except (OSError, ValueError):
            continue
    return total


def http_get(url: str, timeout_s: float = 10.0) -> tuple[int, dict[str, str], bytes]:
    """``(status, headers, body)`` of a GET, also for 4xx/5xx answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def http_json(url: str) -> Any:
    status, _, body = http_get(url)
    if status != 200:
        raise AssertionError(f"GET {url} -> {status}: {body[:300]!r}")
    return json.loads(body)


def wait_for_featureviz(url: str, spec: logdir_factory.LogdirSpec, timeout_s: float = 30.0) -> dict[str, Any]:
    """Polls ``/index`` of a TensorBoard until every run of ``spec`` shows all its steps.

    Returns:
        The last ``/index`` document.

    Raises:
        TimeoutError: with the last document, when the data did not appear in time.
    """
    base = url.rstrip("/")
    deadline = time.monotonic() + timeout_s
    index: Any = None
    while time.monotonic() < deadline:
        status, _, body = http_get(f"{base}{PLUGIN_ROUTE}/index")
        if status == 200:
            index = json.loads(body)
            got = {r["run"]: r["steps"] for r in index["runs"]}
            want = {run: spec.steps.get(run, []) for run in spec.runs}
            if all(got.get(run) == steps for run, steps in want.items()):
                return index
        time.sleep(0.2)
    raise TimeoutError(f"featureviz data did not appear in {timeout_s} s; last /index: {index}")


@dataclasses.dataclass
class TBServer:
    """A running TensorBoard (see ``tb_server``)."""

    url: str
    logdir: str
    load_fast: bool
    spec: logdir_factory.LogdirSpec
    stop: Callable[[], None]
    pid: int = 0
    log_path: str | None = None

    def get(self, path: str) -> tuple[int, dict[str, str], bytes]:
        """GET ``path`` (absolute, e.g. ``/data/plugins_listing``)."""
        return http_get(self.url.rstrip("/") + path)


@pytest.fixture(scope="session")
def featureviz_logdir(tmp_path_factory: pytest.TempPathFactory) -> logdir_factory.LogdirSpec:
    """A logdir written with :data:`TB_SERVER_LOGDIR` (never modified by tests)."""
    return logdir_factory.write_logdir(tmp_path_factory.mktemp("fv_logdir"), **TB_SERVER_LOGDIR)


@pytest.fixture(scope="session", params=[False, True], ids=["python", "rust"])
def tb_server(
    request: pytest.FixtureRequest,
    featureviz_logdir: logdir_factory.LogdirSpec,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[TBServer]:
    """A real TensorBoard over ``featureviz_logdir``, once per loader, loaded before the test runs; its
    stderr goes to ``.log_path``."""
    load_fast = bool(request.param)
    if load_fast and not data_server_available():
        pytest.skip("tensorboard-data-server is not installed")
    log_path = tmp_path_factory.mktemp("tb_log") / f"tensorboard-{request.param_index}.log"
    tb = start_tensorboard_process(featureviz_logdir.root, load_fast, log_path=log_path)
    try:
        wait_for_featureviz(tb.url, featureviz_logdir)
        yield TBServer(tb.url, featureviz_logdir.root, load_fast, featureviz_logdir, tb.stop, tb.pid, tb.log_path)
    finally:
        tb.stop()


def make_provider(logdir: str, kind: str) -> tuple[Any, Callable[[], None]]:
    """A loaded data provider over ``logdir``: ``kind`` is ``"python"`` or ``"rust"``.

    Returns:
        ``(data_provider, close)``. Skips the test when the Rust data server is not installed.
    """
    from tensorboard import context
    from tensorboard.backend.event_processing import data_provider, plugin_event_multiplexer
    from tensorboard.data import server_ingester
    from tensorboard.util import grpc_util

    if kind == "python":
        multiplexer = plugin_event_multiplexer.EventMultiplexer(tensor_size_guidance={"featureviz": 0})
        multiplexer.AddRunsFromDirectory(logdir)
        multiplexer.Reload()
        return data_provider.MultiplexerDataProvider(multiplexer, logdir), lambda: None
    try:
        binary = server_ingester.get_server_binary()
    except server_ingester.NoDataServerError:
        pytest.skip("tensorboard-data-server is not installed")
    ingester = server_ingester.SubprocessServerDataIngester(
        server_binary=binary,
        logdir=logdir,
        reload_interval=0,
        channel_creds_type=grpc_util.ChannelCredsType.LOCAL,
        samples_per_plugin={"featureviz": 0},
    )
    ingester.start()
    dp = ingester.data_provider

    def close() -> None:
        stdin = getattr(ingester, "_stdin_handle", None)
        if stdin is not None:
            stdin.close()

    # The data server loads asynchronously: poll until the listing stops changing.
    ctx = context.RequestContext()
    deadline = time.monotonic() + 30
    previous: Any = None
    while time.monotonic() < deadline:
        listing = {
            run: {tag: ts.max_step for tag, ts in tags.items()}
            for plugin in ("featureviz", "scalars")
            for run, tags in (
                dp.list_blob_sequences(ctx, experiment_id="", plugin_name=plugin)
                if plugin == "featureviz"
                else dp.list_scalars(ctx, experiment_id="", plugin_name=plugin)
            ).items()
        }
        if listing and listing == previous:
            break
        previous = listing
        time.sleep(0.1)
    return dp, close


@pytest.fixture(scope="module", params=["python", "rust"])
def provider(
    request: pytest.FixtureRequest, featureviz_logdir: logdir_factory.LogdirSpec
) -> Iterator[tuple[str, Any, logdir_factory.LogdirSpec]]:
    """``(kind, data_provider, spec)`` over ``featureviz_logdir``, for each loader."""
    dp, close = make_provider(featureviz_logdir.root, request.param)
    try:
        yield request.param, dp, featureviz_logdir
    finally:
        close()


# -- browser -------------------------------------------------------------------------------------------


def launch_chromium(playwright: Playwright) -> Browser:
    """Debian's Chromium at :data:`CHROMIUM`, headless, with :data:`CHROMIUM_ARGS`."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium per module; skips when Chromium or Playwright is not installed."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = launch_chromium(p)
        try:
            yield b
        finally:
            b.close()


@contextlib.contextmanager
def new_page(browser: Browser, **context_options: Any) -> Iterator[Page]:
    """A page of :data:`VIEWPORT` (15 s default timeout) in a fresh browser context, closed on exit."""
    context = browser.new_context(viewport=VIEWPORT, **context_options)
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        yield page
    finally:
        context.close()


class Watched:
    """A page plus what it reported: dialogs (dismissed), uncaught errors, failed plugin requests,
    ``/export`` requests and downloads."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.bad_responses: list[str] = []
        self.exports: list[str] = []
        self.downloads: list[Any] = []
        page.on("dialog", self._on_dialog)
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("response", self._on_response)
        page.on("request", lambda r: self.exports.append(r.url) if f"{PLUGIN_ROUTE}/export?" in r.url else None)
        page.on("download", lambda d: self.downloads.append(d))

    def _on_dialog(self, dialog: Any) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def _on_response(self, response: Any) -> None:
        if PLUGIN_ROUTE in response.url and response.status >= 400:
            self.bad_responses.append(f"{response.status} {response.url}")


@contextlib.contextmanager
def watched_page(browser: Browser, *, allow_bad_responses: bool = False, **context_options: Any) -> Iterator[Watched]:
    """``new_page`` wrapped in a ``Watched``; on exit asserts no JavaScript error and, unless
    ``allow_bad_responses``, no plugin request answered 4xx/5xx."""
    with new_page(browser, **context_options) as page:
        w = Watched(page)
        yield w
        assert w.errors == [], f"JavaScript errors on the page: {w.errors}"
        if not allow_bad_responses:
            assert w.bad_responses == [], f"failed plugin requests: {w.bad_responses}"


def open_tab(page: Page, url: str, hash_params: str = "") -> FrameLocator:
    """Opens TensorBoard's own page on the FeatureViz tab; returns the plugin iframe."""
    page.goto(url.rstrip("/") + "/#featureviz" + (f"&{hash_params}" if hash_params else ""))
    return page.frame_locator("iframe")


def open_entry(page: Page, url: str, hash_params: str = "") -> Page:
    """Opens the plugin's entry page directly (what TensorBoard puts in the iframe)."""
    page.goto(url.rstrip("/") + "/data/plugin_entry.html?name=featureviz" + (f"#{hash_params}" if hash_params else ""))
    return page


def tile_center(spec: logdir_factory.LogdirSpec, k: int) -> tuple[int, int]:
    """Pixel at the centre of tile ``k`` of a grid of ``spec``'s layout."""
    lay = spec.layout
    x, y = lay.tile_origin(k)
    return x + lay.tile_width // 2, y + lay.tile_height // 2


def save_screenshot(page: Page, name: str, *, full_page: bool = True) -> Path:
    """Saves a screenshot of ``page`` as ``artifacts/<name>``."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=full_page)
    return path
