"""What the tests (and the benchmarks) share; the fixtures built on it are in ``tests/conftest.py``.

Import a module of it by its full name, from the repository root: ``from tests.support import logdir_factory``,
``from tests.support.server import start_tensorboard``.

- ``logdir_factory``: logdirs with real event files and predictable content (the tests' oracle);
- ``server``: a real TensorBoard in a subprocess, and loaded data providers of both loaders;
- ``routes``: HTTP helpers for the plugin's routes on a running TensorBoard;
- ``wsgi``: the plugin's routes in process, through werkzeug;
- ``browser``: headless Chromium through Playwright, and what a page reported;
- ``fuzz_http``: the seeded fuzzer of every route of ``http_api.md``;
- ``events``: event files read back, by tag and step;
- ``exports``: exported HTML, GIFs and the export CLI read back;
- ``models``: a tiny Keras CNN and its data, for the writer-side tests.

Nothing here is imported on ``import tests.support``, so a subprocess without TensorFlow (or Playwright) can
import ``logdir_factory`` alone.
"""
