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

import os
from typing import Any

from tests.support import logdir_factory

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


def write_architectures(root: str | os.PathLike[str], epochs: int = 2) -> dict[str, logdir_factory.LogdirSpec]:
    """Writes both runs into ``root``; returns their specs by run name."""
    resnet = logdir_factory.write_logdir(
        root,
        runs=(RESNET,),
        epochs=epochs,
        layers=tuple(RESNET_TILES),
        probes=2,
        channels=6,
        image_size=32,
        layer_tiles=RESNET_TILES,
        model_order=True,
        filter_layers=("conv1_relu", "conv2_block3_out", "conv3_block4_out", "conv4_block6_out", "conv5_block3_out"),
        gradcam_layers=("conv5_block3_out",),
        exemplar_layers=(),
    )
    mobilenet = logdir_factory.write_logdir(
        root,
        runs=(MOBILENET,),
        epochs=epochs,
        layers=tuple(MOBILENET_TILES),
        probes=2,
        channels=4,
        image_size=32,
        layer_tiles=MOBILENET_TILES,
        filter_layers=("block_1_expand_relu", "block_6_expand_relu", "out_relu"),
        gradcam_layers=("out_relu",),
        exemplar_layers=(),
    )
    return {RESNET: resnet, MOBILENET: mobilenet}


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
