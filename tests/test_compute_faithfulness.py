"""Faithfulness and sanity measures of Grad-CAM maps against hand-computed values and a float64 reference."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from tb_featureviz import FeatureVizCallback, compute
from tb_featureviz.compute import faithfulness as fa
from tb_featureviz.trainer.data import synthetic_images
from tests.support.events import read_run
from tests.support.handset import conv_relu_f64, images, tiny_model, weights

# -- deletion and insertion ------------------------------------------------------------------------------


def xplique_causal_auc_f64(
    predict: object, inputs: np.ndarray, explanations: np.ndarray, targets: np.ndarray, mode: str, steps: int
) -> float:
    """Xplique 2.0's ``CausalFidelity.evaluate`` (baseline 0, all steps), step by step in float64.

    ``targets`` are one-hot; the score of a sample is ``sum(predict(x) * target)``, averaged over the samples
    at each step, then the trapezoidal area ``mean(s[:-1] + s[1:]) / 2``.
    """
    n, h, w, c = inputs.shape
    flat_inputs = inputs.astype(np.float64).reshape(n, h * w, c)
    order = np.argsort(explanations.reshape(n, -1), axis=-1)[:, ::-1]
    baselines = np.zeros_like(flat_inputs)
    start, end = (flat_inputs, baselines) if mode == "deletion" else (baselines, flat_inputs)
    scores = []
    for step in np.linspace(0, h * w, steps + 1, dtype=np.int32):
        batch = start.copy()
        for i, ids in enumerate(order[:, :step]):
            batch[i, ids] = end[i, ids]
        predictions = predict(batch.reshape(n, h, w, c))  # type: ignore[operator]
        scores.append(np.mean(np.sum(predictions * targets, axis=-1)))
    s = np.array(scores)
    return float(np.mean(s[:-1] + s[1:]) * 0.5)


def softmax_model_f64(x: np.ndarray) -> np.ndarray:
    kernel, bias, dense, dense_bias = (w.astype(np.float64) for w in weights(1, 4))
    logits = conv_relu_f64(x, kernel, bias).reshape(len(x), -1) @ dense + dense_bias
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("mode", ["deletion", "insertion"])
def test_causal_auc_matches_xplique_reference_on_hand_set_model(mode: str) -> None:
    model = tiny_model(4, "softmax")
    x = images(3)
    cam = compute.GradCAM(model)
    classes = np.argmax(cam.class_probabilities(x), axis=1)
    maps = cam(x, class_index=classes)
    assert maps.max() > 0.5
    curves = fa.causal_curves(cam.class_probabilities, x, maps, classes, mode=mode, steps=6)
    ours = fa.auc(curves)
    onehot = np.eye(4)[classes]
    reference = xplique_causal_auc_f64(softmax_model_f64, x, maps, onehot, mode, steps=6)
    assert abs(float(ours.mean()) - reference) < 1e-5  # the mean of per-probe areas is the area of the means
    np.testing.assert_allclose(
        curves[:, 0], cam.class_probabilities(x if mode == "deletion" else 0 * x)[np.arange(3), classes], atol=1e-6
    )


def test_deletion_and_insertion_curves_by_hand() -> None:
    # One 2x2 one-channel image [[4, 3], [2, 1]], the map ranks the pixels 4 > 3 > 2 > 1, the score is the mean.
    image = np.array([[4.0, 3.0], [2.0, 1.0]]).reshape(1, 2, 2, 1)

    def mean_score(batch: np.ndarray) -> np.ndarray:
        return batch.reshape(len(batch), -1).mean(axis=1, keepdims=True)

    deletion = fa.causal_curves(mean_score, image, image[..., 0], [0], mode="deletion", steps=4)
    np.testing.assert_allclose(deletion, [[2.5, 1.5, 0.75, 0.25, 0.0]])
    insertion = fa.causal_curves(mean_score, image, image[..., 0], [0], mode="insertion", steps=4)
    np.testing.assert_allclose(insertion, [[0.0, 1.0, 1.75, 2.25, 2.5]])
    np.testing.assert_allclose(fa.auc(deletion), [(2.5 + 2 * 1.5 + 2 * 0.75 + 2 * 0.25 + 0.0) / 8])
    # Two steps over four pixels: 0, 2 and 4 pixels deleted.
    np.testing.assert_allclose(
        fa.causal_curves(mean_score, image, image[..., 0], [0], mode="deletion", steps=2), [[2.5, 0.75, 0.0]]
    )


def test_causal_images_reject_bad_arguments() -> None:
    x = np.zeros((2, 4, 4, 3), np.float32)
    with pytest.raises(ValueError, match="mode='sideways'"):
        fa.causal_images(x, np.zeros((2, 4, 4)), mode="sideways")
    with pytest.raises(ValueError, match=r"\(2, 4, 4\)"):
        fa.causal_images(x, np.zeros((2, 5, 4)), mode="deletion")
    with pytest.raises(ValueError, match="steps=0"):
        fa.causal_images(x, np.zeros((2, 4, 4)), mode="deletion", steps=0)


def test_a_light_draw_is_the_full_computation_on_the_subset_it_keeps() -> None:
    """On the hand-set model (6x6 images: the 10-step curve perturbs 0, 3, 7, 10, ... 36 pixels): the paired,
    deduplicated pass gives ``causal_curves``' values; a light draw's curves are the full curves' even points, its
    areas their trapezoidal areas, and its randomisation check the mean over the full check's first four draws."""
    model = tiny_model(4, "softmax")
    x = images(3)
    cam = compute.GradCAM(model)
    classes = np.argmax(cam.class_probabilities(x), axis=1)
    maps = cam(x, class_index=classes)
    full = {m: fa.causal_curves(cam.class_probabilities, x, maps, classes, mode=m, steps=10) for m in fa.MODES}
    pair = fa.causal_pair(cam.class_probabilities, x, maps, classes, steps=10)
    assert fa.light_points(10, 5) == [0, 2, 4, 6, 8, 10]
    light = fa.causal_pair(cam.class_probabilities, x, maps, classes, steps=10, points=fa.light_points(10, 5))
    for mode in fa.MODES:
        np.testing.assert_allclose(pair[mode], full[mode], rtol=0, atol=1e-6)
        np.testing.assert_allclose(light[mode], full[mode][:, ::2], rtol=0, atol=1e-6)
    assert fa.MapChecks(cam).forward_images(3) == 3 + 1 + 2 * 9 * 3  # the shared ends are scored once
    checks = fa.MapChecks(cam, seed=0)
    values = checks(x, maps, classes)
    assert checks.detail == {"variant": "full", "steps": 10, "random_draws": 8, "probes": 3}
    assert checks.setup_seconds > 0  # the first call built and traced the randomised copy
    light_values = checks(x, maps, classes, light=True)
    assert checks.detail == {"variant": "light", "steps": 5, "random_draws": 4, "probes": 3}
    assert checks.setup_seconds == 0.0
    per_draw = np.array(
        [
            fa.paired_spearman(maps, r)
            for r in fa.RandomizedCopy(model, cam.layer_name, seed=0, draws=8).maps(x, classes)
        ]
    )
    assert np.isfinite(per_draw[0]).all()  # some draws give flat maps (NaN): both means leave them out
    expected = {
        "full": {
            "faithfulness/deletion_auc": fa.auc(full["deletion"]).mean(),
            "faithfulness/insertion_auc": fa.auc(full["insertion"]).mean(),
            "sanity/randomization_spearman": np.nanmean(per_draw, axis=0).mean(),
        },
        "light": {
            "faithfulness/deletion_auc": fa.auc(full["deletion"][:, ::2]).mean(),
            "faithfulness/insertion_auc": fa.auc(full["insertion"][:, ::2]).mean(),
            "sanity/randomization_spearman": np.nanmean(per_draw[:4], axis=0).mean(),
            "sanity/drift_spearman": 1.0,  # the same maps as the previous call
        },
    }
    assert values == pytest.approx(expected["full"], abs=1e-6)
    assert light_values == pytest.approx(expected["light"], abs=1e-6)
    assert light_values["faithfulness/deletion_auc"] != pytest.approx(values["faithfulness/deletion_auc"], abs=1e-4)
    with pytest.raises(ValueError, match="light_steps=3"):
        fa.MapChecks(cam, light_steps=3)
    with pytest.raises(ValueError, match="light_draws=9"):
        fa.MapChecks(cam, light_draws=9)
    with pytest.raises(ValueError, match=r"points=\[11\]"):
        fa.causal_pair(cam.class_probabilities, x, maps, classes, points=[11])


# -- pointing game -----------------------------------------------------------------------------------------------


def test_pointing_game_on_hand_made_boxes() -> None:
    maps = np.zeros((4, 10, 10))
    maps[0, 2, 3] = 1.0  # (x=3, y=2): inside box 0
    maps[1, 9, 9] = 1.0  # (x=9, y=9): outside box 1, inside with tolerance 1
    maps[2, 5, 5] = 0.5  # (x=5, y=5): on box 2's right edge x1=5 -> outside (x1 is exclusive)
    boxes = np.array([[0, 0, 5, 5], [2, 2, 9, 9], [0, 0, 5, 10], [0, 0, 10, 10]])  # map 3 is all zero: a miss
    np.testing.assert_array_equal(fa.pointing_game(maps, boxes), [True, False, False, False])
    np.testing.assert_array_equal(fa.pointing_game(maps, boxes, tolerance=1), [True, True, True, False])
    with pytest.raises(ValueError, match=r"\(4, 4\)"):
        fa.pointing_game(maps, boxes[:3])


# -- rank correlation --------------------------------------------------------------------------------------------


def test_spearman_with_ties_by_hand() -> None:
    a = np.array([1.0, 2.0, 2.0, 3.0])  # ranks 1, 2.5, 2.5, 4
    b = np.array([10.0, 30.0, 20.0, 40.0])  # ranks 1, 3, 2, 4
    ra, rb = np.array([1, 2.5, 2.5, 4]) - 2.5, np.array([1, 3, 2, 4]) - 2.5
    expected = (ra @ rb) / np.sqrt((ra @ ra) * (rb @ rb))
    assert fa.spearman(a, b) == pytest.approx(expected, abs=1e-12)
    assert fa.spearman(a, -a) == pytest.approx(-1.0)
    assert np.isnan(fa.spearman(np.ones(4), b))


# -- model randomisation -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def trained_tiny_cnn() -> keras.Model:
    """A small CNN trained to 100% on the embedded discs-vs-crosses set at 48 px (about 3 s)."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((48, 48, 3))]
        + [
            layer
            for i, width in enumerate((8, 16, 16), start=1)
            for layer in (
                keras.layers.Conv2D(width, 3, activation="relu", name=f"c{i}"),
                keras.layers.MaxPooling2D(2, name=f"p{i}"),
            )
        ]
        + [
            keras.layers.Flatten(name="flat"),
            keras.layers.Dense(16, activation="relu", name="dense"),
            keras.layers.Dense(2, activation="softmax", name="head"),
        ]
    )
    model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
    train = synthetic_images(384, size=48, seed=0)
    model.fit(train.images, train.labels, epochs=12, batch_size=32, verbose=0)
    test = synthetic_images(16, size=48, seed=1)
    assert model.evaluate(test.images, test.labels, verbose=0)[1] >= 0.9
    return model


def edge_map(x: np.ndarray) -> np.ndarray:
    """A map that ignores the model: the image's gradient magnitude."""
    gray = x.mean(axis=-1)
    gy, gx = np.gradient(gray, axis=(1, 2))
    return np.hypot(gx, gy)


def test_randomisation_passes_grad_cam_of_a_trained_model_and_fails_an_edge_detector(trained_tiny_cnn) -> None:
    model = trained_tiny_cnn
    x = synthetic_images(16, size=48, seed=1).images
    cam = compute.GradCAM(model)
    before = [w.copy() for w in model.get_weights()]
    copy = fa.RandomizedCopy(model, cam.layer_name, seed=0, draws=fa.RANDOM_DRAWS)
    assert cam.layer_name == "p3" and copy.randomized == ["c3", "dense", "head"]  # p3 has no weights: from c3 up
    classes = np.argmax(cam.class_probabilities(x), axis=1)
    maps = cam(x, class_index=classes)
    draws = [np.nanmean(fa.paired_spearman(maps, random)) for random in copy.maps(x, classes)]
    assert len(draws) == fa.RANDOM_DRAWS and len(set(draws)) == len(draws)  # every draw is its own
    assert np.mean(draws) <= 0.3
    # The edge detector gives the same map for the model and for its randomised copy: a rank correlation of 1.
    assert np.nanmean(fa.paired_spearman(edge_map(x), edge_map(x))) == pytest.approx(1.0)
    for a, b in zip(before, model.get_weights(), strict=True):  # the model itself is never touched
        np.testing.assert_array_equal(a, b)
    # The copy's lower layers follow the model; its top layers hold seeded random weights.
    np.testing.assert_array_equal(copy.copy.get_layer("c2").get_weights()[0], model.get_layer("c2").get_weights()[0])
    assert not np.allclose(copy.copy.get_layer("head").get_weights()[0], model.get_layer("head").get_weights()[0])
    again = fa.RandomizedCopy(model, cam.layer_name, seed=0, draws=fa.RANDOM_DRAWS)
    np.testing.assert_array_equal(again.maps(x, classes)[-1], copy.maps(x, classes)[-1])


def test_map_checks_fail_an_explainer_that_ignores_the_weights(trained_tiny_cnn) -> None:
    """MapChecks with an edge detector in place of Grad-CAM: randomisation 1.0 (fails), drift 1.0."""

    class EdgeCAM(compute.GradCAM):
        def __call__(self, images, class_index=None):  # type: ignore[override]
            return edge_map(np.asarray(images))

    x = synthetic_images(4, size=48, seed=1).images
    checks = fa.MapChecks(EdgeCAM(trained_tiny_cnn))
    classes = np.argmax(checks.cam.class_probabilities(x), axis=1)
    result = checks(x, edge_map(x), classes)
    assert result["sanity/randomization_spearman"] == pytest.approx(1.0)  # far above the 0.3 a real map stays under
    assert checks(x, edge_map(x), classes)["sanity/drift_spearman"] == pytest.approx(1.0)


# -- written every epoch, read back from a real logdir -------------------------------------------------------------


def test_callback_writes_the_measures_and_they_are_the_final_models_own(tmp_path, trained_tiny_cnn) -> None:
    model = keras.models.clone_model(trained_tiny_cnn)
    model.set_weights(trained_tiny_cnn.get_weights())
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
    data = synthetic_images(64, size=48, seed=4)
    x, y = data.images, data.labels
    probes, labels, boxes = x[:4], y[:4], data.boxes[:4]
    callback = FeatureVizCallback(
        tmp_path, probes, probe_labels=labels, probe_boxes=boxes, budget=None, filter_patterns=False
    )
    model.fit(x, y, epochs=2, batch_size=16, verbose=0, callbacks=[callback])
    run = read_run(tmp_path / "featureviz")
    tags = {t for t in run if t.startswith(("faithfulness/", "sanity/"))}
    assert tags == {
        "faithfulness/deletion_auc",
        "faithfulness/insertion_auc",
        "faithfulness/pointing_game",
        "sanity/randomization_spearman",
        "sanity/drift_spearman",
    }
    assert sorted(run["faithfulness/deletion_auc"].values) == [0, 1]
    assert sorted(run["sanity/drift_spearman"].values) == [1]  # needs a previous epoch
    cam = compute.GradCAM(model)
    classes = np.argmax(cam.class_probabilities(probes), axis=1)
    maps = cam(probes, class_index=classes)
    for mode in ("deletion", "insertion"):
        expected = fa.auc(fa.causal_curves(cam.class_probabilities, probes, maps, classes, mode=mode)).mean()
        assert float(run[f"faithfulness/{mode}_auc"].values[1]) == pytest.approx(expected, abs=1e-5)
    hits = fa.pointing_game(maps, boxes, tolerance=3)  # 15 px at 224 px is 3 px at 48 px
    assert float(run["faithfulness/pointing_game"].values[1]) == pytest.approx(hits.mean())
    assert callback.plan is not None and callback.plan["extras"] == ["metrics", "exemplars"]
    # No budget (as featureviz watch): the full measures at every epoch, and the record says so.
    assert callback.plan["checks"] == {
        "variant": "full",
        "steps": 10,
        "random_draws": 8,
        "probes": 4,
        "drift_from": 0,
    }


def test_bad_probe_boxes_name_the_value(tmp_path) -> None:
    x = np.zeros((2, 16, 16, 3), np.float32)
    with pytest.raises(ValueError, match=r"\(2, 4\)"):
        FeatureVizCallback(tmp_path, x, probe_boxes=[[0, 0, 4, 4]])
    with pytest.raises(ValueError, match="x1 > x0"):
        FeatureVizCallback(tmp_path, x, probe_boxes=[[0, 0, 4, 4], [5, 0, 4, 4]])
    with pytest.raises(ValueError, match="probe_images"):
        FeatureVizCallback(tmp_path, probe_boxes=[[0, 0, 4, 4]])


@pytest.mark.parametrize(
    ("steps", "draws", "light_steps", "light_draws"),
    [(10, 8, 5, 4), (10, 2, 5, 2), (8, 3, 4, 3), (7, 1, 1, 1)],
)
def test_light_draw_defaults_fit_any_steps_and_draws(steps, draws, light_steps, light_draws):
    """MapChecks(cam, draws=2) or steps=8 work as before light draws existed: the light defaults adapt."""
    checks = fa.MapChecks(object(), steps=steps, draws=draws)  # type: ignore[arg-type]
    assert (checks.light_steps, checks.light_draws) == (light_steps, light_draws)
    assert checks.light_points[0] == 0 and checks.light_points[-1] == steps
    with pytest.raises(ValueError, match="light_draws must be at most draws"):
        fa.MapChecks(object(), draws=2, light_draws=3)  # type: ignore[arg-type]
