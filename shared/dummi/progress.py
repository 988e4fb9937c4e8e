"""Progress of long work: bars on a terminal (``dummi train``), periodic log lines elsewhere (Lambda)."""

from __future__ import annotations

import logging
import sys
import time
from typing import Protocol

logger = logging.getLogger(__name__)


class Progress(Protocol):
    def start(self, step: str, total: int | None = None) -> None: ...

    def advance(self, n: int = 1) -> None: ...

    def finish(self, message: str = "") -> None: ...


class NullProgress:
    def start(self, step: str, total: int | None = None) -> None: ...

    def advance(self, n: int = 1) -> None: ...

    def finish(self, message: str = "") -> None: ...


class LogProgress:
    """One log line when a step starts, about every 10% (at most every ``min_seconds``), and at the end."""

    def __init__(self, log: logging.Logger | None = None, min_seconds: float = 5.0) -> None:
        self._log = log or logger
        self._min_seconds = min_seconds
        self._step, self._total, self._done, self._last = "", None, 0, 0.0
        self._started = 0.0

    def start(self, step: str, total: int | None = None) -> None:
        self._step, self._total, self._done = step, total, 0
        self._started = self._last = time.monotonic()
        self._log.info("%s: started%s", step, f" ({total} items)" if total else "")

    def advance(self, n: int = 1) -> None:
        self._done += n
        now = time.monotonic()
        if self._total and now - self._last >= self._min_seconds:
            self._last = now
            self._log.info("%s: %d/%d (%.0f%%)", self._step, self._done, self._total, 100 * self._done / self._total)

    def finish(self, message: str = "") -> None:
        elapsed = time.monotonic() - self._started
        self._log.info("%s: done in %.1fs%s", self._step, elapsed, f" - {message}" if message else "")


class BarProgress:
    """A text progress bar on stderr (no dependency), one line per step. Where the stream is no terminal (a
    log file, CI), a bar redrawn with ``\\r`` piles up on one line: there each step writes a line of its
    count every ``log_interval`` seconds of a long step, and one line when it ends."""

    def __init__(self, stream=None, width: int = 30, min_interval: float = 0.2, log_interval: float = 10.0) -> None:
        self._stream = stream or sys.stderr
        self._width = width
        self._tty = bool(getattr(self._stream, "isatty", lambda: False)())
        self._min_interval = min_interval if self._tty else log_interval
        self._step, self._total, self._done, self._started, self._drawn = "", None, 0, 0.0, 0.0

    def start(self, step: str, total: int | None = None) -> None:
        self._step, self._total, self._done = step, total, 0
        self._started = self._drawn = time.monotonic()
        if self._tty:
            self._draw()

    def advance(self, n: int = 1) -> None:
        self._done += n
        if time.monotonic() - self._drawn >= self._min_interval:  # a few times a second at most (a log: rarely)
            self._draw()
            if not self._tty:
                self._stream.write("\n")

    def finish(self, message: str = "") -> None:
        elapsed = time.monotonic() - self._started
        self._draw(final=f" {elapsed:6.1f}s {message}".rstrip())
        self._stream.write("\n")
        self._stream.flush()

    def _draw(self, final: str = "") -> None:
        self._drawn = time.monotonic()
        if self._total:
            filled = int(self._width * min(self._done, self._total) / self._total)
            bar = f"[{'#' * filled}{'.' * (self._width - filled)}] {self._done}/{self._total}"
        else:
            bar = f"{self._done}" if self._done else ""
        back = "\r" if self._tty else ""  # a terminal redraws the line; a log gets lines
        self._stream.write(f"{back}{self._step:<22} {bar}{final}")
        self._stream.flush()
