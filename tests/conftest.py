"""Shared fixtures and pytest hooks; the code behind them lives in ``tests/support/``.

* ``featureviz_logdir`` (session): a :class:`~tests.support.logdir_factory.LogdirSpec` written with
  :data:`~tests.support.server.TB_SERVER_LOGDIR`, never modified by tests.
* ``tb_server`` (session, parametrised ``python`` / ``rust``): a :class:`~tests.support.server.TBServer`
  over ``featureviz_logdir``, loaded before the test runs, with ``.url``, ``.logdir``, ``.load_fast``,
  ``.spec``, ``.pid`` and ``.log_path`` (TensorBoard's stderr).
* ``provider`` (module, parametrised ``python`` / ``rust``): ``(kind, data_provider, spec)`` over
  ``featureviz_logdir``.
* ``client`` (module): a :class:`~tests.support.wsgi.Client` over ``provider``, for each loader.
* ``browser`` (module): one headless Chromium per module; skips when Chromium or Playwright is missing.
* ``spec`` (module), for the export tests: a logdir of two runs (:data:`~tests.support.exports.RUNS`) of
  two epochs; ``html_report`` (module): its HTML export.

Hook: under ``CI=true`` a missing Chromium or Playwright fails the run instead of skipping the browser tests.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.support import logdir_factory
from tests.support.browser import CHROMIUM, Watched, launch_chromium, watched_page
from tests.support.server import (
    TB_SERVER_LOGDIR,
    TBServer,
    data_server_available,
    make_provider,
    start_tensorboard_process,
    wait_for_featureviz,
)

if TYPE_CHECKING:
    from tests.support.wsgi import Client

# Fixtures import the package's modules where they use them, so that a module that fails to import fails
# only the tests that need it, not the collection of the whole suite.


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


@pytest.fixture(scope="module")
def client(provider: tuple[str, Any, Any]) -> Client:
    from tests.support.wsgi import Client

    _, dp, spec = provider
    return Client(dp, spec.root)


@pytest.fixture()
def watched(browser: Any) -> Iterator[Watched]:
    """A page of the module's browser that records dialogs, page errors and failed plugin requests (a module
    may override it, as the export menu's tests do)."""
    with watched_page(browser) as w:
        yield w


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


# -- the export tests' logdir -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> logdir_factory.LogdirSpec:
    """Two runs, two epochs, three layers, four probes (6 channels, 4x4 tiles, 4 columns)."""
    from tests.support.exports import RUNS

    return logdir_factory.write_logdir(tmp_path_factory.mktemp("logs"), runs=RUNS, epochs=2)


@pytest.fixture(scope="module")
def html_report(spec: logdir_factory.LogdirSpec, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tb_featureviz.export import export
    from tests.support.exports import RUNS

    out = tmp_path_factory.mktemp("html") / "report.html"
    path = export(spec.root, list(RUNS), epochs="all", format="html", detail="full", out=out)
    assert path == out
    return path
