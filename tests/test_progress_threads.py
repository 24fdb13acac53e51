"""Progress from many threads at once (the executor's workers, builds side by side): every line is written whole,
each finished step is one line, and the live display shows every running step on a line of its own."""

from __future__ import annotations

import io
import re
import sys
import threading

import pytest

from liftshift import progress
from liftshift.model.steps import Action, Kind, Step
from support.terminal import screen_lines

THREADS = 12
STEPS_EACH = 25
TIME = r"\d+\.\ds"


class CharByCharStream(io.StringIO):
    """A log that takes each write one character at a time and lets other threads run between them: two writers
    not holding one lock would meet mid-line."""

    def write(self, text: str) -> int:
        for char in text:
            super().write(char)
            threading.Event().wait(0) if char == " " else None  # a point where another thread can cut in
        return len(text)


@pytest.fixture
def busy_switching():
    """Threads switch as often as the interpreter allows while the test runs."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(before)


def steps_of(worker: int) -> list[Step]:
    return [Step(Action.CREATE, Kind.SECURITY_GROUP, f"sg-{worker}-{n}", f"svc{worker}", ())
            for n in range(STEPS_EACH)]


def run_threads(work) -> None:
    start = threading.Barrier(THREADS)
    errors: list[BaseException] = []

    def body(worker: int) -> None:
        try:
            start.wait(timeout=30)
            work(worker)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=body, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


@pytest.mark.parametrize("verbose", [False, True])
def test_plain_lines_from_many_threads_are_whole_and_each_step_is_one_line(busy_switching, verbose):
    stream = CharByCharStream()
    sink = progress.LineProgress(stream, verbose=verbose)

    def work(worker: int) -> None:
        for step in steps_of(worker):
            sink.step_started(step)
            sink.build_output(f"svc{worker}", f"Step 1/2 : FROM busybox {step.name}")
            sink.note(f"note from {step.name}")
            if step.name.endswith("-3"):
                sink.step_failed(step, RuntimeError("boom"))
            else:
                sink.step_done(step)

    run_threads(work)
    text = stream.getvalue()
    assert text.endswith("\n")
    lines = text.splitlines()
    finished = re.compile(r"  ([✓✗]) \[svc(\d+)\] create security group sg-(\d+)-(\d+) \(" + TIME + r"\)")
    output = re.compile(r"  \[svc(\d+)\] Step 1/2 : FROM busybox sg-(\d+)-(\d+)")
    note = re.compile(r"     note from sg-(\d+)-(\d+)")
    marks: dict[str, str] = {}
    for line in lines:  # every line is one whole line of one kind: nothing met mid-line
        if m := finished.fullmatch(line):
            assert m.group(2) == m.group(3)
            name = f"sg-{m.group(3)}-{m.group(4)}"
            assert name not in marks, f"{name} finished twice"
            marks[name] = m.group(1)
        else:
            assert output.fullmatch(line) or note.fullmatch(line), repr(line)
    assert len(marks) == THREADS * STEPS_EACH  # each step once
    assert {name for name, mark in marks.items() if mark == "✗"} == {f"sg-{w}-3" for w in range(THREADS)}
    assert len(lines) == THREADS * STEPS_EACH * 3


def test_off_a_terminal_a_phase_said_while_steps_run_is_their_detail_not_a_heading():
    for verbose in (False, True):
        stream = io.StringIO()
        sink = progress.LineProgress(stream, verbose=verbose)
        sink.phase("pushing images")
        web, api = (Step(Action.PUSH, Kind.IMAGE, f"r/{s}:img-1", s, ()) for s in ("web", "api"))
        sink.step_started(web)
        sink.step_started(api)
        sink.phase("pushing web to r/web")  # the pusher, inside its step
        sink.step_done(api)
        sink.step_done(web)
        sink.phase("applying 2 change(s) to shop")
        lines = stream.getvalue().splitlines()
        assert [line for line in lines if line.startswith("==> ")] == [
            "==> pushing images", "==> applying 2 change(s) to shop"]
        assert ("     pushing web to r/web" in lines) == verbose
        assert [line.split(" (")[0] for line in lines if "✓" in line] == [
            "  ✓ [api] push image r/api:img-1", "  ✓ [web] push image r/web:img-1"]


# --------------------------------------------------------------------------- the terminal


ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


def fake_terminal(verbose: bool = False, width: int = 120):
    from rich.console import Console

    from liftshift.progress_live import TerminalProgress

    screen = io.StringIO()
    return TerminalProgress(verbose=verbose, console=Console(force_terminal=True, file=screen, width=width)), screen


def finished_lines(screen: io.StringIO) -> list[str]:
    """What stays on the screen, as a terminal shows it (support/terminal.py)."""
    return screen_lines(screen.getvalue())


def last_frame(sink) -> list[str]:
    """The live lines as drawn now."""
    from rich.console import Console

    out = io.StringIO()
    Console(file=out, width=sink.console.width, force_terminal=False).print(sink._render())
    return out.getvalue().splitlines()


def test_a_terminal_from_many_threads_leaves_one_whole_line_per_step(busy_switching):
    sink, screen = fake_terminal()
    sink.phase("applying changes to shop")

    def work(worker: int) -> None:
        for step in steps_of(worker)[:10]:
            sink.step_started(step)
            sink.note(f"svc{worker}: waiting")
            sink.build_output(f"svc{worker}", "Step 1/2 : FROM busybox")
            sink.step_done(step)

    run_threads(work)
    progress.settle()
    lines = finished_lines(screen)
    assert lines[0] == "applying changes to shop"
    steps = lines[1:]
    assert len(steps) == len(set(steps)) == THREADS * 10, steps
    assert all(re.fullmatch(r"  ✓ \[svc(\d+)\] create security group sg-\1-\d  " + TIME, line) for line in steps)


def test_the_live_display_shows_each_running_step_on_its_own_line_with_its_own_detail():
    sink, screen = fake_terminal()
    sink.phase("building 3 image(s), 3 at a time")
    jobs = [Step(Action.PUSH, Kind.IMAGE, f"r/{s}:img-1", s, ()) for s in ("web", "api", "worker")]
    for step in jobs:
        sink.step_started(step)

    def say(step: Step) -> None:  # a worker thread, working on the step the main thread started
        with progress.working_on(step):
            sink.build_output(step.service, f"{step.service}: Pushed")
            sink.phase(f"pushing {step.service} to r/{step.service}") if step.service == "api" else None

    threads = [threading.Thread(target=say, args=(step,)) for step in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    frame = last_frame(sink)
    assert len(frame) == 3, frame
    for line, (service, detail) in zip(frame, [("web", "web: Pushed"), ("api", "pushing api to r/api"),
                                              ("worker", "worker: Pushed")]):
        assert re.fullmatch(rf"[{SPINNER}] \[{service}\] push image r/{service}:img-1  {TIME}  {detail}", line), frame
    sink.step_done(jobs[1])
    assert [line.split("]")[0][2:] for line in last_frame(sink)] == ["[web", "[worker"]
    sink.step_failed(jobs[2], RuntimeError("boom"))
    sink.step_done(jobs[0])
    progress.settle()
    assert [line.rsplit("  ", 1)[0] for line in finished_lines(screen)] == [
        "building 3 image(s), 3 at a time", "  ✓ [api] push image r/api:img-1",
        "  ✗ [worker] push image r/worker:img-1", "  ✓ [web] push image r/web:img-1"]


def test_many_running_steps_show_a_few_lines_and_count_the_rest():
    from liftshift.progress_live import MAX_LIVE_LINES

    sink, _ = fake_terminal()
    running = [Step(Action.CREATE, Kind.IAM_ROLE, f"role-{n}", f"svc{n}", ()) for n in range(MAX_LIVE_LINES + 3)]
    for step in running:
        sink.step_started(step)
    frame = last_frame(sink)
    assert len(frame) == MAX_LIVE_LINES + 1
    assert frame[-1].strip() == "… and 3 more running"
    for step in running:
        sink.step_done(step)
    progress.settle()


def test_settling_while_steps_run_ends_each_once():
    sink, screen = fake_terminal()
    started = [Step(Action.CREATE, Kind.IAM_ROLE, f"role-{n}", "web", ()) for n in range(3)]
    for step in started:
        sink.step_started(step)
    progress.settle(ok=False)  # Ctrl-C: the executor said nothing more
    assert [line.rsplit("  ", 1)[0] for line in finished_lines(screen)] == [
        f"  ✗ [web] create iam role role-{n}" for n in range(3)]
    assert progress._OPEN == []
