"""``tb_featureviz.export.options``: one frozen ``ExportOptions``, checked once where an export enters.

Each bad value is refused by ``ExportOptions`` itself with a message naming it; the layers under the
entries (plan, read, render, write) take the object whole, with no loose option arguments, and an export
through any entry (Python, the command line, the plugin's route) checks its options exactly once.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import re
from typing import Any

import numpy as np
import pytest
from tensorboard import errors as tb_errors
from tensorboard.context import RequestContext

from tb_featureviz.export import ExportArgumentError, ExportOptions, export
from tb_featureviz.export.api import export_from_reader, render_outputs, write_export
from tb_featureviz.export.cli import add_export_arguments, export_options, run_export
from tb_featureviz.export.collect import read_plan
from tb_featureviz.export.figures import figure_pixels, gif_animation, png_figure
from tb_featureviz.export.html import render_html
from tb_featureviz.export.options import EpochSelection
from tb_featureviz.export.selection import plan_export
from tb_featureviz.export.writers import gif_outputs, html_outputs, png_outputs
from tb_featureviz.plugin.export_route import handle_export, query_options
from tb_featureviz.reader import open_logdir

LOOSE = {"epochs", "kinds", "layers", "format", "colormap", "scale", "caption", "channel", "probe"}
"""The option arguments that only the entries (``export``, ``collect``, ``ExportOptions.parse``) take."""


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"format": "docx"}, "unknown format 'docx'; choose from html, pdf, png, svg, gif, zip"),
        ({"format": "gif", "detail": "summary"}, "format gif holds stored images only"),
        ({"format": "pdf", "detail": "full"}, "format pdf is drawn from the summary's figures"),
        ({"detail": "brief"}, "unknown detail 'brief'; choose from summary, full"),
        ({"colormap": "jet"}, "Unknown colour map 'jet'. Choose one of: gray, viridis, magma, inferno."),
        ({"scale": 0}, "scale must be a positive int. Received: scale=0"),
        ({"scale": 65}, "scale must be an int from 1 to 64. Received: scale=65"),
        ({"scale": "2"}, "scale must be a positive int. Received: scale='2'"),
        ({"scale": True}, "scale must be a positive int. Received: scale=True"),
        ({"probe": -1}, "probe must be an int >= 0. Received: probe=-1"),
        ({"probe": 1.5}, "probe must be an int >= 0. Received: probe=1.5"),
        ({"channel": "3"}, "channel must be an int >= 0. Received: channel='3'"),
        ({"kinds": "activations,bogus"}, "unknown kind 'bogus'; choose from activations, filters, gradcam"),
        ({"epochs": "first"}, "Received: epochs='first'"),
        ({"epochs": "9-3"}, "epoch range '9-3' is empty"),
        ({"epochs": True}, "Received: True"),
    ],
)
def test_each_bad_value_is_refused_naming_it(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ExportArgumentError, match=re.escape(message)) as raised:
        ExportOptions.parse("exp1", **settings)
    assert isinstance(raised.value, ValueError) and isinstance(raised.value, tb_errors.InvalidArgumentError)
    assert str(raised.value).count("Received") <= 1


@pytest.mark.parametrize("runs", ["", " , ", [], [""]])
def test_no_run_is_refused(runs: Any) -> None:
    with pytest.raises(ExportArgumentError, match="no run given; name at least one run"):
        ExportOptions.parse(runs)


def test_a_run_that_is_not_a_name_or_a_list_is_refused() -> None:
    with pytest.raises(
        ExportArgumentError, match=re.escape("runs must be a run name or a list of them. Received: runs=5")
    ):
        ExportOptions.parse(5)  # type: ignore[arg-type]


def test_a_long_bad_value_is_clipped_in_the_message() -> None:
    with pytest.raises(ExportArgumentError) as raised:
        ExportOptions.parse("exp1", probe="9" * 5000)
    assert "(5000 characters)" in str(raised.value) and len(str(raised.value)) < 300


def test_direct_construction_is_checked_too() -> None:
    """Every ``ExportOptions`` is valid, however it was made."""
    with pytest.raises(ExportArgumentError, match=re.escape("scale=0")):
        ExportOptions(runs=("exp1",), scale=0)
    with pytest.raises(ExportArgumentError, match="kinds must be a tuple of kind names"):
        ExportOptions(runs=("exp1",), kinds="filters")  # type: ignore[arg-type]
    with pytest.raises(ExportArgumentError, match="layers must be a tuple of layer names"):
        ExportOptions(runs=("exp1",), layers="conv2d")  # type: ignore[arg-type]
    with pytest.raises(ExportArgumentError, match=re.escape("epochs must be 'last', 'all' or an EpochSelection")):
        ExportOptions(runs=("exp1",), epochs="0-3")
    with pytest.raises(ExportArgumentError, match="no run given"):
        ExportOptions(runs=())


def test_parse_normalises_the_written_forms() -> None:
    options = ExportOptions.parse(
        ["exp1", "lr=1e-4,bs=20"],
        epochs="0-9, 20",
        kinds="gradcam, activations",
        layers="conv2d, conv2d_1, conv2d",
        format="gif",
        colormap="magma",
        scale=np.int64(3),
        caption=0,
        channel=np.int32(2),
        probe=0,
    )
    assert options == ExportOptions(
        runs=("exp1", "lr=1e-4,bs=20"),
        epochs=EpochSelection(epochs=(20,), ranges=((0, 9),)),
        kinds=("activations", "gradcam"),
        layers=("conv2d", "conv2d_1"),
        format="gif",
        colormap="magma",
        scale=3,
        caption=False,
        channel=2,
        probe=0,
    )
    assert type(options.scale) is int and type(options.channel) is int
    assert ExportOptions.parse("exp1", kinds="all").kinds == ExportOptions.parse("exp1").kinds
    assert ExportOptions.parse("exp1", epochs=None, detail="full").epochs == "last"
    # A summary's default is every epoch (its filmstrips pick at most six); html, pdf, png, svg default to it.
    assert ExportOptions.parse("exp1").epochs == "all"
    assert [ExportOptions.parse("exp1", format=f).detail for f in ("html", "pdf", "png", "svg", "gif", "zip")] == [
        "summary",
        "summary",
        "summary",
        "summary",
        "full",
        "full",
    ]


def test_options_are_frozen_and_unknown_settings_are_a_type_error() -> None:
    options = ExportOptions.parse("exp1")
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.scale = 2  # type: ignore[misc]
    with pytest.raises(TypeError, match="colour"):
        ExportOptions.parse("exp1", colour="gray")


@pytest.mark.parametrize(
    "function",
    [
        plan_export,
        read_plan,
        export_from_reader,
        render_outputs,
        write_export,
        html_outputs,
        png_outputs,
        gif_outputs,
        render_html,
        figure_pixels,
        png_figure,
        gif_animation,
    ],
    ids=lambda f: f.__qualname__,
)
def test_layers_below_the_entries_take_the_options_whole(function: Any) -> None:
    """No function under the entries takes a loose option argument, so none can check one again."""
    parameters = inspect.signature(function).parameters
    assert not LOOSE & set(parameters), sorted(LOOSE & set(parameters))
    assert "options" in parameters or "plan" in parameters


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> list[ExportOptions]:
    """Every ``ExportOptions`` checked while the test runs."""
    checked: list[ExportOptions] = []
    original = ExportOptions.__post_init__

    def counting(self: ExportOptions) -> None:
        original(self)
        checked.append(self)

    monkeypatch.setattr(ExportOptions, "__post_init__", counting)
    return checked


def test_python_entry_checks_once(spec, tmp_path, checks) -> None:
    export(spec.root, "exp1", epochs="all", format="png", colormap="gray", scale=2, out=tmp_path / "p")
    assert len(checks) == 1 and checks[0].format == "png" and checks[0].scale == 2
    export(spec.root, ["exp1", "exp2"], format="html", out=tmp_path / "r.html")
    export(spec.root, "exp2", kinds="gradcam", format="gif", out=tmp_path / "g")
    export(spec.root, "exp1", format="zip", out=tmp_path / "z.zip")
    assert len(checks) == 4


def test_command_line_entry_checks_once(spec, tmp_path, checks, capsys) -> None:
    parser = argparse.ArgumentParser()
    add_export_arguments(parser)
    argv = ["--logdir", str(spec.root), "--run", "exp1", "--format", "gif", "--scale", "2", "--quiet"]
    assert run_export(parser.parse_args([*argv, "--out", str(tmp_path / "g")])) == 0
    assert len(checks) == 1 and checks[0].format == "gif" and checks[0].scale == 2

    assert run_export(parser.parse_args([*argv, "--probe", "-1", "--out", str(tmp_path / "x")])) == 2
    err = capsys.readouterr().err
    assert err == "featureviz export: error: probe must be an int >= 0. Received: probe=-1\n"
    assert (
        export_options(parser.parse_args([*argv, "--out", "x", "--kinds", "all"])).kinds
        == ExportOptions.parse("exp1").kinds
    )


def test_http_entry_checks_once(spec, checks) -> None:
    with open_logdir(spec.root) as reader:
        body, mime, name = handle_export(reader, RequestContext(), {"runs": "exp1", "format": "zip", "scale": "2"})
    assert mime == "application/zip" and name == "featureviz-exp1.zip" and body[:2] == b"PK"
    assert len(checks) == 1 and checks[0].scale == 2


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"scale": "0"}, "scale must be a positive int. Received: scale=0"),
        ({"channel": "-1"}, "channel must be an int >= 0. Received: channel=-1"),
        ({"probe": "x"}, "probe must be a whole number of at most 18 digits. Received: probe='x'"),
        ({"caption": "maybe"}, "caption must be true or false. Received: caption='maybe'"),
        ({"format": "DOCX"}, "unknown format 'docx'"),
    ],
)
def test_query_strings_become_values_that_options_check(query: dict[str, str], message: str) -> None:
    with pytest.raises(tb_errors.InvalidArgumentError, match=re.escape(message)):
        query_options({"runs": "exp1", **query})


def test_query_options() -> None:
    query = {"runs": "exp1", "layer": "conv2d", "epochs": "0-1", "format": "PNG", "caption": "no", "probe": "2"}
    assert query_options(query) == ExportOptions.parse(
        "exp1", layers="conv2d", epochs="0-1", format="png", detail="full", caption=False, probe=2
    )
