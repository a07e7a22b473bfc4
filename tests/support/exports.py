"""Reading exports back, for the export tests: HTML figures and their embedded pixels, GIF frames, the CLI.

* :data:`RUNS`: the runs of the ``spec`` fixture of ``conftest.py`` (two epochs each).
* ``parse_html(path)`` -> :class:`HTMLTags`: every start tag of an HTML report, plus its ``<style>`` text;
  ``figure_images(tags)``: ``(figure attributes, decoded PNG)`` of every ``<figure><img>``;
  ``find_figure(images, **data_attributes)``: the one image whose ``data-*`` attributes match.
* ``gif_frames(data)``: the RGB frames of a GIF.
* ``run_cli(argv)``: ``featureviz export`` in process; returns its exit code.
"""

from __future__ import annotations

import argparse
import io
from base64 import b64decode
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from tb_featureviz.export.cli import add_export_arguments, run_export
from tests.support.logdir_factory import decode_png

RUNS = ("exp1", "exp2")


class HTMLTags(HTMLParser):
    """Every start tag with its attributes, plus the text of ``<style>`` elements."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.styles: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.styles.append(data)


def parse_html(path: Path) -> HTMLTags:
    parser = HTMLTags()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def figure_images(parser: HTMLTags) -> list[tuple[dict[str, str | None], np.ndarray]]:
    """``(figure attributes, decoded embedded PNG)`` of every ``<figure><img>``."""
    out = []
    figure: dict[str, str | None] | None = None
    for tag, attrs in parser.tags:
        if tag == "figure":
            figure = attrs
        elif tag == "img" and figure is not None:
            src = attrs["src"] or ""
            assert src.startswith("data:image/png;base64,")
            out.append((figure, decode_png(b64decode(src.split(",", 1)[1]))))
            figure = None
    return out


def find_figure(images: list[tuple[dict[str, str | None], np.ndarray]], **want: Any) -> np.ndarray:
    hits = [img for attrs, img in images if all(attrs.get(f"data-{k}") == str(v) for k, v in want.items())]
    assert len(hits) == 1, f"{len(hits)} figures match {want}"
    return hits[0]


def gif_frames(data: bytes) -> list[np.ndarray]:
    frames = []
    with Image.open(io.BytesIO(data)) as im:
        for i in range(im.n_frames):
            im.seek(i)
            frames.append(np.asarray(im.convert("RGB")).copy())
    return frames


def run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="featureviz export")
    add_export_arguments(parser)
    return run_export(parser.parse_args(argv))
