"""Where long work reports itself: a live terminal display, plain lines for CI logs, or only warnings.

Progress goes to stderr so stdout carries only the result (text or JSON). `make_progress` chooses:
- stderr a terminal (and no NO_COLOR, TERM not dumb): `progress_live.TerminalProgress`, one live line per
  running step with a spinner and its elapsed time; rich is imported only then, so `--help` stays fast;
- otherwise (CI): `LineProgress`, plain lines: each phase as it starts, each step once when finished, with its time;
- `--output json` or `--quiet`: `WarningsOnly`, nothing but `warning:` lines.

A sink still drawing is stopped by `settle()` before anything else writes to the screen (a result, a prompt, an
error), so a live line never tears through them.

Every sink may be called from several threads at once (the executor's workers, builds side by side): each public
method holds the sink's lock and writes whole lines. While steps run, a phase is said from inside one of them
(pushing web to ...): it is that step's detail, not a new phase. A worker thread says which step it works on with
`working_on(step)`, so its notes and build output go to that step's live line.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from .model.steps import Step

_OPEN: list["Progress"] = []  # sinks that may still be drawing (settle() stops them)
_OPEN_LOCK = threading.Lock()


class Progress:
    """Silent: the base every sink extends (a test's or a library caller's default)."""

    verbose = False

    def step_started(self, step: "Step") -> None: ...

    def step_done(self, step: "Step") -> None: ...

    def step_failed(self, step: "Step", error: BaseException) -> None: ...

    def note(self, message: str) -> None: ...

    def build_output(self, service: str, line: str) -> None: ...

    def phase(self, message: str) -> None: ...

    def settle(self, ok: bool = True) -> None:
        """Finish what is drawn (the phase in progress ends as done, or failed when not `ok`)."""


class WarningsOnly(Progress):
    """--output json and --quiet: stderr carries only warnings (and the CLI's errors), one line each."""

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream or sys.stderr
        self._lock = threading.Lock()

    def note(self, message: str) -> None:
        if message.startswith("warning:"):
            write_line(self.stream, message, self._lock)


def write_line(stream: TextIO, text: str, lock: "threading.Lock | threading.RLock") -> None:
    """`text` and its newline in one write, under `lock`: print() writes them apart, so lines from two threads
    could meet mid-line."""
    with lock:
        stream.write(text + "\n")
        stream.flush()


def step_label(step: "Step") -> str:
    who = f"[{step.service}] " if step.service else ""
    return f"{who}{step.action} {step.kind} {step.name}"


def seconds_text(seconds: float) -> str:
    """0.3s, 12.1s, 1m32s, 1h02m."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    return f"{minutes // 60}h{minutes % 60:02d}m"


# A finished step's mark: changed in place (~) for updates and attachments, done (✓) for the rest; ✗ failed.
IN_PLACE_ACTIONS = frozenset({"update", "attach"})
MARKS = {"done": "✓", "changed": "~", "failed": "✗"}
ASCII_MARKS = {"done": "ok", "changed": "~", "failed": "FAILED"}


def mark_of(step: "Step") -> str:
    return "changed" if str(step.action) in IN_PLACE_ACTIONS else "done"


def marks_for(stream: TextIO) -> dict[str, str]:
    """✓ ~ ✗, or ASCII words on a stream whose encoding cannot write them (a C-locale CI runner)."""
    try:
        "✓✗".encode(getattr(stream, "encoding", None) or "utf-8")
        return MARKS
    except (UnicodeEncodeError, LookupError):
        return ASCII_MARKS


_WORKING = threading.local()  # the step this thread works on (working_on)


class working_on:
    """`with working_on(step):` on a worker thread: what it says meanwhile (notes, build output, a phase) belongs to
    `step`, which another thread (the executor's scheduler) reported started."""

    def __init__(self, step: "Step"):
        self.step = step

    def __enter__(self) -> "Step":
        self.outer = getattr(_WORKING, "step", None)
        _WORKING.step = self.step
        return self.step

    def __exit__(self, *exc: object) -> None:
        _WORKING.step = self.outer


def current_step() -> "Step | None":
    """The step the calling thread said it works on, if any."""
    return getattr(_WORKING, "step", None)


class LineProgress(Progress):
    """Plain lines, no colour, no cursor movement: CI logs, NO_COLOR, a dumb terminal. One line per finished step,
    also when steps run side by side; a phase said while steps run (pushing web to ...) is a step's detail, shown
    only with --verbose."""

    def __init__(self, stream: TextIO | None = None, verbose: bool = False):
        self.stream = stream or sys.stderr
        self.verbose = verbose
        self.marks = marks_for(self.stream)
        self._lock = threading.RLock()
        self._started: dict[int, float] = {}  # id(step) -> when, for each running step

    def _print(self, text: str) -> None:
        write_line(self.stream, text, self._lock)

    def phase(self, message: str) -> None:
        with self._lock:
            if not self._started:
                self._print(f"==> {message}")
            elif self.verbose:
                self._print(f"     {message}")

    def step_started(self, step: "Step") -> None:
        with self._lock:
            self._started[id(step)] = time.monotonic()

    def _finished(self, step: "Step", mark: str) -> None:
        with self._lock:
            took = time.monotonic() - self._started.pop(id(step), time.monotonic())
            self._print(f"  {self.marks[mark]} {step_label(step)} ({seconds_text(took)})")

    def step_done(self, step: "Step") -> None:
        self._finished(step, mark_of(step))

    def step_failed(self, step: "Step", error: BaseException) -> None:
        self._finished(step, "failed")

    def note(self, message: str) -> None:
        self._print(f"     {message}")

    def build_output(self, service: str, line: str) -> None:
        line = line.rstrip()
        if line and (self.verbose or line.startswith("Step ") or "digest:" in line):
            self._print(f"  [{service}] {line}")


def wants_plain(stream: TextIO, environ: "os._Environ[str] | dict[str, str] | None" = None) -> bool:
    """Plain lines rather than a live display: not a terminal, NO_COLOR set (https://no-color.org), or TERM=dumb."""
    env = os.environ if environ is None else environ
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):
        tty = False
    return not tty or bool(env.get("NO_COLOR")) or env.get("TERM") == "dumb"


def make_progress(*, json: bool = False, quiet: bool = False, verbose: bool = False,
                  stream: TextIO | None = None) -> Progress:
    """The sink for one command run (see the module docstring)."""
    stream = stream or sys.stderr
    if json or quiet:
        return WarningsOnly(stream)
    if wants_plain(stream):
        return LineProgress(stream, verbose=verbose)
    from .progress_live import TerminalProgress

    return TerminalProgress(stream=stream, verbose=verbose)


def drawing(sink: Progress) -> None:
    """`sink` started a live display: settle() will stop it."""
    with _OPEN_LOCK:
        if sink not in _OPEN:
            _OPEN.append(sink)


def settle(ok: bool = True) -> None:
    """Stop every live display this process drew, before a result, a prompt or an error is written. A sink draws
    again at its next event. Each sink settles outside the list's lock (its own lock is taken first when it
    starts drawing: the other order could deadlock)."""
    while True:
        with _OPEN_LOCK:
            if not _OPEN:
                return
            sink = _OPEN.pop()
        sink.settle(ok)
