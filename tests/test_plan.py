"""The planner: pure and deterministic, so its choices for a given cost table are asserted exactly."""

from __future__ import annotations

import copy
import math
import random
import re

import pytest

from tb_featureviz.writer.planner import (
    LIGHT_CHECKS,
    SKIP_REASONS,
    Budget,
    FilterRotation,
    LayerInfo,
    Planner,
    _needs,
    filter_stage_layers,
    stage_layers,
)

# The tutorial CNN's feature layers (150x150 input).
CNN = [
    LayerInfo("conv2d", (148, 148, 32), "Conv2D", True, 16),
    LayerInfo("max_pooling2d", (74, 74, 32), "MaxPooling2D"),
    LayerInfo("conv2d_1", (72, 72, 64), "Conv2D", True, 16),
    LayerInfo("max_pooling2d_1", (36, 36, 64), "MaxPooling2D"),
    LayerInfo("conv2d_2", (34, 34, 128), "Conv2D", True, 28),
    LayerInfo("max_pooling2d_2", (17, 17, 128), "MaxPooling2D"),
    LayerInfo("conv2d_3", (15, 15, 128), "Conv2D", True, 60),
    LayerInfo("max_pooling2d_3", (7, 7, 128), "MaxPooling2D"),
]

# The shape of a ResNet: padding layers, branches at one resolution, a 1x1 squeeze map.
RESNET_LIKE = [
    LayerInfo("conv1_pad", (230, 230, 3), "ZeroPadding2D"),
    LayerInfo("conv1_conv", (112, 112, 64), "Conv2D", True),
    LayerInfo("conv1_relu", (112, 112, 64), "Activation"),
    LayerInfo("pool1_pad", (114, 114, 64), "ZeroPadding2D"),
    LayerInfo("pool1_pool", (56, 56, 64), "MaxPooling2D"),
    LayerInfo("conv2_block1_0_conv", (56, 56, 256), "Conv2D", True),
    LayerInfo("conv2_block1_out", (56, 56, 256), "Activation"),
    LayerInfo("conv2_block2_out", (56, 56, 256), "Activation"),
    LayerInfo("conv3_block1_1_conv", (28, 28, 128), "Conv2D", True),
    LayerInfo("conv3_block1_out", (28, 28, 512), "Activation"),
    LayerInfo("se_squeeze", (1, 1, 512), "Conv2D", True),
    LayerInfo("conv3_block2_bn", (28, 28, 512), "BatchNormalization"),
]


def test_stage_layers_are_the_last_map_at_each_resolution():
    assert stage_layers(CNN, "max_pooling2d_3") == [info.name for info in CNN]  # all 8 for the tutorial CNN
    # pool1_pool shares 56x56 with conv2_*: one stage, represented by its last map.
    assert stage_layers(RESNET_LIKE, None) == ["conv1_relu", "conv2_block2_out", "conv3_block2_bn"]
    # The Grad-CAM layer is added where it is not a stage already.
    assert stage_layers(RESNET_LIKE, "conv3_block1_out") == [
        "conv1_relu",
        "conv2_block2_out",
        "conv3_block1_out",
        "conv3_block2_bn",
    ]


def test_filter_stage_layers_skip_pooling_and_normalisation():
    assert filter_stage_layers(CNN) == ["conv2d", "conv2d_1", "conv2d_2", "conv2d_3"]
    assert filter_stage_layers(RESNET_LIKE) == ["conv1_relu", "conv2_block2_out", "conv3_block1_out"]


def test_rotation_draws_fixed_subset_every_pass_and_covers_every_filter():
    rot = FilterRotation("conv5", channels=300, window=64, seed=0)
    assert len(rot.fixed) == 16 and rot.fixed == sorted(set(rot.fixed))
    assert rot.fixed == FilterRotation("conv5", 300, 64, seed=0).fixed  # seeded: the same every time
    assert rot.fixed != FilterRotation("conv5", 300, 64, seed=1).fixed
    assert rot.windows == 5
    seen: set[int] = set()
    windows = []
    for _ in range(rot.windows):
        filters, window, _following = rot.take()
        assert filters[:16] == rot.fixed and len(filters) == 16 + 64  # a constant tile count
        seen.update(filters[16:])
        windows.append(window)
    assert seen == set(range(300))
    # The last window ends at the last filter (it overlaps the one before rather than shrink).
    assert windows == [(0, 63), (64, 127), (128, 191), (192, 255), (236, 299)]
    assert rot.take()[1] == (0, 63)  # and round again


def test_rotation_of_a_narrow_layer_is_the_whole_layer():
    rot = FilterRotation("conv1", channels=32, window=128)
    assert rot.fixed == [] and rot.window == 32 and rot.windows == 1
    assert rot.take() == (list(range(32)), (0, 31), (0, 31))
    # No wider than a fixed subset plus a window: the whole layer, no filter twice (it drew 8 + 4 tiles, 4 twice).
    small = FilterRotation("conv1", channels=8, window=4)
    assert small.fixed == [] and small.take() == (list(range(8)), (0, 7), (0, 7))
    edge = FilterRotation("conv2", channels=144, window=128)
    assert edge.fixed == [] and len(edge.take()[0]) == 144
    wider = FilterRotation("conv3", channels=145, window=128)
    assert len(wider.fixed) == 16 and len(wider.take()[0]) == 144


def test_planner_choices_for_a_cost_table():
    """Budget 0.05 of 100 s epochs over a 10-epoch run; steady work 1 s per epoch; two filter layers."""
    infos = [LayerInfo("a", (32, 32, 8), "Conv2D", True, 16), LayerInfo("b", (16, 16, 200), "Conv2D", True, 32)]
    planner = Planner(infos, ["a", "b"], ["a", "b"], True, Budget(0.05), window=64, input_pixels=1024)
    planner.pass_seconds, planner.trace_seconds = 0.001, 0.1  # priors: a ~0.14 s, b ~1.5 s
    planner.measure({"activations": 0.5, "gradcam": 0.5})
    # Epoch 0: the room is what the whole run can afford: 0.05 * 1000 s - 10 epochs * 1 s = 40 s.
    p0 = planner.plan(0, 10, 100.0)
    assert p0.room == pytest.approx(40.0)
    assert p0.activations == ["a", "b"] and p0.gradcam
    assert list(p0.filters) == ["a", "b"] and p0.filters["a"] == list(range(8))
    assert (
        p0.windows["b"]["window"] == [0, 63] and p0.windows["b"]["of"] == 200 and p0.windows["b"]["next"] == [64, 127]
    )
    planner.record(p0, {"activations": 0.5, "gradcam": 0.5, "filters/a": 2.0, "filters/b": 10.0})
    assert planner.spent == pytest.approx(13.0)
    # Epoch 1: allowed 0.05 * 200 = 10 s, spent 13 s, this epoch's steady 1 s: no room.
    planner.measure({"activations": 0.5, "gradcam": 0.5})
    p1 = planner.plan(1, 10, 100.0)
    assert p1.filters == {} and set(p1.skipped) == {"a", "b"} and p1.room == pytest.approx(-4.0)
    assert p1.activations == ["a", "b"] and p1.gradcam  # activations and Grad-CAM every logged epoch
    planner.record(p1, {"activations": 0.5, "gradcam": 0.5})
    # Epochs 2..: 4 s of room per epoch. The least recently drawn layer goes first; when it does not fit,
    # the room is saved up for it, so "b" (10 s) is not starved by "a" (2 s).
    drawn = {}
    for epoch in range(2, 9):
        planner.measure({"activations": 0.5, "gradcam": 0.5})
        p = planner.plan(epoch, 10, 100.0)
        drawn[epoch] = list(p.filters)
        costs = {"activations": 0.5, "gradcam": 0.5} | {f"filters/{n}": {"a": 2.0, "b": 10.0}[n] for n in p.filters}
        planner.record(p, costs)
        assert planner.spent <= 0.05 * planner.train_seconds + 13.0 - 10.0  # never further over than epoch 0 left it
    assert drawn == {2: [], 3: ["a"], 4: [], 5: ["b"], 6: ["a"], 7: [], 8: ["b"]}
    # The cumulative budget holds once epoch 0's dear pass is paid back.
    assert planner.spent <= 0.05 * planner.train_seconds
    # "b" drawn least recently and too dear for the 4 s of room: an ordinary epoch saves up for it and draws
    # nothing; the last epoch saves up for nothing and draws "a".
    planner._last_drawn = {"a": 8, "b": 6}
    planner.measure({"activations": 0.5, "gradcam": 0.5})
    saving = copy.deepcopy(planner).plan(9, 20, 100.0)
    assert saving.room == pytest.approx(50.0 - 45.0 - 1.0) and saving.filters == {}
    last = planner.plan(9, 10, 100.0, last=True)
    assert last.room == pytest.approx(4.0) and list(last.filters) == ["a"] and "b" in last.skipped


def test_planner_is_deterministic_and_unlimited_draws_everything():
    infos = [LayerInfo("a", (32, 32, 300), "Conv2D", True, 16)]

    def run() -> list[tuple[int, ...]]:
        planner = Planner(infos, ["a"], ["a"], True, Budget(None), window=100)
        out = []
        for epoch in range(4):
            p = planner.plan(epoch, None, 1.0)
            assert math.isinf(p.room) and p.windows["a"]["next_epoch"] == epoch + 1
            out.append(tuple(p.filters["a"]))
            planner.record(p, {"filters/a": 5.0})
        return out

    first = run()
    assert first == run()
    assert [len(t) for t in first] == [116] * 4


def test_budget_seconds_is_per_logged_epoch():
    budget = Budget.from_args(0.05, 2.0)
    assert (budget.fraction, budget.seconds) == (None, 2.0)
    assert budget.allowed(train_seconds=1000.0, epochs=3) == 6.0
    assert Budget.from_args(None, None).unlimited


@pytest.mark.parametrize(
    "budget, seconds, error, match",
    [
        (0, None, ValueError, "budget=0"),
        (-0.1, None, ValueError, "budget=-0.1"),
        (float("nan"), None, ValueError, "budget=nan"),
        ("5%", None, TypeError, "budget='5%'"),
        (0.05, 0, ValueError, "budget_seconds=0"),
        (0.2, 3.0, ValueError, "not both"),
    ],
)
def test_bad_budgets_name_the_value(budget, seconds, error, match):
    with pytest.raises(error, match=match):
        Budget.from_args(budget, seconds)


def test_grow_adds_layers_in_model_order_while_bytes_allow():
    planner = Planner(CNN, ["conv2d_3"], [], True, Budget(0.05), max_bytes=1000)
    planner.measure({"activations": 0.1, "gradcam": 0.1})
    p = planner.plan(0, 10, 100.0)
    planner.record(p, {"activations": 0.1, "gradcam": 0.1}, bytes_written=400)
    estimates = {info.name: 250.0 for info in CNN}
    padded = Planner(RESNET_LIKE, ["conv3_block2_bn"], [], True, Budget(0.05), max_bytes=1000)
    padded.record(padded.plan(0, 10, 100.0), {"activations": 0.1}, bytes_written=400)
    assert padded.grow_layers({info.name: 250.0 for info in RESNET_LIKE}) == ["conv1_conv", "conv1_relu"]
    assert planner.grow_layers(estimates) == ["conv2d", "max_pooling2d"]  # 400 + 2 * 250 <= 1000 < 400 + 3 * 250
    assert planner.activation_layers == ["conv2d", "max_pooling2d", "conv2d_3"]
    assert planner.grow_layers(estimates) == []  # once


def test_extras_and_filter_layers_take_turns_when_one_fits_per_epoch() -> None:
    """Each epoch affords one task (1 s per epoch, every task costs 1 s): they rotate, the least recently
    drawn first, extras first among equals; the others are skipped with the reason."""
    planner = Planner(
        CNN, ["conv2d"], ["conv2d_3"], True, Budget(fraction=None, seconds=1.0), extras=["metrics", "exemplars"]
    )
    planner.measure({"activations": 0.0, "gradcam": 0.0, "metrics": 1.0, "exemplars": 1.0, "filters/conv2d_3": 1.0})
    drawn = []
    for epoch in range(6):
        plan = planner.plan(epoch, None, train_seconds=12.0)
        drawn.append(plan.extras + list(plan.filters))
        assert set(plan.skipped) == {"metrics", "exemplars", "conv2d_3"} - set(drawn[-1])
        planner.record(plan, {task: 1.0 for task in drawn[-1]})
    assert drawn == [["metrics"], ["exemplars"], ["conv2d_3"], ["metrics"], ["exemplars"], ["conv2d_3"]]


def test_the_last_epoch_draws_the_measures_only_when_the_run_can_pay_for_them() -> None:
    """0.1 s per epoch over 3 epochs affords 0.3 s; the measures cost 5 s. No epoch keeps anything aside for them
    (the run could never pay), and the last epoch skips them with the rule, like the exemplars."""
    planner = Planner(CNN, ["conv2d"], [], True, Budget(fraction=None, seconds=0.1), extras=["metrics", "exemplars"])
    planner.measure({"activations": 0.0, "gradcam": 0.0, "metrics": 5.0, "exemplars": 5.0})
    middle = planner.plan(0, 3, train_seconds=10.0)
    assert middle.reserved == 0.0 and middle.room == pytest.approx(0.3) and middle.extras == []
    assert middle.skipped == {
        "metrics": "needs ~5.00 s, the budget has 0.30 s left",
        "exemplars": "needs ~5.00 s, the budget has 0.30 s left",
    }
    planner.record(middle, {})
    last = planner.plan(2, 3, train_seconds=10.0, last=True)
    assert last.extras == [] and last.room == pytest.approx(0.2)
    assert last.skipped == {
        "metrics": "the run's budget has 0.20 s left, which cannot pay for the final measures (~5.00 s)",
        "exemplars": "needs ~5.00 s, the budget has 0.20 s left",
    }
    # Measures the run can pay for are drawn at the last epoch, first.
    planner.measure({"metrics": 0.15})
    cheap = copy.deepcopy(planner).plan(2, 3, train_seconds=0.0, last=True)
    assert cheap.extras == ["metrics"] and set(cheap.skipped) == {"exemplars"}


def test_earlier_epochs_keep_the_final_measures_aside_so_the_run_stays_within_the_budget() -> None:
    """1 s per epoch over 3 epochs: 3 s in all. The measures cost 1 s, and earlier epochs keep 1.5 times that
    aside; a filter pass costs 1.2 s. Epoch 0 may spend what the run can afford less the 1.5 s kept for the last
    epoch's measures; the last epoch draws the measures first, then what still fits. The run spends 2 s; without
    the reservation epoch 0 would also have drawn the filter pass, and the forced measures would have brought
    the run to 3.2 s."""
    planner = Planner(CNN, ["conv2d"], ["conv2d_3"], True, Budget(fraction=None, seconds=1.0), extras=["metrics"])
    planner.measure({"activations": 0.0, "gradcam": 0.0, "metrics": 1.0, "filters/conv2d_3": 1.2})
    drawn = []
    for epoch in range(3):
        plan = planner.plan(epoch, 3, train_seconds=10.0, last=epoch == 2)
        assert plan.reserved == (0.0 if epoch == 2 else 1.5)
        drawn.append(plan.extras + list(plan.filters))
        cost_tags = ["metrics" if task == "metrics" else f"filters/{task}" for task in drawn[-1]]
        planner.record(plan, {tag: planner.costs[tag] for tag in cost_tags})
    assert drawn == [["metrics"], [], ["metrics"]]
    assert planner.spent == pytest.approx(2.0) and planner.spent <= planner.budget.allowed(30.0, 3)
    record = planner.describe(plan, {}, 0.0, activations=[], grids={}, gradcam=None)
    assert record["reserved_seconds"] == 0.0 and record["over_budget"] is False


NEEDS = re.compile(r"needs ~(\d+\.\d+) s,? (?:while )?the budget has (\d+\.\d+) s left")
FINAL = re.compile(r"the run's budget has (\d+\.\d+) s left, which cannot pay for the final measures \(~(\d+\.\d+) s\)")
RULES = {
    rule: re.compile(
        re.escape(template)
        .replace(r"\{cost\}", r"\d+\.\d\d")
        .replace(r"\{left\}", r"\d+\.\d\d")
        .replace(r"\{reserved\}", r"\d+\.\d\d")
        .replace(r"\{blocker\}", r"\w+")
        .replace(r"\{spent\}", r"\d+\.\d\d")
        .replace(r"\{allowed\}", r"\d+\.\d\d")
    )
    for rule, template in SKIP_REASONS.items()
}


def test_each_skip_names_the_rule_that_applied() -> None:
    """2 s per epoch. Epoch 0 is not a filter epoch, draws the measures (1 s) and has 1 s left for the exemplars
    (3.2 s). Epoch 1 (of 10) has 4 - 1 s spent - 1.5 s kept for the last epoch's measures = 1.5 s: the
    exemplars (never drawn, so first) do not fit at all, "conv2d" (2 s) would but for the reservation, and
    "conv2d_3" and the measures fit but wait, as the room is saved up for the exemplars."""
    planner = Planner(
        CNN,
        ["conv2d"],
        ["conv2d", "conv2d_3"],
        True,
        Budget(fraction=None, seconds=2.0),
        extras=["metrics", "exemplars"],
    )
    planner.measure(
        {"activations": 0.0, "gradcam": 0.0, "metrics": 1.0, "exemplars": 3.2, "filters/conv2d": 2.0}
        | {"filters/conv2d_3": 0.3}
    )
    first = planner.plan(0, None, train_seconds=10.0, allow_filters=False)
    assert first.extras == ["metrics"] and first.filters == {}
    assert first.skipped == {
        "exemplars": "needs ~3.20 s, the budget has 1.00 s left",
        "conv2d": "not a filter epoch (filter_every_n_epochs)",
        "conv2d_3": "not a filter epoch (filter_every_n_epochs)",
    }
    planner.record(first, {"metrics": 1.0})
    second = planner.plan(1, 10, train_seconds=10.0)
    assert second.room == pytest.approx(1.5) and second.reserved == pytest.approx(1.5)
    assert second.extras == [] and second.filters == {}
    waits = (
        "fits, but waits: the room is saved up for exemplars (drawn less recently), which needs ~3.20 s "
        "while the budget has 1.50 s left"
    )
    assert second.skipped == {
        "exemplars": "needs ~3.20 s, the budget has 1.50 s left",
        "conv2d": "needs ~2.00 s, the budget has 1.50 s left after keeping 1.50 s for the Grad-CAM measures to come",
        "conv2d_3": waits,
        "metrics": waits,
    }
    assert set(SKIP_REASONS) == {"room", "reserved", "saving", "filter_epoch", "final", "light", "core"}


@pytest.mark.parametrize("seed", range(20))
def test_a_skip_never_says_it_needs_less_than_the_budget_has(seed: int) -> None:
    """Random cost tables and budgets over 6 epochs: every "needs ~X s, the budget has Y s left" has X > Y,
    however close the cost and the room are (costs rounded up, rooms down)."""
    rng = random.Random(seed)
    planner = Planner(
        CNN, ["conv2d"], filter_stage_layers(CNN), True, Budget(rng.choice([0.02, 0.05, 0.1])), extras=["metrics"]
    )
    reasons = []
    for epoch in range(6):
        costs = {"activations": rng.uniform(0, 0.2), "gradcam": rng.uniform(0, 0.2), "metrics": rng.uniform(0, 2)}
        costs |= {f"filters/{n}": round(rng.uniform(0, 3), rng.choice([2, 3, 6])) for n in planner.rotations}
        planner.measure(costs)
        plan = planner.plan(epoch, 6, train_seconds=rng.uniform(5, 30), last=epoch == 5)
        reasons += list(plan.skipped.values())
        planner.record(plan, {k: v for k, v in costs.items() if k in ("activations", "gradcam")})
    assert reasons
    for reason in reasons:
        assert any(pattern.fullmatch(reason) for pattern in RULES.values()), reason
        match, final = NEEDS.search(reason), FINAL.fullmatch(reason)
        assert match is not None or final is not None, reason
        needs, left = (match[1], match[2]) if match is not None else (final[2], final[1])  # type: ignore[index]
        assert float(needs) > float(left), reason


@pytest.mark.parametrize(
    "cost, left, shown",
    [(0.2701, 0.27, ("0.28", "0.27")), (0.27 + 1e-12, 0.27, ("0.28", "0.27")), (1.0, -3.0, ("1.00", "0.00"))],
)
def test_costs_are_rounded_up_and_rooms_down(cost: float, left: float, shown: tuple[str, str]) -> None:
    assert _needs(cost, left) == shown


def test_an_over_budget_core_draws_only_its_core_layers_until_the_run_has_paid_it_back() -> None:
    """Budget 0.05, 20 s epochs over 4 epochs (4 s in all). Epoch 0 costs 3 s of warm-up, 0.5 s of activations
    and Grad-CAM, then 0.1 s of the writer's CPU: 3.6 s. The core over the run comes to 3.6 + 3 x 0.6 = 5.4 s, so
    the callback says so; epoch 1 (2 s allowed) draws only the Grad-CAM layer, does not grow, and epoch 2 (5 s
    allowed, 3.95 s spent) draws every layer again."""
    planner = Planner(CNN, ["conv2d", "conv2d_1", "conv2d_3"], [], True, Budget(0.05), core_layers=["conv2d_3"])
    assert planner.core_activations(20.0) == (["conv2d", "conv2d_1", "conv2d_3"], {})  # the first epoch: all
    planner.add_warm_up(3.0)
    planner.measure({"activations": 0.3, "gradcam": 0.2})
    first = planner.plan(0, 4, 20.0)
    planner.record(first, {"activations": 0.3, "gradcam": 0.2}, bytes_written=400)
    planner.add_writer(0.1)
    assert planner.spent == pytest.approx(3.6) and planner.writer_per_epoch() == pytest.approx(0.1)
    assert planner.steady_cost() == pytest.approx(0.6)
    assert planner.core_outlook(4) == pytest.approx((5.4, 4.0))
    assert planner.grow_layers({info.name: 1.0 for info in CNN}) == [] and planner.grown  # no growing in debt
    layers, skipped = planner.core_activations(20.0)
    reason = "over budget: the callback has spent 3.60 s of the 2.00 s allowed so far; drawn again once the run has "
    assert layers == ["conv2d_3"]
    assert skipped == {f"activations/{n}": reason + "paid that back" for n in ("conv2d", "conv2d_1")}
    planner.measure({"activations": 0.1, "gradcam": 0.2})
    second = planner.plan(1, 4, 20.0, activations=layers)
    assert second.activations == ["conv2d_3"]
    planner.record(second, {"activations": 0.1, "gradcam": 0.2})
    planner.add_writer(0.05)
    assert planner.full_activations == pytest.approx(0.3)  # what drawing them all costs, from epoch 0
    # 3.95 s spent + 0.3 + 0.2 + 0.075 s of this epoch's core <= 0.05 x 100 s.
    assert planner.core_activations(60.0) == (["conv2d", "conv2d_1", "conv2d_3"], {})
    record = planner.describe(second, {}, 0.0, activations=second.activations, grids={}, gradcam=None)
    assert record["writer_seconds"] == 0.15 and record["warm_up_seconds"] == 3.0 and record["estimates"] == {}


# -- checks that form curves: light draws of the measures between the full ones -------------------------------------


def checks_planner(seconds: float, **kwargs: object) -> Planner:
    """The measures alone (a full draw 1 s, a light one 0.3 s), ``seconds`` of budget per epoch."""
    planner = Planner(CNN, ["conv2d"], [], True, Budget(fraction=None, seconds=seconds), extras=["metrics"], **kwargs)  # type: ignore[arg-type]
    planner.measure({"activations": 0.0, "gradcam": 0.0, "metrics": 1.0, LIGHT_CHECKS: 0.3})
    return planner


def run_checks(planner: Planner, epochs: int) -> list[str | None]:
    variants = []
    for epoch in range(epochs):
        plan = planner.plan(epoch, epochs, train_seconds=10.0, last=epoch == epochs - 1)
        variants.append(plan.checks)
        assert (plan.checks is not None) == ("metrics" in plan.extras)
        planner.record(plan, {"metrics": 1.0 if plan.checks == "full" else 0.3} if plan.checks else {})
    return variants


def test_the_measures_are_full_at_the_first_and_last_epoch_and_light_in_between_while_the_room_is_short() -> None:
    """1 s per epoch over 6 epochs. Epoch 0 draws them in full (from what the run can afford). Epochs 1-3 draw
    them light: epoch 1 has -0.5 s of room after keeping 1.5 s for the last epoch's measures, but a light draw
    may spend that reservation while the run can still pay it; the full draw's extra 0.7 s does not fit until
    epoch 4 (1.6 s of room - 0.3 s). The last epoch draws them in full. Without light draws, epochs 1 and 2
    draw none. At 0.6 s per epoch, light draws make 5 epochs of 6 where there were 2."""
    planner = checks_planner(1.0, light_checks=True)
    assert run_checks(planner, 6) == ["full", "light", "light", "light", "full", "full"]
    assert planner.spent == pytest.approx(3.9) and planner.spent <= planner.budget.allowed(60.0, 6)
    assert run_checks(checks_planner(1.0), 6) == ["full", None, None, "full", "full", "full"]
    tight = checks_planner(0.6, light_checks=True)
    assert run_checks(tight, 6) == ["full", None, "light", "light", "light", "full"]
    assert tight.spent == pytest.approx(2.9) and tight.spent <= tight.budget.allowed(60.0, 6)
    assert run_checks(checks_planner(0.6), 6) == ["full", None, None, None, None, "full"]


def test_a_light_draw_spends_the_reservation_only_while_the_run_can_pay_it_and_says_when_it_does_not_fit() -> None:
    """0.5 s per epoch over 4 epochs (2 s in all); a full draw 0.5 s, a light one 0.2 s."""
    planner = Planner(
        CNN, ["conv2d"], [], True, Budget(fraction=None, seconds=0.5), extras=["metrics"], light_checks=True
    )
    planner.measure({"activations": 0.0, "gradcam": 0.0, "metrics": 0.5, LIGHT_CHECKS: 0.2})
    first = planner.plan(0, 4, train_seconds=10.0)
    # The run's 2 s, less 1.5 x 0.5 s for the last epoch's measures.
    assert first.checks == "full" and first.room == pytest.approx(2.0 - 0.75)
    planner.record(first, {"metrics": 0.5})
    second = planner.plan(1, 4, train_seconds=10.0)
    assert second.room == pytest.approx(-0.25) and second.reserved == pytest.approx(0.75)
    assert second.checks == "light" and second.extras == ["metrics"] and second.skipped == {}
    planner.record(second, {"metrics": 0.2})
    assert planner.costs == {"activations": 0.0, "gradcam": 0.0, "metrics": 0.5, LIGHT_CHECKS: 0.2}
    planner.add_overhead(0.7)  # now the run cannot pay for the reservation: nothing to borrow
    third = planner.plan(2, 4, train_seconds=10.0)
    assert third.reserved == 0.0 and third.checks is None and third.extras == []
    assert third.skipped == {"metrics": "a light draw needs ~0.20 s, the budget has 0.10 s left"}
    assert RULES["light"].fullmatch(third.skipped["metrics"])
    record = planner.describe(third, {}, 0.0, activations=[], grids={}, gradcam=None, checks={"steps": 5})
    assert record["checks"] is None
    planner.record(third, {})
    last = planner.plan(3, 4, train_seconds=10.0, last=True)
    assert last.checks == "full"
    detail = {"variant": "ignored", "steps": 10, "random_draws": 8, "probes": 4, "drift_from": 1}
    record = planner.describe(last, {}, 0.0, activations=[], grids={}, gradcam=None, checks=detail)
    assert record["checks"] == detail | {"variant": "full"}


def test_the_full_draws_extra_cost_waits_its_turn_behind_a_task_saved_up_for() -> None:
    """A filter layer (3 s) is saved up for: the light draws go on at every epoch, but the full one does not
    jump the queue while the room builds up for the filters; it takes its turn like any other task."""
    planner = Planner(
        CNN, ["conv2d"], ["conv2d_3"], True, Budget(fraction=None, seconds=1.0), extras=["metrics"], light_checks=True
    )
    planner.measure({"activations": 0.0, "gradcam": 0.0, "metrics": 0.5, LIGHT_CHECKS: 0.2, "filters/conv2d_3": 3.0})
    drawn = []
    for epoch in range(8):
        plan = planner.plan(epoch, None, train_seconds=10.0)
        drawn.append((plan.checks, list(plan.filters)))
        costs = {"metrics": 0.5 if plan.checks == "full" else 0.2} if plan.checks else {}
        planner.record(plan, costs | {f"filters/{n}": 3.0 for n in plan.filters})
    assert drawn == [
        ("full", []),  # 1 s; the filters (3 s) are saved up for
        ("light", []),  # the full draw's extra 0.3 s would fit, but the room is saved up for the filters
        ("light", []),
        ("light", []),
        ("full", ["conv2d_3"]),  # 3.9 s of room: the filters first (drawn less recently), then the full draw
        ("full", []),  # both drawn at epoch 4: extras first among equals
        ("light", []),  # the filters' turn again: saved up for
        ("light", []),
    ]


def test_setup_seconds_are_spent_but_left_out_of_the_next_estimate_and_unlimited_draws_full() -> None:
    planner = Planner(
        CNN, ["conv2d"], [], True, Budget(fraction=None, seconds=1.0), extras=["metrics"], light_checks=True
    )
    planner.measure({"activations": 0.0, "gradcam": 0.0})
    planner.priors.update({"metrics": 1.0, LIGHT_CHECKS: 0.5})
    assert planner._light_estimate() == pytest.approx(0.75)  # 1.5 x its prior until a full draw is measured
    plan = planner.plan(0, 6, train_seconds=10.0)
    planner.record(plan, {"metrics": 1.4}, setup={"metrics": 0.6})
    assert planner.spent == pytest.approx(1.4) and planner.costs["metrics"] == pytest.approx(0.8)
    planner.light_share = 0.4  # then the share of the measured full draw that the work model gives
    assert planner._light_estimate() == pytest.approx(0.32)
    unlimited = Planner(CNN, ["conv2d"], [], True, Budget(fraction=None), extras=["metrics"], light_checks=True)
    assert run_checks(unlimited, 4) == ["full"] * 4  # featureviz watch: the full measures at every checkpoint


def test_the_first_epoch_keeps_a_light_draw_for_every_other_epoch_from_its_other_tasks_not_from_the_measures() -> None:
    """1 s per epoch over 6 epochs (6 s); the measures 1 s (1.5 s kept for the last epoch's), a light draw 0.3 s,
    a filter pass 2.5 s. Epoch 0 has 4.5 s: the measures' first draw takes 1 s of it; of the 3.5 s left, 0.6 s
    (two light draws for epochs 1-4) are kept from the filters, which do not fit the 2.9 s that remain."""
    planner = Planner(
        CNN, ["conv2d"], ["conv2d_3"], True, Budget(fraction=None, seconds=1.0), extras=["metrics"], light_checks=True
    )
    planner.measure({"activations": 0.0, "gradcam": 0.0, "metrics": 1.0, LIGHT_CHECKS: 0.3, "filters/conv2d_3": 3.0})
    assert planner.curve_reservation(0, 6) == pytest.approx(0.6)
    first = copy.deepcopy(planner).plan(0, 6, train_seconds=10.0)
    assert first.room == pytest.approx(4.5) and first.checks == "full" and first.filters == {}
    assert first.skipped == {
        "conv2d_3": "needs ~3.00 s, the budget has 2.90 s left after keeping 2.10 s for the Grad-CAM measures to come"
    }
    planner.measure({"filters/conv2d_3": 2.8})
    assert planner.plan(0, 6, train_seconds=10.0).filters != {}
