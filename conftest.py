"""Doctests of the pure modules (``[tool.pytest.ini_options]`` lists them): each runs in a fresh directory.

An example that reads ``logs`` or ``runs`` finds there a small logdir of runs ``exp1`` and ``exp2`` (30 epochs,
layers ``conv2d``, ``max_pooling2d`` and ``conv2d_1``), written by the test suite's logdir factory, so the
examples in the docs run as a user would type them. One that uses ``reader``, ``data_provider`` or ``ctx``
gets them over that logdir (``open_logdir("logs")``, its data provider, a default request context).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _pytest.doctest import DoctestItem

_READER_NAMES = ("reader", "data_provider", "ctx")


def _sources(item: DoctestItem) -> str:
    assert item.dtest is not None
    return "\n".join(ex.source for ex in item.dtest.examples)


def _reads_a_logdir(source: str) -> bool:
    return '"logs"' in source or '"runs"' in source or _uses_a_reader(source)


def _uses_a_reader(source: str) -> bool:
    return any(re.search(rf"\b{name}\b(?!\s*=)", source) for name in _READER_NAMES)


@pytest.fixture(autouse=True)
def _doctest_directory(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, doctest_namespace: dict[str, Any]
) -> Iterator[None]:
    if not isinstance(request.node, DoctestItem):
        yield
        return
    monkeypatch.chdir(tmp_path)
    source = _sources(request.node)
    if not _reads_a_logdir(source):
        yield
        return
    from tests.support.logdir_factory import write_logdir

    # The logdirs the example names; "logs" for the reader it is given.
    for name in ("logs", "runs"):
        if f'"{name}"' in source or (name == "logs" and _uses_a_reader(source)):
            write_logdir(tmp_path / name, runs=("exp1", "exp2"), epochs=30, keras_curves=False)
    if not _uses_a_reader(source):
        yield
        return
    from tensorboard import context

    from tb_featureviz.reader import open_logdir

    with open_logdir(tmp_path / "logs") as reader:
        doctest_namespace.update(reader=reader, data_provider=reader.data_provider, ctx=context.RequestContext())
        try:
            yield
        finally:
            for name in _READER_NAMES:  # the namespace is the session's: the next example starts clean
                doctest_namespace.pop(name, None)
