"""Fault points, SIGKILLs and throttling against a two-service stack: how often does the next deploy converge?

The same scenarios as tests/test_faults.py, as a script that starts its own moto
server and Debian docker-registry (like benchmarks/deploy.py) and prints figures:

* fault points: for every k, the k-th mutating AWS call of a first deploy fails once
  (before it is sent, and, with --after, after AWS applied it); then a clean deploy
  must reach exactly the desired state, a third deploy must change nothing and
  destroy must leave nothing tagged with the stack;
* kill points: `liftshift deploy` SIGKILLed at seeded moments, then deploy again;
* throttling: a share of all HTTP attempts answered ThrottlingException / 503,
  absorbed by botocore's standard retry mode;
* rollout fault points: stacks/fleet (web x2 behind a load balancer) deployed, then
  for every k the k-th mutating call of the blue-green rollout of its release #2
  (recorded once with StepCallLog) fails once, before it is sent and after AWS
  applied it; then a clean deploy must leave one Auto Scaling group and one target
  group (drain setting made), the listener forwarding to it with no rule left,
  release #2 the only serving and live release and the newest, no pending record;
  a further deploy must change nothing and destroy must leave nothing. A fresh
  stack per point; the probe "through the load balancer" is answered 200 by a
  local HTTP server (LIFTSHIFT_LB_ENDPOINT), as in tests/test_rollout.py.

Needs: dockerd running, /usr/bin/docker-registry, the busybox:1.36 image.

Every run uses the parallel executor at --parallel N (default: liftshift's own default, 16),
the kill points' `liftshift deploy` processes too (LIFTSHIFT_PARALLEL); --parallel 1 sweeps
the one-step-at-a-time order instead.

    python benchmarks/faults.py [--kills 20] [--throttle 0.33] [--seed 1] [--no-after]
                                [--only deploys|rollouts] [--rollout-points K[,K...]] [--parallel N]
"""

from __future__ import annotations

import argparse
import contextlib
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
    parser.add_argument("--only", choices=("deploys", "rollouts"), default=None,
                        help="run only the two-service deploy sections or only the blue-green rollout sweep")
    parser.add_argument("--rollout-points", default=None, metavar="K[,K...]",
                        help="rollout sweep: only these mutating-call indices (to reproduce one point)")
    parser.add_argument("--parallel", type=int, default=None, help="steps side by side (default: liftshift's)")
    args = parser.parse_args()
    from liftshift.targets.base import DEFAULT_PARALLEL

    args.parallel = args.parallel or DEFAULT_PARALLEL
    os.environ["LIFTSHIFT_PARALLEL"] = str(args.parallel)  # the kill points' deploy processes
    print(f"steps side by side: --parallel {args.parallel}")
    work = Path(tempfile.mkdtemp(prefix="liftshift-faults-"))

    stacks: list[str] = []
    with emulated(work) as (moto, registry):
        try:
            if args.only != "rollouts":
                run(work, moto, args, stacks)
            if args.only != "deploys":
                run_rollouts(work, args, stacks)
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

    from liftshift.apply.executor import StepFailed
    from liftshift.aws.session import CallLog
    from liftshift.pipeline.deploy import deploy
    from liftshift.pipeline.destroy import destroy
    from liftshift.progress import Progress
    from liftshift.spec.load import load_spec
    from liftshift.targets.aws import aws_target
    from support.faults import FaultInjector, check_converged, deploy_unlocking, leaked, write_stack

    def target(log=None):
        made = aws_target(None, None, Progress(), log)
        made.parallel = args.parallel
        return made

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
                faulted = (injector.injected or ["(none)"])[0]
                if faulted != "dynamodb:DeleteItem" and (faulted, when) != ("dynamodb:PutItem", "after"):
                    bad.append(f"k={k} {faulted}: the faulted deploy did not fail")
            except (StepFailed, botocore.exceptions.ClientError):
                pass
            # With steps side by side the k-th call is not always the reference's: name the call that failed.
            faulted = (injector.injected or ["(none)"])[0]
            problems, extra, left = converge(spec, base, stack)
            extra_total += extra
            leaked_total += left
            if problems:
                bad.append(f"k={k} {faulted}: " + "; ".join(problems))
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


# --- blue-green rollouts ---------------------------------------------------------------------------

FLEET = REPO_ROOT / "stacks" / "fleet"


@contextlib.contextmanager
def lb_endpoint():
    """Stands in for the load balancer's data plane (moto has none): every probe is answered 200,
    through LIFTSHIFT_LB_ENDPOINT, as the `lb_endpoint` fixture of tests/test_rollout.py does."""
    from support.lb import answering_server

    previous = os.environ.get("LIFTSHIFT_LB_ENDPOINT")
    with answering_server() as (_, address):
        os.environ["LIFTSHIFT_LB_ENDPOINT"] = address
        try:
            yield
        finally:
            if previous is None:
                os.environ.pop("LIFTSHIFT_LB_ENDPOINT", None)
            else:
                os.environ["LIFTSHIFT_LB_ENDPOINT"] = previous


def _client(name: str):
    import boto3

    return boto3.client(name, region_name="eu-west-1")


def _fleet_target_groups(stack: str) -> list[dict]:
    elbv2 = _client("elbv2")
    from liftshift.model import names

    groups = [tg for page in elbv2.get_paginator("describe_target_groups").paginate() for tg in page["TargetGroups"]]
    mine = []
    for i in range(0, len(groups), 20):
        chunk = {tg["TargetGroupArn"]: tg for tg in groups[i:i + 20]}
        for d in elbv2.describe_tags(ResourceArns=list(chunk))["TagDescriptions"]:
            if names.tag_dict(d["Tags"]).get(names.TAG_STACK) == stack:
                mine.append(chunk[d["ResourceArn"]])
    return mine


def _fleet_load_balancers(stack: str) -> list[dict]:
    from liftshift.model import names

    elbv2 = _client("elbv2")
    try:
        return elbv2.describe_load_balancers(Names=[names.load_balancer(stack, "web")])["LoadBalancers"]
    except elbv2.exceptions.LoadBalancerNotFoundException:
        return []


def _fleet_asgs(stack: str) -> list[dict]:
    from liftshift.model import names

    return _client("autoscaling").describe_auto_scaling_groups(
        Filters=[{"Name": f"tag:{names.TAG_STACK}", "Values": [stack]}])["AutoScalingGroups"]


def fleet_problems(spec, stack: str, number: int, history_of) -> list[str]:
    """How stacks/fleet's web service differs from release `number` rolled out cleanly: one Auto Scaling
    group on that release's template, one target group (drain setting made), the listener's default action
    forwarding to it, no listener rule left, exactly one serving and live release, the newest, = `number`;
    no pending record; every launch template recorded, at most rollout.keep."""
    from liftshift.model import names

    problems: list[str] = []
    elbv2 = _client("elbv2")
    asgs, tgs, lbs = _fleet_asgs(stack), _fleet_target_groups(stack), _fleet_load_balancers(stack)
    if len(asgs) != 1:
        problems.append(f"{len(asgs)} Auto Scaling groups: "
                        f"{[(g['AutoScalingGroupName'], names.tag_dict(g['Tags']).get(names.TAG_RELEASE)) for g in asgs]}")
    if len(tgs) != 1:
        problems.append(f"{len(tgs)} target groups: {[tg['TargetGroupName'] for tg in tgs]}")
    if len(lbs) != 1:
        problems.append(f"{len(lbs)} load balancers")
    made = history_of(spec)
    serving = [r["number"] for r in made if r["serving"]]
    live = [r["number"] for r in made if r["outcome"] == "live"]
    newest = max((r["number"] for r in made), default=None)
    if not (serving == live == [number] == [newest]):
        problems.append(f"releases serving {serving}, live {live}, newest #{newest}; want #{number} only: "
                        + ", ".join(f"#{r['number']} {r['outcome']}" for r in made))
    pending = [r["number"] for r in made if r["outcome"] == "pending"]
    if pending:
        problems.append(f"releases still pending: {pending}")
    if len(tgs) == 1:
        tg = tgs[0]
        attrs = {a["Key"]: a["Value"] for a in elbv2.describe_target_group_attributes(
            TargetGroupArn=tg["TargetGroupArn"])["Attributes"]}
        if attrs.get("deregistration_delay.timeout_seconds") != "30":
            problems.append(f"target group {tg['TargetGroupName']} deregistration delay "
                            f"{attrs.get('deregistration_delay.timeout_seconds')}, want 30")
        if len(asgs) == 1 and asgs[0].get("TargetGroupARNs") != [tg["TargetGroupArn"]]:
            problems.append(f"the Auto Scaling group's target groups {asgs[0].get('TargetGroupARNs')}, "
                            f"want [{tg['TargetGroupName']}]")
    if len(asgs) == 1:
        group = asgs[0]
        record = next((r for r in made if r["number"] == number), None)
        if record and group["LaunchTemplate"]["LaunchTemplateName"] != record["launch_template"]:
            problems.append(f"the Auto Scaling group launches {group['LaunchTemplate']['LaunchTemplateName']}, "
                            f"release #{number} is {record['launch_template']}")
        if (group["DesiredCapacity"], len(group["Instances"])) != (2, 2):
            problems.append(f"the Auto Scaling group wants {group['DesiredCapacity']} and has "
                            f"{len(group['Instances'])} instance(s), want 2")
    if len(lbs) == 1:
        listeners = elbv2.describe_listeners(LoadBalancerArn=lbs[0]["LoadBalancerArn"])["Listeners"]
        if len(listeners) != 1:
            problems.append(f"{len(listeners)} listeners")
        else:
            default = listeners[0]["DefaultActions"]
            forward = [a.get("TargetGroupArn") for a in default if a["Type"] == "forward"]
            if len(tgs) != 1 or forward != [tgs[0]["TargetGroupArn"]]:
                problems.append(f"the listener's default action is {[a['Type'] for a in default]} -> "
                                f"{forward}, want the one target group")
            rules = [r for r in elbv2.describe_rules(ListenerArn=listeners[0]["ListenerArn"])["Rules"]
                     if not r["IsDefault"]]
            if rules:
                problems.append(f"{len(rules)} listener rule(s) left, priorities "  # their values are secrets
                                + ", ".join(str(r["Priority"]) for r in rules))
    templates = _client("ec2").describe_launch_templates(
        Filters=[{"Name": f"tag:{names.TAG_STACK}", "Values": [stack]}], MaxResults=200)["LaunchTemplates"]
    recorded = {r["launch_template"] for r in made}
    unrecorded = [t["LaunchTemplateName"] for t in templates if t["LaunchTemplateName"] not in recorded]
    if unrecorded or len(templates) > 5:
        problems.append(f"launch templates without a release record {unrecorded}, or more than 5: {len(templates)}")
    return problems


def fleet_leftovers(stack: str) -> dict[str, int]:
    """What destroy left of the stack: tagged EC2/IAM/ECR/logs resources, groups, target groups, load balancers."""
    from liftshift.model import names
    from support.faults import stack_tagged

    left = {k: len(v) for k, v in stack_tagged(stack).items()}
    # moto ignores ListInstanceProfiles' PathPrefix, so stack_tagged's "profiles" are every stack's: count ours.
    left.pop("profiles", None)
    profiles = [p for page in _client("iam").get_paginator("list_instance_profiles").paginate()
                for p in page["InstanceProfiles"] if p["Path"] == names.iam_path(stack)]
    if profiles:
        left["profiles"] = len(profiles)
    for kind, found in (("auto scaling groups", _fleet_asgs(stack)), ("target groups", _fleet_target_groups(stack)),
                        ("load balancers", _fleet_load_balancers(stack))):
        if found:
            left[kind] = len(found)
    return left


def run_rollouts(work: Path, args, stacks: list[str]) -> None:
    """Every mutating call of a second-release rollout of stacks/fleet fails once, before it is sent and
    after AWS applied it; then the next deploy must converge on exactly that release."""
    with lb_endpoint():
        _run_rollouts(work, args, stacks)


def _run_rollouts(work: Path, args, stacks: list[str]) -> None:
    import botocore.exceptions

    from liftshift.apply.executor import StepFailed
    from liftshift.aws.session import CallLog
    from liftshift.apply.gate import RolloutFailed
    from liftshift.pipeline.deploy import deploy
    from liftshift.pipeline.destroy import destroy
    from liftshift.progress import Progress
    from liftshift.pipeline.history import history
    from liftshift.spec.load import load_spec
    from liftshift.targets.aws import aws_target
    from support.faults import FaultInjector, StepCallLog, deploy_unlocking

    def target(log=None, progress=None):
        made = aws_target(None, None, progress or Progress(), log)
        made.parallel = args.parallel
        return made

    def history_of(spec):
        return history(spec, target())["services"]["web"]

    tag = "r" + os.urandom(3).hex()

    def new_fleet(name: str) -> Path:
        stacks.append(name)
        root = work / name
        shutil.copytree(FLEET, root)
        app = root / "app.yaml"
        app.write_text(app.read_text().replace("name: fleet", f"name: {name}"))
        return root

    def release(root: Path, n: int):
        (root / "site" / "index.html").write_text(f"release {n}\n")
        return load_spec(root / "app.yaml")

    # --- reference: release 1, then the rollout of release 2, every call logged with its step --------
    root = new_fleet(f"{tag}ref")
    spec, base = release(root, 1)
    start = time.perf_counter()
    deploy(spec, base, target())
    first = time.perf_counter() - start
    spec, base = release(root, 2)
    log = StepCallLog()
    start = time.perf_counter()
    deploy(spec, base, target(log, log.progress))
    second = time.perf_counter() - start
    points = log.mutating_points()
    mutating = [call for call, _ in points]
    steps = [f"{kind[0]} {kind[1]}".strip() or "lock" for _, kind in points]
    destroy(spec, target(), keep_images=False)
    print(f"\nblue-green rollout of stacks/fleet (web x2 behind a load balancer): first deploy {first:.2f} s; "
          f"the rollout of release #2 {second:.2f} s, {len(log.calls)} AWS calls, {len(mutating)} mutating:")
    for k, (call, step) in enumerate(zip(mutating, steps), start=1):
        print(f"    {k:3d}  {call:45s} {step}")

    # --- every fault point, both modes ----------------------------------------------------------------
    wanted = None if args.rollout_points is None else {int(k) for k in args.rollout_points.split(",")}
    modes = ["before"] + ([] if args.no_after else ["after"])
    tried = {m: 0 for m in modes}
    converged = left_unfinished = 0
    bad: list[str] = []
    start = time.perf_counter()
    for when in modes:
        for k in range(1, len(mutating) + 1):
            if wanted is not None and k not in wanted:
                continue
            stack = f"{tag}{when[0]}{k}"  # a fresh stack per point: release 1 deployed cleanly, then #2
            root = new_fleet(stack)
            spec, base = release(root, 1)
            deploy(spec, base, target())
            spec, base = release(root, 2)
            injector = FaultInjector(fail_mutating_at=k, when=when)
            tried[when] += 1
            problems: list[str] = []
            outcome = "did not fail"
            try:
                with injector.install():
                    deploy(spec, base, target())
            except (StepFailed, botocore.exceptions.ClientError) as exc:
                outcome = type(exc).__name__
            except RolloutFailed as exc:
                outcome = "RolloutFailed"
                problems.append(f"the faulted deploy abandoned the release: {str(exc).splitlines()[0][:200]}")
            if fleet_problems(spec, stack, 2, history_of):
                left_unfinished += 1  # the checks see what the fault left (else this point proves little)
            if injector.injected != [mutating[k - 1]]:
                problems.append(f"the rollout's calls differed from the reference: faulted {injector.injected}, "
                                f"reference call {k} is {mutating[k - 1]}")
            # A failed lock release is only a warning; a lost answer to the lock's write is recognised by
            # its token: neither fails the deploy.
            if outcome == "did not fail" and mutating[k - 1] != "dynamodb:DeleteItem" and (
                    mutating[k - 1], when) != ("dynamodb:PutItem", "after"):
                problems.append("the faulted deploy did not fail")
            try:
                _, stuck = deploy_unlocking(spec, base, target)
                if stuck is not None:
                    problems.append(f"the next deploy found the stack locked ({stuck.owner}); needed `liftshift unlock`")
                problems += fleet_problems(spec, stack, 2, history_of)
                again = CallLog()
                report = deploy(spec, base, target(again))
                if report["changed"] or again.stack_changes():
                    problems.append("a further deploy changed the stack: "
                                    + ", ".join(f"{c['action']} {c['kind']} {c['name']}" for c in report["changes"]))
            except Exception as exc:  # noqa: BLE001 - a deploy after the fault failing is the finding
                problems.append(f"the next deploy failed: {type(exc).__name__}: {str(exc).splitlines()[0][:300]}")
            try:
                destroy(spec, target(), keep_images=False)
                left = fleet_leftovers(stack)
                if left:
                    problems.append(f"destroy left {left}")
            except Exception as exc:  # noqa: BLE001
                problems.append(f"destroy failed: {type(exc).__name__}: {str(exc).splitlines()[0][:300]}")
            if problems:
                bad.append(f"k={k} {when:6s} {mutating[k - 1]} ({steps[k - 1]}): " + "; ".join(problems))
            else:
                converged += 1
    total = sum(tried.values())
    print(f"\nrollout fault points: {total} tried ({', '.join(f'{n} {m}' for m, n in tried.items())}), "
          f"{converged} converged ({time.perf_counter() - start:.1f} s); the faulted deploy had left the stack "
          f"short of release #2 in {left_unfinished} of them")
    for line in bad:
        print(f"    {line}")


if __name__ == "__main__":
    sys.exit(main())
