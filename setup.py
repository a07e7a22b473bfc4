"""Packaging for tb-featureviz.

The reference trainer and the frontend live inside the package (``tb_featureviz/trainer/``,
``tb_featureviz/frontend/``), so the source tree and the installed package have the same layout: running
from the checkout root, where the source tree comes first on ``sys.path``, imports the same modules as an
installed wheel. ``tests/test_packaging.py`` builds a wheel and checks what it holds.
"""

from pathlib import Path

from setuptools import setup

setup(
    name="tb-featureviz",
    version="0.1.0",
    description="See what a CNN learns while it trains: activations, filter patterns and Grad-CAM in TensorBoard.",
    long_description=(Path(__file__).parent / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=[
        "tb_featureviz",
        "tb_featureviz.kinds",
        "tb_featureviz.compute",
        "tb_featureviz.render",
        "tb_featureviz.reader",
        "tb_featureviz.plugin",
        "tb_featureviz.export",
        "tb_featureviz.trainer",
        "tb_featureviz.writer",
        "tb_featureviz.sidecar",
        "tb_featureviz.frontend",
    ],
    package_data={
        "tb_featureviz": ["py.typed"],
        "tb_featureviz.plugin": ["http_api.md"],
        "tb_featureviz.frontend": ["*.js", "*.css", "*.html"],
    },
    install_requires=[
        "matplotlib>=3.7",
        "numpy>=1.23",
        "pillow>=9",
        "protobuf>=3.20",
        "tensorboard>=2.16",
        # The writer side (callback, compute, trainer, `featureviz train|demo`) needs TensorFlow. The viewer
        # side (plugin, export) never imports it; README says how to install it alone.
        "tensorflow>=2.16",
    ],
    extras_require={
        "test": [
            "pytest>=7",
            "playwright>=1.40",
            "ruff>=0.5",
            "mypy>=1.8",
            "build",
            # tests/test_backends.py runs the writer side on Keras' JAX and PyTorch backends too. Users install
            # the backend they train on themselves; a plain `torch` pin could pull a multi-GB CUDA build, so the
            # tests pin the CPU release CI has.
            "jax",
            "torch==2.13.0",
        ],
    },
    entry_points={
        "tensorboard_plugins": ["featureviz = tb_featureviz.plugin.loader:FeatureVizLoader"],
        "console_scripts": ["featureviz = tb_featureviz.cli:main"],
    },
    classifiers=[
        "Framework :: TensorFlow",
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
