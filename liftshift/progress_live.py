"""The terminal display: one live line with a spinner and the elapsed time for what is running, one line for each
finished step (✓ done, ~ changed in place, ✗ failed, with its time), build and push output collapsed into the live
line unless --verbose.

Imported only when stderr is a terminal (progress.make_progress), so rich never loads for `--help` or in CI. The
live line is transient: rich.live.Live redraws it in place and removes it when the display settles, leaving only
the finished lines.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import TYPE_CHECKING, Any, TextIO

from . import progress
from .progress import Progress, mark_of, seconds_text, step_label

if TYPE_CHECKING:
    from .model.steps import Step

STYLES = {"done": "green", "changed": "yellow", "failed": "red"}


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _fit(text: str, width: int) -> str:
    """`text` on one line of at most `width` characters (cut with … in the middle, where names differ least)."""
    text = " ".join(text.split())
    if len(text) <= width:
        return text
    if width < 5:
        return text[:max(width, 0)]
    head = (width - 1) * 2 // 3
    return text[:head] + "…" + text[len(text) - (width - 1 - head):]


class _Activity:
    """What the live line shows: a phase or a step, since when, and its latest detail."""

    def __init__(self, label: str):
        self.label = label
        self.started = time.monotonic()
        self.detail = ""
        self.steps = 0  # steps run inside a phase (its header is printed before the first)

    def elapsed(self) -> float:
        return time.monotonic() - self.started


class TerminalProgress(Progress):
    def __init__(self, stream: TextIO | None = None, verbose: bool = False, console: Any = None):
        from rich.console import Console

        self.verbose = verbose
        self.console = console or Console(file=stream, highlight=False, soft_wrap=False)
        self._lock = threading.RLock()
        self._live: Any = None
        self._phase: _Activity | None = None
        self._step: _Activity | None = None

    # ------------------------------------------------------------------ drawing

    def _render(self) -> Any:
        from rich.spinner import Spinner
        from rich.text import Text

        # No lock here: rich's refresh thread calls this holding the Live's lock, and the event methods hold
        # self._lock while they print through the Live: taking ours here would deadlock. One attribute read is atomic.
        now = self._step or self._phase
        if now is None:
            return Text("")
        took = f"  {seconds_text(now.elapsed())}"
        room = self.console.width - 3  # the spinner and its space, and the last column left free
        line = Text(_fit(now.label, room - len(took)))
        line.append(took, style="dim")
        detail = now.detail
        if detail and room - len(line.plain) > 12:
            line.append(f"  {_fit(detail, room - len(line.plain) - 2)}", style="dim")
        return Spinner("dots", text=line, style="cyan")

    def _draw(self, now: bool = True) -> None:
        """Start the live line if it is not running, else redraw it (`now`, or at the next tick: 8 a second)."""
        from rich.live import Live

        if self._live is None:
            # What else writes to this terminal while the line is live (a command's own echo, a library's warning)
            # goes through rich, above the live line, instead of being torn by it; stdout only when it is this
            # terminal too (a piped result never passes through here).
            mine = self.console.file in (sys.stderr, sys.__stderr__)
            self._live = Live(get_renderable=self._render, console=self.console, transient=True,
                              refresh_per_second=8, redirect_stdout=mine and _isatty(sys.stdout),
                              redirect_stderr=mine)
            self._live.start()
            progress.drawing(self)
        elif now:
            self._live.refresh()

    def _print(self, text: str, style: str | None = None) -> None:
        from rich.text import Text

        self.console.print(Text(text, style=style or ""), highlight=False, overflow="ellipsis", no_wrap=True)

    def _mark(self, mark: str, label: str, seconds: float, indent: str = "  ") -> None:
        from rich.text import Text

        took = f"  {seconds_text(seconds)}"
        line = Text(indent)
        line.append(progress.MARKS[mark], style=STYLES[mark])
        line.append(f" {_fit(label, self.console.width - len(indent) - 3 - len(took))}")
        line.append(took, style="dim")  # the time always shows: a long name is cut instead
        self.console.print(line, highlight=False, overflow="ellipsis", no_wrap=True)

    def _end_phase(self, ok: bool) -> None:
        """A phase that ran no step of its own ends as one finished line (reading, building, booting)."""
        phase, self._phase = self._phase, None
        if phase is not None and phase.steps == 0:
            self._mark("done" if ok else "failed", phase.label, phase.elapsed(), indent="")

    # ------------------------------------------------------------------ events

    def phase(self, message: str) -> None:
        with self._lock:
            if self._step is not None:  # said while a step runs (pushing web to ...): that step's detail
                self._step.detail = message
                if self.verbose:
                    self._print(f"    {message}", "dim")
            else:
                self._end_phase(True)
                self._phase = _Activity(message)
            self._draw()

    def step_started(self, step: "Step") -> None:
        with self._lock:
            if self._phase is not None:
                if self._phase.steps == 0:
                    self._print(self._phase.label, "bold")
                self._phase.steps += 1
            self._step = _Activity(step_label(step))
            self._draw()

    def _finished(self, mark: str) -> None:
        with self._lock:
            step, self._step = self._step, None
            if step is not None:
                self._mark(mark, step.label, step.elapsed())
            self._draw()

    def step_done(self, step: "Step") -> None:
        self._finished(mark_of(step))

    def step_failed(self, step: "Step", error: BaseException) -> None:
        self._finished("failed")

    def note(self, message: str) -> None:
        with self._lock:
            if message.startswith(("warning:", "note:")):
                self._print(f"  {message}", "yellow" if message.startswith("warning:") else None)
            elif self.verbose:
                self._print(f"    {message}", "dim")
            self._show_detail(message)

    def build_output(self, service: str, line: str) -> None:
        line = line.rstrip()
        if not line:
            return
        with self._lock:
            if self.verbose:
                self._print(f"    [{service}] {line}", "dim")
            self._show_detail(line)

    def _show_detail(self, text: str) -> None:
        """`text` as the live line's detail (of the running step, else the phase); the lock is held."""
        now = self._step or self._phase
        if now is not None:
            now.detail = text
            self._draw(now=False)

    def settle(self, ok: bool = True) -> None:
        with self._lock:
            if self._step is not None:  # interrupted mid-step without the executor saying so
                self._finished("done" if ok else "failed")
            self._end_phase(ok)
            if self._live is not None:
                self._live.stop()
                self._live = None
