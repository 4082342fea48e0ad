"""A plain-text progress bar for uploads (no dependency): ``[#####.....]  42%  12.0/28.6 MiB``."""

from __future__ import annotations

import math
import sys
import time
from typing import TextIO

WIDTH = 30
MIB = 1024 * 1024


def human_bytes(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if count < 1024 or unit == "GiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    raise AssertionError("unreachable")


def render_bar(done: int, total: int, width: int = WIDTH) -> str:
    """One line of the bar; an unknown total shows only the count."""
    if total <= 0:
        return f"{human_bytes(done)} sent"
    fraction = min(1.0, done / total)
    filled = int(fraction * width)
    bar = "#" * filled + "." * (width - filled)
    return f"[{bar}] {fraction:4.0%}  {human_bytes(done)} / {human_bytes(total)}"


class ProgressBar:
    """A callable ``(done, total)`` redrawing one line on ``stream`` (stderr), at most every
    ``interval`` seconds; a line break once ``done`` reaches ``total``."""

    def __init__(self, label: str = "", stream: TextIO | None = None, interval: float = 0.1):
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.interval = interval
        self._drawn_at = -math.inf
        self._finished = False

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        complete = total > 0 and done >= total
        if self._finished or (not complete and now - self._drawn_at < self.interval):
            return
        self._drawn_at = now
        prefix = f"{self.label} " if self.label else ""
        self.stream.write(f"\r{prefix}{render_bar(done, total)}")
        if complete:
            self.stream.write("\n")
            self._finished = True
        self.stream.flush()
