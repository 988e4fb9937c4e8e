"""Counts what the fuzz runs sent and got, and prints it at the end (the figures `make fuzz` reports)."""

from __future__ import annotations

from collections import Counter

# by run ("in process", "over HTTP") and operation; answers by status
CASES: Counter[tuple[str, str]] = Counter()
STATUSES: Counter[int] = Counter()


def count(run: str, case, status: int) -> None:
    CASES[(run, case.operation.label)] += 1
    STATUSES[status] += 1


def pytest_terminal_summary(terminalreporter) -> None:
    if not CASES:
        return
    for run in sorted({run for run, _ in CASES}):
        cases = {op: n for (r, op), n in CASES.items() if r == run}
        terminalreporter.write_line(f"fuzz {run}: {sum(cases.values())} cases over {len(cases)} operations")
    statuses = ", ".join(f"{status}: {n}" for status, n in sorted(STATUSES.items()))
    server_errors = sum(n for status, n in STATUSES.items() if status >= 500)
    terminalreporter.write_line(f"fuzz answers: {statuses}; server errors: {server_errors}")
