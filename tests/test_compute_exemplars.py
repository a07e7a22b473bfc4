"""Natural exemplars: the arg-top-k of hand-built activations, crops, and a real logdir read back."""

from __future__ import annotations

import io
import json

import keras
import numpy as np
import pytest
from PIL import Image

from tb_featureviz import FeatureVizCallback, compute, render
from tb_featureviz.compute.exemplars import crop_box, top_exemplars
from tb_featureviz.writer.probes import select_probes
from tests.support.events import read_run
from tests.support.models import SIZE, tiny_data, tiny_model


def test_top_exemplars_are_the_arg_top_k_by_hand() -> None:
    # 5 images, a 2x3 map, 2 channels. Channel 0 peaks: image 0 -> 1.0 at (0, 2), 1 -> 5.0 at (1, 0),
    # 2 -> 3.0 at (0, 1), 3 -> 5.0 at (1, 2) (a tie with image 1: the lower index first), 4 -> 0.
    acts = np.zeros((5, 2, 3, 2))
    acts[0, 0, 2, 0], acts[1, 1, 0, 0], acts[2, 0, 1, 0], acts[3, 1, 2, 0] = 1.0, 5.0, 3.0, 5.0
    acts[:, :, :, 1] = -1.0  # channel 1: every image's peak is -1 except image 4's 2.0 at (0, 0)
    acts[4, 0, 0, 1] = 2.0
    best = top_exemplars(acts, 3, input_hw=(20, 30))
    np.testing.assert_array_equal(best.images, [[1, 3, 2], [4, 0, 1]])
    # Unit (i, j) of a 2x3 map on a 20x30 input sits at ((i + 0.5) * 10, (j + 0.5) * 10), rounded down.
    np.testing.assert_array_equal(best.y, [[15, 15, 5], [5, 5, 5]])
    np.testing.assert_array_equal(best.x, [[5, 25, 15], [5, 5, 5]])
    np.testing.assert_allclose(best.values, [[5.0, 5.0, 3.0], [2.0, -1.0, -1.0]])
    assert best.to_json()[0][0] == [1, 15, 5, 5.0]
    assert top_exemplars(acts, 9, input_hw=(20, 30)).images.shape == (2, 5)  # k is at most the sample
    with pytest.raises(ValueError, match="k=0"):
        top_exemplars(acts, 0, input_hw=(20, 30))
    with pytest.raises(ValueError, match=r"\(5, 2, 3\)"):
        top_exemplars(acts[..., 0], 3, input_hw=(20, 30))


def test_crop_box_moves_inside_the_image_and_keeps_its_size() -> None:
    assert crop_box(50, 60, 20, (100, 150)) == (50, 40, 70, 60)
    assert crop_box(2, 3, 20, (100, 150)) == (0, 0, 20, 20)
    assert crop_box(99, 149, 20, (100, 150)) == (130, 80, 150, 100)
    assert crop_box(10, 10, 500, (100, 150)) == (0, 0, 150, 100)


def test_exemplars_written_each_epoch_are_the_models_own_top_k(tmp_path) -> None:
    model = tiny_model()
    model.compile(keras.optimizers.SGD(0.01), "sparse_categorical_crossentropy")
    x, y = tiny_data(24)
    probes = x[:2]
    callback = FeatureVizCallback(
        tmp_path,
        probes,
        validation_data=(x, y),
        exemplars=3,
        exemplar_images=8,
        budget=None,
        filter_patterns=False,
        faithfulness=False,
    )
    model.fit(x, y, epochs=1, batch_size=8, verbose=0, callbacks=[callback])
    run = read_run(tmp_path / "featureviz")
    assert {t for t in run if t.startswith("exemplars/")} == {"exemplars/c1", "exemplars/p1", "exemplars/c2"}
    blobs = run["sample"].values[0]
    sample_record = json.loads(blobs[0])
    assert sample_record == {"count": 8, "labels": [0, 1, 0, 1, 0, 1, 0, 1]}
    sample = np.stack([np.asarray(Image.open(io.BytesIO(b))) for b in blobs[1:]])
    # The sample is class-balanced from the validation data, as the probes are picked.
    expected_sample, _ = select_probes((x, y), 8)
    np.testing.assert_array_equal(sample, render.to_uint8_image(expected_sample))
    acts = compute.activations(model, expected_sample, layers=["c1", "c2"])
    for layer in ("c1", "c2"):
        record = json.loads(run[f"exemplars/{layer}"].values[0][0])
        want = top_exemplars(acts[layer], 3, input_hw=(SIZE, SIZE))
        assert record["k"] == 3 and record["sample"] == 8
        assert record["channels"] == list(range(acts[layer].shape[-1]))
        got = np.array(record["exemplars"])  # [C, k, 4]
        np.testing.assert_array_equal(got[..., 0], want.images)
        np.testing.assert_array_equal(got[..., 1], want.y)
        np.testing.assert_array_equal(got[..., 2], want.x)
        np.testing.assert_allclose(got[..., 3], want.values, rtol=1e-3)
    assert json.loads(run["exemplars/c1"].values[0][0])["size"] == 16  # 3 px receptive field -> the minimum
    assert json.loads(run["exemplars/c2"].values[0][0])["size"] == 16  # 8 px -> the minimum, 16 = the input


def test_no_exemplars_when_turned_off_and_bad_values_named(tmp_path) -> None:
    with pytest.raises(ValueError, match="exemplars=-1"):
        FeatureVizCallback(tmp_path, exemplars=-1)
    with pytest.raises(ValueError, match="exemplar_images=0"):
        FeatureVizCallback(tmp_path, exemplar_images=0)
    model = tiny_model()
    model.compile(keras.optimizers.SGD(0.01), "sparse_categorical_crossentropy")
    x, y = tiny_data(8)
    cb = FeatureVizCallback(tmp_path, x[:2], exemplars=0, budget=None, filter_patterns=False, faithfulness=False)
    model.fit(x, y, epochs=1, batch_size=8, verbose=0, callbacks=[cb])
    run = read_run(tmp_path / "featureviz")
    assert not {t for t in run if t.startswith("exemplars/") or t == "sample"}
