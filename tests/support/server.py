"""A real TensorBoard in a subprocess, and loaded data providers of both loaders, for tests and benchmarks.

* ``start_tensorboard(logdir, load_fast, ...) -> (url, stop)``: a real ``tensorboard.program.TensorBoard``
  with every static and entry-point plugin (``featureviz`` from its installed entry point), in a
  subprocess so that ``stop()`` ends it and its Rust data server cleanly. ``start_tensorboard_process``
  is the same with the process id and a log file of its stderr (:class:`TBProcess`).
* ``wait_for_featureviz(url, spec, timeout_s)``: polls ``/index`` until every run of ``spec`` shows every
  step it wrote.
* ``process_rss(pid)``: resident memory of a process and its children (the Rust data server), in bytes.
* ``data_server_available()``: whether the Rust data server is installed.
* ``make_provider(logdir, kind)``: a loaded data provider of either loader, without a server.
* :class:`TBServer`: what the ``tb_server`` fixture of ``conftest.py`` yields; :data:`TB_SERVER_LOGDIR`: the
  ``write_logdir`` arguments of its logdir.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from tests.support import logdir_factory
from tests.support.routes import PLUGIN_ROUTE, http_get

TB_SERVER_LOGDIR: dict[str, Any] = {"runs": ("exp1", "group/exp2"), "epochs": 12}
"""``write_logdir`` arguments of the ``tb_server`` and ``featureviz_logdir`` fixtures (12 epochs > the
10 TensorBoard keeps by default, so "every epoch kept" is checked everywhere)."""


_CHILD = textwrap.dedent(
    """
    import os, sys
    if os.environ.get("FEATUREVIZ_BLOCK_TF") == "1":
        sys.modules["tensorflow"] = None  # TensorBoard falls back to its TF stub; featureviz needs no TF
    from tensorboard import default, program
    plugins = default.get_static_plugins() + default.get_dynamic_plugins()
    if os.environ.get("FEATUREVIZ_NO_PLUGIN") == "1":  # a baseline without the featureviz plugin
        plugins = [p for p in plugins if not getattr(p, "__module__", "").startswith("tb_featureviz")
                   and not type(p).__module__.startswith("tb_featureviz")]
    tb = program.TensorBoard(plugins=plugins)
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
    featureviz_plugin: bool = True,
) -> TBProcess:
    """:func:`start_tensorboard`, returning a :class:`TBProcess`; ``log_path`` receives its stderr, and
    ``featureviz_plugin=False`` leaves the featureviz plugin out (a baseline for the benchmarks)."""
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
    env = dict(
        os.environ,
        FEATUREVIZ_BLOCK_TF="1" if block_tensorflow else "0",
        FEATUREVIZ_NO_PLUGIN="0" if featureviz_plugin else "1",
        TF_CPP_MIN_LOG_LEVEL="3",
    )
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


def wait_index(
    url: str,
    expected: dict[str, list[int]],
    timeout_s: float = 30.0,
    *,
    ready: Callable[[dict[str, Any]], bool] | None = None,
) -> dict[str, Any]:
    """Polls ``/index`` until each run in ``expected`` lists exactly those featureviz steps (and ``ready(index)``
    holds, when given); returns that index.

    Raises:
        TimeoutError: with the last document, when it did not come in time.
    """
    from tests.support.routes import http_json

    deadline = time.monotonic() + timeout_s
    index: Any = None
    while time.monotonic() < deadline:
        index = http_json(url.rstrip("/") + PLUGIN_ROUTE + "/index")
        got = {r["run"]: r["steps"] for r in index["runs"]}
        if all(got.get(run) == steps for run, steps in expected.items()) and (ready is None or ready(index)):
            return index
        time.sleep(0.2)
    raise TimeoutError(f"index did not show {expected} in {timeout_s} s; last: {index}")


class LoaderServers:
    """A logdir and a lazily started TensorBoard per loader over it, each ready once ``/index`` shows
    :meth:`expected_steps` when it starts (and ``ready(index)``, see :func:`wait_index`). A test module's fixture
    makes one and stops it; a subclass whose logdir grows overrides :meth:`expected_steps`."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        expected: dict[str, list[int]] | None = None,
        ready: Callable[[dict[str, Any]], bool] | None = None,
    ) -> None:
        self.root = root
        self._expected = expected or {}
        self.ready = ready
        self._servers: dict[bool, tuple[str, Callable[[], None]]] = {}

    def url(self, load_fast: bool) -> str:
        if load_fast and not data_server_available():
            pytest.skip("tensorboard-data-server is not installed")
        if load_fast not in self._servers:
            url, stop = start_tensorboard(str(self.root), load_fast)
            self._servers[load_fast] = (url, stop)
            try:
                wait_index(url, self.expected_steps(), ready=self.ready)
            except Exception:
                stop()
                raise
        return self._servers[load_fast][0]

    def expected_steps(self) -> dict[str, list[int]]:
        """Each run's featureviz steps the index must show."""
        return self._expected

    def stop(self) -> None:
        for _, stop in self._servers.values():
            stop()


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
