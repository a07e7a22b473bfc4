"""Tests for ``tb_featureviz.export`` on real event files written by ``tests/logdir_factory.py``.

Every test compares decoded pixels, manifest entries and chart points with what the factory wrote.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import subprocess
import sys
import zipfile
from base64 import b64decode
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from tensorboard import errors as tb_errors

from tb_featureviz.export import ExportArgumentError, ExportNotFoundError, ExportOutputError, export
from tb_featureviz.export.cli import add_export_arguments, run_export
from tb_featureviz.export.figures import CAPTION_HEIGHT, STAMP_HEIGHT
from tb_featureviz.render import apply_colormap, colormap_lut, heatmap_overlay
from tests import logdir_factory
from tests.logdir_factory import decode_png

RUNS = ("exp1", "exp2")


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> logdir_factory.LogdirSpec:
    """Two runs, two epochs, three layers, four probes (6 channels, 4x4 tiles, 4 columns)."""
    return logdir_factory.write_logdir(tmp_path_factory.mktemp("logs"), runs=RUNS, epochs=2)


@pytest.fixture(scope="module")
def html_report(spec: logdir_factory.LogdirSpec, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("html") / "report.html"
    path = export(spec.root, list(RUNS), epochs="all", format="html", out=out)
    assert path == out
    return path


class _Collect(HTMLParser):
    """Every start tag with its attributes, plus the text of ``<style>`` elements."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.styles: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.styles.append(data)


def _parse(path: Path) -> _Collect:
    parser = _Collect()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def _figure_images(parser: _Collect) -> list[tuple[dict[str, str | None], np.ndarray]]:
    """``(figure attributes, decoded embedded PNG)`` of every ``<figure><img>``."""
    out = []
    figure: dict[str, str | None] | None = None
    for tag, attrs in parser.tags:
        if tag == "figure":
            figure = attrs
        elif tag == "img" and figure is not None:
            src = attrs["src"] or ""
            assert src.startswith("data:image/png;base64,")
            out.append((figure, decode_png(b64decode(src.split(",", 1)[1]))))
            figure = None
    return out


def _find(images: list[tuple[dict[str, str | None], np.ndarray]], **want: Any) -> np.ndarray:
    hits = [img for attrs, img in images if all(attrs.get(f"data-{k}") == str(v) for k, v in want.items())]
    assert len(hits) == 1, f"{len(hits)} figures match {want}"
    return hits[0]


# -- HTML -------------------------------------------------------------------------------------------


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
                    np.testing.assert_array_equal(got, apply_colormap(gray, "viridis"))
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
    assert "conv2d_1 · epoch 1 probe 0 (cat) · predicted: dog 0.75" in plain
    assert "conv2d_1 · epoch 1 probe 0 (cat) · true: cat 0.25 · predicted dog" in plain


def test_html_header_holds_run_info(spec, html_report):
    text = html_report.read_text(encoding="utf-8")
    for run in RUNS:
        assert f'data-run="{run}"><h2>{run}' in text
    assert "tiny_cnn_0" in text and "tiny_cnn_1" in text
    assert "RMSprop lr=0.0001" in text
    assert "2023-11-14 22:13 UTC" in text  # run_info "started"
    assert "Model: tiny_cnn" in text  # the model summary


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


# -- PNG --------------------------------------------------------------------------------------------


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
    expected = np.repeat(np.repeat(apply_colormap(gray, "magma"), 3, axis=0), 3, axis=1)
    np.testing.assert_array_equal(img[: 3 * layout.height, : 3 * layout.width], expected)
    strip = img[3 * layout.height :]
    assert (strip == 255).all(axis=-1).mean() > 0.5 and (strip < 128).any()  # white strip with dark text

    bare = export(
        spec.root, "exp1", epochs="1", kinds="activations", layers="conv2d", probe=2, format="png",
        colormap="gray", scale=2, caption=False, out=tmp_path / "b.png",
    )  # fmt: skip
    img = decode_png(bare.read_bytes())
    assert img.shape == (2 * layout.height, 2 * layout.width, 3)
    np.testing.assert_array_equal(img[::2, ::2, 0], gray)


def test_png_directory_has_one_file_per_run_kind_layer_epoch_probe(spec, tmp_path):
    out = export(spec.root, ["exp1"], epochs="all", kinds="activations,filters", format="png", out=tmp_path / "p")
    names = sorted(str(p.relative_to(out)) for p in out.rglob("*.png"))
    expected = sorted(
        [f"exp1/activations-{layer}-e{e:03d}-p{p}.png" for layer in spec.layers for e in (0, 1) for p in range(4)]
        + [f"exp1/filters-{layer}-e{e:03d}.png" for layer in spec.filter_layers for e in (0, 1)]
    )
    assert names == expected
    assert not [p for p in out.rglob("*") if p.name.startswith(".")]


# -- GIF --------------------------------------------------------------------------------------------


def _gif_frames(data: bytes) -> list[np.ndarray]:
    frames = []
    with Image.open(io.BytesIO(data)) as im:
        for i in range(im.n_frames):
            im.seek(i)
            frames.append(np.asarray(im.convert("RGB")).copy())
    return frames


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


def test_gif_of_filters_and_gradcam_overlays(spec, tmp_path):
    out = export(spec.root, "exp2", epochs="all", kinds="filters,gradcam", format="gif", out=tmp_path / "g")
    names = sorted(str(p.relative_to(out)) for p in out.rglob("*.gif"))
    assert names == sorted(
        [f"exp2/filters-{layer}.gif" for layer in spec.filter_layers]
        + [f"exp2/gradcam-conv2d_1-p{p}-{t}.gif" for p in range(4) for t in ("predicted", "true")]
    )
    frames = _gif_frames((out / "exp2" / "gradcam-conv2d_1-p3-true.gif").read_bytes())
    assert len(frames) == 2
    for epoch, frame in enumerate(frames):
        region = frame[STAMP_HEIGHT:, : spec.image_size]
        assert (region == spec.overlay_value(epoch, 3, 1)).all()  # few colours: quantisation is exact


# -- ZIP --------------------------------------------------------------------------------------------


def test_zip_manifest_matches_files_and_bytes_are_the_written_pngs(spec, tmp_path):
    out = export(spec.root, list(RUNS), epochs="0,1", format="zip", out=tmp_path / "x.zip")
    with zipfile.ZipFile(out) as zf:
        names = set(zf.namelist())
        manifest = json.loads(zf.read("manifest.json"))
        files = manifest["files"]
        assert {f["file"] for f in files} | {p for r in manifest["runs"] for p in r["probes"]} == names - {
            "manifest.json"
        }
        assert len(files) == len({f["file"] for f in files})
        # 2 runs x 2 epochs x (3 layers x 4 probes + 2 filter grids + 4 probes x 2 targets x (heatmap, overlay))
        assert len(files) == 2 * 2 * (12 + 2 + 16)
        for f in files:
            written = spec.blobs(f["run"], f["epoch"], f"{f['kind']}/{f['layer']}")[f["index"]]
            assert zf.read(f["file"]) == written, f["file"]
            if f["kind"] == "activations":
                assert f["layout"] == spec.layout.to_json()
                assert f["probe"] in range(4) and f["index"] == f["probe"] + 1
            if f["kind"] == "filters":
                assert f["layout"] == spec.filter_layout.to_json() and f["probe"] is None
            if f["kind"] == "gradcam":
                assert f["role"] in ("heatmap", "overlay") and f["layout"] is None
                assert f["score"] == spec.probabilities(f["epoch"], f["probe"])[f["class_index"]]
        for r in manifest["runs"]:
            assert r["epochs"] == [0, 1]
            for p, name in enumerate(r["probes"]):
                assert zf.read(name) == spec.blobs(r["run"], 0, "probes")[p + 1]


# -- errors -----------------------------------------------------------------------------------------


def _cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="featureviz export")
    add_export_arguments(parser)
    return run_export(parser.parse_args(argv))


def test_cli_unknown_run_lists_runs(spec, tmp_path, capsys):
    out = tmp_path / "r.html"
    code = _cli(["--logdir", spec.root, "--run", "nope", "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "'nope'" in err and "exp1" in err and "exp2" in err
    assert list(tmp_path.iterdir()) == []


def test_cli_missing_epoch_lists_epochs(spec, tmp_path, capsys):
    code = _cli(["--logdir", spec.root, "--run", "exp1", "--epochs", "0,7", "--out", str(tmp_path / "r.html")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "epoch 7" in err and "its epochs are 0, 1" in err
    assert list(tmp_path.iterdir()) == []


def test_cli_unknown_layer_lists_layers(spec, tmp_path, capsys):
    code = _cli(["--logdir", spec.root, "--run", "exp1", "--layers", "dense", "--out", str(tmp_path / "r.html")])
    err = capsys.readouterr().err
    assert code == 2 and "'dense'" in err and "conv2d, conv2d_1, max_pooling2d" in err


def test_cli_unwritable_out_leaves_nothing(spec, tmp_path, capsys):
    blocker = tmp_path / "afile"
    blocker.write_text("keep")
    for fmt, out in (("html", blocker / "r.html"), ("png", blocker), ("zip", blocker / "sub" / "x.zip")):
        code = _cli(["--logdir", spec.root, "--run", "exp1", "--format", fmt, "--out", str(out)])
        err = capsys.readouterr().err
        assert code == 2, fmt
        assert err.startswith("featureviz export: error: cannot write to") and err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]
    assert blocker.read_text() == "keep"


def test_cli_bad_epochs_syntax(spec, tmp_path, capsys):
    code = _cli(["--logdir", spec.root, "--run", "exp1", "--epochs", "first", "--out", str(tmp_path / "r.html")])
    assert code == 2 and "0,10,29" in capsys.readouterr().err


def test_cli_success_prints_one_line(spec, tmp_path, capsys):
    out = tmp_path / "r.zip"
    code = _cli(["--logdir", spec.root, "--run", "exp1", "--format", "zip", "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 0 and out.is_file()
    assert captured.out.startswith(f"featureviz: wrote {out} (") and captured.out.count("\n") == 1
    assert captured.err == ""  # stderr is not a TTY: no progress bar
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.zip"]


def test_module_cli_in_a_subprocess(spec, tmp_path):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(__file__).parent.parent), *sys.path]))
    cmd = [sys.executable, "-m", "tb_featureviz.export.cli", "--logdir", spec.root, "--run", "exp3"]
    proc = subprocess.run([*cmd, "--out", str(tmp_path / "r.html")], capture_output=True, text=True, env=env)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1, proc.stderr  # one line: TensorFlow is not even imported
    last = proc.stderr.strip()
    assert last.startswith("featureviz export: error: run 'exp3' not found") and "exp1, exp2" in last
    assert "Traceback" not in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_api_errors_are_typed(spec, tmp_path):
    with pytest.raises(ExportNotFoundError, match="runs: exp1, exp2"):
        export(spec.root, "exp9", out=tmp_path / "r.html")
    with pytest.raises(ExportArgumentError, match="unknown format"):
        export(spec.root, "exp1", format="pdf", out=tmp_path / "r.pdf")
    with pytest.raises(ExportArgumentError, match="Unknown colour map"):
        export(spec.root, "exp1", colormap="jet", out=tmp_path / "r.html")
    with pytest.raises(ExportArgumentError, match=r"channels 0\.\.5"):
        export(spec.root, "exp1", kinds="activations", channel=6, format="gif", out=tmp_path / "g")
    with pytest.raises(ExportArgumentError, match=r"probes 0\.\.3"):
        export(spec.root, "exp1", kinds="activations", probe=4, format="png", out=tmp_path / "p")
    with pytest.raises(ExportOutputError, match="names one file"):
        export(spec.root, "exp1", format="png", out=tmp_path / "one.png")
    with pytest.raises(ExportNotFoundError, match="does not exist"):
        export(tmp_path / "missing", "exp1", out=tmp_path / "r.html")
    assert isinstance(ExportNotFoundError("x"), tb_errors.NotFoundError)
    assert list(tmp_path.iterdir()) == []


# -- live logdir ------------------------------------------------------------------------------------


def test_export_sees_epochs_appended_between_exports(tmp_path):
    spec = logdir_factory.write_logdir(tmp_path / "logs", runs=("live",), epochs=2)
    first = export(spec.root, "live", epochs="all", format="zip", out=tmp_path / "a.zip")
    with logdir_factory.RunWriter(spec, "live") as writer:
        logdir_factory.append_epoch(spec, "live", writer=writer)  # still open, as during training
        second = export(spec.root, "live", epochs="all", format="zip", out=tmp_path / "b.zip")
        last = export(spec.root, "live", epochs="last", kinds="filters", format="zip", out=tmp_path / "c.zip")
    with zipfile.ZipFile(first) as zf:
        assert json.loads(zf.read("manifest.json"))["runs"][0]["epochs"] == [0, 1]
    with zipfile.ZipFile(second) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        assert manifest["runs"][0]["epochs"] == [0, 1, 2]
        entry = next(f for f in manifest["files"] if f["epoch"] == 2 and f["kind"] == "filters")
        assert zf.read(entry["file"]) == spec.filter_png("live", 2, entry["layer"])
    with zipfile.ZipFile(last) as zf:
        assert {f["epoch"] for f in json.loads(zf.read("manifest.json"))["files"]} == {2}


# -- dashboard handler ------------------------------------------------------------------------------


def test_handle_export_validates_and_serves(spec):
    from tensorboard.context import RequestContext

    from tb_featureviz.export.http import handle_export
    from tb_featureviz.plugin.reader import open_logdir

    with open_logdir(spec.root) as reader:
        ctx = RequestContext()
        body, mime, name = handle_export(
            reader, ctx, {"runs": "exp1", "kinds": "filters", "layer": "conv2d", "epochs": "1", "format": "png"}
        )
        assert mime == "image/png" and name == "filters-conv2d-e001.png"
        grid = decode_png(spec.filter_png("exp1", 1, "conv2d"))
        np.testing.assert_array_equal(decode_png(body)[: grid.shape[0], : grid.shape[1]], grid)

        body, mime, name = handle_export(reader, ctx, {"runs": "exp1,exp2", "format": "html"})
        assert mime.startswith("text/html") and name == "featureviz-exp1-exp2.html"
        assert b"<!DOCTYPE html>" in body[:100]

        body, mime, name = handle_export(reader, ctx, {"runs": "exp2", "kinds": "gradcam", "format": "gif"})
        assert mime == "application/zip" and name == "featureviz-exp2-gif.zip"
        assert len(zipfile.ZipFile(io.BytesIO(body)).namelist()) == 8

        with pytest.raises(tb_errors.InvalidArgumentError, match="runs"):
            handle_export(reader, ctx, {})
        with pytest.raises(tb_errors.InvalidArgumentError, match="unknown format"):
            handle_export(reader, ctx, {"runs": "exp1", "format": "pdf"})
        with pytest.raises(tb_errors.InvalidArgumentError, match="channel must be a whole number"):
            handle_export(reader, ctx, {"runs": "exp1", "channel": "x"})
        with pytest.raises(tb_errors.NotFoundError, match="exp1, exp2"):
            handle_export(reader, ctx, {"runs": "nope"})
        with pytest.raises(tb_errors.NotFoundError, match="its epochs are 0, 1"):
            handle_export(reader, ctx, {"runs": "exp1", "epochs": "5"})


def test_export_package_does_not_import_tensorflow():
    code = (
        "import sys\n"
        "import tb_featureviz.export, tb_featureviz.export.cli, tb_featureviz.export.http\n"
        "assert 'tensorflow' not in sys.modules, 'tensorflow imported'\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_run_names_with_commas_export_from_cli_api_and_route(tmp_path):
    """``lr=1e-4,bs=20`` is one run: taken whole by the CLI, the API and the route's repeated ``run``."""
    from tensorboard.context import RequestContext
    from werkzeug.datastructures import MultiDict

    from tb_featureviz.export.collect import parse_run_names
    from tb_featureviz.export.http import handle_export
    from tb_featureviz.plugin.reader import open_logdir

    comma = "lr=1e-4,bs=20"
    spec = logdir_factory.write_logdir(tmp_path / "logs", runs=(comma, "exp2"), epochs=2, layers=("conv2d",))
    known = [comma, "exp2"]
    assert parse_run_names(comma, known) == [comma]
    assert parse_run_names([comma, "exp2"], known) == [comma, "exp2"]
    assert parse_run_names("exp2, " + comma, known) == ["exp2", "lr=1e-4", "bs=20"]  # a list in one string splits
    assert parse_run_names(["exp2,exp2", " exp2 "], known) == ["exp2"]

    assert _cli(["--logdir", str(spec.root), "--run", comma, "--run", "exp2", "--format", "zip",
                 "--out", str(tmp_path / "both.zip")]) == 0  # fmt: skip
    with zipfile.ZipFile(tmp_path / "both.zip") as zf:
        assert [r["run"] for r in json.loads(zf.read("manifest.json"))["runs"]] == [comma, "exp2"]

    with open_logdir(spec.root) as reader:
        ctx = RequestContext()
        query = MultiDict([("run", comma), ("run", "exp2"), ("kinds", "activations"), ("format", "zip")])
        body, _, _ = handle_export(reader, ctx, query)
        manifest = json.loads(zipfile.ZipFile(io.BytesIO(body)).read("manifest.json"))
        assert [r["run"] for r in manifest["runs"]] == [comma, "exp2"]
        entry = next(e for e in manifest["files"] if e["run"] == comma and e["epoch"] == 1 and e["probe"] == 0)
        assert zipfile.ZipFile(io.BytesIO(body)).read(entry["file"]) == spec.activation_png(comma, 1, "conv2d", 0)
        with pytest.raises(tb_errors.NotFoundError, match="'lr=1e-4'"):
            handle_export(reader, ctx, {"runs": "lr=1e-4"})


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

    from tb_featureviz.export.collect import collect
    from tb_featureviz.plugin.reader import open_logdir

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
    assert plain == [
        "conv2d · epoch 2 filters 20–29 of 35 (+2 fixed), next 25–34 at epoch 3, tiles 6×6 of 12×12 (1/2)",
        "conv2d · epoch 3 filters 25–34 of 35 (+2 fixed), next 0–9 when the budget has room, tiles 6×6 of 12×12 (1/2)",
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
