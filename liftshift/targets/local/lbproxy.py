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

This module is the process's entry point and its caller's side (start, stop, read its state); the
process itself is lbproxy_control (following the configuration, health checks, the state file),
lbproxy_server (the listeners' reverse proxy) and lbproxy_routing (listeners, rules, targets).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from .lbproxy_control import Proxy
from .services import LocalSetupError, _alive

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


# --- the process ---------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m liftshift.targets.local.lbproxy")
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--region", required=True)
    parser.add_argument("--load-balancer", required=True)
    parser.add_argument("--state", required=True, type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s lbproxy %(message)s")
    logging.getLogger("botocore").setLevel(logging.WARNING)
    # One retry per call, whatever the user's settings: the next round is CONTROL_INTERVAL away, and a gone
    # emulator must be noticed (aws.session.Aws leaves retries to AWS_MAX_ATTEMPTS when it is set).
    os.environ["AWS_MAX_ATTEMPTS"] = "2"
    proxy = Proxy(args.endpoint, args.region, args.load_balancer, args.state)
    proxy.connect()
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
