"""The executor runs independent steps side by side: bounded, in dependency order, stopping cleanly on failure."""

from __future__ import annotations

import threading
import time

import botocore.exceptions
import pytest

from liftshift.apply.executor import Executor, StepFailed
from liftshift.apply.gate import RolloutFailed
from liftshift.apply.stopping import pause
from liftshift.model import refs
from liftshift.model.steps import Action, Call, Check, GateCall, Kind, Step
from liftshift.progress import Progress


class Recorder(Progress):
    def __init__(self):
        self.lines: list[str] = []
        self.lock = threading.Lock()

    def _add(self, line: str) -> None:
        with self.lock:
            self.lines.append(line)

    def step_started(self, step):
        self._add(f"start {step.name}")

    def step_done(self, step):
        self._add(f"done {step.name}")

    def step_failed(self, step, error):
        self._add(f"failed {step.name}")

    def note(self, message):
        self._add(f"note {message}")


class FakeAws:
    """A client whose calls take `seconds`, record how many run at once, and fail when told."""

    def __init__(self, seconds: float = 0.2, failing: tuple[str, ...] = ()):
        self.seconds = seconds
        self.failing = failing
        self.lock = threading.Lock()
        self.running = 0
        self.most = 0
        self.calls: list[str] = []

    def __call__(self, _client: str):
        return self

    def act(self, Name: str, **params):
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
            self.calls.append(Name)
        try:
            time.sleep(self.seconds / 4 if Name in self.failing else self.seconds)  # failures come first
            if Name in self.failing:
                raise botocore.exceptions.ClientError({"Error": {"Code": "Boom", "Message": Name}}, "Act")
            return {"Made": f"id-{Name}", "Seen": params.get("From")}
        finally:
            with self.lock:
                self.running -= 1


def act(name: str, service: str | None, save=None, **params) -> Step:
    call = Call("fake", "act", {"Name": name, **params}, save=save or {})
    return Step(Action.CREATE, Kind.SECURITY_GROUP, name, service, (call,))


def test_independent_steps_run_side_by_side_within_the_bound():
    aws = FakeAws(seconds=0.3)
    steps = [act(f"s{i}", f"svc{i}") for i in range(6)]
    started = time.monotonic()
    Executor(aws, None, Recorder(), parallel=3).run(steps)
    assert aws.most == 3
    assert time.monotonic() - started < 6 * 0.3  # two rounds of three, not six calls in a row
    assert sorted(aws.calls) == [f"s{i}" for i in range(6)]


def test_parallel_one_runs_the_plan_in_order_one_at_a_time():
    aws = FakeAws(seconds=0.01)
    steps = [act(f"s{i}", f"svc{i % 2}") for i in range(6)]
    Executor(aws, None, Recorder(), parallel=1).run(steps)
    assert aws.most == 1 and aws.calls == [f"s{i}" for i in range(6)]


def test_a_step_reading_a_ref_runs_after_the_step_saving_it_and_gets_its_value():
    aws = FakeAws(seconds=0.1)
    group = refs.security_group("a")
    steps = [act("other", "b"), act("make", "a", save={group: "Made"}), act("use", "c", From=group)]
    executor = Executor(aws, None, Recorder(), parallel=8)
    executor.run(steps)
    assert aws.calls.index("use") > aws.calls.index("make")
    assert executor.value(group) == "id-make"
    assert executor.done == steps  # in plan order, whatever order they finished in


def test_after_a_failure_no_step_starts_the_running_ones_finish_and_every_failure_is_reported():
    aws = FakeAws(seconds=0.2, failing=("b1", "c1"))
    progress = Recorder()
    steps = [act("a1", "a"), act("b1", "b"), act("c1", "c"), act("a2", "a"), act("d1", "d")]
    executor = Executor(aws, None, progress, parallel=3)
    with pytest.raises(StepFailed) as failed:
        executor.run(steps)
    assert "b1" in str(failed.value) and "also failed: create security group c1" in str(failed.value)
    assert "a2" not in aws.calls and "d1" not in aws.calls  # nothing started after the failures
    assert [s.name for s in executor.done] == ["a1"]  # the step running beside them finished
    assert {"failed b1", "failed c1", "done a1"} <= set(progress.lines)


class SlowGate:
    """A health gate that polls until its run stops it."""

    def __init__(self):
        self.stopped_after: float | None = None

    def healthy(self, **_params):
        started = time.monotonic()
        try:
            while time.monotonic() - started < 30:
                pause(0.05)
        finally:
            self.stopped_after = time.monotonic() - started
        return {}

    def probe(self, **_params):
        raise RolloutFailed("web #2 answered 500")


def test_a_failed_gate_stops_the_other_gates_waiting_beside_it():
    gate = SlowGate()
    steps = [Step(Action.WAIT, Kind.RELEASE_HEALTHY, "api #2", "api", (GateCall(Check.HEALTHY, {}),)),
             Step(Action.WAIT, Kind.PROBE, "web #2", "web", (GateCall(Check.PROBE, {}),))]
    progress = Recorder()
    with pytest.raises(RolloutFailed):
        Executor(FakeAws(), None, progress, gate=gate, parallel=4).run(steps)
    assert gate.stopped_after is not None and gate.stopped_after < 5
    assert any("api #2: stopped" in line for line in progress.lines)


class Interrupting(Recorder):
    def step_done(self, step):
        super().step_done(step)
        raise KeyboardInterrupt  # as Ctrl-C (or a lost lock) lands in the scheduler's thread


def test_an_interruption_stops_at_once_and_no_further_call_starts():
    aws = FakeAws(seconds=0.2)
    steps = [act("first", "a"), act("second", "a"), act("beside", "b"), act("after", "b")]
    executor = Executor(aws, None, Interrupting(), parallel=2)
    with pytest.raises(KeyboardInterrupt):
        executor.run(steps)
    time.sleep(0.5)  # what a worker was doing ends; nothing new begins
    assert "second" not in aws.calls and "after" not in aws.calls
    assert len(executor.done) == 1
