"""``tb_featureviz.export.html``: the self-contained HTML report, on real event files from the logdir factory.

Every test compares decoded pixels, captions and references with what ``tests/support/logdir_factory.py`` wrote
(the ``spec`` and ``html_report`` fixtures of ``conftest.py``). The same report in Chromium:
``test_export_html_browser.py``.
"""

from __future__ import annotations

import functools
import re

import numpy as np

from tb_featureviz.export import export as export_any
from tb_featureviz.export.content import ratio_text
from tb_featureviz.render import apply_colormap, neutral_separators
from tests.support.exports import RUNS
from tests.support.exports import figure_images as _figure_images
from tests.support.exports import find_figure as _find
from tests.support.exports import parse_html as _parse
from tests.support.logdir_factory import decode_png

export = functools.partial(export_any, detail="full")  # these tests read the full report: every image as stored


def test_html_embeds_every_written_image_with_the_right_pixels(spec, html_report):
    images = _figure_images(_parse(html_report))
    # 2 runs x 2 epochs x (3 layers x 4 probes + 2 filter layers + 4 probes x 2 Grad-CAM targets)
    assert len(images) == 2 * 2 * (3 * 4 + 2 + 4 * 2)
    for run in RUNS:
        for epoch in (0, 1):
            for layer in spec.layers:
                for probe in range(spec.probes):
                    gray = decode_png(spec.activation_png(run, epoch, layer, probe))
                    got = _find(images, run=run, kind="activations", layer=layer, epoch=epoch, probe=probe)
                    np.testing.assert_array_equal(got, neutral_separators(apply_colormap(gray, "viridis"), spec.layout))
            for layer in spec.filter_layers:
                got = _find(images, run=run, kind="filters", layer=layer, epoch=epoch)
                np.testing.assert_array_equal(got, decode_png(spec.filter_png(run, epoch, layer)))
            for probe in range(spec.probes):
                for t, target in enumerate(("predicted", "true")):
                    got = _find(images, run=run, kind="gradcam", epoch=epoch, probe=probe, target=target)
                    assert got.shape == (spec.image_size, spec.image_size, 3)
                    assert (got == spec.overlay_value(epoch, probe, t)).all()


def test_html_captions_name_layer_epoch_channels_and_gradcam_class_and_score(spec, html_report):
    text = html_report.read_text(encoding="utf-8")
    captions = re.findall(r"<figcaption>(.*?)</figcaption>", text)
    plain = [re.sub(r"<[^>]+>", "", c) for c in captions]
    assert "conv2d · epoch 0 6 channels · 1 dead · probe 0 (cat)" in plain
    assert "conv2d · epoch 1 6 channels · probe 1 (dog)" in plain
    # Grad-CAM at epoch 1, probe 0: predicted class (0 + 1) % 2 = dog with probability 0.75.
    assert "conv2d_1 · epoch 1 probe 0 (cat) · predicted: dog 0.75 · WRONG" in plain  # the probe is a cat
    assert "conv2d_1 · epoch 0 probe 0 (cat) · predicted: cat 0.75" in plain  # right: no badge
    assert "conv2d_1 · epoch 1 probe 0 (cat) · true: cat 0.25 · predicted dog" in plain


def test_html_header_holds_run_info(spec, html_report):
    text = html_report.read_text(encoding="utf-8")
    for run in RUNS:
        assert f'data-run="{run}"><h2>{run}' in text
    assert "tiny_cnn_0" in text and "tiny_cnn_1" in text
    assert "RMSprop lr=0.0001" in text
    assert "2023-11-14 22:13 UTC" in text  # run_info "started"
    assert "Model: tiny_cnn" in text  # the model summary


def test_html_has_no_external_reference(html_report):
    parser = _parse(html_report)
    text = html_report.read_text(encoding="utf-8")
    refs = []
    for _, attrs in parser.tags:
        for key in ("src", "href", "srcset", "data", "poster", "action"):
            if attrs.get(key):
                refs.append(attrs[key] or "")
        refs += re.findall(r"url\(([^)]*)\)", attrs.get("style") or "")
    for css in parser.styles:
        refs += re.findall(r"url\(([^)]*)\)", css)
        assert "@import" not in css
    assert refs, "expected embedded images"
    for ref in refs:
        ref = ref.strip("'\" ")
        assert ref.startswith("data:") or ref.startswith("#"), ref[:80]
    without_data = re.sub(r"data:[^\"')\s]+", "", text)
    assert not re.search(r"(https?:|ftp:)?//[a-z0-9]", without_data, re.I)
    assert not any(t == "script" for t, _ in parser.tags)
    assert not any(t == "link" for t, _ in parser.tags)


def test_html_channel_export_shows_the_channels_exemplar_crops(spec, tmp_path):
    """``--channel`` of an activations layer: beside each epoch's tile, the channel's exemplars, each the crop of
    its sample image (``metadata.crop_box``) with its response; a filter channel shows them too, once a layer."""
    out = export(
        spec.root, list(RUNS), epochs="all", kinds="activations", layers="conv2d", channel=2, out=tmp_path / "a.html"
    )
    images = _figure_images(_parse(out))
    exemplars = [(attrs, img) for attrs, img in images if attrs.get("data-kind") == "exemplar"]
    assert len(exemplars) == len(RUNS) * 2 * spec.exemplar_k
    for run in RUNS:
        for epoch in (0, 1):
            for rank in range(spec.exemplar_k):
                image = spec.exemplar(run, epoch, "conv2d", 2, rank)[0]
                want = {"run": run, "layer": "conv2d", "epoch": epoch, "channel": 2, "rank": rank, "image": image}
                got = _find(images, kind="exemplar", **want)
                np.testing.assert_array_equal(got, spec.exemplar_crop(run, epoch, "conv2d", 2, rank))
    text = out.read_text(encoding="utf-8")
    assert text.count("Natural images channel 2 likes best</p>") == len(RUNS) * 2
    value = spec.exemplar("exp1", 1, "conv2d", 2, 0)[3]
    assert f"<figcaption>{value:.4g} · image {spec.exemplar('exp1', 1, 'conv2d', 2, 0)[0]}</figcaption>" in text
    # Activations and filters of the same layer: the exemplars once, in the activations section; a filter
    # caption names its pattern's ratio to the probes' activation.
    both = export(
        spec.root, "exp1", epochs="1", kinds="activations,filters", layers="conv2d", channel=2, out=tmp_path / "b.html"
    )
    text = both.read_text(encoding="utf-8")
    assert text.count('data-kind="exemplar"') == spec.exemplar_k
    assert text.index('data-kind="exemplar"') < text.index('data-kind="filters"')
    ratio = ratio_text(spec.filter_relative(1, 2) or 0)
    assert f"filter 2 · pattern {ratio}× the probes' mean activation" in text
    filters_only = export(
        spec.root, "exp1", epochs="1", kinds="filters", layers="conv2d_1", channel=4, out=tmp_path / "c.html"
    )
    got = _find(_figure_images(_parse(filters_only)), kind="exemplar", layer="conv2d_1", epoch=1, channel=4, rank=2)
    np.testing.assert_array_equal(got, spec.exemplar_crop("exp1", 1, "conv2d_1", 4, 2))
    # Without a channel, no exemplars (the report shows whole grids).
    assert 'data-kind="exemplar"' not in export(spec.root, "exp1", epochs="1", out=tmp_path / "d.html").read_text()
