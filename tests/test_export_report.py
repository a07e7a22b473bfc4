"""The summary-first report (``tb_featureviz.export.report``) as HTML, PDF, and single PNG / SVG figures.

Read from the export tests' logdir (two runs, two epochs, the factory's predictions: some probes wrong).
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image

from tb_featureviz.export import export
from tb_featureviz.metadata import probe_label
from tests.support.exports import RUNS

CLASSES = ("cat", "dog")


class _Ids(HTMLParser):
    """Every element id, every in-page link, the figures' ids and captions, and the SVG groups' ids."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.links: list[str] = []
        self.figures: list[str] = []
        self.captions: list[str] = []
        self._caption: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.append(str(a["id"]))
        if tag == "a" and str(a.get("href", "")).startswith("#"):
            self.links.append(str(a["href"])[1:])
        if tag == "figure":
            self.figures.append(str(a.get("id")))
        if tag == "figcaption":
            self._caption = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "figcaption" and self._caption is not None:
            self.captions.append("".join(self._caption))
            self._caption = None

    def handle_data(self, data: str) -> None:
        if self._caption is not None:
            self._caption.append(data)


def pdf_pages(data: bytes) -> int:
    """The page count of a PDF (its page objects)."""
    return len(re.findall(rb"/Type\s*/Page(?![s\w])", data))


@pytest.fixture(scope="module")
def summary(spec, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("summary") / "report.html"
    return export(spec.root, list(RUNS), format="html", out=out)


def test_summary_html_has_numbered_figures_a_contents_that_links_to_them_and_captions(summary):
    text = summary.read_text(encoding="utf-8")
    parsed = _Ids()
    parsed.feed(text)
    # Every figure numbered in order, each with its caption starting "Figure n."
    assert parsed.figures == [f"fig-{n}" for n in range(1, len(parsed.figures) + 1)]
    assert len(parsed.figures) >= 6
    assert [c.split(".")[0] for c in parsed.captions] == [f"Figure {n}" for n in range(1, len(parsed.figures) + 1)]
    # The contents: the three sections and every figure and table, each link to an element of the page.
    assert {"summary", "final", "changes", "table-1"} <= set(parsed.links)
    assert set(parsed.figures) <= set(parsed.links)
    assert set(parsed.links) <= set(parsed.ids)
    # Side by side: the facts table has a column per run; the curves chart a line per run and split.
    assert "<thead><tr><th></th><th>exp1</th><th>exp2</th></tr></thead>" in text
    for run in RUNS:
        for split in ("train", "validation"):
            assert f'id="series-loss-{run}-{run} {split}"' in text
    # Self-contained: no address anywhere, text stays text (matplotlib's SVG with svg.fonttype none).
    assert not re.search(r"(https?:|ftp:)?//[a-z0-9]", text, re.IGNORECASE)
    assert "<text" in text and "Loss" in text


def test_summary_badges_every_wrong_prediction_and_only_those(spec, summary):
    text = summary.read_text(encoding="utf-8")
    last = spec.epochs - 1
    for run in RUNS:
        for probe in range(spec.probes):
            wrong = spec.predicted(last, probe) != spec.label(probe)
            assert (f'id="badge-gradcam-{run}-{probe}-predicted"' in text) is wrong, (run, probe)
            assert f'id="badge-gradcam-{run}-{probe}-true"' not in text
            for epoch in range(spec.epochs):  # the filmstrip: each epoch's own prediction
                wrong_then = spec.predicted(epoch, probe) != spec.label(probe)
                assert (f'id="badge-film-cam-{run}-{probe}-{epoch}"' in text) is wrong_then, (run, probe, epoch)
    assert probe_label(0, CLASSES[spec.label(0)]) in text


def test_summary_says_what_the_checks_say_in_words(summary):
    text = summary.read_text(encoding="utf-8")
    # The factory's deletion AUC (0.25 + ...) is below its insertion AUC: the map points at evidence.
    assert "exp1, measured at epochs 0, 1." in text
    assert "the map points at evidence the model uses" in text
    assert "A marker is a measured epoch (exp1: epochs 0, 1; exp2: epochs 0, 1)" in text


def test_summary_pdf_is_vector_with_text_and_the_same_figures(spec, tmp_path):
    out = export(spec.root, list(RUNS), format="pdf", out=tmp_path / "report.pdf")
    data = out.read_bytes()
    assert data.startswith(b"%PDF-")
    assert 2 <= pdf_pages(data) <= 8
    assert b"/FontFile2" in data  # TrueType fonts embedded: text stays text
    if shutil.which("pdftotext"):
        words = subprocess.run(["pdftotext", "-layout", str(out), "-"], capture_output=True, text=True).stdout
        assert "Feature visualisation report" in words
        assert "Figure 1. Training curves" in words  # the contents
        assert "Table 1. The runs side by side" in words
        assert "measured at epochs 0, 1" in words


def test_summary_png_and_svg_figures_fit_a_document(spec, tmp_path):
    png_dir = export(spec.root, "exp1", format="png", out=tmp_path / "png")
    names = sorted(p.name for p in png_dir.iterdir())
    assert names[0] == "fig-01-training-curves.png" and all(n.startswith("fig-") for n in names)
    with Image.open(png_dir / names[0]) as image:
        assert image.size[0] == round(6.3 * 300)  # the text width of an A4 page at 300 dpi
        assert round(image.info["dpi"][0]) == 300
    svg_dir = export(spec.root, "exp1", format="svg", out=tmp_path / "svg")
    svgs = sorted(p.name for p in svg_dir.iterdir())
    assert [n.removesuffix(".svg") for n in svgs] == [n.removesuffix(".png") for n in names]
    curves = (svg_dir / svgs[0]).read_text(encoding="utf-8")
    assert "<text" in curves and ">Loss<" in curves.replace("</tspan>", "<")  # text, not paths
    assert 'width="453.6pt"' in curves  # 6.3 inches


def test_full_detail_keeps_the_exhaustive_report_and_summary_formats_refuse_it(spec, tmp_path):
    full = export(spec.root, "exp1", epochs="all", format="html", detail="full", out=tmp_path / "full.html")
    assert full.read_text(encoding="utf-8").count('data-kind="activations"') >= spec.epochs * len(spec.layers)
    from tb_featureviz.export import ExportArgumentError

    with pytest.raises(ExportArgumentError, match="format pdf is drawn from the summary's figures"):
        export(spec.root, "exp1", format="pdf", detail="full", out=tmp_path / "x.pdf")


def test_summary_reads_at_most_six_epochs_of_images(tmp_path):
    """A long run's summary reads the final epoch and six filmstrip epochs, not every epoch."""
    from tb_featureviz.export.options import ExportOptions
    from tb_featureviz.export.selection import plan_export, spread
    from tests.support import logdir_factory

    spec = logdir_factory.write_logdir(tmp_path / "logs", runs=("long",), epochs=12)
    from tb_featureviz.reader import open_logdir

    with open_logdir(str(spec.root)) as reader:
        from tensorboard.context import RequestContext

        plan = plan_export(reader.index(RequestContext()), ExportOptions.parse("long"))
    assert plan.runs[0].epochs == (0, 2, 4, 7, 9, 11) == tuple(spread(list(range(12))))
    assert all(set(t.epochs) <= {0, 2, 4, 7, 9, 11} for t in plan.runs[0].tags)


def test_pdf_page_count_helper_counts_pages_not_the_page_tree():
    from matplotlib.backends.backend_pdf import PdfPages
    from matplotlib.figure import Figure

    buf = io.BytesIO()
    with PdfPages(buf) as pdf:
        for _ in range(3):
            pdf.savefig(Figure(figsize=(2, 2)))
    assert pdf_pages(buf.getvalue()) == 3
