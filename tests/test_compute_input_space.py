"""The model's input space: declared, learnt from the model's first layers or from the probes, and used."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from keras.applications import densenet, mobilenet_v2, resnet50

from tb_featureviz import compute
from tb_featureviz.compute.input_space import InputSpace, from_model_layers, from_probes, resolve_input_space
from tb_featureviz.writer.options import WriterOptions as Options
from tests.support.models import zero_mean_kernels

KERAS_STYLES = {
    "caffe": resnet50.preprocess_input,
    "tf": mobilenet_v2.preprocess_input,
    "torch": densenet.preprocess_input,
}


def _rgb255(seed: int = 0, shape: tuple[int, ...] = (2, 5, 5, 3)) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0.0, 255.0, size=shape).astype(np.float32)


@pytest.mark.parametrize("style", sorted(KERAS_STYLES))
def test_named_styles_are_keras_applications_preprocessing(style):
    space = InputSpace.from_style(style)
    x = _rgb255()
    expected = KERAS_STYLES[style](x.copy())
    np.testing.assert_allclose(space.to_model(x / 255.0), expected, atol=2e-4)
    np.testing.assert_allclose(space.to_display(expected), x / 255.0, atol=1e-6)
    fitted = InputSpace.from_callable(KERAS_STYLES[style])
    assert fitted.order == space.order == ((2, 1, 0) if style == "caffe" else (0, 1, 2))
    np.testing.assert_allclose(fitted.scale, space.scale, rtol=1e-5)
    np.testing.assert_allclose(fitted.offset, space.offset, atol=1e-3)


def test_caffe_values_by_hand():
    space = InputSpace.from_style("caffe")
    red = np.array([[[[1.0, 0.0, 0.0]]]])  # pure red, display RGB
    # BGR, mean subtracted: blue = 0 - 103.939, green = 0 - 116.779, red = 255 - 123.68
    np.testing.assert_allclose(space.to_model(red)[0, 0, 0], [-103.939, -116.779, 131.32], atol=1e-3)
    np.testing.assert_allclose(space.to_display(np.array([-103.939, -116.779, 131.32])), [1.0, 0.0, 0.0], atol=1e-6)
    assert space.to_json()["description"] == "caffe-style BGR, mean subtracted (ImageNet) (preprocess='caffe')"


def test_a_callable_that_is_not_affine_or_a_wrong_inverse_is_refused():
    with pytest.raises(ValueError, match="not a per-channel affine map"):
        InputSpace.from_callable(lambda x: (x / 255.0) ** 2)
    with pytest.raises(ValueError, match="not a per-channel affine map"):
        InputSpace.from_callable(lambda x: 255.0 - x)  # a negative scale: not an image in another space
    with pytest.raises(ValueError, match="keep the image shape"):
        InputSpace.from_callable(lambda x: x[..., :2])
    with pytest.raises(ValueError, match="not the inverse"):
        InputSpace.from_callable(mobilenet_v2.preprocess_input, deprocess=lambda x: x * 255.0)
    ok = InputSpace.from_callable(mobilenet_v2.preprocess_input, deprocess=lambda x: (x + 1.0) * 127.5)
    assert ok.style == "custom" and ok.order == (0, 1, 2)
    with pytest.raises(TypeError, match="preprocess=3"):
        InputSpace.from_callable(3)  # type: ignore[arg-type]


def _model(*first: keras.layers.Layer, channels: int = 3) -> keras.Model:
    x = inputs = keras.Input((8, 8, channels))
    for layer in first:
        x = layer(x)
    x = keras.layers.Conv2D(2, 3)(x)
    return keras.Model(inputs, keras.layers.Dense(1)(keras.layers.GlobalAveragePooling2D()(x)))


def test_learnt_from_the_models_first_layers():
    space = from_model_layers(_model(keras.layers.Rescaling(1 / 255)))
    assert space is not None and (space.offset, space.scale) == ((0.0,) * 3, (255.0,) * 3)
    assert space.describe() == "0-255 RGB (model: Rescaling(1/255))"
    # Augmentation first, as Keras examples do, and the tf style inside the model.
    tf_inside = from_model_layers(
        _model(keras.layers.RandomFlip("horizontal"), keras.layers.Rescaling(1 / 127.5, offset=-1))
    )
    assert tf_inside is not None and tf_inside.offset == (0.0,) * 3 and tf_inside.scale == (255.0,) * 3
    # A nested Sequential augmentation block, then Rescaling.
    block = keras.Sequential([keras.layers.RandomFlip(), keras.layers.RandomRotation(0.1)])
    assert from_model_layers(_model(block, keras.layers.Rescaling(1 / 255))).scale == (255.0,) * 3
    # A Normalization adapted on [0, 1] images means [0, 1] pixels; on 0-255 images, 0-255.
    for data, width in (
        (np.random.default_rng(0).uniform(0, 1, (16, 8, 8, 3)), 1.0),
        (_rgb255(1, (16, 8, 8, 3)), 255.0),
    ):
        norm = keras.layers.Normalization()
        norm.adapt(data)
        found = from_model_layers(_model(norm))
        assert found is not None and found.scale == (width,) * 3, (width, found)
    # No value-changing layer at the start: nothing learnt from the model.
    assert from_model_layers(_model()) is None
    assert from_model_layers(_model(keras.layers.RandomFlip())) is None


def test_learnt_from_the_probes():
    assert from_probes(np.full((1, 2, 2, 3), 0.5)).scale == (1.0,) * 3
    assert from_probes(np.array([[[[0.0, 12.0, 200.0]]]])).scale == (255.0,) * 3
    minus = from_probes(np.array([[[[-0.5, 0.0, 0.9]]]]))
    assert (minus.offset[0], minus.scale[0]) == (-1.0, 2.0)
    caffe_like = from_probes(np.array([[[[-103.9, 0.0, 131.3]]]]))
    assert (caffe_like.offset[0], caffe_like.scale[0]) == (-104.0, 236.0)
    assert caffe_like.source == "the probe images' values"


def test_resolution_order_and_bad_arguments():
    rescaling = _model(keras.layers.Rescaling(1 / 255))
    probes01 = np.full((1, 8, 8, 3), 0.5, np.float32)
    assert resolve_input_space(rescaling, probes=probes01).scale == (255.0,) * 3  # the model beats the probes
    assert resolve_input_space(_model(), probes=probes01).scale == (1.0,) * 3
    assert resolve_input_space(_model()).source == "default"
    declared = resolve_input_space(rescaling, input_range=(-1, 1), probes=probes01)
    assert (declared.offset[0], declared.scale[0], declared.source) == (-1.0, 2.0, "input_range=(-1, 1)")
    assert resolve_input_space(rescaling, preprocess="torch").style == "torch"
    with pytest.raises(ValueError, match="not both"):
        resolve_input_space(rescaling, input_range=(0, 1), preprocess="tf")
    with pytest.raises(ValueError, match="preprocess='bgr'"):
        resolve_input_space(rescaling, preprocess="bgr")
    with pytest.raises(ValueError, match="needs RGB input"):
        resolve_input_space(_model(channels=1), preprocess="caffe")
    with pytest.raises(ValueError, match=r"input_range=\(1, 0\)"):
        Options(input_range=(1, 0))
    with pytest.raises(TypeError, match="input_range='0-255'"):
        Options(input_range="0-255")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="preprocess='caffee'"):
        Options(preprocess="caffee")
    with pytest.raises(TypeError, match="deprocess"):
        Options(preprocess="tf", deprocess=lambda x: x)


def _rescaling_model() -> keras.Model:
    """0-255 pixels, Rescaling(1/255) inside, two zero-mean convolutions: a grey image barely excites them."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((24, 24, 3))
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.Conv2D(6, 3, activation="relu")(x)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Conv2D(8, 3, activation="relu", name="c2")(x)
    model = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.GlobalAveragePooling2D()(x)))
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    for i, conv in enumerate(convs):
        kernel, bias = conv.get_weights()
        conv.set_weights([zero_mean_kernels(kernel.shape, seed=i), np.zeros_like(bias)])
    return model


def test_patterns_of_a_model_that_rescales_0_255_inside_drive_their_filters():
    model = _rescaling_model()
    probes = _rgb255(3, (4, 24, 24, 3))
    learnt = compute.FilterPatternGenerator(model, "c2", steps=24)
    assert learnt.input_space.describe() == "0-255 RGB (model: Rescaling(1/255))"
    _, reached = learnt()
    relative, _ = learnt.relative_activation(reached, probes)
    wrong = compute.FilterPatternGenerator(model, "c2", steps=24, value_range=(0, 1))  # what 0.x always did
    _, reached_wrong = wrong()
    relative_wrong, _ = wrong.relative_activation(reached_wrong, probes)
    assert np.nanmedian(relative) >= 1.5, relative
    assert np.nanmedian(relative_wrong) < 1.0, relative_wrong  # patterns at 1/255 of the probes' contrast
    # The optimised images stay in the model's input space, and patterns are display RGB.
    images, _ = learnt.optimize()
    assert images.min() >= -0.05 * 255 and images.max() <= 1.05 * 255 and images.max() > 100


@pytest.mark.parametrize("parameterization", ["pixel", "fourier"])
def test_caffe_patterns_start_mid_grey_in_bgr_model_space_and_come_back_rgb(parameterization):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(2, 3, activation="relu", name="conv")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.GlobalAveragePooling2D()(x)))
    # A filter that wants red (display channel 0), i.e. the model's channel 2 under caffe's BGR.
    kernel = np.zeros((3, 3, 3, 2), np.float32)
    kernel[:, :, 2, 0] = 1.0
    kernel[:, :, 0, 1] = 1.0  # filter 1 wants blue
    model.get_layer("conv").set_weights([kernel, np.zeros(2, np.float32)])
    space = InputSpace.from_style("caffe")
    gen = compute.FilterPatternGenerator(model, "conv", input_space=space, parameterization=parameterization, steps=20)
    start = gen.start_images()
    np.testing.assert_allclose(start.mean(axis=(0, 1, 2)), space.to_model(np.full(3, 0.5)), atol=3.0)
    patterns, _ = gen()
    mean_rgb = patterns.mean(axis=(1, 2))  # [filter, RGB]
    assert mean_rgb[0, 0] > mean_rgb[0, 2] + 0.2, mean_rgb  # red filter: a red pattern
    assert mean_rgb[1, 2] > mean_rgb[1, 0] + 0.2, mean_rgb  # blue filter: a blue pattern
    with pytest.raises(ValueError, match="not both"):
        compute.FilterPatternGenerator(model, "conv", input_space=space, value_range=(0, 1))


def test_edge_cases_of_the_models_first_layers():
    # A per-channel Rescaling shaped (1, 1, 3), as some ports write it.
    per_channel = from_model_layers(_model(keras.layers.Rescaling(np.full((1, 1, 3), 1 / 255, np.float32))))
    assert per_channel is not None and per_channel.scale == (255.0,) * 3
    # A Normalization never adapted is the identity: nothing learnt, the probes decide.
    assert from_model_layers(_model(keras.layers.Normalization())) is None
    probes255 = np.full((1, 8, 8, 3), 200.0, np.float32)
    assert resolve_input_space(_model(keras.layers.Normalization()), probes=probes255).scale == (255.0,) * 3
    # An inverted Normalization de-normalises: its input has no known range.
    assert from_model_layers(_model(keras.layers.Normalization(mean=0.5, variance=0.25, invert=True))) is None
    # Given mean and variance of 0-255 data: 0-255.
    given = from_model_layers(_model(keras.layers.Normalization(mean=120.0, variance=60.0**2)))
    assert given is not None and given.scale == (255.0,) * 3


def test_grey_models_and_odd_probes():
    grey = _model(keras.layers.Rescaling(1 / 255), channels=1)
    space = resolve_input_space(grey)
    assert (
        space.order == (0,) and space.scale == (255.0,) and space.describe() == "0-255 grey (model: Rescaling(1/255))"
    )
    patterns, _ = compute.FilterPatternGenerator(grey, grey.layers[-3].name, steps=4)()
    assert patterns.shape[-1] == 3  # grey patterns are shown as RGB
    constant = from_probes(np.full((1, 2, 2, 3), -3.0))
    assert (constant.offset[0], constant.offset[0] + constant.scale[0]) == (-4.0, -2.0)
    with pytest.raises(ValueError, match=r"order=\(0, 0, 2\)"):
        InputSpace((1.0,) * 3, (0.0,) * 3, (0, 0, 2))
    assert InputSpace.from_json({"scale": [1, 1, 1], "offset": [0, 0, 0], "order": [0, 0, 2]}) is None
    assert InputSpace.from_json("0-255") is None


def test_pixel_patterns_are_stretched_before_any_clipping():
    """The pixel ascent lets pixels leave the range by half its width; the percentile stretch must see them as
    they are: clipping them to the range first flattened every out-of-range pixel into pure black or white."""
    from tb_featureviz.compute.ascent import _normalise, _to_rgb

    model = _rescaling_model()
    gen = compute.FilterPatternGenerator(model, "c2", steps=24, parameterization="pixel")
    images, _ = gen.optimize()
    display = images / 255.0
    assert ((display < 0) | (display > 1)).mean() > 0.05  # the ascent did leave the range
    patterns, _ = gen()
    np.testing.assert_allclose(patterns, _normalise(_to_rgb(display)), atol=1e-6)
    clipped_first = _normalise(_to_rgb(np.clip(display, 0.0, 1.0)))

    def flat(p: np.ndarray) -> float:
        return float(((p == 0.0) | (p == 1.0)).mean())

    assert flat(patterns) < 0.5 * flat(clipped_first), (flat(patterns), flat(clipped_first))
