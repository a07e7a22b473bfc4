"""Each writer option is declared once (``WriterOptions``); the callback's signature and docs are checked here."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

from tb_featureviz.writer.callback import FeatureVizCallback
from tb_featureviz.writer.options import WriterOptions
from tb_featureviz.writer.planner import Budget

SPECIAL = {"budget"}  # the callback takes a fraction and budget_seconds, the options hold their Budget


def _callback_parameters() -> dict[str, inspect.Parameter]:
    return dict(inspect.signature(FeatureVizCallback.__init__).parameters)


def test_every_option_is_a_callback_keyword_with_the_same_default() -> None:
    params = _callback_parameters()
    for f in dataclasses.fields(WriterOptions):
        assert f.name in params, f"FeatureVizCallback lacks the option {f.name!r}"
        assert params[f.name].kind is inspect.Parameter.KEYWORD_ONLY, f.name
        if f.name in SPECIAL:
            continue
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        callback_default = params[f.name].default
        # hparams: the callback's None stands for "no hyper-parameters", the options' {}.
        assert callback_default == default or (callback_default is None and default == {}), f.name


def test_every_option_is_documented_in_the_callback_args() -> None:
    doc = inspect.getdoc(FeatureVizCallback) or ""
    args = doc.split("Args:", 1)[1].split("Raises:", 1)[0]
    lines = [line.strip() for line in args.splitlines() if line.startswith("    ") and ":" in line]
    documented = {line.split(":", 1)[0] for line in lines}
    missing = [f.name for f in dataclasses.fields(WriterOptions) if f.name not in documented]
    assert missing == []
    assert {"budget_seconds", "visualize", "num_probes"} <= documented


def test_shared_and_local_are_derived_in_declaration_order() -> None:
    # SHARED is the order of to_json, so of the run_info records a callback writes: it must not move.
    assert WriterOptions.SHARED == (
        "filter_patterns",
        "filter_layers",
        "filter_every_n_epochs",
        "max_filters",
        "filter_steps",
        "filter_parameterization",
        "gradcam",
        "gradcam_layer",
        "gradcam_overlays",
        "faithfulness",
        "exemplars",
        "max_grid_pixels",
        "max_bytes_per_epoch",
        "class_names",
        "hparams",
        "log_metrics",
        "seed",
    )
    assert WriterOptions.LOCAL == ("layers", "budget", "input_range", "preprocess", "deprocess")
    assert set(WriterOptions.SHARED) | set(WriterOptions.LOCAL) == {f.name for f in dataclasses.fields(WriterOptions)}


def test_the_callback_forwards_every_option(tmp_path) -> None:
    cb = FeatureVizCallback(
        tmp_path,
        layers=["conv"],
        filter_patterns=0,
        filter_layers=["conv"],
        filter_every_n_epochs=3,
        max_filters=7,
        filter_steps=11,
        filter_parameterization="pixel",
        gradcam=0,
        gradcam_layer="conv",
        gradcam_overlays=1,
        faithfulness=0,
        exemplars=2,
        max_grid_pixels=1000,
        max_bytes_per_epoch=2000,
        budget_seconds=1.5,
        class_names=("a", "b"),
        hparams={"lr": 0.1},
        log_metrics=0,
        seed=9,
        input_range=(0, 255),
    )
    o = cb.options
    assert o.to_json() == {
        "filter_patterns": False,
        "filter_layers": ["conv"],
        "filter_every_n_epochs": 3,
        "max_filters": 7,
        "filter_steps": 11,
        "filter_parameterization": "pixel",
        "gradcam": False,
        "gradcam_layer": "conv",
        "gradcam_overlays": True,
        "faithfulness": False,
        "exemplars": 2,
        "max_grid_pixels": 1000,
        "max_bytes_per_epoch": 2000,
        "class_names": ["a", "b"],
        "hparams": {"lr": 0.1},
        "log_metrics": False,
        "seed": 9,
        "layers": ["conv"],
    }
    assert o.budget == Budget.from_args(0.05, 1.5)
    assert o.input_range == (0.0, 255.0)
    assert (o.preprocess, o.deprocess) == (None, None)


def test_a_bad_option_still_names_itself() -> None:
    with pytest.raises(ValueError, match="max_filters"):
        WriterOptions(max_filters=0)
    with pytest.raises(TypeError, match="class_names"):
        WriterOptions(class_names=[1, 2])  # type: ignore[list-item]
