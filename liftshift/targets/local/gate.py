"""Health gates of the local rehearsal: the same questions as gate.AwsGate, asked of the stand-ins.

The emulator launches a release's instances when its Auto Scaling group is
made; here their stand-in hosts are booted, the load-balancer stand-in
(lbproxy.py) health-checks them as an ALB would, and its target health is
what the gate reads. A container that exits or keeps restarting is a crash
loop and fails the gate at once, with its last log lines.
"""

from __future__ import annotations

import threading
import time

from ...apply.stopping import pause
from ...apply.gate import (DRAIN_MARGIN_SECONDS, RolloutFailed, misconfigured, probe_until, template_user_data,
                    undrained_targets, update_or_restore)
from ...aws.observe import observe_stack
from . import lbproxy
from .emulated_reads import BootFailed

POLL_SECONDS = 0.5
CRASH_RESTARTS = 3
SWITCH_SECONDS = 30.0


class LocalGate:
    def __init__(self, hosts, aws, spec, progress):
        self.hosts = hosts
        self.aws = aws
        self.spec = spec
        self.progress = progress
        # Gates of several services run side by side (the executor's workers), but this machine's stand-in hosts
        # and load-balancer stand-ins are one set: booting and in-place updates change them one at a time.
        self.hosts_lock = threading.Lock()

    def healthy(self, service: str, release: int, target_group: str, auto_scaling_group: str, count: int,
                timeout: int) -> dict:
        label = f"{service} #{release}"
        observed = observe_stack(self.aws, self.spec.name)
        with self.hosts_lock:
            try:
                self.hosts.reconcile(self.spec, observed)  # boots the new release's instances beside the old
            except BootFailed as exc:
                raise RolloutFailed(f"{label}: an instance did not boot: {exc}") from None
            self.hosts.ensure_load_balancers(self.spec.name, observed)
        group = next((g for g in observed.auto_scaling_groups if g.name == auto_scaling_group), None)
        members = set(group.instances) if group else set()
        state = self.hosts.load_balancer_state(self.spec.name, service)
        deadline = time.monotonic() + timeout
        last_note = 0.0
        while True:
            health = [t for t in lbproxy.target_health(state, target_group) if not members or t["id"] in members]
            ready = [t for t in health if t["state"] == "healthy"]
            if count == 0 or len(ready) >= count:
                self.progress.note(f"{label}: {len(ready)}/{count} target(s) healthy")
                return {}
            crashed = self.hosts.crash_looping(self.spec.name, sorted(members), CRASH_RESTARTS)
            if crashed:
                raise RolloutFailed(f"{label} is crash-looping: {crashed}\n{_reasons(health)}")
            wrong = misconfigured(health, count)
            if wrong:
                raise RolloutFailed(f"{label} failed: {wrong}\n{_reasons(health)}"
                                    f"{self.hosts.last_logs(self.spec.name, sorted(members), lines=5)}")
            if time.monotonic() > deadline:
                raise RolloutFailed(f"{label}: {len(ready)}/{count} target(s) healthy after {timeout} s "
                                    f"(rollout.timeout)\n{_reasons(health)}"
                                    f"{self.hosts.last_logs(self.spec.name, sorted(members), lines=10)}")
            if time.monotonic() - last_note > 5:
                self.progress.note(f"{label}: {len(ready)}/{count} healthy; {_reasons(health, 1)}")
                last_note = time.monotonic()
            pause(POLL_SECONDS)

    def probe(self, service: str, release: int, load_balancer: str, dns: str, port: int, protocol: str, path: str,
              timeout: int, header: str) -> dict:
        # The stand-in serves plain HTTP on 127.0.0.1 whatever the listener's protocol; it routes by the release
        # header's (secret) value, as the ALB does.
        probe_until(("127.0.0.1", port), path, header, False, timeout, self.progress, f"{service} #{release}")
        return {}

    def update_in_place(self, service: str, instance: str, release: int, template: str, previous: str, port: int,
                        path: str | None, timeout: int) -> dict:
        """What SSM Run Command does on EC2, done on the instance's stand-in host: run the release's
        user-data there, probe the container; on failure run the previous release's user-data."""
        ec2 = self.aws.client("ec2")
        settings = self.spec.services.get(service)
        files = {n: f.ref for n, f in settings.secret_files.items()} if settings else {}
        def run(name: str):
            with self.hosts_lock:
                return self.hosts.run_release(self.spec.name, instance, template_user_data(ec2, name), path, timeout,
                                              secret_files=files)

        return update_or_restore(f"{service} #{release} on {instance}", self.progress, run, template, previous)

    def switched(self, service: str, serving: str, target_groups: list[str]) -> dict:
        """Until the stand-in routes by default to `serving` and no rule to the old target groups (it follows
        the emulator every CONTROL_INTERVAL, as an ALB's nodes take the listener change)."""
        state_path = self.hosts.load_balancer_state(self.spec.name, service)
        deadline = time.monotonic() + SWITCH_SECONDS
        while time.monotonic() < deadline:
            state = lbproxy.read_state(state_path) or {}
            listeners = state.get("listeners", {}).values()
            defaults = {lst.get("default") for lst in listeners}
            routed = defaults | {r.get("target_group") for lst in listeners for r in lst.get("rules", [])}
            if defaults == {serving} and not routed & set(target_groups):
                return {}
            time.sleep(0.2)
        self.progress.note(f"{service}: the load-balancer stand-in had not switched after {SWITCH_SECONDS} s")
        return {}

    def drain(self, service: str, target_groups: list[str], seconds: int) -> dict:
        """As gate.AwsGate.drain: until no old target drains, within the deregistration delay plus the margin,
        then the removal goes ahead with a note. Waited for: requests in flight on the old targets in the
        stand-in (which sends a target it no longer routes to, deregistered or in a group no longer
        referenced, no new request and shows it `draining` while they finish), then targets the emulator
        still lists as registered (moto forgets a deregistered target at once)."""
        if not target_groups:
            return {}
        state_path = self.hosts.load_balancer_state(self.spec.name, service)
        elbv2 = self.aws.client("elbv2")
        bound = seconds + DRAIN_MARGIN_SECONDS
        started = time.monotonic()
        while True:
            state = lbproxy.read_state(state_path) or {}
            groups = state.get("target_groups", {})
            busy = [ident for arn in target_groups for ident, t in groups.get(arn, {}).get("targets", {}).items()
                    if t.get("in_flight", 0) > 0]
            if not busy:
                busy = [ident for ident, _ in undrained_targets(elbv2, target_groups)]
            if not busy:
                return {}
            if time.monotonic() - started >= bound:
                self.progress.note(f"{service}: {len(busy)} old target(s) not drained after {bound:g} s: removing "
                                   "them anyway; requests still in flight there may be cut")
                return {}
            time.sleep(POLL_SECONDS)


def _reasons(health: list[dict], limit: int = 5) -> str:
    lines = [f"{t['id']}: {t['state']}" + (f" ({t['reason']}: {t.get('description') or ''})" if t.get("reason") else "")
             for t in health[:limit]]
    if not lines:
        return "no target registered yet"
    return "; ".join(lines) if limit == 1 else "\n".join(lines)
