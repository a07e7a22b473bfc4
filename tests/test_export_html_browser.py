"""The HTML export in headless Chromium: every image loads, nothing is fetched, and it prints to PDF."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tb_featureviz.export import export
from tests.support import logdir_factory

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("logs")
    logdir_factory.write_logdir(root, runs=("exp1", "exp2"), epochs=2)
    return export(root, ["exp1", "exp2"], epochs="all", format="html", detail="full", out=root.parent / "report.html")


def test_html_export_renders_offline_and_prints_to_pdf(report, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(report.as_uri())
    page.wait_for_load_state("load")
    sizes = page.eval_on_selector_all("img", "imgs => imgs.map(i => [i.complete, i.naturalWidth, i.naturalHeight])")
    assert len(sizes) == 2 * 2 * (3 * 4 + 2 + 8)
    assert all(done and w > 0 and h > 0 for done, w, h in sizes)
    # loss and accuracy (train, validation) and the 3 Grad-CAM measures the factory writes, for 2 runs
    assert page.locator('[data-chart="curves"] :is(g[id^="series-loss-"], g[id^="series-accuracy-"])').count() == 8
    checks = '[data-chart="checks"] :is(g[id^="series-faithfulness-"], g[id^="series-sanity-"])'
    assert page.locator(checks).count() == 2 * len(logdir_factory.CHECK_TAGS)
    external = [u for u in requests if not u.startswith(("data:", "file:"))]
    assert external == []
    pdf = page.pdf(format="A4", print_background=True)
    assert pdf.startswith(b"%PDF-")
    pages = len(re.findall(rb"/Type\s*/Page(?!s)", pdf))
    # cover page with both run cards, then one section per epoch (each starts on a new page)
    assert pages >= 3
