"""Where long work reports itself: a terminal, a CI log, or nowhere (--output json).

Progress goes to stderr so stdout carries only the result (text or JSON).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from .model.steps import Step


class Progress:
    """Silent: used with --output json, where stdout is the only output."""

    def step_started(self, step: "Step") -> None: ...

    def step_done(self, step: "Step") -> None: ...

    def note(self, message: str) -> None: ...

    def build_output(self, service: str, line: str) -> None: ...

    def phase(self, message: str) -> None: ...


class LineProgress(Progress):
    """One line per event on stderr: readable in CI logs and on terminals alike."""

    def __init__(self, stream: TextIO | None = None, verbose: bool = False):
        self.stream = stream or sys.stderr
        self.verbose = verbose
        self._rich = None
        if self.stream.isatty():
            from rich.console import Console

            self._rich = Console(file=self.stream, highlight=False)

    def _print(self, text: str, style: str = "") -> None:
        if self._rich is not None:
            self._rich.print(text, style=style or None, markup=False)
        else:
            print(text, file=self.stream, flush=True)

    def phase(self, message: str) -> None:
        self._print(f"==> {message}", "bold")

    def step_started(self, step: "Step") -> None:
        who = f"[{step.service}] " if step.service else ""
        self._print(f"  .. {who}{step.action} {step.kind} {step.name}", "dim")

    def step_done(self, step: "Step") -> None:
        who = f"[{step.service}] " if step.service else ""
        self._print(f"  ok {who}{step.action} {step.kind} {step.name}", "green")

    def note(self, message: str) -> None:
        self._print(f"     {message}", "yellow")

    def build_output(self, service: str, line: str) -> None:
        line = line.rstrip()
        if line and (self.verbose or line.startswith("Step ") or "digest:" in line):
            self._print(f"  [{service}] {line}", "dim")
