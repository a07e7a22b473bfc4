"""``tb_featureviz.plot``: the report's figures as matplotlib figures for a notebook."""

from __future__ import annotations

import pytest
from matplotlib.figure import Figure

import tb_featureviz as fv
from tb_featureviz.export import ExportNotFoundError
from tests.support.exports import RUNS


def test_plot_is_reachable_from_the_package_and_returns_figures(spec):
    assert "plot" in dir(fv)
    titles = list(fv.plot.figures(spec.root, list(RUNS)))
    assert titles[:2] == ["Training curves", "Can the Grad-CAM maps be trusted?"]
    assert "exp2: Grad-CAM at conv2d_1" in titles
    curves = fv.plot.curves(spec.root, "exp1")
    assert isinstance(curves, Figure)
    assert [ax.get_gid() for ax in curves.axes] == ["chart-loss", "chart-accuracy"]
    checks = fv.plot.checks(spec.root, "exp1")
    assert [ax.get_gid() for ax in checks.axes] == ["chart-faithfulness", "chart-sanity"]


def test_gradcam_figure_badges_wrong_predictions_and_names_flat_maps(spec):
    fig = fv.plot.gradcam(spec.root, "exp1", epoch=1)
    badges = sorted(str(ax.get_gid()) for ax in fig.axes if any(t.get_text() == "WRONG" for t in ax.texts))
    want = sorted(f"gradcam-exp1-{p}-predicted" for p in range(spec.probes) if spec.predicted(1, p) != spec.label(p))
    assert badges == want and want
    # The factory's heatmaps are one value each: every Grad-CAM panel says so.
    titles = [t.get_text() for t in fig.texts if t.get_text().startswith(("predicted:", "true:"))]
    assert len(titles) == 2 * spec.probes
    notes = sorted(str(ax.get_gid()) for ax in fig.axes if any(t.get_text() == "flat map" for t in ax.texts))
    assert notes == sorted(f"gradcam-exp1-{p}-{t}" for p in range(spec.probes) for t in ("predicted", "true"))


def test_activations_figure_has_one_grid_per_resolution_stage(spec):
    # The factory's layers share one 4x4 resolution: one stage, drawn by its representative (the index's choice).
    fig = fv.plot.activations(spec.root, "exp1", probe=1)
    grids = [ax.get_gid() for ax in fig.axes if str(ax.get_gid()).startswith("grid-")]
    assert grids == ["grid-exp1-activations-max_pooling2d"]
    filters = fv.plot.filters(spec.root, "exp1")
    assert [[ax.get_gid() for ax in f.axes] for f in filters] == [
        [f"grid-exp1-filters-{layer}"] for layer in spec.filter_layers
    ]
    with pytest.raises(ExportNotFoundError, match="epoch 7 not in run 'exp1'; its epochs are 0, 1"):
        fv.plot.activations(spec.root, "exp1", epoch=7)
