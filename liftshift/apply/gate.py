"""Health gates of a rollout: is the new release healthy, does it answer through the load balancer,
have the old release's requests drained. The executor runs them as `gate` calls.

Every wait is bounded and reports progress. A failed gate raises RolloutFailed
with the reasons (target health, Auto Scaling activity, the container's last
log lines where they can be read); the pipeline then abandons the release, and
the listener never pointed at it.

On AWS the load balancer's own target health and the Auto Scaling group's
activities are read; the local rehearsal (targets/local/gate.py) reads its
load-balancer stand-in instead. The probe is the same HTTP request in both.
"""

from __future__ import annotations

import http.client
import re
import time
from typing import Any

from .. import http_probe
from .stopping import pause
from ..model import names
from ..errors import Unhealthy

POLL_SECONDS = 5.0
LISTENER_PROPAGATION_SECONDS = 5.0
DRAIN_MARGIN_SECONDS = 15.0  # beyond the deregistration delay, for ELB to report the drain's end
MAX_DEREGISTRATION_DELAY = 3600  # AWS's maximum
CRASH_LOOP_REPLACEMENTS = 2  # instances replaced for failing health checks, per declared instance


class RolloutFailed(Unhealthy):
    """A release did not pass its health gate: removed, the old release still serves (exit 3)."""


def misconfigured(health: list[dict[str, Any]], count: int) -> str | None:
    """Every target answers its health check with a 4xx (a wrong path, a login page): that is a mistake in the
    release, not a slow start, so there is no point waiting for rollout.timeout. Entries are
    {"state", "reason", "description"}; other failures (refused, 5xx, timeouts) may be warm-up and are waited for."""
    failing = [h for h in health if h.get("state") == "unhealthy" and h.get("reason") == "Target.ResponseCodeMismatch"
               and re.search(r"\[4\d\d\]", h.get("description") or "")]
    if count and len(failing) >= count and len(failing) == len(health):
        return f"every target answers its health check with {failing[0].get('description')}"
    return None


def probe_once(host: str, port: int, path: str, header: str, https: bool, timeout: float = 5.0) -> tuple[int, str]:
    """One GET through the load balancer, routed to a pending release by the release header carrying its
    (secret) probe value `header`: (status, first bytes of body)."""
    return http_probe.get(host, port, path, timeout=timeout, https=https, read=200,
                          headers={names.RELEASE_HEADER: header, "User-Agent": "liftshift-probe"})


def probe_until(address: tuple[str, int], path: str, header: str, https: bool, timeout: float, progress,
                label: str) -> None:
    """Two consecutive 2xx/3xx answers within `timeout`, else RolloutFailed naming the last answer.
    502/503/504 and connection errors may be the load balancer settling and are retried until the timeout;
    other error statuses come from the app itself, and three in a row fail at once."""
    deadline = time.monotonic() + timeout
    good, bad, last = 0, 0, "no answer"
    while time.monotonic() < deadline:
        try:
            status, body = probe_once(address[0], address[1], path, header, https)
            last = f"HTTP {status}: {body.strip()[:120]!r}"
            good = good + 1 if status < 400 else 0
            bad = bad + 1 if status >= 400 and status not in (502, 503, 504) else 0
        except (OSError, http.client.HTTPException) as exc:
            last, good, bad = f"{type(exc).__name__}: {exc}", 0, 0
        if bad >= 3:
            break
        if good >= 2:
            progress.note(f"{label}: {path} answers through the load balancer ({last.split(':')[0]})")
            return
        time.sleep(1.0)
    raise RolloutFailed(f"{label}: {path} did not answer with success through the load balancer "
                        f"(last: {last})")


def template_user_data(ec2, template: str) -> bytes:
    """The user-data of a release: version 1 of its launch template (they are never changed)."""
    import base64

    version = ec2.describe_launch_template_versions(LaunchTemplateName=template, Versions=["1"])[
        "LaunchTemplateVersions"][0]
    return base64.b64decode(version["LaunchTemplateData"].get("UserData", ""))


IN_PLACE_DIR = "/var/lib/liftshift"


def in_place_script(user_data: bytes, port: int, path: str | None, timeout: int, directory: str = IN_PLACE_DIR) -> str:
    """What SSM Run Command runs on an instance: the release's user-data (it pulls the image by digest
    and restarts the container), then the probe on the instance itself, within `timeout` seconds.
    The user-data lands in a root-only file (mode 0600 in a 0700 directory, umask 077 before anything is
    written, an older world-readable copy removed first): it names the stack's secrets and holds env values.

    The probe is `path` over HTTP (else a TCP connect to `port`), unless the release runs its container with a
    health command (health.command, read from the user-data itself: a service that need not speak HTTP); then
    it is Docker's health status of that release's container (its config label), `healthy`, and `unhealthy`
    fails at once."""
    import base64
    import shlex

    from ..model.user_data import health_command_container

    where = shlex.quote(directory)
    script = shlex.quote(f"{directory}/release.sh")
    lines = [
        "set -euo pipefail",
        "umask 077",
        f"mkdir -p {where}",
        f"chmod 0700 {where}",
        f"rm -f {script}",
        f"printf '%s' '{base64.b64encode(user_data).decode()}' | base64 -d >{script}",
        f"bash {script}",
        f"deadline=$((SECONDS + {int(timeout)}))",
    ]
    container = health_command_container(user_data.decode("utf-8", errors="replace"))
    if container is not None:
        name, config = container
        status = shlex.quote('{{index .Config.Labels "liftshift.config"}} {{.State.Health.Status}}')
        return "\n".join(lines + [
            "status=''",
            f"until status=$(docker inspect --format {status} {shlex.quote(name)} 2>/dev/null) &&"
            f" [ \"$status\" = {shlex.quote(f'{config} healthy')} ]; do",
            f"  if [ \"$status\" = {shlex.quote(f'{config} unhealthy')} ]; then"
            f" echo 'container {name} is unhealthy: its health command failed' >&2; exit 1; fi",
            f"  if [ \"$SECONDS\" -ge \"$deadline\" ]; then echo \"container {name} not healthy within {int(timeout)} s"
            " (docker health status: ${status:-none})\" >&2; exit 1; fi",
            "  sleep 2",
            "done",
        ])
    probe = (f"curl -fsS -o /dev/null --max-time 3 {shlex.quote(f'http://127.0.0.1:{port}{path}')}" if path
             else f"(exec 3<>/dev/tcp/127.0.0.1/{port})")
    return "\n".join(lines + [
        f"until {probe} 2>/dev/null; do",
        f"  if [ \"$SECONDS\" -ge \"$deadline\" ]; then echo 'no healthy answer on port {port} within {int(timeout)} s' >&2;"
        " exit 1; fi",
        "  sleep 2",
        "done",
    ])


def update_or_restore(label: str, progress, run, template: str, previous: str) -> dict:
    """An in-place update of one instance: `run(template)` -> (healthy, why not); on failure the previous
    release is run again and RolloutFailed raised."""
    ok, why = run(template)
    if ok:
        progress.note(f"{label}: updated in place, healthy")
        return {}
    progress.note(f"{label}: failed in place; putting its previous release back")
    restored, restore_why = run(previous)
    raise RolloutFailed(f"{label} failed in place: {why}"
                        + ("" if restored else f"\nputting the previous release back failed too: {restore_why}"))


class AwsGate:
    """Gates read from AWS: ELB target health, Auto Scaling activities, CloudWatch Logs."""

    def __init__(self, aws, progress, stack: str, *, poll: float = POLL_SECONDS,
                 drain_margin: float = DRAIN_MARGIN_SECONDS, lb_endpoint: str | None = None):
        """`lb_endpoint` ("host:port"): where the probe "through the load balancer" goes instead, for emulators
        whose load balancers have no data plane (targets.aws wires LIFTSHIFT_LB_ENDPOINT here); their
        listeners have no nodes either, so the switch is not waited for."""
        self.aws = aws
        self.progress = progress
        self.stack = stack
        self.poll = poll
        self.drain_margin = drain_margin
        self.lb_endpoint = lb_endpoint

    def healthy(self, service: str, release: int, target_group: str, auto_scaling_group: str, count: int,
                timeout: int) -> dict:
        elbv2 = self.aws.client("elbv2")
        label = f"{service} #{release}"
        deadline = time.monotonic() + timeout
        started = time.monotonic()
        while True:
            health = elbv2.describe_target_health(TargetGroupArn=target_group)["TargetHealthDescriptions"]
            ready = [t for t in health if t["TargetHealth"]["State"] == "healthy"]
            if count == 0 or len(ready) >= count:
                self.progress.note(f"{label}: {len(ready)}/{count} target(s) healthy")
                return {}
            problems = self._crash_loop(auto_scaling_group, count) or misconfigured(
                [{"state": h["State"], "reason": h.get("Reason"), "description": h.get("Description")}
                 for h in (t["TargetHealth"] for t in health)], count)
            if problems:
                raise RolloutFailed(f"{label} failed: {problems}\n{_reasons(health)}"
                                    f"{self._logs(service, [t['Target']['Id'] for t in health])}")
            if time.monotonic() > deadline:
                raise RolloutFailed(f"{label}: {len(ready)}/{count} target(s) healthy after {timeout} s "
                                    f"(rollout.timeout)\n{_reasons(health)}"
                                    f"{self._logs(service, [t['Target']['Id'] for t in health])}")
            self.progress.note(f"{label}: {len(ready)}/{count} healthy after {time.monotonic() - started:.0f} s"
                               f"{'; ' + _reasons(health, 1) if health else ''}")
            pause(self.poll)  # stops waiting when another step of the run failed

    def _crash_loop(self, group: str, count: int) -> str | None:
        """Instances the group replaced for failing health checks, or launches that keep failing."""
        activities = self.aws.client("autoscaling").describe_scaling_activities(
            AutoScalingGroupName=group, MaxRecords=50).get("Activities", [])
        replaced = [a for a in activities if "health" in (a.get("Cause", "") + a.get("Description", "")).lower()
                    and a.get("Description", "").startswith("Terminating")]
        failed = [a for a in activities if a.get("StatusCode") == "Failed"]
        if len(replaced) >= CRASH_LOOP_REPLACEMENTS * max(count, 1):
            return f"{len(replaced)} instance(s) replaced for failing health checks"
        if len(failed) >= 3:
            return f"{len(failed)} failed launches, last: {failed[0].get('StatusMessage', '')[:300]}"
        return None

    def _logs(self, service: str, instances: list[str]) -> str:
        """The last log lines each instance's container sent to CloudWatch Logs, if any."""
        if not instances:
            return ""
        logs = self.aws.client("logs")
        out = []
        for instance in instances[:3]:
            try:
                events = logs.get_log_events(logGroupName=names.log_group(self.stack),
                                             logStreamName=f"{service}/{instance}", limit=20,
                                             startFromHead=False).get("events", [])
            except Exception:  # no stream yet: the container never started or never logged
                continue
            if events:
                out.append(f"--- last log lines of {service} on {instance} ---\n"
                           + "\n".join(e["message"].rstrip() for e in events))
        return ("\n" + "\n".join(out)) if out else ""

    def probe(self, service: str, release: int, load_balancer: str, dns: str, port: int, protocol: str, path: str,
              timeout: int, header: str) -> dict:
        if self.lb_endpoint:
            host, _, at = self.lb_endpoint.rpartition(":")
            address = (host, int(at))
        else:
            self.aws.client("elbv2").get_waiter("load_balancer_available").wait(
                LoadBalancerArns=[load_balancer], WaiterConfig={"Delay": 10, "MaxAttempts": 30})
            address = (dns, port)
        probe_until(address, path, header, protocol == "HTTPS", timeout, self.progress, f"{service} #{release}")
        return {}

    def update_in_place(self, service: str, instance: str, release: int, template: str, previous: str, port: int,
                        path: str | None, timeout: int) -> dict:
        """One instance onto `template`'s release through SSM Run Command; on failure back onto `previous`."""
        return update_or_restore(f"{service} #{release} on {instance}", self.progress,
                                 lambda name: self._run_release(instance, name, port, path, timeout), template, previous)

    def _run_release(self, instance: str, template: str, port: int, path: str | None, timeout: int) -> tuple[bool, str]:
        import botocore.exceptions

        ssm = self.aws.client("ssm")
        script = in_place_script(template_user_data(self.aws.client("ec2"), template), port, path, timeout)
        command = ssm.send_command(
            InstanceIds=[instance], DocumentName="AWS-RunShellScript", Comment=f"liftshift {template}"[:100],
            Parameters={"commands": [script], "executionTimeout": [str(timeout + 600)]},
        )["Command"]["CommandId"]
        deadline = time.monotonic() + timeout + 660  # the pull and restart, then the probe's own timeout
        while time.monotonic() < deadline:
            try:
                result = ssm.get_command_invocation(CommandId=command, InstanceId=instance)
            except botocore.exceptions.ClientError as exc:  # InvocationDoesNotExist: not registered yet
                if exc.response.get("Error", {}).get("Code") != "InvocationDoesNotExist":
                    raise
                time.sleep(2)
                continue
            if result["Status"] not in ("Pending", "InProgress", "Delayed"):
                output = (result.get("StandardErrorContent") or result.get("StandardOutputContent") or "")[-1500:]
                return result["Status"] == "Success", f"{result['Status']}: {output.strip()}"
            time.sleep(self.poll)
        return False, f"SSM command {command} did not finish within {timeout + 660} s"

    def switched(self, service: str, serving: str, target_groups: list[str]) -> dict:
        """Lets the listener change reach every load balancer node before the old release is deregistered:
        a node still routing to it would find only draining targets, which get no new request."""
        if not self.lb_endpoint:
            time.sleep(LISTENER_PROPAGATION_SECONDS)
        return {}

    def drain(self, service: str, target_groups: list[str], seconds: int) -> dict:
        """Until every target of `target_groups` (the old release's, whose group the step before detached)
        has been deregistered and has drained: gone from its group or `unused`. Auto Scaling deregisters the
        instances after the detach returns, so a target still `healthy` (or `initial`, `unhealthy`) is waited
        for as well as a `draining` one. ELB sends a draining target no new request and lets those in flight
        finish; it completes the deregistration early when none is left, but reports the target `draining`
        until the delay is over, so on AWS this wait is about the delay. It is bounded by the groups'
        deregistration delay (read from each group; `seconds` when unreadable) plus a margin: a target not
        deregistered by then is noted and the removal goes ahead, since ELB itself stops waiting at the
        delay and waiting longer would only hold the deploy."""
        if not target_groups:
            return {}
        elbv2 = self.aws.client("elbv2")
        delay = max(_deregistration_delay(elbv2, arn, seconds) for arn in target_groups)
        bound = delay + self.drain_margin
        started = time.monotonic()
        while True:
            left = undrained_targets(elbv2, target_groups)
            waited = time.monotonic() - started
            if not left:
                if waited >= 1:
                    self.progress.note(f"{service}: the old release drained in {waited:.0f} s")
                return {}
            if waited >= bound:
                self.progress.note(f"{service}: {len(left)} old target(s) not deregistered after {waited:.0f} s "
                                   f"(deregistration delay {delay} s + {self.drain_margin:g} s; "
                                   f"{_states(left)}): removing them anyway; requests still in flight there may "
                                   "be cut")
                return {}
            self.progress.note(f"{service}: old target(s) {_states(left)} ({waited:.0f} s of at most {bound:g} s)")
            time.sleep(max(0.0, min(self.poll, bound - waited)))


def _deregistration_delay(elbv2, target_group: str, default: int) -> int:
    """The target group's deregistration delay (0-3600 s), else `default` (gone, or unreadable)."""
    import botocore.exceptions

    try:
        attributes = elbv2.describe_target_group_attributes(TargetGroupArn=target_group)["Attributes"]
        found = next((a["Value"] for a in attributes if a["Key"] == "deregistration_delay.timeout_seconds"), None)
        return min(int(found), MAX_DEREGISTRATION_DELAY) if found is not None else default
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError, ValueError):
        return default  # a group already deleted has nothing to drain: the wait finds that out


def undrained_targets(elbv2, target_groups: list[str]) -> list[tuple[str, str]]:
    """(id, state) of the targets of `target_groups` not yet deregistered: registered in any state but
    `unused` (draining, or not yet deregistering). A group that no longer exists holds none."""
    import botocore.exceptions

    found = []
    for arn in target_groups:
        try:
            health = elbv2.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
        except botocore.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "TargetGroupNotFound":
                continue
            raise
        found += [(t["Target"]["Id"], t["TargetHealth"]["State"]) for t in health
                  if t["TargetHealth"]["State"] != "unused"]
    return found


def _states(targets: list[tuple[str, str]]) -> str:
    """"2 draining, 1 healthy"."""
    counts: dict[str, int] = {}
    for _, state in targets:
        counts[state] = counts.get(state, 0) + 1
    return ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))


def _reasons(health: list[dict[str, Any]], limit: int = 5) -> str:
    lines = []
    for t in health[:limit]:
        h = t["TargetHealth"]
        lines.append(f"{t['Target']['Id']}: {h['State']}"
                     + (f" ({h.get('Reason')}: {h.get('Description', '')})" if h.get("Reason") else ""))
    return "; ".join(lines) if limit == 1 else "\n".join(lines)
