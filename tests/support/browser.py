"""Browser scaffolding shared by the browser tests and ``benchmarks/bench_frontend.py``.

* :data:`CHROMIUM`, :data:`CHROMIUM_ARGS` and ``launch_chromium(playwright)``: Debian's Chromium, headless
  (the ``browser`` fixture of ``conftest.py`` launches one per module).
* ``new_page(browser, **context_options)``: a page in a fresh context, closed on exit.
* :class:`Watched` and ``watched_page(browser, ...)``: a page plus what it reported (errors, dialogs, failed
  plugin requests, export requests, downloads), checked on exit.
* ``open_tab`` / ``open_entry``: TensorBoard's page on the FeatureViz tab, or the plugin's entry page.
* ``tile_center(spec, k)``, :data:`VIEWPORT`, :data:`ARTIFACTS`, ``save_screenshot(page, name)``.

Playwright is imported for type checking only, so importing this module needs no Playwright.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.support import logdir_factory
from tests.support.routes import PLUGIN_ROUTE

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Frame, FrameLocator, Page, Playwright, ViewportSize

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
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


def launch_chromium(playwright: Playwright) -> Browser:
    """Debian's Chromium at :data:`CHROMIUM`, headless, with :data:`CHROMIUM_ARGS`."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


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


FRONTEND = Path(__file__).resolve().parents[2] / "tb_featureviz" / "frontend"
"""The frontend's ES modules."""

MODULES_ORIGIN = "http://frontend.test"
"""The made-up origin :func:`module_page` serves the frontend's modules from."""


@contextlib.contextmanager
def module_page(browser: Browser, modules: dict[str, str], title: str = "modules") -> Iterator[Page]:
    """A page at :data:`MODULES_ORIGIN` with each of ``modules`` (``{global name: file}``, e.g.
    ``{"chart": "chart.js"}``) imported as ``window.<name>``: the frontend's files served through Playwright's
    routing, no server. Fails on exit if the page threw a JavaScript error."""

    def serve(route: Any) -> None:
        name = route.request.url[len(MODULES_ORIGIN) + 1 :]
        if name == "":
            route.fulfill(status=200, content_type="text/html", body=f"<!doctype html><title>{title}</title>")
            return
        path = FRONTEND / name
        if path.parent != FRONTEND or not path.is_file():
            route.fulfill(status=404, body="")
            return
        route.fulfill(status=200, content_type="text/javascript", body=path.read_text(encoding="utf-8"))

    with new_page(browser) as page:
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.route(f"{MODULES_ORIGIN}/**", serve)
        page.goto(f"{MODULES_ORIGIN}/")
        imports = " ".join(f"window.{name} = await import('./{file}');" for name, file in modules.items())
        page.evaluate(f"async () => {{ {imports} }}")
        yield page
        assert errors == [], f"JavaScript errors on the page: {errors}"


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


def plugin_frame(page: Page) -> Frame:
    """The FeatureViz tab's iframe of a TensorBoard page."""
    for f in page.frames:
        if "plugin_entry.html" in f.url:
            return f
    raise AssertionError(f"no plugin iframe among {[f.url for f in page.frames]}")


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
