"""A sweep in the dashboard, on a real TensorBoard with either loader and headless Chromium: with
``--featureviz_full_runs 2`` a logdir of 4 runs is a "sweep", listed from TensorBoard's listing; the runs the
page shows are asked for by name (``/index?run=``) and come in full, the others are listed with their last
epoch only."""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("playwright.sync_api")
from playwright.sync_api import expect

from tests.support import logdir_factory
from tests.support.browser import Watched, open_entry
from tests.support.server import data_server_available, start_tensorboard, wait_index

pytestmark = pytest.mark.browser
RUNS = ("exp1", "exp2", "exp3", "exp4")


def _listed(index: dict[str, Any]) -> bool:
    return [e["run"] for e in index["runs"]] == list(RUNS) and all(e.get("max_step") == 1 for e in index["runs"])


@pytest.fixture(scope="module", params=[False, True], ids=["python", "rust"])
def sweep_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param and not data_server_available():
        pytest.skip("tensorboard-data-server is not installed")
    spec = logdir_factory.write_logdir(tmp_path_factory.mktemp("sweep"), runs=RUNS, epochs=2)
    url, stop = start_tensorboard(spec.root, request.param, extra_args=["--featureviz_full_runs", "2"])
    try:
        wait_index(url, {}, ready=_listed)
        yield url
    finally:
        stop()


def test_the_runs_on_show_come_in_full_and_the_rest_are_listed(watched: Watched, sweep_url: str) -> None:
    asked: list[list[str]] = []

    def on_request(request: Any) -> None:
        parsed = urllib.parse.urlparse(request.url)
        if parsed.path.endswith("/data/plugin/featureviz/index"):
            asked.append(urllib.parse.parse_qs(parsed.query).get("run", []))

    watched.page.on("request", on_request)
    page = open_entry(watched.page, sweep_url, "run=exp3&layer=conv2d")
    expect(page.locator('.panel[data-run="exp3"] canvas.grid-canvas')).to_be_visible()
    expect(page.locator(".epoch-readout")).to_contain_text("1")
    assert ["exp3"] in asked
    notes = page.locator(".run-item .run-note")
    expect(notes).to_have_text(["to epoch 1", "to epoch 1", "2 epochs", "to epoch 1"])
    # Ticking a listed run asks for it, and its panel draws its grid.
    page.locator('.run-item[data-run="exp1"] input.run-check').check()
    expect(page.locator('.panel[data-run="exp1"] canvas.grid-canvas')).to_be_visible()
    expect(notes).to_have_text(["2 epochs", "to epoch 1", "2 epochs", "to epoch 1"])
    assert any(sorted(runs) == ["exp1", "exp3"] for runs in asked)
