"""Filter patterns: ascent really raises each filter, seeded, sized by receptive field."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from tb_featureviz import compute
from tb_featureviz.compute import filters as filters_module
from tb_featureviz.trainer.model import build_cnn
from tests.support.models import zero_mean_conv_model


@pytest.fixture(scope="module")
def small_model() -> keras.Model:
    return zero_mean_conv_model(24)


@pytest.mark.parametrize("parameterization", ["fourier", "pixel"])
@pytest.mark.parametrize("layer", ["c1", "c2"])
def test_ascent_raises_every_filter_at_least_5x(small_model, layer, parameterization):
    gen = compute.FilterPatternGenerator(small_model, layer, steps=16, parameterization=parameterization)
    start = gen.mean_activation(gen.start_images())
    images, reached = gen.optimize()
    assert reached.shape == (len(gen.filters),)
    assert np.all(reached > 0.05), reached
    assert np.all(reached >= 5.0 * start), (reached, start)
    np.testing.assert_allclose(gen.mean_activation(images), reached, rtol=1e-5, atol=1e-6)
    # The target filter is the one that was raised: each image excites its own filter most among the
    # filters on average (the diagonal dominates its column).
    cross = np.stack(
        [
            compute.FilterPatternGenerator(small_model, layer, filters=[f] * len(gen.filters)).mean_activation(images)
            for f in gen.filters
        ]
    )  # [filter, image]
    assert np.all(np.argmax(cross, axis=1) == np.arange(len(gen.filters)))


def test_patterns_in_unit_range_deterministic_and_weight_sensitive(small_model):
    gen = compute.FilterPatternGenerator(small_model, "c2", steps=8)
    assert gen.receptive_field == 8 and gen.size == 16
    patterns, reached = gen()
    assert patterns.shape == (5, 16, 16, 3) and patterns.dtype == np.float32
    assert patterns.min() >= 0.0 and patterns.max() <= 1.0
    assert patterns.min() == 0.0 and patterns.max() == 1.0  # percentile stretch uses the whole range
    again, reached_again = gen()
    np.testing.assert_array_equal(patterns, again)
    np.testing.assert_array_equal(reached, reached_again)
    other = compute.FilterPatternGenerator(small_model, "c2", steps=8)  # same seed: same start, same result
    np.testing.assert_array_equal(other()[0], patterns)
    np.testing.assert_array_equal(other.start_images(), gen.start_images())
    assert not np.array_equal(
        compute.FilterPatternGenerator(small_model, "c2", seed=1).start_images(), gen.start_images()
    )
    c2 = small_model.get_layer("c2")
    saved = c2.get_weights()
    try:
        c2.set_weights([saved[0][..., ::-1].copy(), saved[1]])  # new weights, same generator
        changed, _ = gen()
        assert np.abs(changed - patterns).max() > 0.3
    finally:
        c2.set_weights(saved)
    subset = compute.filter_patterns(small_model, "c2", filters=[3, 1], steps=8)
    np.testing.assert_array_equal(subset, patterns[[3, 1]])


def _total_variation(patterns: np.ndarray) -> float:
    """Mean absolute difference of neighbouring pixels: high for pixel noise, low for smooth shapes."""
    return float(np.abs(np.diff(patterns, axis=1)).mean() + np.abs(np.diff(patterns, axis=2)).mean())


def test_fourier_patterns_are_smoother_than_pixel_space_ones(small_model):
    """Both stretched to [0, 1]: the Fourier parameterisation leaves far less pixel noise."""
    fourier = compute.filter_patterns(small_model, "c2", steps=16, size=24)
    pixel = compute.filter_patterns(small_model, "c2", steps=16, size=24, parameterization="pixel")
    assert fourier.shape == pixel.shape == (5, 24, 24, 3)
    assert _total_variation(fourier) < 0.6 * _total_variation(pixel), (
        _total_variation(fourier),
        _total_variation(pixel),
    )
    with pytest.raises(
        ValueError, match=r"parameterization must be one of fourier, pixel\. Received: parameterization='lucid'"
    ):
        compute.FilterPatternGenerator(small_model, "c2", parameterization="lucid")


def test_reference_cnn_receptive_fields_and_sizes():
    model = build_cnn()
    convs = compute.conv_layers(model)
    assert [compute.receptive_field(model, name) for name in convs] == [3, 8, 18, 38]
    gens = [compute.FilterPatternGenerator(model, name) for name in convs]
    assert [g.receptive_field for g in gens] == [3, 8, 18, 38]
    expected = [
        min(150, max(filters_module.MIN_SIZE, 4 * math.ceil(filters_module.SIZE_FACTOR * rf / 4)))
        for rf in (3, 8, 18, 38)
    ]
    assert [g.size for g in gens] == expected
    assert [len(g.filters) for g in gens] == [32, 64, 128, 128]
    assert expected == [16, 16, 28, 60]
    assert gens[0].steps == filters_module.DEFAULT_STEPS


def test_smoke_reference_cnn_first_layer_patterns():
    model = build_cnn()
    name = compute.conv_layers(model)[0]
    patterns, reached = compute.FilterPatternGenerator(model, name, filters=[0, 5], steps=4)()
    assert patterns.shape == (2, 16, 16, 3) and reached.shape == (2,)


def test_falls_back_to_input_size_when_graph_needs_it():
    model = keras.Sequential(
        [keras.Input((20, 20, 3)), keras.layers.Reshape((20, 20, 3)), keras.layers.Conv2D(2, 3, name="c")]
    )
    gen = compute.FilterPatternGenerator(model, "c", steps=2)
    assert gen.receptive_field == 3 and gen.size == 20
    patterns, _ = gen()
    assert patterns.shape == (2, 20, 20, 3)


def test_bad_filter_arguments(small_model):
    with pytest.raises(ValueError, match=r"filters=\[0, 6\]"):
        compute.FilterPatternGenerator(small_model, "c1", filters=[0, 6])
    with pytest.raises(TypeError, match=r"filters="):
        compute.FilterPatternGenerator(small_model, "c1", filters=[0.5])
    with pytest.raises(ValueError, match=r"steps=0"):
        compute.FilterPatternGenerator(small_model, "c1", steps=0)
    with pytest.raises(ValueError, match=r"Unknown layer 'conv9'.*c1, p1, c2"):
        compute.filter_patterns(small_model, "conv9")


def test_many_extractors_in_one_process_do_not_warn_of_retracing() -> None:
    """A notebook that builds several models: each compiled function traces once, and TensorFlow stays quiet."""
    import logging

    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    tf_logger = tf.get_logger()
    tf_logger.addHandler(handler)
    try:
        for _ in range(6):
            body = keras.Sequential([keras.Input((12, 12, 3)), keras.layers.Conv2D(2, 3, name="c1")])
            model = keras.Sequential([body, keras.layers.Flatten(), keras.layers.Dense(2, activation="softmax")])
            compute.FilterPatternGenerator(model, "c1", steps=2)()
            compute.ActivationExtractor(model)(np.zeros((1, 12, 12, 3), np.float32))
            compute.GradCAM(model)(np.zeros((1, 12, 12, 3), np.float32))
    finally:
        tf_logger.removeHandler(handler)
    assert [r.getMessage()[:80] for r in records if "retracing" in r.getMessage()] == []


def test_squeeze_and_excitation_gates_do_not_make_the_receptive_field_global():
    """EfficientNet and MobileNetV3 gate channels with a global branch; the map they gate keeps its geometry."""
    x = keras.Input((32, 32, 3))
    c = keras.layers.Conv2D(4, 3, name="c")(x)
    s = keras.layers.GlobalAveragePooling2D(keepdims=True, name="squeeze")(c)
    s = keras.layers.Conv2D(4, 1, activation="sigmoid", name="excite")(s)
    gated = keras.layers.Multiply(name="gated")([c, s])
    c2 = keras.layers.Conv2D(4, 3, strides=2, name="c2")(gated)
    model = keras.Model(x, keras.layers.GlobalAveragePooling2D()(c2))
    assert [compute.receptive_field(model, n) for n in ("c", "gated", "c2")] == [3, 3, 5]
    assert compute.FilterPatternGenerator(model, "c2").size == 16  # 1.5 x 5, at least 16; not the global 32


def test_a_relu_layer_dead_on_the_grey_start_still_gets_a_pattern():
    """A standalone ReLU after a linear conv (MobileNet's and EfficientNet's stage outputs are such layers):
    with a negative bias every unit is dead on the mid-grey start, so the plain mean has no gradient; the
    leaky objective on the ReLU's input still climbs, as it does for a conv layer's own activation."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((12, 12, 3))
    pre = keras.layers.Conv2D(2, 3, name="pre")(inputs)
    out = keras.layers.ReLU(name="relu")(pre)
    model = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.GlobalAveragePooling2D()(out)))
    kernel = np.zeros((3, 3, 3, 2), np.float32)
    kernel[:, :, 0, 0] = 1.0  # filter 0 wants red, filter 1 wants green
    kernel[:, :, 1, 1] = 1.0
    model.get_layer("pre").set_weights([kernel, np.array([-6.0, -6.0], np.float32)])  # 9 x 0.5 - 6 < 0
    gen = compute.FilterPatternGenerator(model, "relu", steps=24)
    assert np.all(gen.mean_activation(gen.start_images()) == 0.0)
    patterns, reached = gen()
    assert np.all(reached > 1.0), reached  # 9 x (near 1) - 6: about 2.6 once the channel saturates
    mean_rgb = patterns.mean(axis=(1, 2))
    assert mean_rgb[0, 0] > mean_rgb[0, 1] and mean_rgb[1, 1] > mean_rgb[1, 0], mean_rgb
