"""The planner's inputs, built by the planner's own constructors: pure, so asserted against hand-computed values."""

from __future__ import annotations

import pytest

from tb_featureviz.writer.planner import (
    LIGHT_CHECKS,
    Budget,
    ChecksWork,
    CoreTimes,
    LayerInfo,
    Planner,
    layer_infos,
)

# The tutorial CNN's feature layers (150x150 input), as compute.layer_table lists them.
ROWS = [
    ("conv2d", (148, 148, 32), "Conv2D", True, 3.0),
    ("max_pooling2d", (74, 74, 32), "MaxPooling2D", False, 4.0),
    ("conv2d_1", (72, 72, 64), "Conv2D", True, 8.0),
    ("max_pooling2d_1", (36, 36, 64), "MaxPooling2D", False, 10.0),
    ("conv2d_2", (34, 34, 128), "Conv2D", True, 18.0),
    ("max_pooling2d_2", (17, 17, 128), "MaxPooling2D", False, 22.0),
    ("conv2d_3", (15, 15, 128), "Conv2D", True, 38.0),
    ("max_pooling2d_3", (7, 7, 128), "MaxPooling2D", False, 46.0),
]
CONVS = ["conv2d", "conv2d_1", "conv2d_2", "conv2d_3"]


class _Checks:
    """What MapChecks says of its work: 10 curve points in full, 4 in a light draw; 4 and 2 re-initialisations."""

    draws = 4
    light_draws = 2

    def forward_images(self, probes: int, *, light: bool = False) -> int:
        points = 4 if light else 11
        return probes + 1 + 2 * max(0, points - 2) * probes


def test_layer_infos_keep_the_rows_and_size_the_patterns_from_the_receptive_field() -> None:
    infos = layer_infos(ROWS, lambda rf: int(2 * rf))
    assert [i.name for i in infos] == [r[0] for r in ROWS]
    assert infos[0] == LayerInfo("conv2d", (148, 148, 32), "Conv2D", True, 6, 3.0)
    assert infos[-1] == LayerInfo("max_pooling2d_3", (7, 7, 128), "MaxPooling2D", False, 92, 46.0)


def test_for_layers_defaults_to_the_stage_layers_grown_later_with_the_gradcam_layer_as_core() -> None:
    infos = layer_infos(ROWS, lambda rf: 64)
    planner = Planner.for_layers(infos, Budget(0.05), gradcam_layer="conv2d_3", input_hw=(150, 150), measures=True)
    assert planner.activation_layers == [r[0] for r in ROWS]  # every map of the tutorial CNN is a stage
    assert list(planner.rotations) == CONVS
    assert planner.core_layers == ["conv2d_3"]
    assert planner.gradcam and not planner.grown
    assert planner.extras == ["metrics"] and planner.light_checks
    assert planner.input_pixels == 150 * 150


def test_for_layers_takes_the_users_layers_as_they_are() -> None:
    infos = layer_infos(ROWS, lambda rf: 64)
    planner = Planner.for_layers(
        infos, Budget(0.05), gradcam_layer="conv2d_3", activation_layers=["conv2d", "conv2d_1"], filter_layers=[]
    )
    assert planner.activation_layers == ["conv2d", "conv2d_1"] and planner.grown  # never grown
    assert planner.core_layers == ["conv2d_1"]  # the Grad-CAM layer is not drawn: the last one is the core
    assert planner.rotations == {}
    assert planner.extras == [] and not planner.light_checks
    assert planner.input_pixels is None
    no_cam = Planner.for_layers(infos, Budget(0.05), gradcam_layer=None)
    assert not no_cam.gradcam and no_cam.core_layers == ["max_pooling2d_3"]


def test_the_measures_prior_from_the_cores_timed_calls() -> None:
    work = ChecksWork.of(_Checks(), 4, in_gradcams=8.0)
    assert work == ChecksWork(probes=4, images=77, light_images=21, draws=4, light_draws=2, in_gradcams=8.0)
    core = CoreTimes(gradcam=0.5, forward=0.2, cam_call=0.1)
    assert work.prior(core, 0.3) == pytest.approx(77 / 4 * 0.2 + 4 * 0.1 + 0.3)
    assert work.prior(core, None) == pytest.approx(77 / 4 * 0.2 + 4 * 0.1)
    assert work.prior(core, 0.3, light=True) == pytest.approx(21 / 4 * 0.2 + 2 * 0.1)  # a light draw finds it traced
    # Until the core's calls are timed: a multiple of Grad-CAM's cost, half of it for a light draw.
    untimed = CoreTimes(gradcam=0.5)
    assert work.prior(untimed, 0.3) == 4.0 and work.prior(untimed, 0.3, light=True) == 2.0
    assert work.prior(CoreTimes(), 0.3) == 0.0
    assert ChecksWork.of(_Checks(), 0, in_gradcams=8.0).probes == 1


def test_price_extras_sets_the_priors_of_what_is_not_measured_yet() -> None:
    infos = layer_infos(ROWS, lambda rf: 64)
    planner = Planner.for_layers(infos, Budget(0.05), gradcam_layer="conv2d_3", measures=True)
    planner.extras.append("exemplars")
    planner.trace_seconds = 0.3
    work = ChecksWork.of(_Checks(), 4, in_gradcams=8.0)
    core = CoreTimes(gradcam=0.5, forward=0.2, cam_call=0.1)
    calls: list[int] = []

    def exemplars() -> float:
        calls.append(1)
        return 0.7

    planner.price_extras(core, work, exemplars)
    full, light = 77 / 4 * 0.2 + 4 * 0.1 + 0.3, 21 / 4 * 0.2 + 2 * 0.1
    assert planner.priors == pytest.approx({"metrics": full, LIGHT_CHECKS: light, "exemplars": 0.7})
    assert planner.light_share == pytest.approx(light / (full - 0.3))
    planner.costs.update({"metrics": 2.0, LIGHT_CHECKS: 1.0, "exemplars": 1.5})
    planner.price_extras(CoreTimes(gradcam=9.0, forward=9.0, cam_call=9.0), work, exemplars)
    assert planner.priors == pytest.approx({"metrics": full, LIGHT_CHECKS: light, "exemplars": 0.7})  # kept
    assert calls == [1]  # the exemplars' prior is priced only while they are not measured


def test_time_gradcam_prices_a_pass_from_the_steady_call_and_the_trace_from_the_first() -> None:
    planner = Planner.for_layers(layer_infos(ROWS, lambda rf: 64), Budget(0.05), gradcam_layer="conv2d_3")
    planner.time_gradcam([0.9], 4)  # one call (no labels): it may have traced, but it is all there is
    assert planner.pass_seconds == pytest.approx(0.225) and planner.trace_seconds is None
    planner.time_gradcam([0.5], 4)
    assert planner.pass_seconds == pytest.approx(0.225)  # kept
    planner.time_gradcam([0.9, 0.2], 4)
    assert planner.pass_seconds == pytest.approx(0.05) and planner.trace_seconds == pytest.approx(0.7)
    planner.time_gradcam([0.3, 0.4], 4)
    assert planner.pass_seconds == pytest.approx(0.1) and planner.trace_seconds == pytest.approx(0.7)


def test_drop_filters_takes_the_layer_out_of_the_plan_and_the_rotation() -> None:
    planner = Planner.for_layers(layer_infos(ROWS, lambda rf: 64), Budget(None), gradcam_layer="conv2d_3")
    plan = planner.plan(0, 3, 10.0)
    assert set(plan.filters) == set(plan.windows) == set(CONVS)
    planner.drop_filters(plan, "conv2d_1", "failed: ValueError")
    assert "conv2d_1" not in plan.filters and "conv2d_1" not in plan.windows
    assert plan.skipped["conv2d_1"] == "failed: ValueError"
    assert list(planner.rotations) == ["conv2d", "conv2d_2", "conv2d_3"]
