"""Activations, layer discovery and nested models (keras.applications base inside a Sequential)."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from tb_featureviz import compute


@pytest.fixture(scope="module")
def bn_model() -> keras.Model:
    keras.utils.set_random_seed(3)
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(4, 3, name="conv_a")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.Activation("relu", name="relu")(x)
    x = keras.layers.Dropout(0.5, name="drop")(x)
    x = keras.layers.MaxPooling2D(name="pool")(x)
    x = keras.layers.Conv2D(5, 3, activation="relu", name="conv_b")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = keras.layers.Dense(2, activation="softmax", name="head")(x)
    model = keras.Model(inputs, outputs, name="bn_model")
    # Non-trivial batch-norm statistics, so inference mode matters.
    model.get_layer("bn").set_weights(
        [np.full(4, 1.5), np.full(4, 0.1), np.linspace(-0.2, 0.2, 4), np.linspace(0.5, 2.0, 4)]
    )
    return model


@pytest.fixture(scope="module")
def nested_vgg() -> tuple[keras.Model, keras.Model]:
    keras.utils.set_random_seed(0)
    base = keras.applications.VGG16(weights=None, include_top=False, input_shape=(64, 64, 3))
    model = keras.Sequential(
        [
            keras.Input((64, 64, 3)),
            base,
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(3, activation="softmax", name="head"),
        ],
        name="vgg_transfer",
    )
    return model, base


def probe(n: int = 2, size: int = 16) -> np.ndarray:
    return np.random.default_rng(1).uniform(size=(n, size, size, 3)).astype(np.float32)


def test_every_4d_layer_in_model_order_with_values(bn_model):
    x = probe()
    acts = compute.activations(bn_model, x)
    # Dropout is an identity at inference and is left out; Input/GAP/Dense are not 4-D.
    assert list(acts) == ["conv_a", "bn", "relu", "pool", "conv_b"]
    assert compute.feature_layers(bn_model) == list(acts)
    for name, value in acts.items():
        expected = keras.Model(bn_model.inputs[0], bn_model.get_layer(name).output)(x, training=False).numpy()
        assert value.dtype == np.float32 and value.shape == expected.shape
        np.testing.assert_allclose(value, expected, rtol=1e-6, atol=1e-6)
    assert acts["conv_a"].shape == (2, 14, 14, 4) and acts["pool"].shape == (2, 7, 7, 4)


def test_selection_by_name_and_class_is_in_model_order(bn_model):
    x = probe()
    assert list(compute.activations(bn_model, x, layers=[keras.layers.Conv2D])) == ["conv_a", "conv_b"]
    assert list(compute.activations(bn_model, x, layers=["pool", "conv_a", "pool"])) == ["conv_a", "pool"]
    mixed = compute.ActivationExtractor(bn_model, layers=["relu", keras.layers.MaxPooling2D])
    assert mixed.layer_names == ["relu", "pool"]
    assert compute.conv_layers(bn_model) == ["conv_a", "conv_b"]


def test_extractor_is_built_once_and_reads_current_weights(bn_model):
    x = probe()
    extractor = compute.ActivationExtractor(bn_model, layers=["conv_a"])
    conv = bn_model.get_layer("conv_a")
    saved = conv.get_weights()
    try:
        first = extractor(x)["conv_a"]
        conv.set_weights([w * 2.0 for w in saved])
        second = extractor(x)["conv_a"]
        np.testing.assert_allclose(second, 2.0 * first, rtol=1e-5, atol=1e-6)
        traces = extractor._fn.traces()
        extractor(probe(3))  # another batch size: no retrace (input_signature)
        assert extractor._fn.traces() == traces
    finally:
        conv.set_weights(saved)


def test_nested_model_activations_reach_inner_layers(nested_vgg):
    model, base = nested_vgg
    names = compute.feature_layers(model)
    assert names[:3] == ["block1_conv1", "block1_conv2", "block1_pool"]
    assert names[-1] == "block5_pool" and "vgg16" not in names
    assert compute.conv_layers(model)[-1] == "block5_conv3" and len(compute.conv_layers(model)) == 13
    x = probe(2, 64)
    acts = compute.ActivationExtractor(model, layers=["block1_conv1", "vgg16/block3_conv2"])(x)
    assert list(acts) == ["block1_conv1", "block3_conv2"]
    for name in acts:
        expected = keras.Model(base.inputs[0], base.get_layer(name).output)(x).numpy()
        np.testing.assert_allclose(acts[name], expected, rtol=1e-5, atol=1e-6)
    assert compute.receptive_field(model, "block1_conv2") == 5
    assert compute.receptive_field(model, "block2_conv1") == 10


def test_nested_model_grad_cam_auto_layer_and_values(nested_vgg):
    model, base = nested_vgg
    x = probe(2, 64)
    cam = compute.GradCAM(model)
    assert cam.layer_name == "block5_pool"
    heat = cam(x, class_index=[0, 2])
    assert heat.shape == (2, 64, 64) and np.isfinite(heat).all()
    assert heat.min() >= 0.0 and heat.max() <= 1.0

    # Independent computation at block5_conv3, through the nested base's own graph.
    target = compute.GradCAM(model, layer="block5_conv3")
    inner = keras.Model(base.inputs[0], [base.get_layer("block5_conv3").output, base.outputs[0]])
    dense = model.get_layer("head")
    with tf.GradientTape() as tape:
        a, out = inner(x)
        logits = tf.reshape(out, (2, -1)) @ dense.kernel + dense.bias
        score = tf.reduce_sum(tf.gather(logits, [1, 0], axis=1, batch_dims=1))
    g = tape.gradient(score, a)
    m = tf.nn.relu(tf.reduce_sum(a * tf.reduce_mean(g, axis=(1, 2), keepdims=True), axis=-1))
    m = tf.image.resize(m[..., None], (64, 64))[..., 0].numpy()
    m = m / np.maximum(m.max(axis=(1, 2), keepdims=True), 1e-7)
    assert m.max() > 0.5
    np.testing.assert_allclose(target(x, class_index=[1, 0]), m, atol=1e-4)
    np.testing.assert_allclose(target.class_probabilities(x), model(x).numpy(), atol=1e-5)
