"""Filter patterns that hold up: decorrelated colour, random views in the ascent, tiers, diversity, the metrics."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from tb_featureviz import compute
from tb_featureviz.compute import filters as filters_module
from tb_featureviz.compute import pattern_metrics as pm
from tb_featureviz.compute import warp
from tb_featureviz.trainer.model import build_cnn
from tests.support.models import zero_mean_conv_model, zero_mean_kernels


@pytest.fixture(scope="module")
def small_model() -> keras.Model:
    return zero_mean_conv_model(32)


def test_same_seed_same_bytes_other_seed_other_bytes(small_model):
    a = compute.FilterPatternGenerator(small_model, "c2", steps=6, seed=3)
    b = compute.FilterPatternGenerator(small_model, "c2", steps=6, seed=3)
    pa, ra = a()
    pb, rb = b()
    assert pa.tobytes() == pb.tobytes() and ra.tobytes() == rb.tobytes()
    assert a()[0].tobytes() == pa.tobytes()  # and again from the same generator
    assert a._transforms.tobytes() == b._transforms.tobytes()
    c = compute.FilterPatternGenerator(small_model, "c2", steps=6, seed=4)
    assert not np.array_equal(c._transforms, a._transforms)
    assert np.abs(c()[0] - pa).max() > 0.1
    da = a.diverse([1], count=2)
    assert da[0].tobytes() == b.diverse([1], count=2)[0].tobytes()


def test_color_decorrelation_matrix_properties():
    m = filters_module.color_decorrelation_matrix()
    assert m.shape == (3, 3) and m.dtype == np.float32
    norms = np.linalg.norm(m, axis=0)
    assert norms[0] == pytest.approx(1.0) and norms[0] > norms[1] > norms[2] > 0  # luminance, then opponents
    gram = m.T @ m  # U sqrt(S): orthogonal columns (to the two decimals Lucid gives)
    np.testing.assert_allclose(gram - np.diag(np.diag(gram)), 0.0, atol=0.005)
    assert np.all(m[:, 0] > 0) and np.ptp(m[:, 0]) < 0.05  # column 0: equal parts of R, G, B
    np.testing.assert_allclose(m[:, 1], [0.09 / 0.4603, 0.0, -0.09 / 0.4603], atol=1e-3)  # red - blue
    # The covariance this square root implies: positive definite, all channels positively correlated.
    cov = m @ m.T
    assert np.all(np.linalg.eigvalsh(cov) > 0) and np.all(cov > 0)


def test_luminance_only_parameters_give_grey_images(small_model):
    """A spectrum in the first (luminance) decorrelated channel only: R, G and B move together."""
    gen = compute.FilterPatternGenerator(small_model, "c1", steps=2, size=16)
    rng = np.random.default_rng(0)
    params = np.zeros((1, 3, 16, 9, 2), np.float32)
    params[0, 0] = rng.normal(0.0, 3.0, size=(16, 9, 2))
    img = np.asarray(gen._image(params))[0]
    assert img.std() > 0.05
    assert np.abs(img - img.mean(axis=-1, keepdims=True)).max() < 0.03 * np.ptp(img)
    params = np.zeros((1, 3, 16, 9, 2), np.float32)
    params[0, 1] = rng.normal(0.0, 3.0, size=(16, 9, 2))  # red-blue opponent axis: green stays grey
    img = np.asarray(gen._image(params))[0] - 0.5
    np.testing.assert_allclose(img[..., 1], 0.0, atol=1e-6)
    assert np.corrcoef(img[..., 0].ravel(), img[..., 2].ravel())[0, 1] < -0.99


@pytest.fixture(scope="module")
def wide_conv() -> keras.Model:
    """One hand-set layer of four 7x7 zero-mean filters: on a 24 px pattern, a filter's 18x18 map loses a
    good part of its input when the pattern is shifted, rescaled or turned."""
    model = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Conv2D(4, 7, activation="relu", name="c")])
    model.get_layer("c").set_weights([zero_mean_kernels((7, 7, 3, 4), 2), np.zeros(4, np.float32)])
    return model


def _under_views(model: keras.Model) -> tuple[float, float]:
    gen = compute.FilterPatternGenerator(model, "c", steps=32, size=24)
    images, reached = gen.optimize()
    views = pm.activation_under_views(gen.mean_activation, images, seed=1)
    return float(views.mean()), pm.survival(views, reached)


def test_the_ascent_sees_the_views_of_pattern_metrics_forward_and_back(small_model):
    """Each step's view is TensorFlow's ImageProjectiveTransformV3 with reflected borders (and ``pattern_metrics``'
    NumPy ``apply_transform``), and its gradient is TensorFlow's gradient of that op (the warp back)."""
    gen = compute.FilterPatternGenerator(small_model, "c2", steps=5, size=20)
    rows = gen._transforms
    assert np.abs(rows[:, [0, 4]] - 1.0).max() > 0.01 and np.abs(rows[:, [2, 5]]).max() > 1.0  # not identities
    rng = np.random.default_rng(1)
    x = tf.constant(rng.random((2, 20, 20, 3)).astype(np.float32))
    w = tf.constant(rng.random((2, 20, 20, 3)).astype(np.float32))
    for step in range(5):
        index, weights = pm.bilinear_taps(rows[step], 20)
        ops_index, ops_weights = warp.bilinear_taps(rows[step], 20)
        np.testing.assert_array_equal(np.asarray(ops_index), index.ravel())
        np.testing.assert_allclose(np.asarray(ops_weights), weights.ravel(), atol=1e-5)
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(x)
            ours = gen._view(x, tf.constant(step))
            theirs = tf.raw_ops.ImageProjectiveTransformV3(
                images=x,
                transforms=rows[step][None],
                output_shape=[20, 20],
                fill_value=0.0,
                interpolation="BILINEAR",
                fill_mode="REFLECT",
            )
            loss_ours, loss_theirs = tf.reduce_sum(w * ours), tf.reduce_sum(w * theirs)
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), atol=1e-5)
        np.testing.assert_allclose(pm.apply_transform(x.numpy(), rows[step]), theirs.numpy(), atol=1e-5)
        np.testing.assert_allclose(tape.gradient(loss_ours, x), tape.gradient(loss_theirs, x), atol=1e-5)


def test_random_views_in_the_ascent_make_patterns_that_survive_views(wide_conv, monkeypatch):
    robust_views, robust_survival = _under_views(wide_conv)
    monkeypatch.setattr(filters_module, "TRANSFORM_JITTER", 0)  # the identity at every step
    monkeypatch.setattr(filters_module, "TRANSFORM_SCALE", (1.0, 1.0))
    monkeypatch.setattr(filters_module, "TRANSFORM_ROTATION", 0.0)
    identity = compute.FilterPatternGenerator(wide_conv, "c", steps=32, size=24)._transforms
    np.testing.assert_allclose(identity, np.tile([1.0, 0, 0, 0, 1.0, 0, 0, 0], (32, 1)), atol=1e-6)
    plain_views, plain_survival = _under_views(wide_conv)
    assert robust_survival >= 0.85 and plain_survival <= 0.75, (robust_survival, plain_survival)
    assert robust_views > plain_views, (robust_views, plain_views)


def test_view_transforms_identity_shift_and_seed():
    np.testing.assert_array_equal(
        pm.view_transforms(2, 16, jitter=0, scale=(1, 1), rotation=0), [[1, 0, 0, 0, 1, 0, 0, 0]] * 2
    )
    x = np.random.default_rng(0).random((2, 16, 16, 3)).astype(np.float32)
    shift = pm.affine_rows(np.array([1.0]), np.array([0.0]), np.array([[3.0, -2.0]]), 16)[0]
    moved = np.asarray(pm.apply_transform(x, shift))
    np.testing.assert_allclose(moved[:, :14, 3:], x[:, 2:, :13], atol=1e-5)  # content moved right 3 px, up 2 px
    views = pm.random_views(x, 4, seed=5)
    assert views.shape == (4, 2, 16, 16, 3)
    np.testing.assert_array_equal(views, pm.random_views(x, 4, seed=5))
    assert not np.array_equal(views, pm.random_views(x, 4, seed=6))
    with pytest.raises(ValueError, match=r"square images. Received shape \(2, 16, 8, 3\)"):
        pm.random_views(x[:, :, :8], 2)


def _power_law_images(size: int, amplitude_exponent: float, count: int = 6, seed: int = 0) -> np.ndarray:
    """Periodic images whose amplitude spectrum is ``1 / f ** amplitude_exponent`` with random phases."""
    rng = np.random.default_rng(seed)
    fy = np.fft.fftfreq(size)[:, None]
    fx = np.fft.fftfreq(size)[None, :]
    f = np.sqrt(fx**2 + fy**2)
    f[0, 0] = 1.0
    spectrum = (
        rng.normal(size=(count, size, size)) + 1j * rng.normal(size=(count, size, size))
    ) / f**amplitude_exponent
    return np.real(np.fft.ifft2(spectrum))[..., None]


@pytest.mark.parametrize(("amplitude_exponent", "expected"), [(0.0, 0.0), (1.0, -2.0), (1.5, -3.0)])
def test_spectral_slope_of_power_law_images(amplitude_exponent, expected):
    images = _power_law_images(128, amplitude_exponent)
    assert pm.spectral_slope(images) == pytest.approx(expected, abs=0.15)
    freq, power = pm.radial_power_spectrum(images)
    assert freq[0] == pytest.approx(1 / 128) and freq[-1] == pytest.approx(0.5) and power.shape == (64,)


def test_spectral_slope_is_contrast_and_offset_free_and_rejects_bad_shapes():
    images = _power_law_images(64, 1.0, seed=3)
    assert pm.spectral_slope(3.0 * images + 7.0) == pytest.approx(pm.spectral_slope(images), abs=1e-9)
    assert math.isnan(pm.spectral_slope(np.ones((2, 16, 16, 3))))
    with pytest.raises(ValueError, match=r"S >= 4. Received shape \(2, 16, 12, 3\)"):
        pm.spectral_slope(np.zeros((2, 16, 12, 3)))


def test_relative_activation_on_hand_set_values():
    per_filter = pm.relative_activation([2.0, 1.0, 3.0, 0.5], [1.0, 4.0, 0.0, -1.0])
    np.testing.assert_array_equal(per_filter[:2], [2.0, 0.25])
    assert np.isnan(per_filter[2]) and np.isnan(per_filter[3])  # silent or negative on the probes
    assert pm.layer_relative_activation([2.0, 1.0, 3.0], [1.0, 4.0, 1.0]) == pytest.approx(1.0)
    assert pm.layer_relative_activation([4.0, 2.0], [1.0, 2.0]) == pytest.approx(2.0)
    assert math.isnan(pm.layer_relative_activation([1.0], [0.0]))
    with pytest.raises(ValueError, match=r"Received shapes \(2,\) and \(3,\)"):
        pm.relative_activation([1.0, 2.0], [1.0, 2.0, 3.0])
    assert pm.survival([1.0, 3.0], [2.0, 4.0]) == pytest.approx(4.0 / 6.0)
    assert filters_module.relative_activation is pm.relative_activation


def test_probe_activation_and_relative_activation_of_a_hand_set_layer():
    """A 1x1 conv: filter 0 = relu(R - B), filter 1 = relu(G); probes at the input size, float64 reference."""
    model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(2, 1, activation="relu", name="c")])
    kernel = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]], np.float32)[None, None]
    model.get_layer("c").set_weights([kernel, np.array([0.0, -0.25], np.float32)])
    probes = np.random.default_rng(0).random((5, 8, 8, 3))
    expected = np.array(
        [np.maximum(probes[..., 0] - probes[..., 2], 0).mean(), np.maximum(probes[..., 1] - 0.25, 0).mean()]
    )
    gen = compute.FilterPatternGenerator(model, "c", steps=3)
    np.testing.assert_allclose(gen.probe_activation(probes), expected, rtol=1e-5)
    np.testing.assert_allclose(gen.probe_activation(probes, [1]), expected[[1]], rtol=1e-5)
    per_filter, layer = gen.relative_activation(np.array([0.6, 0.3]), probes)
    np.testing.assert_allclose(per_filter, [0.6 / expected[0], 0.3 / expected[1]], rtol=1e-5)
    assert layer == pytest.approx(0.45 / expected.mean(), rel=1e-5)
    with pytest.raises(ValueError, match=r"images must be \[N, H, W, 3\]. Received shape \(8, 8, 3\)"):
        gen.probe_activation(probes[0])


def test_quality_tiers_and_steps(small_model):
    default = compute.FilterPatternGenerator(small_model, "c2")
    best = compute.FilterPatternGenerator(small_model, "c2", quality="best")
    assert default.quality == "default" and best.quality == "best"
    assert best.size > default.size and best.steps > default.steps
    assert best.size == min(32, filters_module.default_size(8, (32, 32), "best"))
    assert compute.FilterPatternGenerator(small_model, "c2", quality="best", steps=5, size=20).steps == 5
    with pytest.raises(ValueError, match=r"quality must be one of default, best\. Received: quality='fast'"):
        compute.FilterPatternGenerator(small_model, "c2", quality="fast")
    assert compute.filter_patterns(small_model, "c1", filters=[0], steps=2, quality="best").shape == (1, 32, 32, 3)
    # Cheap layers get the tier's steps, costly ones fewer, down to the tier's minimum.
    tier = filters_module.tier_steps
    work = filters_module.STEP_WORK
    assert [tier(48, 10, w) for w in (work / 10, work, 4 * work, 16 * work, 1e9)] == [48, 48, 24, 12, 10]
    model = build_cnn()
    assert [compute.FilterPatternGenerator(model, n).steps for n in compute.conv_layers(model)] == [48, 36, 19, 10]


def test_diversity_pushes_the_patterns_of_one_filter_apart(small_model):
    gen = compute.FilterPatternGenerator(small_model, "c2", filters=[0, 3], steps=12)
    patterns, reached = gen.diverse(count=3)
    assert patterns.shape == (2, 3, gen.size, gen.size, 3) and reached.shape == (2, 3)
    assert patterns.min() >= 0.0 and patterns.max() <= 1.0 and np.all(reached > 0)
    same, _ = gen.diverse(count=3, weight=0.0)
    first, _ = gen()
    np.testing.assert_array_equal(same[:, 0], first)  # without the term, variant 0 is the plain pattern

    def spread(p: np.ndarray) -> float:
        return float(np.mean([np.abs(p[f, i] - p[f, j]).mean() for f in range(2) for i in range(3) for j in range(i)]))

    assert spread(patterns) > spread(same), (spread(patterns), spread(same))
    with pytest.raises(ValueError, match=r"count must be at least 2\. Received: count=1"):
        gen.diverse(count=1)


@pytest.mark.parametrize("size", [16, 15, 2])
def test_inverse_dft_matrices_are_numpy_irfft2(size):
    """The Fourier image is an inverse real 2-D DFT done with matrix products, on every backend: NumPy's
    ``irfft2`` (times ``size``), whose zero and Nyquist columns drop their imaginary parts."""
    spectrum = np.random.default_rng(size).normal(size=(2, size, size // 2 + 1, 2))
    cy, sy, ax, bx = warp.inverse_dft_matrices(size)
    real, imag = spectrum[..., 0], spectrum[..., 1]
    ours = (cy @ real - sy @ imag) @ ax - (sy @ real + cy @ imag) @ bx
    expected = np.fft.irfft2(real + 1j * imag, s=(size, size)) * size
    np.testing.assert_allclose(ours, expected, atol=1e-5)


def test_with_gradient_takes_the_given_backward():
    """``backend.with_gradient``: the forward value of one map and the gradient of another (TensorFlow here; the
    ascent's cross-backend tests in ``test_backends`` hold JAX and PyTorch to it)."""
    m = tf.constant([[1.0, 2.0], [0.0, 3.0]])
    x = tf.constant([[1.0], [1.0]])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = compute.backend.with_gradient(lambda v, a: a @ v, lambda dy, a: a @ dy, x, m)  # forward m x, back m dy
        loss = tf.reduce_sum(y * tf.constant([[1.0], [2.0]]))
    np.testing.assert_allclose(y.numpy(), [[3.0], [3.0]])
    np.testing.assert_allclose(tape.gradient(loss, x).numpy(), [[5.0], [6.0]])  # m @ [1, 2], not m^T @ [1, 2]


def test_a_non_finite_channel_stays_in_its_own_filter():
    """Filter 1 of a linear 1x1 conv overflows to inf; filter 0's activation stays finite and exact (picking a
    filter by multiplying with a one-hot mask would make it ``inf * 0 = nan``)."""
    model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(2, 1, name="c")])
    kernel = np.zeros((1, 1, 3, 2), np.float32)
    kernel[0, 0, :, 0] = [1.0, 0.0, 0.0]
    kernel[0, 0, :, 1] = 3e38
    model.get_layer("c").set_weights([kernel, np.zeros(2, np.float32)])
    gen = compute.FilterPatternGenerator(model, "c", steps=1, size=8)
    images = np.full((2, 8, 8, 3), 0.5, np.float32)
    images[0, ..., 0] = 0.25
    reached = gen.mean_activation(images)
    assert reached[0] == pytest.approx(0.25) and np.isinf(reached[1])
