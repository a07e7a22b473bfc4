"""One tick rule for the report and the dashboard, tested on one table of cases in both languages.

The rule is matplotlib's: ``MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10])`` under
``axes.autolimit_mode = "round_numbers"``, asked for the ticks of the data range ``[lo, hi]`` the way an axes
asks it (``locator.tick_values(*locator.nonsingular(lo, hi))``: an empty range is widened by 5% each side
first). The axis then runs from the first tick to the last, so the ticks cover the data.

``tests/support/tick_cases.json`` holds the cases ``{"lo", "hi", "ticks"}``. :func:`matplotlib_ticks` is the
generator: the first test asserts that the committed table is what the installed matplotlib gives now (so
the table cannot drift; ``python -m tests.test_ticks`` writes it again). The dashboard's ``chart.js``
``niceTicks`` is a port of the same locator; the browser tests import it in headless Chromium (served from
``tb_featureviz/frontend/`` through Playwright's routing, as ``test_frontend_layout.py`` does) and compare
its ticks with the table's at a relative tolerance of 1e-9.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import matplotlib
import pytest
from matplotlib.ticker import MaxNLocator

ROOT = Path(__file__).resolve().parents[1]
TABLE = ROOT / "tests" / "support" / "tick_cases.json"

NBINS = 5
STEPS = [1, 2, 2.5, 5, 10]
RTOL = 1e-9

RANGES: list[tuple[float, float]] = [
    (1e-4, 1.05e-4),  # tiny range: a learning rate that barely moves
    (2.5e-7, 3.1e-7),
    (-1e-9, 1e-9),
    (0.001, 0.0012),
    (-3.2, -0.4),  # negative
    (-2.0, -2.0),
    (-1.0, 1.0),  # crossing zero: the sanity chart's domain
    (-0.37, 0.52),
    (-1500.0, 250.0),
    (0.5, 0.5),  # lo == hi
    (0.0, 0.0),
    (1e-4, 1e-4),
    (9.999999747378752e-05, 9.999999747378752e-05),  # a float32 learning rate of 1e-4
    (0.0, 1.0),  # the faithfulness chart's domain
    (0.12, 0.93),
    (0.1, 0.3),
    (0.2, 0.7),
    (0.06, 0.7),  # loss-like
    (0.06250510364770889, 0.6666942834854126),  # the quick start's loss
    (0.5, 0.98),  # accuracy
    (0.5149999856948853, 0.9769999980926514),  # the quick start's accuracy
    (0.0, 8.0),  # counts
    (0.0, 9.0),
    (1.0, 12.0),
    (2.3, 2.31),
    (3.0, 3.0000001),
    (0.0, 1000.0),
    (123456.0, 987654.0),  # large
    (1000.0, 1000.5),  # far from zero: matplotlib's offset
    (1e6, 1.0005e6),
]
"""The ``[lo, hi]`` data ranges of the table."""

EPOCH_RANGES: list[tuple[float, float]] = [(0, 1), (0, 2), (0, 5), (0, 9), (1, 10), (0, 12), (3, 17), (0, 49), (0, 99)]
"""Epoch axes (whole-number ticks, ``integer=True``), checked against matplotlib live."""


def matplotlib_ticks(lo: float, hi: float, *, integer: bool = False) -> list[float]:
    """The ticks matplotlib puts on a linear axis whose data span ``[lo, hi]``, under the shared rule."""
    locator = MaxNLocator(nbins=NBINS, steps=STEPS, integer=integer)
    with matplotlib.rc_context({"axes.autolimit_mode": "round_numbers"}):
        return [float(t) for t in locator.tick_values(*locator.nonsingular(lo, hi))]


def table_now() -> list[dict[str, Any]]:
    """The table as the installed matplotlib gives it."""
    return [{"lo": lo, "hi": hi, "ticks": matplotlib_ticks(lo, hi)} for lo, hi in RANGES]


def write_table() -> None:
    """Writes :data:`TABLE` from :func:`table_now` (run ``python -m tests.test_ticks`` after changing the rule)."""
    TABLE.write_text(json.dumps(table_now(), indent=1) + "\n", encoding="utf-8")


def close(got: float, want: float, span: float) -> bool:
    """Equal within :data:`RTOL`, relative to the value (or to the axis' span for a tick at zero)."""
    return math.isclose(got, want, rel_tol=RTOL, abs_tol=RTOL * span)


def assert_ticks_close(got: list[float], want: list[float], what: object) -> None:
    assert len(got) == len(want), (what, got, want)
    span = abs(want[-1] - want[0]) or 1.0
    assert all(close(g, w, span) for g, w in zip(got, want, strict=True)), (what, got, want)


# -- the table (Python only) ---------------------------------------------------------------------------


def test_table_is_what_matplotlib_gives_now() -> None:
    assert json.loads(TABLE.read_text(encoding="utf-8")) == table_now()


def test_table_ticks_cover_the_data_evenly() -> None:
    """What the rule promises: the first tick at or below ``lo``, the last at or above ``hi``, one step apart,
    a step of 1, 2, 2.5 or 5 times a power of ten, and at most 5 intervals (6 ticks) over a non-empty range."""
    for case in json.loads(TABLE.read_text(encoding="utf-8")):
        lo, hi, ticks = case["lo"], case["hi"], case["ticks"]
        assert ticks[0] <= lo and ticks[-1] >= hi, case
        step = ticks[1] - ticks[0]
        assert all(math.isclose(b - a, step, rel_tol=1e-6) for a, b in itertools.pairwise(ticks)), case
        mantissa = step / 10 ** math.floor(math.log10(step))
        assert any(math.isclose(mantissa, s, rel_tol=1e-6) for s in (1, 2, 2.5, 5, 10)), case
        if hi > lo:
            assert len(ticks) <= NBINS + 1, case


def test_table_examples() -> None:
    """A few cases read by eye: the quick start's loss and accuracy, a learning rate alone, counts."""
    table = {(c["lo"], c["hi"]): c["ticks"] for c in json.loads(TABLE.read_text(encoding="utf-8"))}
    assert_ticks_close(table[(0.06, 0.7)], [0.0, 0.2, 0.4, 0.6, 0.8], "loss")
    # round_numbers: 0.5 // 0.1 is 4 in floats, so 5 steps of 0.1 from 0.4 miss 0.98 and the step is 0.2
    assert_ticks_close(table[(0.5, 0.98)], [0.4, 0.6, 0.8, 1.0], "accuracy")
    assert_ticks_close(table[(0.0, 8.0)], [0.0, 2.0, 4.0, 6.0, 8.0], "counts")
    assert_ticks_close(table[(0.0, 1.0)], [0.0, 0.2, 0.4, 0.6, 0.8, 1.0], "0..1")
    # one value alone: widened by 5% each side, as an axes does
    assert_ticks_close(table[(1e-4, 1e-4)], [9.5e-5, 9.75e-5, 1e-4, 1.025e-4, 1.05e-4], "lr")


# -- chart.js in Chromium --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chart_page(browser: Any) -> Iterator[Any]:
    """A page whose ``window.chart`` is the module ``frontend/chart.js``."""
    pytest.importorskip("playwright.sync_api")
    from tests.support.browser import module_page

    with module_page(browser, {"chart": "chart.js"}, "chart.js") as page:
        yield page


@pytest.mark.browser
def test_js_nice_ticks_match_the_table(chart_page: Any) -> None:
    cases = json.loads(TABLE.read_text(encoding="utf-8"))
    got = chart_page.evaluate("(cases) => cases.map((c) => window.chart.niceTicks(c.lo, c.hi))", cases)
    for case, ticks in zip(cases, got, strict=True):
        assert_ticks_close(ticks, case["ticks"], (case["lo"], case["hi"]))


@pytest.mark.browser
def test_js_epoch_ticks_match_matplotlib_integer_locator(chart_page: Any) -> None:
    """The epoch axis: the same locator with ``integer=True``."""
    got = chart_page.evaluate(
        "(rs) => rs.map(([lo, hi]) => window.chart.niceTicks(lo, hi, {integer: true}))", EPOCH_RANGES
    )
    for (lo, hi), ticks in zip(EPOCH_RANGES, got, strict=True):
        assert_ticks_close(ticks, matplotlib_ticks(lo, hi, integer=True), (lo, hi))


@pytest.mark.browser
def test_js_tick_labels(chart_page: Any) -> None:
    """Labels tell the ticks apart with no float noise; small and large values read like ``1e-4``."""
    got = chart_page.evaluate(
        """() => {
            const c = window.chart;
            return {
                loss: c.tickLabels(c.niceTicks(0.06, 0.7)),
                acc: c.tickLabels(c.niceTicks(0.5, 0.98)),
                tiny: c.tickLabels(c.niceTicks(1e-4, 1.05e-4)),
                big: c.tickLabels(c.niceTicks(123456, 987654)),
                sanity: c.tickLabels(c.niceTicks(-1, 1)),
                lr: c.tickLabels(c.logTicks(9.999999747378752e-05, 9.999999747378752e-05), true),
                decay: c.tickLabels(c.logTicks(1e-6, 1e-2), true),
            };
        }"""
    )
    assert got["loss"] == ["0", "0.2", "0.4", "0.6", "0.8"]
    assert got["acc"] == ["0.4", "0.6", "0.8", "1"]
    assert got["tiny"] == ["1e-4", "1.02e-4", "1.04e-4", "1.06e-4"]
    assert got["big"] == ["0", "2e5", "4e5", "6e5", "8e5", "1e6"]
    assert got["sanity"] == ["-1", "-0.5", "0", "0.5", "1"]
    assert got["lr"] == ["1e-5", "2e-5", "5e-5", "1e-4", "2e-4", "5e-4", "1e-3"]
    assert got["decay"] == ["1e-6", "1e-5", "1e-4", "1e-3", "1e-2"]


if __name__ == "__main__":
    write_table()
