"""The CLI's progress bar: redrawn in place on a terminal; in a log (a file, CI, a pipe) one line per step, its
label once, where redraws with carriage returns used to pile up on one line ("step step step 0.2s")."""

from __future__ import annotations

import io

from dummi.progress import BarProgress


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _run(stream, **kw) -> str:
    bar = BarProgress(stream, **kw)
    for step in ("reading", "recommending"):
        bar.start(step, total=3)
        for _ in range(3):
            bar.advance()
        bar.finish("done")
    return stream.getvalue()


def test_a_log_gets_one_line_per_step_with_its_label_once():
    lines = _run(io.StringIO()).splitlines()
    assert len(lines) == 2 and "\r" not in "".join(lines)
    assert lines[0].startswith("reading ") and lines[0].count("reading") == 1 and lines[0].endswith("done")
    assert "[" + "#" * 30 + "] 3/3" in lines[1]


def test_a_long_step_in_a_log_writes_its_count_now_and_then():
    lines = _run(io.StringIO(), log_interval=0.0).splitlines()
    assert len(lines) == 2 * 4 and lines[0].startswith("reading") and lines[0].endswith("1/3")


def test_a_terminal_redraws_the_line_in_place():
    out = _run(_Terminal())
    assert out.count("\n") == 2 and out.count("\r") >= 4
