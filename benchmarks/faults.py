"""Fault points, SIGKILLs and throttling against a two-service stack: how often does the next deploy converge?

The same scenarios as tests/test_faults.py, as a script that starts its own moto
server and Debian docker-registry (like benchmarks/deploy.py) and prints figures:

* fault points: for every k, the k-th mutating AWS call of a first deploy fails once
  (before it is sent, and, with --after, after AWS applied it); then a clean deploy
  must reach exactly the desired state, a third deploy must change nothing and
  destroy must leave nothing tagged with the stack;
* kill points: `liftshift deploy` SIGKILLed at seeded moments, then deploy again;
* throttling: a share of all HTTP attempts answered ThrottlingException / 503,
  absorbed by botocore's standard retry mode.

Needs: dockerd running, /usr/bin/docker-registry, the busybox:1.36 image.

    python benchmarks/faults.py [--kills 20] [--throttle 0.33] [--seed 1] [--no-after]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "tests"))
sys.path.insert(0, str(REPO_ROOT / "benchmarks"))
from emulated import emulated  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--throttle", type=float, default=1 / 3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-after", action="store_true", help="only faults before the call is sent")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="liftshift-faults-"))

    stacks: list[str] = []
    with emulated(work) as (moto, registry):
        try:
            run(work, moto, args, stacks)
        finally:
            try:
                import docker
                from support.faults import remove_local_images

                remove_local_images(docker.from_env(), registry, stacks)
            except Exception as exc:  # noqa: BLE001
                print(f"(could not remove local images: {exc})", file=sys.stderr)
            shutil.rmtree(work, ignore_errors=True)
    return 0


def run(work: Path, moto: str, args, stacks: list[str]) -> None:
    import botocore.exceptions

    from liftshift.apply import StepFailed
    from liftshift.aws import CallLog
    from liftshift.pipeline import deploy, destroy
    from liftshift.progress import Progress
    from liftshift.spec import load_spec
    from liftshift.targets.aws import aws_target
    from support.faults import FaultInjector, check_converged, deploy_unlocking, leaked, write_stack

    def target(log=None):
        return aws_target(None, None, Progress(), log)

    tag = "b" + os.urandom(3).hex()

    def new_stack(name: str, env_value: str = "1"):
        stacks.append(name)
        app = write_stack(work / name, name, env_value)
        return app, *load_spec(app)

    def converge(spec, base, stack: str) -> tuple[list[str], int, int]:
        """(problems, extra resources after convergence, resources left after destroy)."""
        _, stuck = deploy_unlocking(spec, base, target)
        conv = check_converged(stack)
        log = CallLog()
        deploy(spec, base, target(log))
        problems = conv.problems + ([f"third deploy changed the stack: {log.stack_changes()}"]
                                    if log.stack_changes() else [])
        if stuck is not None:
            problems.insert(0, f"the next deploy found the stack locked ({stuck.owner}); needed `liftshift unlock`")
        destroy(spec, target(), keep_images=False)
        left = leaked(stack)
        if left:
            problems.append(f"destroy left {left} resource(s)")
        return problems, conv.extra, left

    # --- clean reference run (after a warm-up that makes the shared lock table) -------------
    _, spec, base = new_stack(f"{tag}warm")
    deploy(spec, base, target())
    destroy(spec, target(), keep_images=False)
    _, spec, base = new_stack(f"{tag}ref")
    log = CallLog()
    start = time.perf_counter()
    deploy(spec, base, target(log))
    first = time.perf_counter() - start
    mutating = log.mutating()
    destroy(spec, target(), keep_images=False)
    print(f"two-service stack (web x2, worker x1): first deploy {first:.2f} s, "
          f"{len(log.calls)} AWS calls, {len(mutating)} mutating (the lock's PutItem and DeleteItem included)")

    # --- fault points ------------------------------------------------------------------------
    modes = ["before"] + ([] if args.no_after else ["after"])
    for when in modes:
        tried = converged = extra_total = leaked_total = 0
        start = time.perf_counter()
        bad: list[str] = []
        for k in range(1, len(mutating) + 1):  # a stack name per k: its own fresh state in moto
            stack = f"{tag}{when[0]}{k}"
            _, spec, base = new_stack(stack)
            injector = FaultInjector(fail_mutating_at=k, when=when)
            tried += 1
            try:
                with injector.install():
                    deploy(spec, base, target())
                # A failed lock release is only a warning; a lost answer to the lock's write is
                # recognised by its token: neither fails the deploy.
                if mutating[k - 1] != "dynamodb:DeleteItem" and (mutating[k - 1], when) != ("dynamodb:PutItem", "after"):
                    bad.append(f"k={k}: the faulted deploy did not fail")
            except (StepFailed, botocore.exceptions.ClientError):
                pass
            problems, extra, left = converge(spec, base, stack)
            extra_total += extra
            leaked_total += left
            if problems:
                bad.append(f"k={k} {mutating[k - 1]}: " + "; ".join(problems))
            else:
                converged += 1
        print(f"\nfault points ({when} the call): tried {tried}, converged {converged}, "
              f"duplicates after convergence {extra_total}, resources leaked after destroy {leaked_total} "
              f"({time.perf_counter() - start:.1f} s)")
        for line in bad:
            print(f"    {line}")

    # --- kill points ---------------------------------------------------------------------------
    stack = f"{tag}kill"
    app, spec, base = new_stack(stack, "0")

    def cli(kill_after: float | None) -> tuple[bool, float]:
        start = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-m", "liftshift.cli", "deploy", str(app), "-o", "json"],
                                cwd=REPO_ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            proc.wait(timeout=kill_after if kill_after is not None else 300)
            return False, time.monotonic() - start
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return True, time.monotonic() - start

    cli(None)
    destroy(spec, target(), keep_images=False)
    _, full = cli(None)
    write_stack(work / stack, stack, "r")
    _, replace = cli(None)
    destroy(spec, target(), keep_images=False)
    rng = random.Random(args.seed)
    fractions = [(i + rng.random()) / args.kills for i in range(args.kills)]
    rng.shuffle(fractions)
    tried = converged = killed = locked = 0
    bad = []
    start = time.perf_counter()
    for point, fraction in enumerate(fractions):
        replacing = point % 2 == 1
        if replacing:
            write_stack(work / stack, stack, str(point))
        spec, base = load_spec(app)
        delay = fraction * (replace if replacing else full)
        was_killed, _ = cli(delay)
        killed += was_killed
        tried += 1
        _, stuck = deploy_unlocking(spec, base, target)
        locked += stuck is not None
        conv = check_converged(stack)
        log = CallLog()
        deploy(spec, base, target(log))
        problems = conv.problems + ([f"third deploy changed the stack: {log.stack_changes()}"]
                                    if log.stack_changes() else [])
        if replacing:
            destroy(spec, target(), keep_images=False)
            if leaked(stack):
                problems.append(f"destroy left {leaked(stack)} resource(s)")
        if problems:
            bad.append(f"point {point} ({'replace' if replacing else 'full'} deploy, kill at {delay:.2f} s): "
                       + "; ".join(problems))
        else:
            converged += 1
    print(f"\nkill points: tried {tried} (SIGKILL landed in {killed}; full deploy {full:.2f} s, "
          f"replacing deploy {replace:.2f} s), converged {converged}; the killed run's lock had to be cleared "
          f"(`liftshift unlock`) before {locked} of them ({time.perf_counter() - start:.1f} s)")
    for line in bad:
        print(f"    {line}")

    # --- throttling ------------------------------------------------------------------------------
    os.environ.pop("AWS_MAX_ATTEMPTS", None)  # liftshift's default: botocore standard mode, 6 attempts
    try:
        for kind in ("throttling", "503"):
            stack = f"{tag}t{kind[0]}"
            _, spec, base = new_stack(stack)
            injector = FaultInjector(throttle=args.throttle, throttle_kind=kind, seed=args.seed)
            start = time.perf_counter()
            outcome = "deploy completed"
            try:
                with injector.install():
                    deploy(spec, base, target())
            except Exception as exc:  # noqa: BLE001
                outcome = f"deploy FAILED: {exc}"
            elapsed = time.perf_counter() - start
            conv = check_converged(stack)
            print(f"\nthrottling ({kind}, {args.throttle:.0%} of attempts): {outcome} in {elapsed:.1f} s; "
                  f"{len(injector.calls)} API calls, {injector.attempts} HTTP attempts, "
                  f"throttled calls absorbed {injector.throttled}; converged: {not conv.problems}")
            for p in conv.problems:
                print(f"    {p}")
    finally:
        os.environ["AWS_MAX_ATTEMPTS"] = "1"


if __name__ == "__main__":
    sys.exit(main())
