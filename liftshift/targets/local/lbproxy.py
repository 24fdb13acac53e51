"""The local rehearsal's Application Load Balancer data plane: one background process per emulated ALB.

moto emulates the ALB's control plane only (listeners, rules, target groups,
registrations) and reports every target healthy. This process plays the data
plane by following that configuration, as a real ALB follows its own:

- every 0.5 s it reads the load balancer's listeners, their default actions and
  header rules, and the referenced target groups and their registered targets;
  an instance target is reached through its stand-in host (the container
  labelled liftshift.host=<instance id>, its app on 127.0.0.1:<liftshift.port>);
- it listens on 127.0.0.1:<listener port> for each listener (HTTPS is served as
  plain HTTP: there is no certificate locally) and forwards requests to the
  healthy targets of the matching rule's group, round-robin;
- it health-checks the targets itself, like an ALB: HealthCheckPath, Matcher,
  thresholds and timeout (capped at 2 s) are respected, but checks run every
  1 s whatever HealthCheckIntervalSeconds says, so a rehearsal converges in
  seconds where AWS takes minutes. HealthCheckPort is always the traffic port;
- a deregistered target (or one whose group is no longer referenced) gets no
  new requests while its in-flight ones complete (draining);
- with the load balancer's attribute routing.http.drop_invalid_header_fields.enabled
  true (liftshift sets it), header fields whose names are not valid are removed
  before forwarding, as an ALB does: AWS requires names to match [-A-Za-z0-9]+
  (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/application-load-balancers.html#load-balancer-attributes),
  stricter than RFC 9110's token, so `X_Forwarded_For` or `X.Custom` are dropped;
- it records listeners and target health in a JSON state file, which is how
  the local target reads target health (moto's describe_target_health cannot
  be trusted for that).

It exits by itself when the load balancer no longer exists (or the emulator
has been unreachable for 30 s, which means its state is gone), and on SIGTERM.
Only single http-header conditions are emulated in rules; a rule with any other
condition never matches (noted in the state file). Registered ports of targets
are ignored: the stand-in host's port is the only one there is.

Run: python -m liftshift.targets.local.lbproxy --endpoint URL --region R --load-balancer ARN --state FILE
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import http.server
import itertools
import json
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from .services import LocalSetupError, _alive

CONTROL_INTERVAL = 0.5
CHECK_INTERVAL = 1.0  # not HealthCheckIntervalSeconds: the rehearsal is faster than AWS
CHECK_TIMEOUT_CAP = 2.0
UPSTREAM_TIMEOUT = 60.0  # an ALB's default idle timeout
EMULATOR_GONE_AFTER = 30.0
HOST_LABEL = "liftshift.host"
PORT_LABEL = "liftshift.port"
VALID_HEADER_NAME = re.compile(r"[-A-Za-z0-9]+")  # what an ALB dropping invalid header fields keeps
DROP_INVALID_HEADERS = "routing.http.drop_invalid_header_fields.enabled"
HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection",
              "te", "trailer", "trailers", "transfer-encoding", "upgrade"}

log = logging.getLogger("liftshift.lbproxy")


# --- the caller's side ------------------------------------------------------------------


def start(endpoint: str, region: str, load_balancer_arn: str, state_path: Path, log_path: Path,
          env: dict) -> int:
    """Spawn the proxy detached; returns its pid once it has written its state (its listeners are open)."""
    state_path, log_path = Path(state_path), Path(log_path)
    state_path.unlink(missing_ok=True)  # a stale file must not pass for the new process's
    argv = [sys.executable, "-m", "liftshift.targets.local.lbproxy", "--endpoint", endpoint, "--region", region,
            "--load-balancer", load_balancer_arn, "--state", str(state_path)]
    with open(log_path, "ab") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=out, stdin=subprocess.DEVNULL,
                                start_new_session=True, env=env)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        state = read_state(state_path)
        if state and state.get("pid") == proc.pid:
            return proc.pid
        if proc.poll() is not None:
            why = f"exited with code {proc.returncode}"
            break
        time.sleep(0.1)
    else:
        proc.kill()
        proc.wait()
        why = "wrote no state within 10 s"
    tail = log_path.read_text(errors="replace")[-1500:] if log_path.exists() else ""
    raise LocalSetupError(f"the local load balancer for {load_balancer_arn} {why} (log {log_path}):\n{tail}")


def read_state(state_path: Path) -> dict | None:
    try:
        return json.loads(Path(state_path).read_text())
    except (OSError, ValueError):
        return None


def alive(pid: int | None) -> bool:
    return _alive(pid)


def stop(state_path: Path) -> None:
    """End the proxy recorded in state_path (SIGTERM, then SIGKILL after 5 s) and remove the file."""
    state = read_state(state_path) or {}
    pid = state.get("pid")
    if alive(pid) and _is_proxy(pid):  # a recycled pid must not be killed
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 5
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if alive(pid):
            os.kill(pid, signal.SIGKILL)
    Path(state_path).unlink(missing_ok=True)


def target_health(state_path: Path, target_group_arn: str) -> list[dict]:
    """Like describe_target_health, from the proxy's own checks: [{id, state, reason, description}]."""
    group = ((read_state(state_path) or {}).get("target_groups") or {}).get(target_group_arn) or {}
    return [{"id": ident, "state": t["state"], "reason": t["reason"], "description": t["description"]}
            for ident, t in sorted((group.get("targets") or {}).items())]


def _is_proxy(pid: int) -> bool:
    try:
        return b"liftshift.targets.local.lbproxy" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True  # no /proc: trust the state file


# --- configuration, as read from the emulator ------------------------------------------


@dataclass(frozen=True)
class Rule:
    priority: int
    header: str | None
    values: tuple[str, ...]
    target_group: str | None
    never_matches: str | None = None  # why, when it has a condition this proxy does not emulate

    def matches(self, headers) -> bool:
        if self.never_matches or self.header is None:
            return False
        return any(_wildcard(v).fullmatch(got) for got in headers.get_all(self.header, [])
                   for v in self.values)


@dataclass(frozen=True)
class Listener:
    port: int
    default: str | None  # target group ARN; None when the default action does not forward
    rules: tuple[Rule, ...]

    def route(self, headers) -> str | None:
        return next((r.target_group for r in self.rules if r.matches(headers)), self.default)


@dataclass
class Target:
    id: str
    address: str | None  # "127.0.0.1:port" of its stand-in host; None: no host yet
    state: str = "initial"
    reason: str | None = "Elb.InitialHealthChecking"
    description: str | None = "Initial health checks in progress"
    successes: int = 0
    failures: int = 0
    in_flight: int = 0

    def __post_init__(self):
        if self.address is None:
            self.state, self.reason = "unused", "Target.InvalidState"
            self.description = "No stand-in host runs this instance"


@dataclass(frozen=True)
class HealthCheck:
    path: str
    timeout: float
    healthy: int
    unhealthy: int
    codes: str


def _wildcard(pattern: str) -> re.Pattern:
    """ALB value matching: case-insensitive, * and ? wildcards."""
    return re.compile(re.escape(pattern).replace(r"\*", ".*").replace(r"\?", "."), re.IGNORECASE)


def code_matches(code: int, matcher: str) -> bool:
    """Matcher.HttpCode: "200", "200,202" or "200-399"."""
    for part in matcher.split(","):
        low, _, high = part.strip().partition("-")
        if low and int(low) <= code <= int(high or low):
            return True
    return False


def forward_group(actions: list[dict]) -> str | None:
    """The target group a rule's actions forward to (the heaviest one of a weighted forward)."""
    for action in sorted(actions, key=lambda a: a.get("Order", 0)):
        if action.get("Type") != "forward":
            continue
        groups = (action.get("ForwardConfig") or {}).get("TargetGroups") or []
        if groups:
            return max(groups, key=lambda g: g.get("Weight", 1))["TargetGroupArn"]
        return action.get("TargetGroupArn")
    return None


def parse_rule(rule: dict) -> Rule:
    conditions = rule.get("Conditions") or []
    header = next((c.get("HttpHeaderConfig") or {} for c in conditions if c.get("Field") == "http-header"), {})
    others = sorted({c.get("Field") for c in conditions} - {"http-header"})
    never = None
    if others or len(conditions) != 1:
        never = f"conditions not emulated locally: {', '.join(others) or 'several header conditions'}"
    return Rule(int(rule["Priority"]), header.get("HttpHeaderName"), tuple(header.get("Values") or ()),
                forward_group(rule.get("Actions") or []), never)


# --- the proxy process -------------------------------------------------------------------


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
        self.errors: list[str] = []  # this control round's

    # -- control loop --

    def control(self) -> None:
        import boto3
        import botocore.exceptions
        from botocore.config import Config

        elb = boto3.client("elbv2", endpoint_url=self.endpoint, region_name=self.region,
                           config=Config(retries={"total_max_attempts": 2}))
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
            listeners[found["Port"]] = Listener(found["Port"], forward_group(found.get("DefaultActions") or []),
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
            server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        except OSError as exc:
            self.failed(OSError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror}"))
            return
        server.proxy, server.listener_port = self, port
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
        self.servers[port] = server
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
            failure = probe(target.address, check)
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


def probe(address: str, check: HealthCheck) -> tuple[str, str] | None:
    """One ALB-style health check: None when healthy, else (reason, description)."""
    host, _, port = address.rpartition(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=check.timeout)
    try:
        conn.request("GET", check.path, headers={"User-Agent": "ELB-HealthChecker/2.0"})
        response = conn.getresponse()
        response.read()
    except TimeoutError:
        return "Target.Timeout", "Request timed out"
    except (OSError, http.client.HTTPException) as exc:
        return "Target.FailedHealthChecks", f"Health checks failed: {exc.__class__.__name__}: {exc}"
    finally:
        conn.close()
    if code_matches(response.status, check.codes):
        return None
    return "Target.ResponseCodeMismatch", f"Health checks failed with these codes: [{response.status}]"


class Handler(http.server.BaseHTTPRequestHandler):
    """A reverse proxy on the stdlib's http.server/http.client: no extra dependency for the rehearsal."""

    protocol_version = "HTTP/1.1"
    timeout = UPSTREAM_TIMEOUT  # an idle client does not hold a thread forever

    def do_request(self) -> None:
        proxy: Proxy = self.server.proxy
        port = self.server.listener_port
        listener = proxy.listeners.get(port)
        body = self.read_body()
        group = listener.route(self.headers) if listener else None
        targets = proxy.candidates(group) if group else []
        if not targets:
            return self.answer(503, "Service Unavailable: no target to route to")
        headers = self.upstream_headers(port, body)
        for target in targets[:2]:  # one retry on another target when a connection fails
            host, _, tport = target.address.rpartition(":")
            conn = http.client.HTTPConnection(host, int(tport), timeout=UPSTREAM_TIMEOUT)
            proxy.busy(target, +1)
            try:
                try:
                    conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                    for name, value in headers:
                        conn.putheader(name, value)
                    conn.endheaders(body)
                    response = conn.getresponse()
                except TimeoutError:
                    return self.answer(504, "Gateway Timeout")
                except OSError:  # refused, reset or closed before any response byte: try another target
                    continue
                except http.client.HTTPException:
                    return self.answer(502, "Bad Gateway: invalid response from the target")
                return self.relay(response)
            finally:
                conn.close()
                proxy.busy(target, -1)
        self.answer(502, "Bad Gateway: the target refused the connection")

    def read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            body = bytearray()
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                body += self.rfile.read(size)
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return bytes(body)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def upstream_headers(self, port: int, body: bytes) -> list[tuple[str, str]]:
        named = {n.strip().lower() for n in self.headers.get("Connection", "").split(",")}
        dropped = HOP_BY_HOP | named | {"content-length", "expect", "x-forwarded-for", "x-forwarded-proto",
                                        "x-forwarded-port"}
        headers = [(k, v) for k, v in self.headers.items() if k.lower() not in dropped
                   and (not self.server.proxy.drop_invalid_headers or VALID_HEADER_NAME.fullmatch(k))]
        forwarded = ", ".join([*self.headers.get_all("X-Forwarded-For", []), self.client_address[0]])
        headers += [("X-Forwarded-For", forwarded), ("X-Forwarded-Proto", "http"), ("X-Forwarded-Port", str(port))]
        if body or "Content-Length" in self.headers or "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            headers.append(("Content-Length", str(len(body))))
        return headers

    def relay(self, response: http.client.HTTPResponse) -> None:
        named = {n.strip().lower() for n in (response.getheader("Connection") or "").split(",")}
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.send_response_only(response.status, response.reason)
            for name, value in response.getheaders():
                if name.lower() not in HOP_BY_HOP | named:
                    self.send_header(name, value)
            self.send_header("Connection", "close")  # without Content-Length, the body ends with the connection
            self.end_headers()
            while self.command != "HEAD" and (chunk := response.read(65536)):
                self.wfile.write(chunk)

    def answer(self, code: int, text: str) -> None:
        body = f"{code} {text}\n".encode()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.send_response_only(code)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

    def log_request(self, code="-", size="-") -> None:
        pass  # no access log: the log file is for state changes and errors


for _method in ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"):
    setattr(Handler, f"do_{_method}", Handler.do_request)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m liftshift.targets.local.lbproxy")
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--region", required=True)
    parser.add_argument("--load-balancer", required=True)
    parser.add_argument("--state", required=True, type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s lbproxy %(message)s")
    logging.getLogger("botocore").setLevel(logging.WARNING)
    proxy = Proxy(args.endpoint, args.region, args.load_balancer, args.state)
    signalled = []  # a flag, not Event.set(): a signal handler must not take the lock Event.wait may hold
    signal.signal(signal.SIGTERM, lambda *_: signalled.append(1))
    signal.signal(signal.SIGINT, lambda *_: signalled.append(1))
    threading.Thread(target=proxy.control, name="control", daemon=True).start()
    threading.Thread(target=proxy.health_loop, name="health", daemon=True).start()
    while not signalled and not proxy.stop.is_set():
        time.sleep(0.1)
    proxy.stop.set()
    for server in list(proxy.servers.values()):
        server.shutdown()
        server.server_close()
    deadline = time.monotonic() + 3  # let requests in flight finish, bounded
    while time.monotonic() < deadline and any(t.in_flight for t in list(proxy.targets.values())):
        time.sleep(0.05)
    log.info("stopped")
    return proxy.exit_code or 0


if __name__ == "__main__":
    sys.exit(main())
