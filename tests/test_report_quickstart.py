"""The quick start's 10-epoch run, exported at the defaults: the report a student hands in.

Trains the reference CNN once (``featureviz train`` at its defaults: 10 epochs, the embedded data set, the 5%
budget; about two minutes on two cores), then exports the summary as HTML and PDF and checks what the issue
asks of it: at most 8 A4 pages and 3 MB, a table of contents whose entries link to figures, a learning-rate
axis that covers the rate, and a WRONG badge on exactly the wrong predictions.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import tb_featureviz as fv
from tb_featureviz.export import export
from tests.test_export_report import _Ids, pdf_pages

pytestmark = pytest.mark.slow

RUN = "quickstart"
MAX_PAGES = 8
MAX_BYTES = 3 * 1024 * 1024


@pytest.fixture(scope="module")
def logdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("quickstart") / "runs"
    cmd = [sys.executable, "-m", "tb_featureviz.cli", "train", "--logdir", str(root), "--run", RUN]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return root


@pytest.fixture(scope="module")
def html(logdir: Path) -> Path:
    return export(logdir, RUN, out=logdir.parent / "report.html")


def test_pdf_at_defaults_fits_eight_pages_and_three_megabytes(logdir):
    pdf = export(logdir, RUN, format="pdf", out=logdir.parent / "report.pdf")
    data = pdf.read_bytes()
    assert pdf_pages(data) <= MAX_PAGES, pdf_pages(data)
    assert len(data) <= MAX_BYTES


def test_html_at_defaults_is_small_prints_short_and_its_contents_link_to_figures(html, browser):
    assert html.stat().st_size <= MAX_BYTES
    parsed = _Ids()
    parsed.feed(html.read_text(encoding="utf-8"))
    assert len(parsed.figures) >= 4
    assert set(parsed.figures) <= set(parsed.links) <= set(parsed.ids)
    page = browser.new_page()
    try:
        page.goto(html.as_uri())
        page.wait_for_load_state("load")
        printed = page.pdf(format="A4", print_background=True)
    finally:
        page.close()
    assert 1 <= pdf_pages(printed) <= MAX_PAGES


def test_learning_rate_axis_covers_the_rate(logdir):
    fig = fv.plot.curves(logdir, RUN)
    ax = next(a for a in fig.axes if a.get_gid() == "chart-learning_rate")
    (line,) = ax.get_lines()
    rate = float(line.get_ydata()[-1])
    assert rate == pytest.approx(1e-4, rel=1e-6)  # the tutorial's RMSprop(1e-4)
    low, high = ax.get_ylim()
    assert ax.get_yscale() == "log" and low < rate < high


def test_every_wrong_prediction_and_only_those_is_badged(logdir, html):
    from tensorboard.context import RequestContext

    from tb_featureviz.export.api import collect
    from tb_featureviz.reader import open_logdir

    text = html.read_text(encoding="utf-8")
    with open_logdir(str(logdir)) as reader:
        report = collect(reader, RequestContext(), RUN, epochs="all", kinds="gradcam")
    run = report.runs[0]
    last = max(run.steps)
    overlays = [f for f in run.figures if f.role == "overlay" and f.target == "predicted"]
    assert overlays
    shown_epochs = {int(e) for e in re.findall(r'id="film-cam-quickstart-\d+-(\d+)"', text)}
    for f in overlays:
        wrong = f.predicted_class != run.probe_label(f.probe)
        if f.epoch == last:
            assert (f'id="badge-gradcam-{RUN}-{f.probe}-predicted"' in text) is wrong, f.probe
        if f.epoch in shown_epochs:
            assert (f'id="badge-film-cam-{RUN}-{f.probe}-{f.epoch}"' in text) is wrong, (f.probe, f.epoch)


def test_the_checks_form_a_curve_full_at_the_first_epoch_light_between(logdir):
    """At the default budget the Grad-CAM checks are drawn at several epochs (5 or 6 of 10 measured on this
    machine; 1 or 2 before light draws), the first epoch's in full; the report reads which draw each was."""
    from tensorboard.context import RequestContext

    from tb_featureviz.export.collect import read_plan
    from tb_featureviz.export.options import ExportOptions
    from tb_featureviz.export.report import check_epochs, light_epochs
    from tb_featureviz.export.selection import plan_export
    from tb_featureviz.reader import open_logdir

    options = ExportOptions.parse(RUN, format="pdf")
    with open_logdir(str(logdir)) as reader:
        ctx = RequestContext()
        run = read_plan(reader, ctx, plan_export(reader.index(ctx), options)).runs[0]
    measured = check_epochs(run)
    assert measured[0] == 0 and len(measured) >= 3, measured
    assert run.check_draws[0]["variant"] == "full" and run.check_draws[0]["steps"] == 10
    assert set(light_epochs(run)) <= set(measured) and light_epochs(run), run.check_draws
