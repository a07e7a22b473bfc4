"""The Python side of ``tests/support/label_cases.json``: probe names (``metadata.probe_label``), the colour
maps' RGB at a few gray levels (``render.colormap_lut``, within 1 of matplotlib's own tables), the names of
their lowest colours, and the separators' neutral gray. ``tests/test_browser_panels.py`` checks the
dashboard's twins (``records.js`` ``probeLabel``, ``colormap.js``) on the same table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pytest

from tb_featureviz.metadata import probe_label
from tb_featureviz.render import COLORMAPS, colormap_lut

CASES: dict[str, Any] = json.loads((Path(__file__).parent / "support" / "label_cases.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", CASES["probe_labels"], ids=lambda c: c["label"])
def test_probe_label_cases(case: dict[str, Any]) -> None:
    assert probe_label(case["index"], case["name"]) == case["label"]


def test_the_table_covers_every_colour_map() -> None:
    assert sorted(CASES["colormaps"]) == sorted(COLORMAPS)


@pytest.mark.parametrize("name", COLORMAPS)
def test_colormap_cases_are_the_lut_and_matplotlib(name: str) -> None:
    lut = colormap_lut(name)
    mpl = np.round(matplotlib.colormaps[name](np.arange(256) / 255.0)[:, :3] * 255.0).astype(int)
    for level, rgb in CASES["colormaps"][name]["rgb"].items():
        assert lut[int(level)].tolist() == rgb, (name, level)
        assert np.abs(mpl[int(level)] - np.asarray(rgb)).max() <= 1, (name, level, mpl[int(level)].tolist(), rgb)
    # Not only the table's levels: the whole LUT is matplotlib's, within 1.
    assert np.abs(mpl - lut.astype(int)).max() <= 1


@pytest.mark.parametrize("name", COLORMAPS)
def test_lowest_colour_names_say_what_level_0_is(name: str) -> None:
    """The legend names the colour of a tile with no variation (level 0); the name must be what it looks like."""
    r, g, b = (int(v) for v in colormap_lut(name)[0])
    said = CASES["colormaps"][name]["lowest"]
    if said == "black":
        assert max(r, g, b) <= 10, (name, (r, g, b))
    else:
        assert said == "dark purple"
        assert max(r, g, b) <= 100 and min(r, b) > g + 40, (name, (r, g, b))


@pytest.mark.parametrize("name", ["viridis", "magma", "inferno"])
def test_separator_gray_is_no_value_of_the_perceptual_maps(name: str) -> None:
    sep = np.asarray(CASES["separator_rgb"])
    assert sep.tolist() == [230, 230, 230]
    nearest = np.abs(colormap_lut(name).astype(int) - sep).max(axis=1).min()
    assert nearest >= 30, (name, int(nearest))
