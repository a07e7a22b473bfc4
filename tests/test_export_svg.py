"""``tb_featureviz.export.svg``: the loss and accuracy curves of the HTML report, one point per written epoch."""

from __future__ import annotations

from tests.support.exports import parse_html as _parse


def test_html_curves_are_inline_svg_with_one_point_per_epoch(spec, html_report):
    parser = _parse(html_report)
    lines = [a for t, a in parser.tags if t == "polyline"]
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
