"""The terminal display: a live line with a spinner and the elapsed time for each running step (several when steps
run side by side), one line for each finished step (✓ done, ~ changed in place, ✗ failed, with its time), build and
push output collapsed into the live lines unless --verbose (then each line is printed, named by its service).

Imported only when stderr is a terminal (progress.make_progress), so rich never loads for `--help` or in CI. The
live lines are transient: rich.live.Live redraws them in place and removes them when the display settles, leaving
only the finished lines. Events may come from several threads: each holds the display's lock.
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
    """What a live line shows: a phase or a step, since when, and its latest detail."""

    def __init__(self, label: str, service: str | None = None):
        self.label = label
        self.service = service
        self.started = time.monotonic()
        self.detail = ""
        self.steps = 0  # steps run inside a phase (its header is printed before the first)
        self.spinner: Any = None  # made by the first draw, kept so that it turns

    def elapsed(self) -> float:
        return time.monotonic() - self.started


MAX_LIVE_LINES = 6  # running steps shown one per line; the rest are counted on one more line


class TerminalProgress(Progress):
    def __init__(self, stream: TextIO | None = None, verbose: bool = False, console: Any = None):
        from rich.console import Console

        self.verbose = verbose
        self.console = console or Console(file=stream, highlight=False, soft_wrap=False)
        self._lock = threading.RLock()
        self._live: Any = None
        self._phase: _Activity | None = None
        self._running: dict[int, _Activity] = {}  # id(step) -> its live line, in the order started
        self._shown: tuple[_Activity, ...] = ()  # what _render draws: replaced whole, under the lock

    # ------------------------------------------------------------------ drawing

    def _render(self) -> Any:
        from rich.console import Group
        from rich.text import Text

        # No lock here: rich's refresh thread calls this holding the Live's lock, and the event methods hold
        # self._lock while they print through the Live: taking ours here would deadlock. Reading one attribute
        # (a tuple the events replace whole) is atomic.
        shown = self._shown or ((self._phase,) if self._phase is not None else ())
        if not shown:
            return Text("")
        lines = [self._line(now) for now in shown[:MAX_LIVE_LINES]]
        if len(shown) > MAX_LIVE_LINES:
            lines.append(Text(f"  … and {len(shown) - MAX_LIVE_LINES} more running", style="dim"))
        return lines[0] if len(lines) == 1 else Group(*lines)

    def _line(self, now: _Activity) -> Any:
        from rich.spinner import Spinner
        from rich.text import Text

        took = f"  {seconds_text(now.elapsed())}"
        room = self.console.width - 3  # the spinner and its space, and the last column left free
        line = Text(_fit(now.label, room - len(took)))
        line.append(took, style="dim")
        detail = now.detail
        if detail and room - len(line.plain) > 12:
            line.append(f"  {_fit(detail, room - len(line.plain) - 2)}", style="dim")
        if now.spinner is None:
            now.spinner = Spinner("dots", text=line, style="cyan")
        else:
            now.spinner.update(text=line)
        return now.spinner

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

    def _owner(self, service: str | None = None) -> _Activity | None:
        """Whose live line a note, build output or a phase said now belongs to: the step this thread works on
        (progress.working_on), else the newest running step of `service`, else the newest running step, else the
        phase. The lock is held."""
        working = progress.current_step()
        if working is not None and id(working) in self._running:
            return self._running[id(working)]
        running = list(self._running.values())
        for activity in reversed(running):
            if service is not None and activity.service == service:
                return activity
        return running[-1] if running else self._phase

    def _refresh_shown(self) -> None:
        self._shown = tuple(self._running.values())

    def phase(self, message: str) -> None:
        with self._lock:
            if self._running:  # said while steps run (pushing web to ...): a step's detail
                owner = self._owner()
                if owner is not None:
                    owner.detail = message
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
            self._running[id(step)] = _Activity(step_label(step), getattr(step, "service", None))
            self._refresh_shown()
            self._draw()

    def _finished(self, step: "Step", mark: str) -> None:
        with self._lock:
            activity = self._running.pop(id(step), None)
            if activity is not None:
                self._refresh_shown()
                self._mark(mark, activity.label, activity.elapsed())
            self._draw()

    def step_done(self, step: "Step") -> None:
        self._finished(step, mark_of(step))

    def step_failed(self, step: "Step", error: BaseException) -> None:
        self._finished(step, "failed")

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
            self._show_detail(line, service)

    def _show_detail(self, text: str, service: str | None = None) -> None:
        """`text` as the detail of its owner's live line (see _owner); the lock is held."""
        owner = self._owner(service)
        if owner is not None:
            owner.detail = text
            self._draw(now=False)

    def settle(self, ok: bool = True) -> None:
        with self._lock:
            for activity in list(self._running.values()):  # interrupted mid-step without the executor saying so
                self._mark("done" if ok else "failed", activity.label, activity.elapsed())
            self._running.clear()
            self._refresh_shown()
            self._end_phase(ok)
            if self._live is not None:
                self._live.stop()
                self._live = None
