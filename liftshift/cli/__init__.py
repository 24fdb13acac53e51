"""The command line: each command parses options, calls one pipeline function, prints its result.

Exit codes: 0 done, 1 the deployment failed, 2 bad input or usage, 3 a health check failed (rolled back),
4 another run holds (or took) the stack's lock.
Results go to stdout (text, or JSON with --output json); progress and errors to stderr.
"""

from __future__ import annotations

import json
import sys
from enum import Enum
from pathlib import Path
from typing import Any, Callable, Optional

import typer

from .. import __version__

app = typer.Typer(
    add_completion=False,
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    help="Lift and shift containerised applications onto AWS EC2.",
    context_settings={"help_option_names": ["-h", "--help"]},
)

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_UNHEALTHY = 3
EXIT_LOCKED = 4


class Output(str, Enum):
    text = "text"
    json = "json"


class TargetName(str, Enum):
    aws = "aws"
    local = "local"


FileArg = typer.Argument(..., help="The app.yaml describing the stack.", show_default=False)
OutputOpt = typer.Option(Output.text, "--output", "-o", help="text, or json for machines (no progress output).")
ProfileOpt = typer.Option(None, "--profile", help="AWS profile (else AWS_PROFILE / the default chain).")
RegionOpt = typer.Option(None, "--region", help="AWS region (else app.yaml's region, AWS_REGION, the profile's).")
VerboseOpt = typer.Option(False, "--verbose", "-v", help="Show all build and push output and every retried AWS call.")
LockWaitOpt = typer.Option(0.0, "--lock-wait", min=0, metavar="SECONDS",
                           help="Wait this long for another deploy or destroy of the stack to finish (default: fail at once, exit 4).")
StrictOpt = typer.Option(False, "--strict", help="Fail (exit 2) on any warning: SSH open to the internet, AMIs not owned by Amazon, bind mounts of host system paths.")
TargetOpt = typer.Option(TargetName.aws, "--target", "-t", envvar="LIFTSHIFT_TARGET",
                         help="aws, or local: rehearse the whole deployment on this machine.")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"liftshift {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version."),
) -> None:
    """Lift and shift containerised applications onto AWS EC2."""


def _fail(message: str, code: int) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _guarded(fn: Callable[[], Any]) -> Any:
    """Run a command body, turning known failures into one message and an exit code."""
    from ..apply.executor import StepFailed
    from ..aws.session import AwsSetupError
    from ..apply.images import ImageError
    from ..aws.observe import NetworkError
    from ..pipeline.deploy import StrictRefusal
    from ..model.desired import UserDataTooLarge
    from ..spec.model import SpecError
    from ..targets.aws import DockerUnavailable
    from ..targets.local.services import LocalSetupError
    from ..aws.lock import LockHeld, LockLost
    from ..targets.local.standin import BootFailed, HealthCheckFailed
    from ..apply.gate import RolloutFailed
    from ..pipeline.rollback import NoRelease
    from ..aws.ownership import OwnershipError

    try:
        return fn()
    except (LockHeld, LockLost) as exc:
        _fail(str(exc), EXIT_LOCKED)
    except (SpecError, AwsSetupError, NetworkError, DockerUnavailable, UserDataTooLarge, LocalSetupError,
            StrictRefusal, NoRelease, OwnershipError) as exc:
        _fail(str(exc), EXIT_BAD_INPUT)
    except (ImageError, BootFailed) as exc:
        _fail(str(exc), EXIT_FAILED)
    except (HealthCheckFailed, RolloutFailed) as exc:
        _fail(str(exc), EXIT_UNHEALTHY)
    except StepFailed as exc:
        _fail(f"deployment failed at {exc}\nRun the same command again to converge from here.", EXIT_FAILED)
    except KeyboardInterrupt:
        _fail("interrupted; run the same command again to converge", EXIT_FAILED)
    except Exception as exc:  # botocore and docker errors not tied to one step
        import botocore.exceptions

        if isinstance(exc, (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError)):
            _fail(f"AWS call failed: {exc}", EXIT_FAILED)
        if isinstance(exc, (ValueError, TypeError)) and str(exc).startswith(("user-data:", "sh filter:")):
            # render.py refusing a value validate let through: bad input, and nothing was changed for it
            _fail(f"cannot render the user-data: {exc}", EXIT_BAD_INPUT)
        raise


def _load(file: Path):
    from ..spec.model import load_spec

    return load_spec(file)


def _target(spec, region: Optional[str], profile: Optional[str], output: Output, verbose: bool = False,
            target: TargetName = TargetName.aws):
    from ..progress import LineProgress, Progress

    progress = Progress() if output == Output.json else LineProgress(verbose=verbose)
    if target == TargetName.local:
        from ..targets.local.target import local_target

        return local_target(region or spec.region, progress)
    from ..targets.aws import aws_target

    return aws_target(region or spec.region, profile, progress)


def _emit(data: Any, output: Output, text: Callable[[Any], str]) -> None:
    if output == Output.json:
        typer.echo(json.dumps(data, indent=2, sort_keys=True))
    else:
        typer.echo(text(data))


@app.command()
def validate(file: Path = FileArg) -> None:
    """Check app.yaml; prints nothing on success."""
    def run() -> None:
        try:
            _load(file)
        except Exception as exc:  # validate reads and checks only: any failure is about the file, never a traceback
            from ..spec.model import SpecError

            if isinstance(exc, SpecError):
                raise
            _fail(f"{file}: cannot be checked: {type(exc).__name__}: {exc}", EXIT_BAD_INPUT)

    _guarded(run)


@app.command()
def plan(file: Path = FileArg, output: Output = OutputOpt, profile: Optional[str] = ProfileOpt,
         region: Optional[str] = RegionOpt, verbose: bool = VerboseOpt, target: TargetName = TargetOpt,
         strict: bool = StrictOpt) -> None:
    """Show what deploy would create, change or delete. Builds images locally; changes nothing in AWS."""
    from ..pipeline.deploy import plan_json, prepare

    def run() -> None:
        spec, base = _load(file)
        prepared = prepare(spec, base, _target(spec, region, profile, output, verbose, target))
        _emit(plan_json(prepared), output, _plan_text)
        if strict and prepared.warnings:
            _fail("--strict: " + "; ".join(prepared.warnings), EXIT_BAD_INPUT)

    _guarded(run)


@app.command()
def deploy(file: Path = FileArg, yes: bool = typer.Option(False, "--yes", "-y", help="Accepted for CD scripts; deploy never prompts."),
           output: Output = OutputOpt, profile: Optional[str] = ProfileOpt, region: Optional[str] = RegionOpt,
           verbose: bool = VerboseOpt, target: TargetName = TargetOpt, lock_wait: float = LockWaitOpt,
           strict: bool = StrictOpt) -> None:
    """Build, push and run the stack; waits until every instance is running."""
    from ..pipeline.deploy import deploy as run_deploy

    def run() -> None:
        spec, base = _load(file)
        report = run_deploy(spec, base, _target(spec, region, profile, output, verbose, target), lock_wait=lock_wait,
                            strict=strict)
        _emit(report, output, _deploy_text)

    _guarded(run)


@app.command()
def status(file: Path = FileArg, output: Output = OutputOpt, profile: Optional[str] = ProfileOpt,
           region: Optional[str] = RegionOpt, target: TargetName = TargetOpt, verbose: bool = VerboseOpt) -> None:
    """Services, image digests, instances, states and addresses."""
    from ..pipeline.deploy import status as run_status

    def run() -> None:
        spec, _ = _load(file)
        _emit(run_status(spec, _target(spec, region, profile, output, verbose, target)), output, _status_text)

    _guarded(run)


@app.command()
def render(file: Path = FileArg, service: Optional[str] = typer.Option(None, "--service", "-s", help="Only this service."),
           output: Output = OutputOpt, profile: Optional[str] = ProfileOpt, region: Optional[str] = RegionOpt,
           target: TargetName = TargetOpt) -> None:
    """Print the user-data and launch template data deploy would use."""
    from ..pipeline.deploy import prepare
    from ..model.user_data import render_user_data
    from ..model.desired import user_data_context

    def run() -> None:
        spec, base = _load(file)
        if service is not None and service not in spec.services:
            _fail(f"{file}: no service {service!r} (services: {', '.join(spec.services)})", EXIT_BAD_INPUT)
        prepared = prepare(spec, base, _target(spec, region, profile, Output.json, target=target))
        result = {}
        for name, want in prepared.want.services.items():
            if service and name != service:
                continue
            user_data = want.launch_template.user_data
            if user_data is None:
                placeholder = f"{want.repository_uri}@sha256:{'0' * 64}"
                typer.echo(f"note: {name}'s image is not pushed yet; the digest shown is a placeholder", err=True)
                hashes = {n: w.launch_template.config_hash for n, w in prepared.want.services.items()}
                user_data = render_user_data(user_data_context(
                    spec, name, placeholder, prepared.want.registry, prepared.want.region,
                    want.launch_template.config_hash, hashes))
            data = {k: v for k, v in want.launch_template.data.items() if k != "UserData"}
            data["SecurityGroupIds"] = [repr(v) if not isinstance(v, str) else v for v in data["SecurityGroupIds"]]
            result[name] = {"launch_template": want.launch_template.name, "launch_template_data": data,
                            "user_data": user_data}
        _emit(result, output, _render_text)

    _guarded(run)


@app.command()
def destroy(file: Path = FileArg, yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask."),
            keep_images: bool = typer.Option(False, "--keep-images", help="Keep the ECR repositories and images."),
            output: Output = OutputOpt, profile: Optional[str] = ProfileOpt, region: Optional[str] = RegionOpt,
            target: TargetName = TargetOpt, lock_wait: float = LockWaitOpt, verbose: bool = VerboseOpt) -> None:
    """Remove everything the stack owns in AWS (found by its tags) and nothing else."""
    from ..pipeline.deploy import describe_step
    from ..pipeline.deploy import destroy as run_destroy

    def run() -> None:
        spec, _ = _load(file)
        where = _target(spec, region, profile, output, verbose, target)
        steps = run_destroy(spec, where, keep_images=keep_images, execute=False)
        if not steps:
            run_destroy(spec, where, keep_images=keep_images, lock_wait=lock_wait)  # local: orphaned stand-in hosts
            _emit({"stack": spec.name, "removed": []}, output, lambda _: f"Nothing to remove: stack {spec.name} owns nothing.")
            return
        if not yes:
            if not sys.stdin.isatty():
                _fail("destroy needs --yes when not run on a terminal", EXIT_BAD_INPUT)
            typer.echo(_steps_text([describe_step(s) for s in steps]), err=True)
            if not typer.confirm(f"Remove these {len(steps)} resources of stack {spec.name}?", err=True):
                _fail("nothing removed", EXIT_FAILED)
        steps = run_destroy(spec, where, keep_images=keep_images, lock_wait=lock_wait)
        _emit({"stack": spec.name, "removed": [describe_step(s) for s in steps]}, output,
              lambda d: f"Removed {len(d['removed'])} resource group(s) of stack {spec.name}.")

    _guarded(run)


ServiceOpt = typer.Option(None, "--service", "-s", help="Only this service.")


@app.command()
def history(file: Path = FileArg, service: Optional[str] = ServiceOpt, output: Output = OutputOpt,
            profile: Optional[str] = ProfileOpt, region: Optional[str] = RegionOpt,
            target: TargetName = TargetOpt) -> None:
    """The releases of each service, newest first: number, image, who, when, commit, outcome."""
    from ..pipeline.rollback import history as run_history

    def run() -> None:
        spec, _ = _load(file)
        if service is not None and service not in spec.services:
            _fail(f"{file}: no service {service!r} (services: {', '.join(spec.services)})", EXIT_BAD_INPUT)
        _emit(run_history(spec, _target(spec, region, profile, output, target=target), service), output,
              _history_text)

    _guarded(run)


@app.command()
def rollback(file: Path = FileArg, service: Optional[str] = ServiceOpt,
             to: Optional[int] = typer.Option(None, "--to", min=1, help="Release number (default: the previous one that served)."),
             dry_run: bool = typer.Option(False, "--dry-run", help="Print the steps; change nothing."),
             output: Output = OutputOpt, profile: Optional[str] = ProfileOpt, region: Optional[str] = RegionOpt,
             verbose: bool = VerboseOpt, target: TargetName = TargetOpt, lock_wait: float = LockWaitOpt) -> None:
    """Put an earlier release back, through the same health-gated rollout as deploy."""
    from ..pipeline.deploy import describe_step
    from ..pipeline.rollback import rollback as run_rollback

    def run() -> None:
        spec, _ = _load(file)
        steps = run_rollback(spec, _target(spec, region, profile, output, verbose, target), service, to,
                             execute=not dry_run, lock_wait=lock_wait)
        data = {"stack": spec.name, "dry_run": dry_run, "steps": [describe_step(s) for s in steps]}
        _emit(data, output, lambda d: ("Would run" if dry_run else "Rolled back:") + f" {len(steps)} step(s)\n"
              + _steps_text(d["steps"]))

    _guarded(run)


@app.command()
def unlock(file: Path = FileArg, profile: Optional[str] = ProfileOpt, region: Optional[str] = RegionOpt,
           target: TargetName = TargetOpt) -> None:
    """Clear the stack's deploy lock (left by a killed deploy; it also expires by itself)."""
    from ..aws.lock import force_unlock

    def run() -> None:
        spec, _ = _load(file)
        where = _target(spec, region, profile, Output.json, target=target)
        where.aws.account_id()
        held = force_unlock(where.aws.client("dynamodb"), spec.name)
        typer.echo(f"Unlocked {spec.name} (was held by {held.owner}, {held.operation} since {held.acquired_at})."
                   if held else f"Stack {spec.name} was not locked.")

    _guarded(run)


local_app = typer.Typer(help="The local rehearsal's background services.", no_args_is_help=True)
app.add_typer(local_app, name="local")


@local_app.command("stop")
def local_stop() -> None:
    """Stop the AWS emulator and the registry of the local rehearsal (their state is lost)."""
    from ..targets.aws import docker_connector
    from ..targets.local.services import stop_services

    stopped = _guarded(lambda: stop_services(docker_connector()))
    typer.echo(f"Stopped: {', '.join(stopped)}." if stopped else "Nothing was running.")


@local_app.command("endpoint")
def local_endpoint() -> None:
    """Print the emulator's URL (starting it if needed), e.g. to store secrets with the AWS CLI."""
    from ..targets.local.services import ensure_emulator

    typer.echo(_guarded(ensure_emulator))


# --- text output ----------------------------------------------------------------

SYMBOLS = {"create": "+", "update": "~", "push": "^", "launch": "+", "terminate": "-", "delete": "-", "wait": "."}


def _steps_text(steps: list[dict[str, Any]]) -> str:
    """Steps as pipeline.describe_step gives them, one line each."""
    lines = []
    for d in steps:
        who = d["service"] or "stack"
        detail = f"  ({d['detail']})" if d["detail"] else ""
        lines.append(f"  {SYMBOLS.get(d['action'], '*')} [{who}] {d['action']} {d['kind']} {d['name']}{detail}")
    return "\n".join(lines)


def _plan_text(data: dict[str, Any]) -> str:
    warned = "".join(f"warning: {w}\n" for w in data.get("warnings", []))
    warned += "".join(f"note: {n}\n" for n in data.get("notes", []))
    if not data["steps"]:
        return warned + f"No changes: stack {data['stack']} in {data['region']} is up to date."
    return (warned + f"Plan for stack {data['stack']} in {data['region']}: {data['changes']} step(s)\n"
            + _steps_text(data["steps"]))


def _status_text(data: dict[str, Any]) -> str:
    lines = [f"Stack {data['stack']} in {data['region']} ({data['target']})"]
    for name, svc in data["services"].items():
        running = sum(1 for i in svc["instances"] if i["state"] == "running")
        flag = "" if svc["declared"] else "  (not in app.yaml)"
        lines.append(f"  {name}: {running}/{svc['count']} running, image {svc['image'] or '-'}{flag}")
        lb = svc.get("load_balancer")
        if lb:
            lines.append(f"    load balancer {lb['address'] or lb['name']}: release "
                         f"{'#' + str(lb['release']) if lb['release'] else 'none'} serving")
        for i in svc["instances"]:
            where = (f"at {i['address']}" if i.get("address") else
                     f"public {i['public_ip'] or '-':<15} private {i['private_ip'] or '-'}")
            lines.append(f"    {i['id']}  {i['state']:<9} {i['zone']:<12} {where}")
    return "\n".join(lines)


def _deploy_text(data: dict[str, Any]) -> str:
    head = (f"Deployed stack {data['stack']} to {data['region']}: {len(data['changes'])} change(s)."
            if data["changed"] else f"No changes: stack {data['stack']} is up to date.")
    lines = [head]
    if data["changed"]:
        lines.append(_steps_text(data["changes"]))
    hosts = data.get("hosts") or {}
    if hosts.get("started") or hosts.get("removed"):
        lines.append(f"Stand-in hosts: {len(hosts['started'])} booted, {len(hosts['removed'])} removed.")
    return "\n".join(lines + [_status_text(data)])


def _history_text(data: dict[str, Any]) -> str:
    lines = [f"Releases of stack {data['stack']} in {data['region']}"]
    for name, releases in data["services"].items():
        lines.append(f"  {name}:" + ("" if releases else " no releases recorded"))
        for r in releases:
            mark = "*" if r["serving"] else " "
            image = (r["image"] or "-").split(":")[-1][:12]
            reason = f"  ({r['reason'].splitlines()[0][:80]})" if r.get("reason") else ""
            lines.append(f"   {mark} #{r['number']:<4} {r['outcome']:<12} {r['at'] or '-':<25} {r['by']:<24} "
                         f"commit {r['commit'] or '-':<14} image {image}{reason}")
    return "\n".join(lines)


def _render_text(data: dict[str, Any]) -> str:
    parts = []
    for name, item in data.items():
        parts.append(f"### service {name}: launch template {item['launch_template']}")
        parts.append(json.dumps(item["launch_template_data"], indent=2, sort_keys=True))
        parts.append(f"### service {name}: user-data")
        parts.append(item["user_data"])
    return "\n".join(parts)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
