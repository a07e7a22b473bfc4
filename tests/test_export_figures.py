"""``tb_featureviz.export.figures``: colour map, scale, caption, channel crop, GIF frames and Grad-CAM overlays.

Checked pixel for pixel against what ``tests/support/logdir_factory.py`` wrote, for full runs and for runs the
budgeted callback wrote (reduced grids, filter rotation, Grad-CAM heatmaps without overlays).
"""

from __future__ import annotations

import functools
import json
import re
import zipfile
from typing import Any

import numpy as np
import pytest

from tb_featureviz.export import ExportArgumentError
from tb_featureviz.export import export as export_any
from tb_featureviz.export.content import ratio_text
from tb_featureviz.export.figures import CAPTION_HEIGHT, STAMP_HEIGHT
from tb_featureviz.render import SEPARATOR_RGB, apply_colormap, colormap_lut, heatmap_overlay, separator_mask
from tests.support import logdir_factory
from tests.support.exports import figure_images as _figure_images
from tests.support.exports import find_figure as _find
from tests.support.exports import gif_frames as _gif_frames
from tests.support.exports import parse_html as _parse
from tests.support.logdir_factory import decode_png

export = functools.partial(export_any, detail="full")  # these tests read the full report: every image as stored


def test_png_scale_caption_and_colormap(spec, tmp_path):
    layout = spec.layout
    gray = decode_png(spec.activation_png("exp1", 1, "conv2d", 2))
    assert gray.shape == (layout.height, layout.width)
    out = export(
        spec.root, "exp1", epochs="1", kinds="activations", layers="conv2d", probe=2, format="png",
        colormap="magma", scale=3, out=tmp_path / "a.png",
    )  # fmt: skip
    img = decode_png(out.read_bytes())
    assert img.shape[0] == 3 * layout.height + CAPTION_HEIGHT
    assert img.shape[1] >= 3 * layout.width
    # the map on the tiles; separators and empty cells neutral grey (not the map's top colour)
    mapped = apply_colormap(gray, "magma")
    mapped[separator_mask(layout)] = SEPARATOR_RGB
    expected = np.repeat(np.repeat(mapped, 3, axis=0), 3, axis=1)
    np.testing.assert_array_equal(img[: 3 * layout.height, : 3 * layout.width], expected)
    assert SEPARATOR_RGB == (230, 230, 230) and separator_mask(layout).any()
    strip = img[3 * layout.height :]
    assert (strip == 255).all(axis=-1).mean() > 0.5 and (strip < 128).any()  # white strip with dark text

    bare = export(
        spec.root, "exp1", epochs="1", kinds="activations", layers="conv2d", probe=2, format="png",
        colormap="gray", scale=2, caption=False, out=tmp_path / "b.png",
    )  # fmt: skip
    img = decode_png(bare.read_bytes())
    assert img.shape == (2 * layout.height, 2 * layout.width, 3)
    tiles = ~separator_mask(layout)
    np.testing.assert_array_equal(img[::2, ::2, 0][tiles], gray[tiles])
    assert (img[::2, ::2][~tiles] == SEPARATOR_RGB).all()


def test_gif_one_frame_per_epoch_with_the_written_grid(tmp_path):
    spec = logdir_factory.write_logdir(tmp_path / "logs", runs=("exp1",), epochs=3)
    out = export(
        spec.root, "exp1", epochs="all", kinds="activations", layers="conv2d_1", probe=1, format="gif",
        scale=2, out=tmp_path / "a.gif",
    )  # fmt: skip
    frames = _gif_frames(out.read_bytes())
    assert len(frames) == 3
    h, w = 2 * spec.layout.height, 2 * spec.layout.width
    for epoch, frame in enumerate(frames):
        gray = decode_png(spec.activation_png("exp1", epoch, "conv2d_1", 1))
        expected = np.repeat(np.repeat(apply_colormap(gray, "viridis"), 2, axis=0), 2, axis=1)
        np.testing.assert_array_equal(frame[STAMP_HEIGHT : STAMP_HEIGHT + h, :w], expected)
        assert frame.shape[0] == STAMP_HEIGHT + h
    # the stamps differ (epoch numbers), the strip is drawn in the colour map's end colours
    assert not np.array_equal(frames[0][:STAMP_HEIGHT], frames[1][:STAMP_HEIGHT])
    lut = colormap_lut("viridis")
    strip_colours = {tuple(c) for c in frames[0][:STAMP_HEIGHT].reshape(-1, 3)}
    assert strip_colours <= {tuple(lut[0]), tuple(lut[255])}


def test_gif_channel_crops_one_tile(tmp_path):
    spec = logdir_factory.write_logdir(tmp_path / "logs", runs=("exp1",), epochs=2)
    out = export(
        spec.root, "exp1", epochs="all", kinds="activations", layers="conv2d", probe=0, channel=4,
        format="gif", colormap="inferno", scale=8, out=tmp_path / "c4.gif",
    )  # fmt: skip
    frames = _gif_frames(out.read_bytes())
    lut = colormap_lut("inferno")
    for epoch, frame in enumerate(frames):
        tile = frame[STAMP_HEIGHT : STAMP_HEIGHT + 8 * spec.tile, : 8 * spec.tile]
        assert tile.shape == (32, 32, 3)
        assert (tile == lut[spec.activation_value("exp1", epoch, "conv2d", 0, 4)]).all()


# -- budgeted runs: reduced grids, filter rotation, Grad-CAM heatmaps without overlays ------------------


@pytest.fixture(scope="module")
def budget_spec(tmp_path_factory: pytest.TempPathFactory) -> logdir_factory.LogdirSpec:
    """Run ``big`` as the budgeted callback writes it (4 epochs, 2 probes, 12 channels).

    ``conv2d``'s activation grids show channels 1, 2, 4, 7, 9, 11 (tiles shrunk 4 times from 24x24);
    filter grids rotate through 35 filters, 10 a pass plus the fixed filters 5 and 33 (epoch 0 draws
    0..9, 1 10..19, 2 20..29, 3 25..34), patterns shrunk twice; Grad-CAM stores heatmaps only.
    """
    return logdir_factory.write_logdir(
        tmp_path_factory.mktemp("budget_logs"), runs=("big",), epochs=4, layers=("conv2d", "conv2d_1"), probes=2,
        channels=12, tile=6, filter_size=6, image_size=16, reduced_layers=("conv2d",),
        grid_channels=(1, 2, 4, 7, 9, 11), grid_scale=4, filter_of=35, filter_fixed=(5, 33), filter_scale=2,
        gradcam_overlays=False,
    )  # fmt: skip


def _expected_overlay(spec: logdir_factory.LogdirSpec, epoch: int, probe: int, target: int, **kw: Any) -> np.ndarray:
    probe_rgb = decode_png(spec.blobs("big", 0, "probes")[probe + 1])
    heat = decode_png(spec.blobs("big", epoch, "gradcam/conv2d_1")[1 + 2 * probe + target])
    assert heat.ndim == 2 and (heat == spec.heat_value(epoch, probe, target)).all()
    return heatmap_overlay(probe_rgb, heat, **kw)


def test_overlays_are_composed_when_the_run_stored_heatmaps_only(budget_spec, tmp_path):
    spec = budget_spec
    record = json.loads(spec.blobs("big", 2, "gradcam/conv2d_1")[0])
    assert {t["overlay"] for p in record["probes"] for t in p["targets"]} == {None}
    out = export(spec.root, "big", epochs="2", kinds="gradcam", format="png", caption=False, out=tmp_path / "png")
    names = sorted(str(p.relative_to(out)) for p in out.rglob("*.png"))
    assert names == [f"big/gradcam-conv2d_1-e002-p{p}-{t}.png" for p in range(2) for t in ("predicted", "true")]
    for p in range(2):
        for t, target in enumerate(("predicted", "true")):
            got = decode_png((out / "big" / f"gradcam-conv2d_1-e002-p{p}-{target}.png").read_bytes())
            # The writer's overlay: inferno at alpha 0.45 over the probe image.
            want = _expected_overlay(spec, 2, p, t, colormap="inferno", alpha=0.45)
            np.testing.assert_array_equal(got, want)
            assert not np.array_equal(want, decode_png(spec.blobs("big", 0, "probes")[p + 1]))
    # Another colour map recomputes them the same way as stored overlays.
    out = export(
        spec.root, "big", epochs="2", kinds="gradcam", probe=1, format="png", caption=False, colormap="magma",
        out=tmp_path / "magma",
    )  # fmt: skip
    got = decode_png((out / "big" / "gradcam-conv2d_1-e002-p1-true.png").read_bytes())
    np.testing.assert_array_equal(got, _expected_overlay(spec, 2, 1, 1, colormap="magma"))
    # HTML and GIF show them too; the ZIP keeps what is stored (heatmaps), byte for byte.
    images = _figure_images(_parse(export(spec.root, "big", epochs="all", kinds="gradcam", out=tmp_path / "r.html")))
    assert len(images) == 4 * 2 * 2
    np.testing.assert_array_equal(
        _find(images, kind="gradcam", epoch=3, probe=0, target="predicted", role="overlay"),
        _expected_overlay(spec, 3, 0, 0),
    )
    gif = export(spec.root, "big", epochs="all", kinds="gradcam", probe=0, format="gif", out=tmp_path / "g")
    frames = _gif_frames((gif / "big" / "gradcam-conv2d_1-p0-true.gif").read_bytes())
    assert len(frames) == 4
    for epoch, frame in enumerate(frames):
        np.testing.assert_array_equal(frame[STAMP_HEIGHT:, : spec.image_size], _expected_overlay(spec, epoch, 0, 1))
    with zipfile.ZipFile(
        export(spec.root, "big", epochs="2", kinds="gradcam", format="zip", out=tmp_path / "z.zip")
    ) as zf:
        files = json.loads(zf.read("manifest.json"))["files"]
        assert sorted((f["probe"], f["target"], f["role"], f["index"]) for f in files) == [
            (0, "predicted", "heatmap", 1), (0, "true", "heatmap", 2), (1, "predicted", "heatmap", 3),
            (1, "true", "heatmap", 4),
        ]  # fmt: skip


def test_reduced_activation_grid_captions_manifest_and_channel(budget_spec, tmp_path):
    from tensorboard.context import RequestContext

    from tb_featureviz.export import collect
    from tb_featureviz.reader import open_logdir

    spec = budget_spec
    html = export(spec.root, "big", epochs="0,3", kinds="activations", probe=0, out=tmp_path / "r.html")
    plain = [re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<figcaption>(.*?)</figcaption>", html.read_text())]
    assert plain == [
        "conv2d · epoch 0 6 of 12 channels (most variable), tiles 6×6 of 24×24 (1/4) · 1 dead · probe 0 (cat)",
        "conv2d_1 · epoch 0 12 channels · 1 dead · probe 0 (cat)",
        "conv2d · epoch 3 6 of 12 channels (most variable), tiles 6×6 of 24×24 (1/4) · probe 0 (cat)",
        "conv2d_1 · epoch 3 12 channels · probe 0 (cat)",
    ]
    with open_logdir(spec.root) as reader:
        report = collect(reader, RequestContext(), "big", epochs="3", kinds="activations", probe=0)
    assert [f.caption() for f in report.figures] == [
        "big · activations conv2d · epoch 3 · 6 of 12 channels (most variable), tiles 6x6 of 24x24 (1/4) · probe 0",
        "big · activations conv2d_1 · epoch 3 · probe 0",
    ]
    with zipfile.ZipFile(
        export(spec.root, "big", epochs="0", kinds="activations", format="zip", out=tmp_path / "z.zip")
    ) as zf:
        files = json.loads(zf.read("manifest.json"))["files"]
    reduced = next(f for f in files if f["layer"] == "conv2d" and f["probe"] == 1)
    assert {k: reduced[k] for k in ("channels", "dead", "tile_channels", "scale", "source_size", "summary")} == {
        "channels": 12,
        "dead": [11],
        "tile_channels": [1, 2, 4, 7, 9, 11],
        "scale": 4,
        "source_size": [24, 24],
        "summary": "6 of 12 channels (most variable), tiles 6×6 of 24×24 (1/4)",
    }
    assert reduced["layout"] == spec.layout_for("conv2d").to_json() and reduced["layout"]["count"] == 6
    full = next(f for f in files if f["layer"] == "conv2d_1" and f["probe"] == 1)
    assert "tile_channels" not in full and "scale" not in full and full["channels"] == 12
    # --channel 7 is tile 3 of the reduced grid.
    out = export(
        spec.root, "big", epochs="3", kinds="activations", layers="conv2d", probe=1, channel=7, format="png",
        colormap="inferno", scale=2, caption=False, out=tmp_path / "c7.png",
    )  # fmt: skip
    img = decode_png(out.read_bytes())
    assert img.shape == (2 * spec.tile, 2 * spec.tile, 3)
    assert (img == colormap_lut("inferno")[spec.activation_value("big", 3, "conv2d", 1, 7)]).all()
    with pytest.raises(
        ExportArgumentError,
        match=re.escape("Channel 3 of layer 'conv2d' was not drawn: its grid is reduced to 6 of 12 channels "
                        "(1, 2, 4, 7, 9, 11)."),
    ):  # fmt: skip
        export(spec.root, "big", kinds="activations", layers="conv2d", channel=3, format="png", out=tmp_path / "x")
    with pytest.raises(ExportArgumentError, match=re.escape("Layer 'conv2d' has channels 0..11. Received: channel=12")):
        export(spec.root, "big", kinds="activations", layers="conv2d", channel=12, format="png", out=tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_filter_rotation_captions_manifest_and_channel(budget_spec, tmp_path):
    spec = budget_spec
    html = export(spec.root, "big", epochs="2,3", kinds="filters", layers="conv2d", out=tmp_path / "r.html")
    plain = [re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<figcaption>(.*?)</figcaption>", html.read_text())]
    median = [ratio_text(spec.filter_relative_median(e) or 0) for e in (2, 3)]
    assert median == ["8.6", "10"]  # the median over the patterns of the window and of the fixed filters
    assert plain == [
        "conv2d · epoch 2 filters 20–29 of 35 (+2 fixed), next 25–34 at epoch 3, tiles 6×6 of 12×12 (1/2) · "
        "patterns 8.6× the probes' activation (median)",
        "conv2d · epoch 3 filters 25–34 of 35 (+2 fixed), next 0–9 when the budget has room, tiles 6×6 of 12×12 (1/2)"
        " · patterns 10× the probes' activation (median)",
    ]
    with zipfile.ZipFile(
        export(spec.root, "big", epochs="all", kinds="filters", format="zip", out=tmp_path / "z.zip")
    ) as zf:
        files = json.loads(zf.read("manifest.json"))["files"]
    for f in files:
        assert f["filters"] == spec.filters_at(f["epoch"])
        assert f["schedule"] == spec.filter_record(f["epoch"])["schedule"]
        assert (f["scale"], f["source_size"]) == (2, [12, 12])
    assert next(f for f in files if f["epoch"] == 1)["schedule"] == {
        "fixed": 2, "window": [10, 19], "of": 35, "next": [20, 29], "next_epoch": None,
    }  # fmt: skip
    # --channel 27 follows filter 27: tile 9 at epoch 2, tile 4 at epoch 3; epochs 0 and 1 did not draw it.
    gif = export(
        spec.root, "big", epochs="all", kinds="filters", layers="conv2d", channel=27, format="gif", scale=2,
        out=tmp_path / "f27.gif",
    )  # fmt: skip
    frames = _gif_frames(gif.read_bytes())
    assert len(frames) == 2
    for epoch, frame in zip((2, 3), frames, strict=True):
        tile = frame[STAMP_HEIGHT : STAMP_HEIGHT + 2 * spec.filter_size, : 2 * spec.filter_size]
        assert (tile == spec.filter_value("big", epoch, "conv2d", 27)).all()
    with pytest.raises(
        ExportArgumentError,
        match=re.escape("Layer 'conv2d' has no pattern for filter 27 at epoch 0; its patterns there are for "
                        "filters 0..9, 33."),
    ):  # fmt: skip
        export(
            spec.root, "big", epochs="0", kinds="filters", layers="conv2d", channel=27, format="png", out=tmp_path / "x"
        )
    with pytest.raises(
        ExportArgumentError,
        match=re.escape(
            "Layer 'conv2d' has no pattern for filter 27 at epochs 0, 1; epoch 1 drew filters 5, 10..19, 33."
        ),
    ):
        export(
            spec.root,
            "big",
            epochs="0,1",
            kinds="filters",
            layers="conv2d",
            channel=27,
            format="gif",
            out=tmp_path / "x",
        )
    with pytest.raises(ExportArgumentError, match=re.escape("Layer 'conv2d' has filters 0..34. Received: channel=35")):
        export(
            spec.root,
            "big",
            epochs="all",
            kinds="filters",
            layers="conv2d",
            channel=35,
            format="gif",
            out=tmp_path / "x",
        )
    assert not (tmp_path / "x").exists()
