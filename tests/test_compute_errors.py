"""Unsupported models and bad inputs raise ValueError/TypeError naming what was received."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from tb_featureviz import compute


def small_cnn() -> keras.Model:
    return keras.Sequential(
        [
            keras.Input((12, 12, 3)),
            keras.layers.Conv2D(2, 3, name="conv"),
            keras.layers.Flatten(name="flat"),
            keras.layers.Dense(2, activation="softmax", name="head"),
        ]
    )


def test_wrong_image_shape_names_it():
    model = small_cnn()
    with pytest.raises(ValueError, match=r"\(2, 20, 20, 3\)"):
        compute.activations(model, np.zeros((2, 20, 20, 3)))
    with pytest.raises(ValueError, match=r"\(12, 12, 3\)"):
        compute.grad_cam(model, np.zeros((12, 12, 3)))
    with pytest.raises(ValueError, match=r"\(0, 12, 12, 3\)"):
        compute.validate_images(model, np.zeros((0, 12, 12, 3)))
    with pytest.raises(TypeError, match="numeric"):
        compute.validate_images(model, [["a"]])
    out = compute.validate_images(model, np.zeros((1, 12, 12, 3), np.float64))
    assert out.dtype == np.float32 and out.shape == (1, 12, 12, 3)
    assert compute.input_hw(model) == (12, 12)


def test_unknown_layer_lists_known_layers():
    model = small_cnn()
    with pytest.raises(ValueError, match=r"Unknown layer 'nope'\. Known layers: conv, flat, head"):
        compute.ActivationExtractor(model, layers=["nope"])
    with pytest.raises(ValueError, match=r"'head' has output shape \(None, 2\).*conv"):
        compute.activations(model, np.zeros((1, 12, 12, 3)), layers=["head"])
    with pytest.raises(ValueError, match=r"No layer with a 4-D output is a BatchNormalization"):
        compute.ActivationExtractor(model, layers=[keras.layers.BatchNormalization])
    with pytest.raises(TypeError, match=r"3"):
        compute.ActivationExtractor(model, layers=[3])
    with pytest.raises(ValueError, match="nope"):
        compute.receptive_field(model, "nope")


def test_model_without_4d_layer():
    dense = keras.Sequential([keras.Input((8,)), keras.layers.Dense(2, name="d")])
    with pytest.raises(ValueError, match=r"4-D.*\(None, 8\)"):
        compute.ActivationExtractor(dense)
    flat_images = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Flatten(name="f"), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match=r"no layer with a 4-D output.*Found layers: f"):
        compute.feature_layers(flat_images)


def test_channels_first_is_rejected():
    model = keras.Sequential(
        [keras.Input((3, 8, 8)), keras.layers.Conv2D(2, 3, data_format="channels_first", name="cf")]
    )
    with pytest.raises(ValueError, match=r"channels_first.*'cf'|'cf'.*channels_first"):
        compute.GradCAM(model)


def test_multi_input_model_is_rejected():
    a, b = keras.Input((8, 8, 3)), keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(2, 3)(keras.layers.Concatenate()([a, b]))
    model = keras.Model([a, b], x)
    with pytest.raises(ValueError, match=r"2 inputs"):
        compute.activations(model, np.zeros((1, 8, 8, 3)))


def test_unbuilt_model_gives_a_clear_error():
    model = keras.Sequential([keras.layers.Conv2D(2, 3)])
    with pytest.raises(ValueError, match=r"not built"):
        compute.conv_layers(model)
    with pytest.raises(TypeError, match=r"keras.Model"):
        compute.conv_layers("model")  # type: ignore[arg-type]
