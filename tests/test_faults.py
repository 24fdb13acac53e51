"""Fault injection: a deploy interrupted anywhere converges on the next run, with nothing duplicated.

Against moto (server mode), the real Docker engine and a real registry, like
test_deploy.py. Faults come from tests/support/faults.py, hooked into the boto3
clients liftshift makes (botocore's before-call / after-call / before-send events);
kills are real SIGKILLs of the CLI process.

The convergence bugs this harness found (lifecycle policy, log retention, lock
release, lost lock write) are fixed; the tests at the end pin each fix.

To keep the suite's time, these tests sample where benchmarks/faults.py sweeps (each test's
docstring says what it leaves to the benchmark): the first fault point of each kind rather than
every mutating call, 12 kill points rather than 20, and a fiftieth of botocore's backoff sleeps.
Run `python benchmarks/faults.py` for the full sweeps.
"""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import botocore.exceptions
import pytest

from liftshift.aws import lock
from liftshift.apply.executor import StepFailed
from liftshift.aws.session import CallLog
from liftshift.pipeline.deploy import deploy
from liftshift.pipeline.destroy import destroy
from liftshift.progress import Progress
from liftshift.spec.load import load_spec
from liftshift.targets.aws import aws_target
from support.faults import (FaultInjector, StepCallLog, StepProgress, check_converged, deploy_unlocking, one_point_per_kind,
                            remove_local_images, reset_moto, shared_botocore_loader, stack_tagged, write_stack)

REPO_ROOT = Path(__file__).resolve().parent.parent
KILL_POINTS = 12  # 6 from nothing, 6 replacing; benchmarks/faults.py kills at 20 (--kills)
BACKOFF_SCALE = 0.02  # of botocore's retry sleeps, really slept (full length in benchmarks/faults.py)
LOCK_CALLS = ["dynamodb:PutItem", "dynamodb:DeleteItem"]  # what a no-change deploy writes: only the lock

# (faulted call, "before" it is sent / "after" AWS applied it) -> a symptom accepted for it. None is left:
# every fault point converges. Kept so a newly found, not yet fixed bug can be named here with its test.
KNOWN: dict[tuple[str, str], str] = {}


@pytest.fixture(scope="module", autouse=True)
def _parsed_models_once():
    # Every deploy makes a new boto3 Session, which would parse botocore's service models again.
    with shared_botocore_loader():
        yield


@pytest.fixture
def env(aws_env, registry, busybox_image, docker_client, monkeypatch):
    monkeypatch.setenv("LIFTSHIFT_REGISTRY", registry.host)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")  # moto answers unimplemented calls with 500: fail fast
    monkeypatch.delenv("AWS_RETRY_MODE", raising=False)
    stacks: list[str] = []
    yield {"moto": aws_env, "registry": registry, "stacks": stacks}
    remove_local_images(docker_client, registry.host, stacks)


def target(call_log=None, progress=None):
    return aws_target(None, None, progress or Progress(), call_log)


def new_stack(env, root: Path, name: str, env_value: str = "1"):
    env["stacks"].append(name)
    app = write_stack(root / name, name, env_value)
    return (app, *load_spec(app))


def converge_and_check(spec, base, stack: str, *, destroy_after: bool = True) -> list[str]:
    """Deploy without faults; then the exact desired state, a third deploy writing only the lock,
    and (destroy_after) a destroy leaving nothing tagged with the stack. Returns the problems."""
    problems: list[str] = []
    _, stuck = deploy_unlocking(spec, base, target)
    if stuck is not None:
        problems.append(f"stack left locked by {stuck.owner} ({stuck.operation}): the next deploy exits 4")
    problems += check_converged(stack).problems
    log = CallLog()
    again = deploy(spec, base, target(log))
    if log.mutating() != LOCK_CALLS or again["changed"]:
        problems.append(f"third deploy made mutating calls {log.mutating()}")
    if destroy_after:
        destroy(spec, target(), keep_images=False)
        left = stack_tagged(stack)
        if left:
            problems.append(f"destroy left {left}")
    return problems


def unexpected(problems: list[str], faulted: str, when: str) -> list[str]:
    marker = KNOWN.get((faulted, when))
    return [p for p in problems if not (marker and marker in p)]


def mutating_calls_of_a_clean_deploy(env, tmp_path: Path, name: str) -> list[tuple[str, tuple]]:
    """The mutating calls of a first deploy, in order, each with its kind of fault point
    (StepCallLog.mutating_points), on a moto that already has the lock table (the table's
    creation is covered by test_lock_table_creation_failing_once_converges)."""
    _, spec, base = new_stack(env, tmp_path, name)
    deploy(spec, base, target())  # makes the lock table and warms moto's backends
    destroy(spec, target(), keep_images=False)
    _, spec, base = new_stack(env, tmp_path, name + "r")
    log = StepCallLog()
    deploy(spec, base, target(log, log.progress))
    assert check_converged(name + "r").problems == []
    destroy(spec, target(), keep_images=False)
    return log.mutating_points()


def test_every_kind_of_mutating_call_failing_once_then_deploy_converges(env, tmp_path, unique):
    """For the first k of each kind of fault point: the k-th mutating call of a first deploy fails
    once (before it is sent), the run stops; the next deploy reaches exactly the desired state, a
    third changes nothing and destroy leaves nothing. Each k gets its own stack name: its own fresh
    state in moto.

    A kind is (step action, step kind, operation, how many times that step kind made that call for
    the same service before), read from the reference deploy: so every distinct operation, every
    step kind making it (a release record's create and its update) and every repeated call within
    one service (the second RunInstances of web's two launches) is hit. What is left out are the
    points that differ from a chosen one only in their service (worker's CreateRole after web's):
    benchmarks/faults.py fails every k, in this mode and after the call is applied."""
    points = mutating_calls_of_a_clean_deploy(env, tmp_path, f"{unique}c")
    mutating = [operation for operation, _ in points]
    assert len(mutating) >= 20 and mutating[0] == "dynamodb:PutItem" and mutating[-1] == "dynamodb:DeleteItem"
    sample = one_point_per_kind(points)
    assert {mutating[k - 1] for k in sample} == set(mutating)  # every operation, at least once
    assert len(sample) < len(mutating)  # the kinds are recognised: web's and worker's calls collapse
    failures: dict[str, list[str]] = {}
    for k in sample:
        _, spec, base = new_stack(env, tmp_path, f"{unique}k{k}")
        progress = StepProgress()  # steps run side by side (the default): the point is chosen by kind, not position
        injector = FaultInjector(fail_point=points[k - 1][1], progress=progress)
        with injector.install():
            if mutating[k - 1] == "dynamodb:DeleteItem":
                deploy(spec, base, target(None, progress))  # a failed lock release is retried, not a failed deploy
            else:
                with pytest.raises((StepFailed, botocore.exceptions.ClientError)):
                    deploy(spec, base, target(None, progress))
        assert injector.injected == [mutating[k - 1]], (k, injector.injected)
        problems = unexpected(converge_and_check(spec, base, spec.name), mutating[k - 1], "before")
        if problems:
            failures[f"k={k} {mutating[k - 1]}"] = problems
    assert not failures, "\n".join(f"{where}: {p}" for where, ps in failures.items() for p in ps)


LOST_ANSWERS = ["ec2:CreateSecurityGroup", "ec2:AuthorizeSecurityGroupIngress", "ec2:CreateLaunchTemplate",
                "ec2:RunInstances", "iam:CreateRole", "iam:PutRolePolicy", "iam:CreateInstanceProfile",
                "iam:AddRoleToInstanceProfile", "ecr:CreateRepository", "logs:CreateLogGroup"]


def test_a_lost_answer_to_a_create_then_deploy_converges(env, tmp_path, unique):
    """Each call reaches AWS and takes effect, but its answer is lost (a dropped connection): the next
    deploy must find what was made (by tags and names) instead of making it twice."""
    failures = {}
    for i, operation in enumerate(LOST_ANSWERS):
        _, spec, base = new_stack(env, tmp_path, f"{unique}a{i}")
        injector = FaultInjector(fail_operation=operation, when="after")
        with injector.install(), pytest.raises((StepFailed, botocore.exceptions.ClientError)):
            deploy(spec, base, target())
        assert injector.injected == [operation]
        problems = unexpected(converge_and_check(spec, base, spec.name), operation, "after")
        if problems:
            failures[operation] = problems
    assert not failures, "\n".join(f"{where}: {p}" for where, ps in failures.items() for p in ps)


@pytest.mark.parametrize("when", ["before", "after"])
@pytest.mark.parametrize("operation", ["dynamodb:PutItem", "dynamodb:CreateTable"])
def test_lock_table_creation_failing_once_converges(env, tmp_path, unique, operation, when):
    """On an account without the lock table (fresh moto): its first put, or the table's creation, fails."""
    reset_moto(env["moto"])
    _, spec, base = new_stack(env, tmp_path, unique)
    injector = FaultInjector(fail_operation=operation, when=when)
    with injector.install():
        if (operation, when) == ("dynamodb:PutItem", "after"):
            deploy(spec, base, target())  # the lock's own write, answer lost: recognised by its token
        else:
            with pytest.raises(botocore.exceptions.ClientError):
                deploy(spec, base, target())
            assert stack_tagged(unique) == {}  # nothing made before the lock is held
    assert injector.injected == [operation]
    assert unexpected(converge_and_check(spec, base, unique), operation, when) == []


# --- throttling -------------------------------------------------------------------------------------


def test_throttled_calls_are_absorbed_by_botocore_retries(env, tmp_path, unique, monkeypatch):
    """A third of all HTTP attempts (seeded) answered ThrottlingException / Throttling /
    RequestLimitExceeded at HTTP 400: the deploy completes through botocore's standard retry mode
    (liftshift's default when AWS_MAX_ATTEMPTS is unset). The retry decisions, attempt counts and
    retry quota are botocore's own; its backoff sleeps are really slept, BACKOFF_SCALE of their
    length (benchmarks/faults.py sleeps them at full length)."""
    monkeypatch.delenv("AWS_MAX_ATTEMPTS")
    _, spec, base = new_stack(env, tmp_path, unique)
    injector = FaultInjector(throttle=1 / 3, seed=20240607)
    with injector.install(backoff_scale=BACKOFF_SCALE):
        report = deploy(spec, base, target())
    assert injector.throttled > 0 and injector.attempts == len(injector.calls) + injector.throttled
    assert injector.backoff > 0
    assert report["changed"]
    assert check_converged(unique).problems == []
    with injector.install(backoff_scale=BACKOFF_SCALE):  # still throttled: a no-op deploy and a destroy get through too
        log = CallLog()
        deploy(spec, base, target(log))
        assert log.mutating() == LOCK_CALLS
        destroy(spec, target(), keep_images=False)
    assert stack_tagged(unique) == {}


def test_503_answers_are_absorbed_by_botocore_retries(env, tmp_path, unique, monkeypatch):
    monkeypatch.delenv("AWS_MAX_ATTEMPTS")
    _, spec, base = new_stack(env, tmp_path, unique)
    injector = FaultInjector(throttle=1 / 3, throttle_kind="503", seed=99)
    with injector.install(backoff_scale=BACKOFF_SCALE):  # botocore's decisions, a fraction of its sleeps
        deploy(spec, base, target())
    assert injector.throttled > 0 and injector.attempts == len(injector.calls) + injector.throttled
    assert check_converged(unique).problems == []


# --- SIGKILL ------------------------------------------------------------------------------------------


def run_cli_deploy(app_yaml: Path, kill_after: float | None) -> tuple[int | None, float]:
    """`python -m liftshift.cli deploy` as a process, SIGKILLed after kill_after seconds.
    Returns (pid if it was killed else None, seconds it ran)."""
    start = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "liftshift.cli", "deploy", str(app_yaml), "-o", "json"],
                            cwd=REPO_ROOT, env=dict(os.environ), stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        if kill_after is None:
            _, err = proc.communicate(timeout=180)
            assert proc.returncode == 0, err.decode()[-3000:]
            return None, time.monotonic() - start
        try:
            proc.wait(timeout=kill_after)
            return None, time.monotonic() - start
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return proc.pid, time.monotonic() - start
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stderr:
            proc.stderr.close()


def test_sigkill_at_12_points_then_deploy_converges(env, tmp_path, unique):
    """The CLI killed with SIGKILL at 12 seeded moments spread over a deploy; the next deploy converges
    exactly. Even points start from nothing in AWS (after a destroy); odd points from a converged stack
    whose env value changed, so every launch template and instance is being replaced when the kill lands.
    Each of the two kinds is killed once in every sixth of its own run's duration (seeded within the
    sixth); benchmarks/faults.py kills at 20 moments by default (--kills N).
    A killed run keeps the stack's lock (by design, until it expires): the next deploy must say so,
    naming the dead process, and `liftshift unlock` (force_unlock) clears it."""
    app, spec, base = new_stack(env, tmp_path, unique, "0")
    root = app.parent
    run_cli_deploy(app, None)  # builds and pushes the images once
    destroy(spec, target(), keep_images=False)
    _, full = run_cli_deploy(app, None)  # from nothing in AWS (the registry keeps the images)
    write_stack(root, unique, env_value="r")
    _, replace = run_cli_deploy(app, None)
    destroy(spec, target(), keep_images=False)

    rng = random.Random(4321)
    per_kind = KILL_POINTS // 2
    spread = []  # for each kind: one moment in each 1/per_kind slice of its run, in a seeded order
    for _ in ("full", "replace"):
        slices = [(i + rng.random()) / per_kind for i in range(per_kind)]
        rng.shuffle(slices)
        spread.append(slices)
    fractions = [f for pair in zip(*spread) for f in pair]  # even points: full; odd points: replace
    failures: dict[str, list[str]] = {}
    killed = 0
    for point, fraction in enumerate(fractions):
        replacing = point % 2 == 1
        if replacing:  # the previous point left a converged stack with env ROUND=point-1
            write_stack(root, unique, env_value=str(point))
        spec, base = load_spec(app)
        delay = fraction * (replace if replacing else full)
        pid, _ = run_cli_deploy(app, delay)
        killed += pid is not None
        problems: list[str] = []
        try:
            deploy(spec, base, target())
        except lock.LockHeld as exc:
            if pid is None or f"pid {pid}" not in exc.owner:
                problems.append(f"locked by {exc.owner}, not by the killed pid {pid}")
            lock.force_unlock(target().aws.client("dynamodb"), unique)
        problems += converge_and_check(spec, base, unique, destroy_after=replacing)
        problems = [p for p in problems if not any(marker in p for marker in set(KNOWN.values()))]
        if problems:
            failures[f"point {point} ({'replace' if replacing else 'full'}, kill at {delay:.2f}s)"] = problems
    assert not failures, "\n".join(f"{where}: {p}" for where, ps in failures.items() for p in ps)
    assert killed >= KILL_POINTS // 2, f"only {killed} of {KILL_POINTS} runs were still going when killed"


# --- convergence bugs found by this harness, fixed ----------------------------------------------------------


def test_a_failed_lifecycle_policy_put_is_redone_by_the_next_deploy(env, tmp_path, unique):
    # The policy is put again with every push, so the next deploy (which must push) converges.
    _, spec, base = new_stack(env, tmp_path, unique)
    injector = FaultInjector(fail_operation="ecr:PutLifecyclePolicy")
    with injector.install(), pytest.raises(StepFailed):
        deploy(spec, base, target())
    assert converge_and_check(spec, base, unique) == []


def test_a_failed_retention_put_is_redone_by_the_next_deploy(env, tmp_path, unique):
    # observe reads the group's retention; the planner puts it again when it is not 30 days.
    _, spec, base = new_stack(env, tmp_path, unique)
    injector = FaultInjector(fail_operation="logs:PutRetentionPolicy")
    with injector.install(), pytest.raises(StepFailed):
        deploy(spec, base, target())
    assert converge_and_check(spec, base, unique) == []


def test_a_failed_lock_release_does_not_fail_the_deploy_nor_lock_out_the_next(env, tmp_path, unique):
    # The release is retried, and a release that still fails is a warning, not a failed deploy.
    _, spec, base = new_stack(env, tmp_path, unique)
    injector = FaultInjector(fail_operation="dynamodb:DeleteItem")
    with injector.install():
        deploy(spec, base, target())
    assert injector.injected == ["dynamodb:DeleteItem"]
    assert check_converged(unique).problems == []  # every change was made
    deploy(spec, base, target())  # the lock is free: no LockHeld


def test_a_lost_answer_to_the_lock_put_does_not_lock_out_the_stack(env, tmp_path, unique, monkeypatch):
    # acquire recognises its own token, whether botocore retried the put or the error escaped.
    _, spec, base = new_stack(env, tmp_path, unique)
    deploy(spec, base, target())  # the lock table exists from here on
    for retries in ("standard", "none"):
        if retries == "standard":
            monkeypatch.delenv("AWS_MAX_ATTEMPTS")  # botocore's standard retries, as a user runs it
        else:
            monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
        write_stack(tmp_path / unique, unique, env_value=f"v-{retries}")
        spec, base = load_spec(tmp_path / unique / "app.yaml")
        injector = FaultInjector(fail_operation="dynamodb:PutItem", when="sent")
        with injector.install():
            deploy(spec, base, target())
        assert injector.injected == ["dynamodb:PutItem"]
        assert check_converged(unique).problems == []
