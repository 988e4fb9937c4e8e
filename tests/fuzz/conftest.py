"""Counts what the fuzz run sent and got, and prints it at the end (the figures `make fuzz` reports)."""

from __future__ import annotations

from collections import Counter

CASES: Counter[str] = Counter()
STATUSES: Counter[int] = Counter()


def pytest_terminal_summary(terminalreporter) -> None:
    if not CASES:
        return
    total = sum(CASES.values())
    statuses = ", ".join(f"{status}: {n}" for status, n in sorted(STATUSES.items()))
    terminalreporter.write_line(f"fuzz: {total} cases over {len(CASES)} operations; answers {statuses}")
