"""``tb_featureviz.export.writers``: output file names per run, kind, layer, epoch and probe, and the ZIP manifest."""

from __future__ import annotations

import functools
import json
import zipfile

from tb_featureviz.export import export as export_any
from tb_featureviz.export.figures import STAMP_HEIGHT
from tests.support.exports import RUNS
from tests.support.exports import gif_frames as _gif_frames
from tests.support.logdir_factory import CHECK_TAGS

export = functools.partial(export_any, detail="full")  # these tests read the full report: every image as stored


def test_png_directory_has_one_file_per_run_kind_layer_epoch_probe(spec, tmp_path):
    out = export(spec.root, ["exp1"], epochs="all", kinds="activations,filters", format="png", out=tmp_path / "p")
    names = sorted(str(p.relative_to(out)) for p in out.rglob("*.png"))
    expected = sorted(
        [f"exp1/activations-{layer}-e{e:03d}-p{p}.png" for layer in spec.layers for e in (0, 1) for p in range(4)]
        + [f"exp1/filters-{layer}-e{e:03d}.png" for layer in spec.filter_layers for e in (0, 1)]
    )
    assert names == expected
    assert not [p for p in out.rglob("*") if p.name.startswith(".")]


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
                record = spec.filter_record(f["epoch"])
                assert (f["relative"], f["relative_median"]) == (record["relative"], record["relative_median"])
            if f["kind"] == "gradcam":
                assert f["role"] in ("heatmap", "overlay") and f["layout"] is None
                assert f["score"] == spec.probabilities(f["epoch"], f["probe"])[f["class_index"]]
        for r in manifest["runs"]:
            assert r["epochs"] == [0, 1]
            assert r["checks"] == [
                {"tag": t, "points": [[e, spec.scalar(r["run"], t, e)] for e in (0, 1)]} for t in sorted(CHECK_TAGS)
            ]
            for p, name in enumerate(r["probes"]):
                assert zf.read(name) == spec.blobs(r["run"], 0, "probes")[p + 1]
