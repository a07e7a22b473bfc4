"""The ``tensorboard_plugins`` entry point.

TensorBoard calls ``entry_point.load()`` without a try/except, so this module imports only
``tensorboard.plugins.base_plugin``; the plugin itself is imported in ``load()``.
"""

from __future__ import annotations

import argparse
import logging

from tensorboard.plugins import base_plugin

from tb_featureviz.metadata import PLUGIN_NAME

logger = logging.getLogger(__name__)


class FeatureVizLoader(base_plugin.TBLoader):
    """Loads the featureviz plugin and makes TensorBoard keep every featureviz epoch.

    TensorBoard keeps 10 steps per tag of an unknown plugin by default; ``fix_flags`` sets
    ``--samples_per_plugin featureviz=0`` (keep all) unless the user gave a value. ``--featureviz_full_runs``
    bounds the runs of a sweep that the plugin reads in full (``FeatureVizReader(detail_runs=...)``).
    """

    def define_flags(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--featureviz_full_runs",
            type=int,
            default=64,
            metavar="N",
            help="featureviz: a logdir of at most N featureviz runs is read in full; a larger sweep is listed "
            "from TensorBoard's listing, and only the N runs looked at most recently are read in full "
            "(default 64; more costs memory and listing time)",
        )

    def fix_flags(self, flags: argparse.Namespace) -> None:
        samples = getattr(flags, "samples_per_plugin", None)
        if isinstance(samples, dict):
            samples.setdefault(PLUGIN_NAME, 0)
        full = getattr(flags, "featureviz_full_runs", 64)
        if not isinstance(full, int) or full < 1:
            raise ValueError(f"--featureviz_full_runs must be a positive integer. Received: {full!r}")

    def load(self, context: base_plugin.TBContext) -> base_plugin.TBPlugin | None:
        try:
            from tb_featureviz.plugin.plugin import FeatureVizPlugin
        except ImportError:
            logger.exception("Could not import the featureviz plugin; the tab is disabled.")
            return None
        return FeatureVizPlugin(context)
