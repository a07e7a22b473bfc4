"""``featureviz export`` of runs of different architectures, aligned by stage, with each loader: an HTML
report whose figures are each run's own layer for the stage, with the written pixels."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from tests.support import architectures
from tests.support.architectures import MOBILENET, RESNET
from tests.support.exports import figure_images, parse_html, run_cli
from tests.support.server import data_server_available


@pytest.mark.parametrize("load_fast", [False, True], ids=["python", "rust"])
def test_cli_export_aligned_by_stage(tmp_path: Path, load_fast: bool, capsys: pytest.CaptureFixture[str]) -> None:
    if load_fast and not data_server_available():
        pytest.skip("tensorboard-data-server is not installed")
    specs = architectures.write_architectures(tmp_path / "logs")
    out = tmp_path / "report.html"
    argv = ["--logdir", str(tmp_path / "logs"), "--run", RESNET, "--run", MOBILENET, "--kinds", "activations"]
    argv += ["--detail", "full"]
    argv += ["--stage", "3/5", "--probe", "0", "--colormap", "gray", "--out", str(out), "--quiet"]
    assert run_cli(argv + (["--load-fast"] if load_fast else [])) == 0, capsys.readouterr().err
    images = figure_images(parse_html(out))
    shown = sorted((attrs.get("data-run"), attrs.get("data-layer")) for attrs, _ in images)
    assert shown == [(MOBILENET, "block_6_expand_relu"), (RESNET, "conv3_block4_out")]
    for attrs, pixels in images:
        run, layer = str(attrs["data-run"]), str(attrs["data-layer"])
        lay = specs[run].layout_for(layer)
        for k in range(lay.count):
            x, y = lay.tile_origin(k)
            want = specs[run].activation_value(run, 1, layer, 0, k)
            assert int(pixels[y + 1, x + 1].max()) == want and int(pixels[y + 1, x + 1].min()) == want, (run, k)

    # A per-run choice, and a bad stage.
    argv2 = [*argv[:-5], "--run-layer", f"{MOBILENET}=out_relu", "--out", str(out), "--quiet"]
    assert run_cli(argv2) == 0
    shown = sorted((a.get("data-run"), a.get("data-layer")) for a, _ in figure_images(parse_html(out)))
    assert shown == [(MOBILENET, "out_relu"), (RESNET, "conv3_block4_out")]
    assert run_cli([*argv[:6], "--stage", "7/5", "--out", str(out), "--quiet"]) == 2
    assert "A stage is written K/N with 1 <= K <= N" in capsys.readouterr().err


def test_cli_run_layer_applies_to_the_kinds_it_has(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--run-layer`` with every kind: the run's layer for the kinds it has tags of (mobilenet's
    block_1_expand_relu: activations and filters); its Grad-CAM still follows the stage (out_relu)."""
    architectures.write_architectures(tmp_path / "logs")
    out = tmp_path / "export.zip"
    argv = ["--logdir", str(tmp_path / "logs"), "--run", RESNET, "--run", MOBILENET, "--stage", "3/5"]
    argv += ["--run-layer", f"{MOBILENET}=block_1_expand_relu", "--format", "zip", "--out", str(out), "--quiet"]
    assert run_cli(argv) == 0, capsys.readouterr().err
    with zipfile.ZipFile(out) as zf:
        manifest = json.loads(zf.read("manifest.json"))
    shown = sorted({(e["run"], e["kind"], e["layer"]) for e in manifest["files"] if e["kind"] != "probes"})
    assert shown == [
        (MOBILENET, "activations", "block_1_expand_relu"),
        (MOBILENET, "filters", "block_1_expand_relu"),
        (MOBILENET, "gradcam", "out_relu"),
        (RESNET, "activations", "conv3_block4_out"),
        (RESNET, "filters", "conv3_block4_out"),
        (RESNET, "gradcam", "conv5_block3_out"),
    ]
