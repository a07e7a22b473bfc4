"""Opening a logdir without a TensorBoard server: ``open_logdir``, for exports and scripts.

TensorBoard's loaders are imported inside :func:`open_logdir`: the Python one
(``plugin_event_multiplexer``) or the Rust data server (``server_ingester``), whichever is asked for.

Example:
    >>> with open_logdir("logs", load_fast=False) as reader:
    ...     index = reader.index()
    ...     first = index["runs"][0]
    ...     step = reader.step(None, first["run"], first["kinds"]["activations"][0]["tag"], 0)
    ...     png = reader.blob(None, step["images"][0])
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator, Mapping
from typing import Any

from tensorboard import context as tb_context
from tensorboard.data import provider

from tb_featureviz import metadata
from tb_featureviz.reader.reader import SCALARS_PLUGIN, FeatureVizReader

logger = logging.getLogger(__name__)

__all__ = ["open_logdir"]


ALL_RUNS = 1_000_000_000
"""``detail_runs`` of an offline reader: read every run it is asked for (one export, no browsing)."""


def _wait_until_loaded(dp: provider.DataProvider, timeout_s: float) -> None:
    """Polls a data provider until two successive listings agree and are not empty (or timeout)."""
    ctx = tb_context.RequestContext()
    deadline = time.monotonic() + timeout_s
    previous: object = None
    while time.monotonic() < deadline:
        listing = (
            {
                r: {t: ts.max_step for t, ts in tags.items()}
                for r, tags in dp.list_blob_sequences(ctx, experiment_id="", plugin_name=metadata.PLUGIN_NAME).items()
            },
            {
                r: {t: ts.max_step for t, ts in tags.items()}
                for r, tags in dp.list_scalars(ctx, experiment_id="", plugin_name=SCALARS_PLUGIN).items()
            },
        )
        if listing == previous and (listing[0] or listing[1]):
            return
        previous = listing
        time.sleep(0.2)
    logger.warning("featureviz: the data server was still loading after %.0f s", timeout_s)


@contextlib.contextmanager
def open_logdir(
    logdir: str,
    load_fast: bool = False,
    *,
    samples_per_plugin: Mapping[str, int] | None = None,
    timeout_s: float = 60.0,
    **reader_kwargs: Any,
) -> Iterator[FeatureVizReader]:
    """Opens a logdir for reading without a TensorBoard server (for exports and scripts).

    Args:
        logdir: The log directory (as passed to ``tensorboard --logdir``).
        load_fast: ``False``: TensorBoard's Python loader, loaded fully before returning. ``True``: the
            Rust data server (``tensorboard-data-server``) in a subprocess, stopped on exit; raises
            ``tensorboard.data.server_ingester.NoDataServerError`` where it is not installed.
        samples_per_plugin: Per-plugin sampling, as ``--samples_per_plugin``; featureviz keeps every
            step by default.
        timeout_s: With ``load_fast``, how long to wait for the data server to finish loading.
        **reader_kwargs: Passed to :class:`FeatureVizReader`. ``detail_runs`` defaults to every run: an
            export reads the runs it names however large the sweep.

    Yields:
        A :class:`FeatureVizReader`; call its methods with ``ctx=None``.
    """
    samples = {metadata.PLUGIN_NAME: 0, **(samples_per_plugin or {})}
    if not load_fast:
        from tensorboard.backend.event_processing import data_provider as mux_provider
        from tensorboard.backend.event_processing import plugin_event_multiplexer

        multiplexer = plugin_event_multiplexer.EventMultiplexer(tensor_size_guidance=dict(samples))
        multiplexer.AddRunsFromDirectory(logdir)
        multiplexer.Reload()
        reader = FeatureVizReader(
            mux_provider.MultiplexerDataProvider(multiplexer, logdir), **{"detail_runs": ALL_RUNS, **reader_kwargs}
        )
        try:
            yield reader
        finally:
            reader.close()
        return

    from tensorboard.data import server_ingester
    from tensorboard.util import grpc_util

    ingester = server_ingester.SubprocessServerDataIngester(
        server_binary=server_ingester.get_server_binary(),
        logdir=logdir,
        reload_interval=0,
        channel_creds_type=grpc_util.ChannelCredsType.LOCAL,
        samples_per_plugin=dict(samples),
    )
    ingester.start()
    reader = FeatureVizReader(ingester.data_provider, **{"detail_runs": ALL_RUNS, **reader_kwargs})
    try:
        _wait_until_loaded(ingester.data_provider, timeout_s)
        yield reader
    finally:
        reader.close()
        stdin = getattr(ingester, "_stdin_handle", None)
        if stdin is not None:  # the server runs with --die-after-stdin
            stdin.close()
