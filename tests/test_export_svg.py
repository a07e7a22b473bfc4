"""``tb_featureviz.export.svg``: the loss and accuracy curves of the HTML report, one point per written epoch."""

from __future__ import annotations

from tests.support.exports import RUNS
from tests.support.exports import parse_html as _parse
from tests.support.logdir_factory import CHECK_TAGS


def test_html_curves_are_inline_svg_with_one_point_per_epoch(spec, html_report):
    parser = _parse(html_report)
    lines = [a for t, a in parser.tags if t == "polyline" and a["data-metric"] in ("loss", "accuracy")]
    # loss and accuracy, train and validation, for 2 runs
    assert len(lines) == 2 * 2 * 2
    for attrs in lines:
        points = [tuple(map(float, p.split(","))) for p in (attrs["points"] or "").split()]
        assert len(points) == spec.epochs
        assert attrs["data-metric"] in ("loss", "accuracy")
        xs = [x for x, _ in points]
        assert xs == sorted(xs) and len(set(xs)) == len(xs)
    # loss falls, accuracy rises: SVG y grows downwards
    for attrs in lines:
        ys = [float(p.split(",")[1]) for p in (attrs["points"] or "").split()]
        assert (ys[1] > ys[0]) if attrs["data-metric"] == "loss" else (ys[1] < ys[0])
    marks = [a for t, a in parser.tags if t == "line" and "mark" in (a.get("class") or "")]
    assert sorted({a["data-epoch"] for a in marks}) == ["0", "1"]


def test_html_report_has_the_grad_cam_checks_curves(spec, html_report):
    """Each run's card has a faithfulness and a sanity chart: one line per measure the run wrote, one point per
    epoch, at the factory's values (the points' titles), on a y axis that covers the measure's range."""
    parser = _parse(html_report)
    text = html_report.read_text(encoding="utf-8")
    assert text.count("<h4>Grad-CAM checks</h4>") == len(RUNS)
    assert "a randomisation correlation near 1 is bad" in text
    run = None
    lines: dict[tuple[str | None, str, str], dict[str, str | None]] = {}
    for tag, attrs in parser.tags:
        if tag == "article":
            run = attrs.get("data-run")
        elif tag == "polyline" and attrs["data-metric"] in ("faithfulness", "sanity"):
            lines[(run, attrs["data-metric"] or "", attrs["data-split"] or "")] = attrs
    labels = {
        "faithfulness/deletion_auc": ("faithfulness", "deletion"),
        "faithfulness/insertion_auc": ("faithfulness", "insertion"),
        "sanity/randomization_spearman": ("sanity", "randomisation"),
    }
    assert sorted(lines) == sorted((r, *labels[t]) for r in RUNS for t in CHECK_TAGS)
    for (r, group, label), attrs in lines.items():
        assert attrs["data-count"] == str(spec.epochs)
        tag = next(t for t, v in labels.items() if v == (group, label))
        for epoch in range(spec.epochs):
            title = f"{label} {group} at epoch {epoch}: {spec.scalar(r or '', tag, epoch):.4g}"
            assert f"<title>{title}</title>" in text
    # Deletion is below insertion in the factory's values: higher on the page (larger y).
    ys = {k: [float(p.split(",")[1]) for p in (a["points"] or "").split()] for k, a in lines.items()}
    deletion, insertion = ys[("exp1", "faithfulness", "deletion")], ys[("exp1", "faithfulness", "insertion")]
    assert all(d > i for d, i in zip(deletion, insertion, strict=True))
    for group, lo, hi in (("faithfulness", "0", "1"), ("sanity", "-1", "1")):
        chart = text[text.index(f'data-metric="{group}"') :]
        chart = chart[: chart.index("</svg>")]
        assert f">{lo}</text>" in chart and f">{hi}</text>" in chart, group
