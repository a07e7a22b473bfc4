"""Progress of an export: the callback type every step takes, and a one-line bar on a terminal.

The bar draws on a terminal stream (stderr) and is silent when the stream is not a TTY.
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable
from typing import TextIO

ProgressCallback = Callable[[int, int, str], None]
"""``progress(done, total, what)``: called as work advances."""


class ProgressBar:
    """``progress(done, total, what)`` callback that draws ``[#####.....]  12/40  what`` on one line.

    It redraws at most every ``min_interval`` seconds (and always at ``done == total``), and draws
    nothing when the stream is not a terminal, so logs and pipes stay clean.

    Example:
        >>> bar = ProgressBar()
        >>> export("runs", ["exp1"], format="html", out="report.html", progress=bar)  # doctest: +SKIP
        >>> bar.close()

    Args:
        stream: Where to draw (default ``sys.stderr``).
        enabled: Force drawing on or off (default: whether ``stream`` is a TTY).
        min_interval: Seconds between redraws.
    """

    def __init__(self, stream: TextIO | None = None, *, enabled: bool | None = None, min_interval: float = 0.08):
        self.stream = stream if stream is not None else sys.stderr
        if enabled is None:
            isatty = getattr(self.stream, "isatty", None)
            enabled = bool(isatty and isatty())
        self.enabled = enabled
        self.min_interval = min_interval
        self._last = 0.0
        self._drawn = False

    def __call__(self, done: int, total: int, what: str) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if done < total and now - self._last < self.min_interval:
            return
        self._last = now
        width = shutil.get_terminal_size((80, 20)).columns
        bar_w = 24
        frac = 0.0 if total <= 0 else min(1.0, done / total)
        filled = round(frac * bar_w)
        counter = f"{done}/{total}"
        head = f"[{'#' * filled}{'.' * (bar_w - filled)}] {counter:>9} "
        room = max(0, width - len(head) - 1)
        text = what if len(what) <= room else what[: max(0, room - 1)] + "…"
        self.stream.write("\r" + head + text.ljust(room))
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        """Clears the bar's line, so the caller's final message starts on a clean line."""
        if self.enabled and self._drawn:
            width = shutil.get_terminal_size((80, 20)).columns
            self.stream.write("\r" + " " * (width - 1) + "\r")
            self.stream.flush()
            self._drawn = False
