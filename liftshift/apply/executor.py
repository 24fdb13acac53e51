"""The executor: the only code that runs planned calls against AWS and the registry.

It dispatches each instruction by its type (model.steps: an AWS Call, a
botocore Wait, a PushImage for the image pusher, a GateCall for the health
gate), resolves refs (values made by earlier calls), treats "already done" error
codes as success so re-runs converge, retries bounded "not yet" codes that
come from AWS's eventual consistency, and reports each step to a progress
sink. A failing call stops the run with StepFailed naming the step.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from typing import TYPE_CHECKING, Any, Callable

from ..errors import PartlyApplied
from ..model.refs import Ref, Refs
from ..model.steps import GateCall, Instruction, PushImage, RunToken, Step, Wait, Withheld
from ..progress import Progress

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
        retry_seconds: float = 90.0,
        waiter_delay: int = 5,
        waiter_attempts: int = 72,
    ):
        self.client_for = client_for
        self.push = push
        self.gate = gate  # health gates of rollouts (targets.base.Gate): GateCalls
        self.progress = progress
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
        for step in steps:
            self.progress.step_started(step)
            try:
                for call in step.calls:
                    self._call(step, call)
            except BaseException as exc:  # the display marks the step failed (✗), then the error goes on
                self.progress.step_failed(step, exc)
                raise
            self.done.append(step)
            self.progress.step_done(step)

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
                    time.sleep(delay)
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


def new_run_id() -> str:
    """128 random bits per Executor (tests replace it to reproduce repeated tokens)."""
    return secrets.token_hex(16)


def _retryable(call: Instruction, code: str, message: str) -> bool:
    for rule in call.retry:
        want, _, words = rule.partition(":")
        if want == code and words.lower() in message.lower():
            return True
    return False
