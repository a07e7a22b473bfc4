"""Grad-CAM against a float64 NumPy reference on tiny models with hand-set weights."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from tb_featureviz import compute
from tests.support.handset import (
    H,
    W,
    grad_cam_f64,
    images,
    resize_bilinear_half_pixel_f64,
    tiny_model,
    weights,
)


def test_resize_reference_matches_tf():
    maps = np.random.default_rng(0).uniform(size=(2, 4, 4))
    ours = resize_bilinear_half_pixel_f64(maps, 6, 6)
    theirs = tf.image.resize(maps[..., None], (6, 6), method="bilinear").numpy()[..., 0]
    np.testing.assert_allclose(ours, theirs, atol=1e-6)


def test_softmax_multiclass_matches_float64_reference():
    model = tiny_model(4, "softmax")
    x = images()
    cam = compute.GradCAM(model)
    assert cam.layer_name == "conv"
    assert cam.num_classes == 4
    assert cam.head == "dense_softmax"
    nonzero = 0
    for c in range(4):
        ref = grad_cam_f64(x, weights(1, 4), [c] * len(x), sigmoid=False)
        got = cam(x, class_index=c)
        assert got.shape == (3, H, W) and got.dtype == np.float32
        assert np.abs(got - ref).max() < 1e-5
        nonzero += int((ref.max(axis=(1, 2)) > 0.5).sum())
    assert nonzero >= 6  # the comparison is not between all-zero maps
    mixed = [3, 0, 2]
    np.testing.assert_allclose(cam(x, class_index=mixed), grad_cam_f64(x, weights(1, 4), mixed, False), atol=1e-5)


def test_sigmoid_binary_both_classes_match_float64_reference():
    model = tiny_model(1, "sigmoid")
    x = images(4)
    cam = compute.GradCAM(model)
    assert cam.num_classes == 2 and cam.head == "dense_sigmoid"
    for c in (0, 1):
        ref = grad_cam_f64(x, weights(1, 1), [c] * len(x), sigmoid=True)
        got = compute.grad_cam(model, x, class_index=c)
        assert np.abs(got - ref).max() < 1e-5
        assert ref.max() > 0.5
    p = model(x).numpy()[:, 0]
    np.testing.assert_allclose(cam.class_probabilities(x), np.stack([1 - p, p], axis=1), atol=1e-6)
    predicted = (p > 0.5).astype(int)
    np.testing.assert_allclose(cam(x), grad_cam_f64(x, weights(1, 1), list(predicted), True), atol=1e-5)


def test_predicted_class_is_default_and_probabilities_match_model():
    model = tiny_model(4, "softmax")
    x = images()
    cam = compute.GradCAM(model)
    probs = cam.class_probabilities(x)
    np.testing.assert_allclose(probs, model(x).numpy(), atol=1e-6)
    predicted = list(np.argmax(probs, axis=1))
    np.testing.assert_allclose(cam(x), grad_cam_f64(x, weights(1, 4), predicted, False), atol=1e-5)


def test_all_zero_feature_map_stays_finite_and_zero():
    model = tiny_model(4, "softmax")
    kernel, bias, dense, dense_bias = model.get_weights()
    model.set_weights([np.zeros_like(kernel), np.zeros_like(bias), dense, dense_bias])
    out = compute.grad_cam(model, images(), class_index=1)
    assert np.isfinite(out).all()
    assert np.count_nonzero(out) == 0


def test_user_model_unchanged():
    model = tiny_model(4, "softmax")
    x = images()
    head = model.get_layer("head")
    before_pred = model(x).numpy()
    before_weights = [w.copy() for w in model.get_weights()]
    layers = list(model.layers)
    compute.GradCAM(model)(x, class_index=2)
    compute.grad_cam(model, x)
    assert head.activation is keras.activations.softmax
    assert list(model.layers) == layers
    for a, b in zip(model.get_weights(), before_weights, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(model(x).numpy(), before_pred)
    np.testing.assert_array_equal(model.predict(x, verbose=0), before_pred)


def test_randomised_weights_change_the_map_and_cam_reads_current_weights():
    """Adebayo et al. 2018 sanity check; the GradCAM built once sees the new weights."""
    model = tiny_model(4, "softmax", seed=1)
    x = images()
    cam = compute.GradCAM(model)
    first = cam(x, class_index=1)
    model.set_weights([w.astype(np.float32) for w in weights(99, 4)])
    second = cam(x, class_index=1)
    assert np.abs(first - second).max() > 0.2
    np.testing.assert_allclose(second, grad_cam_f64(x, weights(99, 4), [1, 1, 1], False), atol=1e-5)


def test_layer_override_and_separate_softmax_layer():
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(2, 3, activation="relu", name="c1")(inputs)
    x = keras.layers.Conv2D(2, 3, activation="relu", name="c2")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dense(3, name="logits")(x)
    outputs = keras.layers.Softmax(name="probs")(x)
    model = keras.Model(inputs, outputs)
    cam = compute.GradCAM(model, layer="c1")
    assert cam.layer_name == "c1" and cam.head == "softmax" and cam.num_classes == 3
    assert compute.GradCAM(model).layer_name == "c2"
    xs = np.random.default_rng(0).uniform(size=(2, 8, 8, 1)).astype(np.float32)
    # Gradient of the logit (not of the softmax output), computed independently.
    sub = keras.Model(inputs, [model.get_layer("c1").output, model.get_layer("logits").output])
    with tf.GradientTape() as tape:
        a, logits = sub(xs)
        score = tf.reduce_sum(logits[:, 2])
    g = tape.gradient(score, a)
    m = tf.nn.relu(tf.reduce_sum(a * tf.reduce_mean(g, axis=(1, 2), keepdims=True), axis=-1))
    m = tf.image.resize(m[..., None], (8, 8))[..., 0].numpy()
    m = m / np.maximum(m.max(axis=(1, 2), keepdims=True), 1e-7)
    np.testing.assert_allclose(cam(xs, class_index=2), m, atol=1e-5)


def test_bad_class_index():
    model = tiny_model(4, "softmax")
    cam = compute.GradCAM(model)
    x = images()
    with pytest.raises(ValueError, match=r"class_index=5"):
        cam(x, class_index=5)
    with pytest.raises(ValueError, match=r"class_index=\[0, 1\]"):
        cam(x, class_index=[0, 1])
    with pytest.raises(ValueError, match=r"-1"):
        cam(x, class_index=[0, 1, -1])
    with pytest.raises(TypeError, match=r"1.5"):
        cam(x, class_index=1.5)
    with pytest.raises(TypeError, match=r"True"):
        cam(x, class_index=True)
    with pytest.raises(ValueError, match=r"class_index=2"):
        compute.grad_cam(tiny_model(1, "sigmoid"), x, class_index=2)
    with pytest.raises(ValueError, match=r"Unknown layer 'nope'.*conv"):
        compute.GradCAM(model, layer="nope")
    with pytest.raises(ValueError, match=r"4-D"):
        compute.GradCAM(model, layer="flatten")


def test_the_default_layer_skips_a_1x1_map():
    """At 32 px MobileNetV2's last map is 1x1, whose heatmap is constant; the default is the last larger one."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(2, 3, padding="same", name="wide")(inputs)
    x = keras.layers.Conv2D(2, 8, name="one_by_one")(x)  # 8x8 -> 1x1
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(keras.layers.Flatten()(x)))
    assert compute.GradCAM(model).layer_name == "wide"
    assert compute.GradCAM(model, layer="one_by_one").layer_name == "one_by_one"  # asked for: as asked
