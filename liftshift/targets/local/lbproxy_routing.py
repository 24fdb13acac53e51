"""The load-balancer stand-in's routing state (see lbproxy.py): listeners, header rules, targets and their
health checks, as read from the emulator's ELB answers, and one ALB-style health check. No I/O but the check."""

from __future__ import annotations

import http.client
import re
from dataclasses import dataclass

from ... import http_probe
from ...aws.listeners import forward_target

HEALTH_CHECKER = "ELB-HealthChecker/2.0"  # the User-Agent an ALB's health checks send


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


def parse_rule(rule: dict) -> Rule:
    conditions = rule.get("Conditions") or []
    header = next((c.get("HttpHeaderConfig") or {} for c in conditions if c.get("Field") == "http-header"), {})
    others = sorted({c.get("Field") for c in conditions} - {"http-header"})
    never = None
    if others or len(conditions) != 1:
        never = f"conditions not emulated locally: {', '.join(others) or 'several header conditions'}"
    return Rule(int(rule["Priority"]), header.get("HttpHeaderName"), tuple(header.get("Values") or ()),
                forward_target(rule.get("Actions") or []), never)


def health_check(address: str, check: HealthCheck) -> tuple[str, str] | None:
    """One ALB-style health check: None when healthy, else (reason, description) as ELB words them."""
    host, _, port = address.rpartition(":")
    try:
        status, _ = http_probe.get(host, int(port), check.path, timeout=check.timeout,
                                   headers={"User-Agent": HEALTH_CHECKER}, read=None)
    except TimeoutError:
        return "Target.Timeout", "Request timed out"
    except (OSError, http.client.HTTPException) as exc:
        return "Target.FailedHealthChecks", f"Health checks failed: {exc.__class__.__name__}: {exc}"
    if code_matches(status, check.codes):
        return None
    return "Target.ResponseCodeMismatch", f"Health checks failed with these codes: [{status}]"
