"""The reference trainer: the tutorial's folder pipeline, the synthetic set and the CLI."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from tb_featureviz.cli import main
from tb_featureviz.trainer import data, model, train
from tests.support.events import read_run


def test_synthetic_set_is_deterministic_balanced_and_boxed():
    for size in (16, 40):  # small images too (the demo test uses 40 px)
        assert data.synthetic_images(4, size=size, seed=1).images.shape == (4, size, size, 3)
    a = data.synthetic_images(6, size=48, seed=3)
    b = data.synthetic_images(6, size=48, seed=3)
    np.testing.assert_array_equal(a.images, b.images)
    assert a.images.shape == (6, 48, 48, 3) and a.images.dtype == np.float32
    assert a.images.min() >= 0.0 and a.images.max() <= 1.0
    assert a.labels.tolist() == [0, 1, 0, 1, 0, 1]
    x0, y0, x1, y1 = a.boxes.T
    assert (x0 >= 0).all() and (x0 < x1).all() and (x1 <= 48).all() and (y0 < y1).all()
    assert not np.array_equal(a.images, data.synthetic_images(6, size=48, seed=4).images)


def test_tutorial_cnn_architecture():
    m = model.build_cnn()
    convs = [layer for layer in m.layers if layer.__class__.__name__ == "Conv2D"]
    assert [c.filters for c in convs] == [32, 64, 128, 128]
    assert all(c.kernel_size == (3, 3) for c in convs)
    assert m.output_shape == (None, 1) and m.layers[-1].activation.__name__ == "sigmoid"
    assert m.count_params() == 3_453_121  # the tutorial's figure


def test_trainer_one_epoch_on_a_generated_folder_writes_summaries(tmp_path):
    root = data.write_image_folder(tmp_path / "cats_and_dogs_small", train=6, validation=4, seed=1)
    assert sorted(p.name for p in (root / "train").iterdir()) == ["crosses", "discs"]
    assert len(list((root / "validation" / "discs").glob("*.jpg"))) == 2
    out = io.StringIO()
    result = train.train(tmp_path / "runs", data_dir=root, epochs=1, run_name="r1", verbose=0, out=out, budget=None)
    assert result.run_dir == tmp_path / "runs" / "r1"
    assert sorted(p.name for p in result.run_dir.iterdir()) == ["featureviz", "train", "validation"]
    printed = out.getvalue()
    assert "run 'r1'" in printed and "tensorboard --logdir" in printed
    run = read_run(result.run_dir / "featureviz")
    assert {t for t in run if t.startswith("filters/")} == {f"filters/conv{i}" for i in range(1, 5)}
    assert {t for t in run if t.startswith("activations/")} == {
        f"activations/{kind}{i}" for kind in ("conv", "pool") for i in range(1, 5)
    }
    assert {t for t in run if t.startswith("gradcam/")} == {"gradcam/pool4"}
    probes = json.loads(run["probes"].values[0][0])
    assert probes["class_names"] == ["crosses", "discs"] and sorted(probes["labels"]) == [0, 0, 1, 1]
    info = json.loads(run["run_info"].values[0][0])
    assert info["hparams"]["batch_size"] == 20 and info["hparams"]["learning_rate"] == 1e-4
    assert info["input_shape"] == [None, 150, 150, 3]


def test_cli_train_bad_data_dir_exits_2(tmp_path, capsys):
    assert main(["train", "--logdir", str(tmp_path), "--data-dir", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert "missing/train is not a directory" in err


def test_train_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="base='resnet'"):
        train.train(tmp_path, base="resnet")
    with pytest.raises(ValueError, match="image_size=40"):
        train.train(tmp_path, image_size=40)
    with pytest.raises(ValueError, match="epochs=0"):
        train.train(tmp_path, epochs=0)
    with pytest.raises(ValueError, match=r"weights='w\.h5'"):
        train.train(tmp_path, weights="w.h5")
    with pytest.raises(ValueError, match="weights file not found"):
        model.build_vgg16(32, weights=str(tmp_path / "nope.h5"))
