"""Benchmarks of tb-featureviz; each prints its figures. Run from the repository root as a module::

    python -m benchmarks.bench_plugin [--help]

(the module form puts the repository root on ``sys.path``, so ``tests.support`` serves the benchmarks too).
"""
