"""Suite-wide hooks: the bad-input counts printed after the run."""

from __future__ import annotations

from typing import Any

from tests.bad_input import RUNS


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if RUNS:
        terminalreporter.section("bad input")
        for run in RUNS:
            terminalreporter.write_line(run.line())
