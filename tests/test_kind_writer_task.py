"""A kind's writer task (``Kind.writer_task``): registered in the registry, priced, planned, run and recorded.

The kind here is a made-up ``dormant`` one: the share of the first conv layer's channels whose weights are all
zero, as a scalar. Nothing of the writer names it: the registry line is all it takes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import numpy as np
import pytest
import tensorflow as tf

from tb_featureviz import kinds
from tb_featureviz.kinds.base import Kind
from tb_featureviz.writer.callback import FeatureVizCallback
from tests.support.events import read_run
from tests.support.models import tiny_data, tiny_model

TAG = "dormant/fraction"


class DormantTask:
    name = "dormant"

    def __init__(self) -> None:
        self.values: dict[int, float] = {}
        self.priced = 0

    def prior(self, viz, costs: Mapping[str, float]) -> float:
        self.priced += 1
        return 0.0

    def __call__(self, viz, step: int) -> list:
        kernel = next(w for w in viz.model.weights if len(w.shape) == 4)
        per_channel = np.abs(np.asarray(kernel)).reshape(-1, kernel.shape[-1]).max(axis=0)
        value = float(np.mean(per_channel == 0))
        self.values[step] = value
        return [lambda: tf.summary.scalar(TAG, value, step=step)]


TASKS: list[DormantTask] = []


def _fit(model, x, y, cb, *, epochs: int) -> None:
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=epochs, batch_size=8, verbose=0, callbacks=[cb])


def dormant_task(viz) -> DormantTask | None:
    """The ``writer_task`` of the made-up kind: one task per bound visualizer."""
    task = DormantTask()
    TASKS.append(task)
    return task


@pytest.fixture
def dormant_kind(monkeypatch: pytest.MonkeyPatch) -> None:
    kind = Kind(
        name="dormant",
        tag_prefix="",
        label="Dormant units",
        noun="dormant units",
        view=False,
        layered=False,
        stored=False,
        scalar_prefixes=("dormant/",),
        writer_task=f"{__name__}:dormant_task",
    )
    monkeypatch.setitem(kinds.REGISTRY, "dormant", kind)
    TASKS.clear()


def test_a_registered_writer_task_is_planned_run_and_recorded(tmp_path, dormant_kind) -> None:
    model = tiny_model()
    x, y = tiny_data()
    kernel = next(w for w in model.weights if len(w.shape) == 4)
    zeroed = np.asarray(kernel).copy()
    zeroed[..., :2] = 0.0  # two dormant channels at the start; training wakes them up or not
    kernel.assign(zeroed)
    cb = FeatureVizCallback(tmp_path, x[:3], class_names=["a", "b"], filter_patterns=False, budget=None)
    _fit(model, x, y, cb, epochs=2)

    [task] = TASKS
    assert task.priced >= 1
    assert sorted(task.values) == [0, 1]
    assert task.values[0] <= 2 / kernel.shape[-1]
    run = read_run(tmp_path / "featureviz")
    assert {step: pytest.approx(task.values[step]) for step in (0, 1)} == {
        step: float(v) for step, v in run[TAG].values.items()
    }
    assert sorted(run["cost/dormant_seconds"].values) == [0, 1]
    plans = {step: json.loads(bytes(v[0]).decode()) for step, v in run["plan"].values.items()}
    assert all("dormant" in p["extras"] for p in plans.values())


def test_without_a_writer_task_nothing_changes(tmp_path) -> None:
    model = tiny_model()
    x, y = tiny_data()
    cb = FeatureVizCallback(tmp_path, x[:3], class_names=["a", "b"], filter_patterns=False, budget=None)
    _fit(model, x, y, cb, epochs=1)
    run = read_run(tmp_path / "featureviz")
    assert not any(tag.startswith("dormant/") or tag == "cost/dormant_seconds" for tag in run)
