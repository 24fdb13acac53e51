"""The load-balancer stand-in's control side (see lbproxy.py): follows the emulator's ALB configuration every
CONTROL_INTERVAL, health-checks the targets itself, keeps the routing state the listeners read, and writes it
to the state file the local gate reads."""

from __future__ import annotations

import http.server
import itertools
import json
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from ...aws.listeners import forward_target
from .lbproxy_routing import HealthCheck, Listener, Target, health_check, parse_rule
from .lbproxy_server import serve

CONTROL_INTERVAL = 0.5
CHECK_INTERVAL = 1.0  # not HealthCheckIntervalSeconds: the rehearsal is faster than AWS
CHECK_TIMEOUT_CAP = 2.0
EMULATOR_GONE_AFTER = 30.0
HOST_LABEL = "liftshift.host"
PORT_LABEL = "liftshift.port"
DROP_INVALID_HEADERS = "routing.http.drop_invalid_header_fields.enabled"

log = logging.getLogger("liftshift.lbproxy")


@dataclass
class Proxy:
    endpoint: str
    region: str
    arn: str
    state_path: Path
    listeners: dict[int, Listener] = field(default_factory=dict)
    servers: dict[int, http.server.ThreadingHTTPServer] = field(default_factory=dict)
    checks: dict[str, HealthCheck] = field(default_factory=dict)
    targets: dict[tuple[str, str], Target] = field(default_factory=dict)  # (group, instance id)
    draining: list[tuple[str, Target]] = field(default_factory=list)
    error: str | None = None
    exit_code: int | None = None
    drop_invalid_headers: bool = False  # the load balancer's attribute, as last read

    def __post_init__(self):
        self.lock = threading.Lock()
        self.write_lock = threading.Lock()
        self.stop = threading.Event()
        self.turns: dict[str, itertools.count] = {}
        self.addresses: dict[str, str] = {}
        self.docker = None
        self.elb = None  # connect() makes it
        self.errors: list[str] = []  # this control round's

    # -- control loop --

    def connect(self) -> None:
        """The emulator's ELB client, made as every client is (aws.session.Aws; credentials from the
        environment the caller passed)."""
        from ...aws.session import Aws

        self.elb = Aws(region=self.region, endpoint_url=self.endpoint).client("elbv2")

    def control(self) -> None:
        import botocore.exceptions

        elb = self.elb
        unreachable_since = None
        while not self.stop.is_set():
            self.errors = []
            try:
                self.round(elb)
                unreachable_since = None
            except botocore.exceptions.ClientError as exc:
                if exc.response.get("Error", {}).get("Code") == "LoadBalancerNotFound":
                    log.info("load balancer %s no longer exists: exiting", self.arn)
                    self.finish(0)
                    return
                self.failed(exc)
            except botocore.exceptions.EndpointConnectionError as exc:
                unreachable_since = unreachable_since or time.monotonic()
                if time.monotonic() - unreachable_since > EMULATOR_GONE_AFTER:
                    log.info("the emulator at %s is gone: exiting", self.endpoint)
                    self.finish(0)
                    return
                self.failed(exc)
            except Exception as exc:  # keep serving the last configuration, like an ALB would
                self.failed(exc)
            error = "; ".join(self.errors) or None
            if error and error != self.error:
                log.warning("control round: %s", error)
            self.error = error
            self.write_state()
            self.stop.wait(CONTROL_INTERVAL)

    def finish(self, code: int) -> None:
        with self.write_lock:  # no state is written after this: there is nothing left to describe
            self.exit_code = code
            self.state_path.unlink(missing_ok=True)
        self.stop.set()

    def failed(self, exc: Exception) -> None:
        self.errors.append(f"{type(exc).__name__}: {exc}")

    def round(self, elb) -> None:
        attributes = elb.describe_load_balancer_attributes(LoadBalancerArn=self.arn).get("Attributes", [])
        self.drop_invalid_headers = any(a.get("Key") == DROP_INVALID_HEADERS and a.get("Value") == "true"
                                        for a in attributes)
        listeners = {}
        for found in elb.describe_listeners(LoadBalancerArn=self.arn)["Listeners"]:
            rules = [parse_rule(r) for r in elb.describe_rules(ListenerArn=found["ListenerArn"])["Rules"]
                     if not r.get("IsDefault") and r.get("Priority") != "default"]
            listeners[found["Port"]] = Listener(found["Port"], forward_target(found.get("DefaultActions") or []),
                                                tuple(sorted(rules, key=lambda r: r.priority)))
        groups = sorted({g for lst in listeners.values() for g in (lst.default, *(r.target_group for r in lst.rules))
                         if g})
        checks, registered = {}, {}
        for arn in groups:
            try:
                tg = elb.describe_target_groups(TargetGroupArns=[arn])["TargetGroups"][0]
                found = elb.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
            except elb.exceptions.TargetGroupNotFoundException:
                continue
            checks[arn] = HealthCheck(tg.get("HealthCheckPath") or "/",
                                      min(float(tg.get("HealthCheckTimeoutSeconds") or 5), CHECK_TIMEOUT_CAP),
                                      int(tg.get("HealthyThresholdCount") or 5),
                                      int(tg.get("UnhealthyThresholdCount") or 2),
                                      (tg.get("Matcher") or {}).get("HttpCode") or "200")
            registered[arn] = {d["Target"]["Id"] for d in found}  # its State is moto's fiction: ignored
        self.addresses = self.host_addresses()
        self.apply(listeners, checks, registered)

    def host_addresses(self) -> dict[str, str]:
        """Instance id -> 127.0.0.1:port of its stand-in host, from one container listing."""
        import docker
        import docker.errors

        try:
            self.docker = self.docker or docker.from_env()
            containers = self.docker.containers.list(all=True, filters={"label": HOST_LABEL})
        except docker.errors.DockerException as exc:
            self.failed(exc)
            return self.addresses  # the engine hiccuped: keep what was known
        return {c.labels[HOST_LABEL]: f"127.0.0.1:{c.labels[PORT_LABEL]}"
                for c in containers if c.labels.get(PORT_LABEL)}

    def apply(self, listeners: dict[int, Listener], checks: dict[str, HealthCheck],
              registered: dict[str, set[str]]) -> None:
        with self.lock:
            wanted = {(g, i) for g, ids in registered.items() for i in ids}
            for key, target in list(self.targets.items()):
                if key not in wanted or target.address != self.addresses.get(key[1]):
                    del self.targets[key]  # gone, or its host moved: drain the old one
                    if target.in_flight:
                        self.draining.append((key[0], target))
                    if key not in wanted:
                        log.info("target %s of %s removed: draining %d request(s)", key[1], key[0],
                                 target.in_flight)
            for key in wanted - self.targets.keys():
                self.targets[key] = Target(key[1], self.addresses.get(key[1]))
            self.draining = [(g, t) for g, t in self.draining if t.in_flight]
            self.checks = checks
            self.listeners = listeners  # handlers read this reference: one assignment switches routing
        for port in sorted(listeners.keys() - self.servers.keys()):
            self.open(port)
        for port in sorted(self.servers.keys() - listeners.keys()):
            server = self.servers.pop(port)
            server.shutdown()  # stops accepting; requests in flight finish in their own threads
            server.server_close()
            log.info("listener %d closed", port)

    def open(self, port: int) -> None:
        try:
            self.servers[port] = serve(self, port)
        except OSError as exc:
            self.failed(OSError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror}"))
            return
        log.info("listener %d open", port)

    # -- health checks --

    def health_loop(self) -> None:
        running: set[tuple[str, str]] = set()
        with ThreadPoolExecutor(max_workers=16, thread_name_prefix="check") as pool:
            while not self.stop.is_set():
                with self.lock:
                    due = [(k, t, self.checks[k[0]]) for k, t in self.targets.items()
                           if t.address and k not in running and k[0] in self.checks]
                for key, target, check in due:
                    running.add(key)
                    pool.submit(self.check, key, target, check, running)
                self.stop.wait(CHECK_INTERVAL)

    def check(self, key, target: Target, check: HealthCheck, running: set) -> None:
        try:
            failure = health_check(target.address, check)
            with self.lock:
                if self.targets.get(key) is not target:
                    return  # deregistered or moved meanwhile
                before = target.state
                if failure is None:
                    target.successes, target.failures = target.successes + 1, 0
                    if target.state != "healthy" and target.successes >= check.healthy:
                        target.state, target.reason, target.description = "healthy", None, None
                else:
                    target.successes, target.failures = 0, target.failures + 1
                    if target.state == "unhealthy" or target.failures >= check.unhealthy:
                        target.state, (target.reason, target.description) = "unhealthy", failure
            if target.state != before:
                log.info("target %s of %s: %s -> %s %s", key[1], key[0], before, target.state,
                         target.description or "")
                self.write_state()
        finally:
            running.discard(key)

    # -- forwarding --

    def candidates(self, group: str) -> list[Target]:
        """Healthy targets of the group, round-robin order; all with a host when none is (fail open)."""
        with self.lock:
            known = sorted((t for (g, _), t in self.targets.items() if g == group and t.address),
                           key=lambda t: t.id)
        chosen = [t for t in known if t.state == "healthy"] or known
        if not chosen:
            return []
        turn = next(self.turns.setdefault(group, itertools.count())) % len(chosen)
        return chosen[turn:] + chosen[:turn]

    def busy(self, target: Target, delta: int) -> None:
        with self.lock:
            target.in_flight += delta

    # -- state --

    def write_state(self) -> None:
        def entry(t: Target, state: str, reason: str | None, description: str | None) -> dict:
            return {"state": state, "reason": reason, "description": description, "address": t.address,
                    "in_flight": t.in_flight}

        with self.lock:
            groups: dict[str, dict] = {}
            for (group, ident), t in self.targets.items():
                groups.setdefault(group, {"targets": {}})["targets"][ident] = entry(
                    t, t.state, t.reason, t.description)
            for group, t in self.draining:  # shown unless registered again meanwhile
                groups.setdefault(group, {"targets": {}})["targets"].setdefault(t.id, entry(
                    t, "draining", "Target.DeregistrationInProgress", "Target deregistration is in progress"))
            state = {
                "pid": os.getpid(), "load_balancer": self.arn, "drop_invalid_headers": self.drop_invalid_headers,
                "listeners": {str(p): {"default": lst.default, "listening": p in self.servers,
                                       "rules": [{"priority": r.priority, "header": r.header,
                                                  "values": list(r.values), "target_group": r.target_group,
                                                  **({"never_matches": r.never_matches} if r.never_matches else {})}
                                                 for r in lst.rules]}
                              for p, lst in sorted(self.listeners.items())},
                "target_groups": groups, "updated": time.time(), "error": self.error,
            }
        with self.write_lock:
            if self.exit_code is not None:
                return
            temp = self.state_path.with_name(f".{self.state_path.name}.{os.getpid()}.tmp")
            # owner-only: its rules hold pending releases' probe values
            with os.fdopen(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as out:
                out.write(json.dumps(state, indent=2))
            os.replace(temp, self.state_path)
