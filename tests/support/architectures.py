"""A logdir with two runs of different architectures: no layer name in common, 5 and 4 stages.

``resnet`` looks like ResNet50 (5 stages, a second layer in stage 3, model order recorded in
``run_info`` as the callback writes it); ``mobilenet`` like MobileNetV2 (4 stages, no model order: a
log of an older version, ordered by name). Both are real event files (``logdir_factory``).

==========  =====================================  ==============================================
stage       resnet (tile side: layer)               mobilenet
==========  =====================================  ==============================================
1           16: conv1_relu                           16: block_1_expand_relu
2           8: conv2_block3_out                      8: block_3_expand_relu (no filter patterns)
3           6: conv3_block1_out, conv3_block4_out    4: block_6_expand_relu
4           4: conv4_block6_out                      2: out_relu (Grad-CAM)
5           2: conv5_block3_out (Grad-CAM)
==========  =====================================  ==============================================
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import logdir_factory
from tests.support.server import data_server_available, start_tensorboard, wait_for_featureviz

RESNET = "resnet"
MOBILENET = "mobilenet"

RESNET_TILES = {
    "conv1_relu": 16,
    "conv2_block3_out": 8,
    "conv3_block1_out": 6,
    "conv3_block4_out": 6,
    "conv4_block6_out": 4,
    "conv5_block3_out": 2,
}
MOBILENET_TILES = {"block_1_expand_relu": 16, "block_3_expand_relu": 8, "block_6_expand_relu": 4, "out_relu": 2}


def _write_run(
    root: str | os.PathLike[str], run: str, tiles: dict[str, int], epochs: int, **options: Any
) -> logdir_factory.LogdirSpec:
    """One run of an architecture: its layers and tile sides ``tiles``, 2 probes of 32x32, no exemplars."""
    return logdir_factory.write_logdir(
        root,
        runs=(run,),
        epochs=epochs,
        layers=tuple(tiles),
        probes=2,
        image_size=32,
        layer_tiles=tiles,
        exemplar_layers=(),
        **options,
    )


def write_architectures(root: str | os.PathLike[str], epochs: int = 2) -> dict[str, logdir_factory.LogdirSpec]:
    """Writes both runs into ``root``; returns their specs by run name."""
    resnet = _write_run(
        root,
        RESNET,
        RESNET_TILES,
        epochs,
        channels=6,
        model_order=True,
        filter_layers=("conv1_relu", "conv2_block3_out", "conv3_block4_out", "conv4_block6_out", "conv5_block3_out"),
        gradcam_layers=("conv5_block3_out",),
    )
    mobilenet = _write_run(
        root,
        MOBILENET,
        MOBILENET_TILES,
        epochs,
        channels=4,
        filter_layers=("block_1_expand_relu", "block_6_expand_relu", "out_relu"),
        gradcam_layers=("out_relu",),
    )
    return {RESNET: resnet, MOBILENET: mobilenet}


GROWN = "mobilenet_grown"
EARLY = "mobilenet_early"
EARLY_LAYERS = ("block_1_expand_relu", "out_relu")
"""A run of the same model that wrote fewer layers (a live run at epoch 0, or a smaller budget)."""


def write_same_model(root: str | os.PathLike[str], epochs: int = 2) -> dict[str, logdir_factory.LogdirSpec]:
    """Two runs of the mobilenet-like model with different layer sets: :data:`GROWN` wrote every layer,
    :data:`EARLY` only :data:`EARLY_LAYERS` (they share those names)."""
    options: dict[str, Any] = {"channels": 4, "gradcam_layers": ("out_relu",), "filter_layers": EARLY_LAYERS}
    grown = _write_run(root, GROWN, MOBILENET_TILES, epochs, **options)
    early_tiles = {layer: MOBILENET_TILES[layer] for layer in EARLY_LAYERS}
    early = _write_run(root, EARLY, early_tiles, epochs, **options)
    return {GROWN: grown, EARLY: early}


@contextlib.contextmanager
def served(
    tmp_path_factory: pytest.TempPathFactory,
    load_fast: bool,
    write: Callable[[Path], dict[str, logdir_factory.LogdirSpec]] = write_architectures,
) -> Iterator[tuple[str, dict[str, logdir_factory.LogdirSpec]]]:
    """A real TensorBoard (the Rust data server with ``load_fast``; skips without it) over a fresh logdir
    that ``write`` fills; yields its URL and the specs once every run's featureviz data is served."""
    if load_fast and not data_server_available():
        pytest.skip("tensorboard-data-server is not installed")
    root = tmp_path_factory.mktemp("architectures")
    specs = write(root)
    url, stop = start_tensorboard(root, load_fast)
    try:
        for spec in specs.values():
            wait_for_featureviz(url, spec)
        yield url, specs
    finally:
        stop()


ALIGN = {RESNET: {"4": [1, 2, 4, 5], "5": [1, 2, 3, 4, 5]}, MOBILENET: {"4": [1, 2, 3, 4], "5": [1, 2, 3, 3, 4]}}
"""The ``stages.align`` tables of the two runs, worked out by hand (relative depth, halves up)."""


def expected_index(specs: dict[str, logdir_factory.LogdirSpec]) -> dict[str, Any]:
    """The ``/index`` document of the logdir (blob URLs masked)."""
    runs = []
    for run in sorted(specs):
        entry = specs[run].expected_index_entry(run)
        entry["stages"] = specs[run].expected_stages(align=ALIGN[run])
        runs.append(entry)
    return {"runs": runs}
