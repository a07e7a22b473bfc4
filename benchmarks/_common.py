"""What the TensorBoard benchmarks share: the generated logdir's arguments, and a loaded TensorBoard per loader.

``bench_frontend.py``, ``bench_fuzz.py`` and ``bench_plugin.py`` import this module. The benchmarks run from
the repository root as modules (``python -m benchmarks.bench_plugin``), so ``tests.support`` (the logdir
factory, the TensorBoard server) serves them too.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

from tests.support import logdir_factory
from tests.support.server import start_tensorboard, wait_for_featureviz

LOADERS = ((False, "python (--load_fast=false)"), (True, "rust (--load_fast=true)"))
"""``(load_fast, name)`` of TensorBoard's two loaders, in the order the benchmarks run them."""


def add_logdir_arguments(parser: argparse.ArgumentParser) -> None:
    """``--runs``, ``--epochs``, ``--layers``, ``--probes``: the size of the generated logdir."""
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--layers", type=int, default=8)
    parser.add_argument("--probes", type=int, default=4)


def write_logdir(root: str, args: argparse.Namespace, *, run_name: str, **kwargs: Any) -> logdir_factory.LogdirSpec:
    """``logdir_factory.write_logdir`` sized by ``add_logdir_arguments``'s options.

    Args:
        root: The logdir.
        args: The parsed ``--runs``, ``--epochs``, ``--layers``, ``--probes``.
        run_name: Format of the run names, with the run's number as ``{0}`` (``"run{0:02d}"``).
        kwargs: Further ``write_logdir`` arguments (grid size, ``images_plugin``...).
    """
    return logdir_factory.write_logdir(
        root,
        runs=[run_name.format(i) for i in range(args.runs)],
        epochs=args.epochs,
        layers=[f"conv2d_{i}" for i in range(args.layers)],
        probes=args.probes,
        **kwargs,
    )


@contextlib.contextmanager
def serving(
    spec: logdir_factory.LogdirSpec, load_fast: bool, *, extra_args: Sequence[str] = (), reload_interval: float = 1.0
) -> Iterator[str]:
    """A real TensorBoard over ``spec.root`` with the given loader, once every run's steps show (10 min at most).

    Yields:
        Its base URL; the server is stopped on exit.
    """
    url, stop = start_tensorboard(spec.root, load_fast, extra_args=extra_args, reload_interval=reload_interval)
    try:
        wait_for_featureviz(url, spec, timeout_s=600)
        yield url
    finally:
        stop()
