"""The executor: the only code that runs planned calls against AWS and the registry.

It dispatches each instruction by its type (model.steps: an AWS Call, a
botocore Wait, a PushImage for the image pusher, a GateCall for the health
gate), resolves refs (values made by earlier calls), treats "already done" error
codes as success so re-runs converge, retries bounded "not yet" codes that
come from AWS's eventual consistency, and reports each step to a progress
sink. A failing call stops the run with StepFailed naming the step.

Steps that do not depend on each other (apply/dependencies.py) run side by
side on up to `parallel` worker threads, so a region's latency is paid once per
chain of dependent calls, not once per call. After the first failure no step
starts; the running ones finish (a health gate that is still waiting stops
waiting, see `pause`) and every failure is reported. An interruption (Ctrl-C,
a lost lock) stops at once: the workers are daemon threads that start no
further call. `parallel=1` runs in the calling thread, in plan order.
"""

from __future__ import annotations

import hashlib
import queue
import secrets
import threading
import time
from typing import TYPE_CHECKING, Any, Callable

from ..errors import LiftshiftError, PartlyApplied
from ..model.refs import Ref, Refs
from ..model.steps import GateCall, Instruction, PushImage, RunToken, Step, Wait, Withheld
from ..progress import Progress, working_on
from .dependencies import critical_paths, dependencies
from .stopping import Stopped, current_stop, pause

if TYPE_CHECKING:
    from ..targets.base import Gate


class StepFailed(PartlyApplied):
    """A planned step failed: the deployment failed (exit code 1)."""

    def __init__(self, step: Step, message: str):
        self.step = step
        super().__init__(f"{step.action} {step.kind} {step.name}: {message}")


class Executor:
    def __init__(
        self,
        client_for: Callable[[str], Any],
        push: Callable[..., str] | None,
        progress: Progress,
        *,
        gate: Gate | None = None,
        parallel: int = 1,
        retry_seconds: float = 90.0,
        waiter_delay: int = 5,
        waiter_attempts: int = 72,
    ):
        self.client_for = client_for
        self.push = push
        self.gate = gate  # health gates of rollouts (targets.base.Gate): GateCalls
        self.progress = progress
        self.parallel = max(1, parallel)
        self.retry_seconds = retry_seconds
        self.waiter_config = {"Delay": waiter_delay, "MaxAttempts": waiter_attempts}
        self.values: dict[Ref, Any] = {}  # what earlier calls saved
        self.done: list[Step] = []
        self.run_id = new_run_id()  # client tokens (steps.RunToken) are unique to this run

    def token(self, intent: str) -> str:
        """The client token of `intent` in this run: the same for every retry, never one of another run."""
        return hashlib.sha256(f"{self.run_id}\0{intent}".encode()).hexdigest()[:32]

    def value(self, ref: Ref) -> Any:
        """What the call that saves `ref` returned (KeyError if it has not run)."""
        return self.values[ref]

    def made(self, ref: Ref) -> bool:
        """Whether a call of this run saved `ref` (e.g. created the probe rule)."""
        return ref in self.values

    def run(self, steps: list[Step]) -> None:
        """Run `steps`; `done` gains the finished ones in plan order, also when the run fails."""
        if self.parallel == 1 or len(steps) < 2:
            for step in steps:
                self.progress.step_started(step)
                try:
                    self._run_step(step)
                except BaseException as exc:  # the display marks the step failed (✗), then the error goes on
                    self.progress.step_failed(step, exc)
                    raise
                self.done.append(step)
                self.progress.step_done(step)
            return
        _Schedule(self, steps).run()

    def _run_step(self, step: Step, stop: threading.Event | None = None) -> None:
        for call in step.calls:
            if stop is not None and stop.is_set():
                raise Stopped()
            self._call(step, call)

    def resolve(self, value: Any) -> Any:
        if isinstance(value, Ref):
            return self.values[value]
        if isinstance(value, Withheld):
            return value.value
        if isinstance(value, RunToken):
            return self.token(value.intent)
        if isinstance(value, Refs):
            out: list[Any] = []
            for ref in value.refs:
                out += self.values.get(ref) or []
            return out
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        return value

    def _call(self, step: Step, call: Instruction) -> None:
        import botocore.exceptions
        import jmespath

        params = self.resolve(call.params)
        deadline = time.monotonic() + self.retry_seconds
        delay = 2.0
        while True:
            try:
                response = self._invoke(call, params)
                break
            except botocore.exceptions.ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "")
                if code in call.ignore:
                    response = {}
                    break
                if _retryable(call, code, str(exc)) and time.monotonic() + delay < deadline:
                    self.progress.note(f"{step.kind} {step.name}: {code}, retrying in {delay:.0f}s")
                    pause(delay)
                    delay = min(delay * 2, 15.0)
                    continue
                raise StepFailed(step, f"{call.operation} failed: {exc}") from None
            except botocore.exceptions.WaiterError as exc:
                raise StepFailed(step, f"gave up waiting: {exc}") from None
            except botocore.exceptions.BotoCoreError as exc:
                raise StepFailed(step, f"{call.operation} failed: {exc}") from None
        for ref, path in call.save.items():
            self.values[ref] = jmespath.search(path, response)

    def _invoke(self, call: Instruction, params: dict[str, Any]) -> Any:
        if isinstance(call, PushImage):
            if self.push is None:
                raise RuntimeError("no image pusher was given to the executor")
            return self.push(**params)
        if isinstance(call, GateCall):
            if self.gate is None:
                raise RuntimeError("no health gate was given to the executor")
            return getattr(self.gate, call.check.value)(**params)
        client = self.client_for(call.client)
        if isinstance(call, Wait):
            client.get_waiter(call.waiter).wait(**params, WaiterConfig=self.waiter_config)
            return {}
        return getattr(client, call.operation)(**params)


class _Schedule:
    """One parallel run of a plan: the main thread starts each step whose dependencies are done on a worker
    thread and reports it; workers only run calls. Why not concurrent.futures: its workers are joined when the
    interpreter exits, so a health gate still waiting would hold an interrupted run open; these are daemons."""

    def __init__(self, executor: Executor, steps: list[Step]):
        self.executor = executor
        self.steps = steps
        graph = dependencies(steps)
        self.needs = [set(n) for n in graph]
        self.longest = critical_paths(steps, graph)
        self.waiting = set(range(len(steps)))
        self.running: set[int] = set()
        self.finished: list[int] = []
        self.failures: list[tuple[int, BaseException]] = []
        self.stop = threading.Event()
        self.work: queue.Queue[int | None] = queue.Queue()
        self.results: queue.Queue[tuple[int, BaseException | None]] = queue.Queue()

    def run(self) -> None:
        workers = [threading.Thread(target=self._worker, name=f"liftshift-step-{n}", daemon=True)
                   for n in range(min(self.executor.parallel, len(self.steps)))]
        for worker in workers:
            worker.start()
        try:
            self._schedule()
        except BaseException:  # Ctrl-C or a lost lock: no call starts after this, nothing waits for the workers
            self.stop.set()
            raise
        finally:
            for _ in workers:
                self.work.put(None)
            self.executor.done += [self.steps[i] for i in sorted(self.finished)]
        if self.failures:
            raise _reported(self.steps, self.failures)

    def _schedule(self) -> None:
        self._start_ready()
        while self.running:
            index, error = self.results.get()
            self.running.discard(index)
            step = self.steps[index]
            if error is None:
                self.finished.append(index)
                self.executor.progress.step_done(step)
                for other in self.waiting:
                    self.needs[other].discard(index)
            elif isinstance(error, Stopped):
                self.executor.progress.note(f"{step.action} {step.kind} {step.name}: stopped (another step failed)")
            else:
                self.failures.append((index, error))
                self.executor.progress.step_failed(step, error)
                self.stop.set()  # no further step starts; a waiting gate stops waiting (pause)
            if not self.stop.is_set():
                self._start_ready()

    def _start_ready(self) -> None:
        for index in sorted((i for i in self.waiting if not self.needs[i]), key=lambda i: (-self.longest[i], i)):
            if len(self.running) >= self.executor.parallel:
                return
            self.waiting.discard(index)
            self.running.add(index)
            self.executor.progress.step_started(self.steps[index])
            self.work.put(index)

    def _worker(self) -> None:
        current_stop.event = self.stop
        while (index := self.work.get()) is not None:
            try:
                with working_on(self.steps[index]):  # its notes go to its own line of the display
                    self.executor._run_step(self.steps[index], self.stop)
                self.results.put((index, None))
            except BaseException as exc:  # reported by the main thread
                self.results.put((index, exc))


def _reported(steps: list[Step], failures: list[tuple[int, BaseException]]) -> BaseException:
    """The first failure in plan order, naming the others (each was shown as its own ✗ line too)."""
    failures.sort(key=lambda failure: failure[0])
    first = failures[0][1]
    if len(failures) > 1 and isinstance(first, LiftshiftError) and len(first.args) == 1:
        others = "; ".join(f"{steps[i].action} {steps[i].kind} {steps[i].name}: {error}" for i, error in failures[1:])
        first.args = (f"{first.args[0]}\nalso failed: {others}",)
    return first


def new_run_id() -> str:
    """128 random bits per Executor (tests replace it to reproduce repeated tokens)."""
    return secrets.token_hex(16)


def _retryable(call: Instruction, code: str, message: str) -> bool:
    for rule in call.retry:
        want, _, words = rule.partition(":")
        if want == code and words.lower() in message.lower():
            return True
    return False
