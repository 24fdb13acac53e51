"""The seam between the pipeline and a target: the clients one run uses, the health gate its rollouts ask,
and what it does with the instances a plan made.

On AWS, EC2 runs each instance's user-data and nothing more is needed (`CloudHosts` does nothing). In the
local rehearsal, stand-in hosts run it (`targets.local.standin.StandInHosts`). The pipeline never asks which
target it has: it calls the same `Hosts` and `Gate` methods on both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Protocol

from ..progress import Progress

if TYPE_CHECKING:
    from ..model.log_events import LogEvent, LogQuery
    from ..model.observed import Observed, ObservedLoadBalancer
    from ..aws.session import Aws
    from ..model.desired import Registry
    from ..spec.model import AppSpec


class Gate(Protocol):
    """What a rollout asks before traffic moves (the executor runs these as gate calls). Answers are plain
    dicts recorded as the step's result; a failed question raises apply.gate.RolloutFailed (exit 3)."""

    def healthy(self, service: str, release: int, target_group: str, auto_scaling_group: str, count: int,
                timeout: int) -> dict: ...

    def probe(self, service: str, release: int, load_balancer: str, dns: str, port: int, protocol: str, path: str,
              timeout: int, header: str) -> dict: ...

    def update_in_place(self, service: str, instance: str, release: int, template: str, previous: str, port: int,
                        path: str | None, timeout: int) -> dict: ...

    def switched(self, service: str, serving: str, target_groups: list[str]) -> dict: ...

    def drain(self, service: str, target_groups: list[str], seconds: int) -> dict: ...


class Hosts(Protocol):
    """What runs the instances' user-data, as far as the pipeline needs to know."""

    def check_ports(self, spec: AppSpec) -> None:
        """Before anything changes: refuse settings this target cannot serve (exit 2)."""

    def converge(self, spec: AppSpec, observed: Observed) -> dict[str, list[str]] | None:
        """After the plan ran: bring the hosts in line with the live instances and wait until they serve.
        Returns what was started and removed, or None when the target has nothing to report."""

    def addresses(self, stack: str) -> dict[str, str]:
        """Instance id -> the address its service answers on, where it differs from the instance's own."""

    def load_balancer_address(self, lb: ObservedLoadBalancer) -> str | None:
        """Where a client reaches a load balancer's listener."""

    def remove_all(self, stack: str) -> None:
        """After destroy: nothing of the stack keeps running."""

    def remove_data(self, stack: str) -> None:
        """After destroy --delete-data: the target's own copies of the stack's data volumes go too."""

    def log_events(self, aws: Aws, query: LogQuery) -> list[LogEvent]:
        """`liftshift logs`: the app containers' log lines the query asks for (any order; the caller merges)."""

    def target_health(self, aws: Aws, stack: str, service: str, target_group: str) -> list[dict]:
        """`status`: each target of a target group as its load balancer sees it: [{id, state, reason,
        description}], like describe_target_health."""


class CloudHosts:
    """AWS: EC2 boots each instance from its launch template's user-data; nothing to do here."""

    def check_ports(self, spec: AppSpec) -> None:
        return None

    def converge(self, spec: AppSpec, observed: Observed) -> dict[str, list[str]] | None:
        return None

    def addresses(self, stack: str) -> dict[str, str]:
        return {}

    def load_balancer_address(self, lb: ObservedLoadBalancer) -> str | None:
        if not lb.listener_port:
            return None
        scheme = "https" if lb.listener_protocol == "HTTPS" else "http"
        return f"{scheme}://{lb.dns}:{lb.listener_port}"

    def remove_all(self, stack: str) -> None:
        return None

    def remove_data(self, stack: str) -> None:
        return None  # the EBS volumes are the data: destroy's steps delete them

    def log_events(self, aws: Aws, query: LogQuery) -> list[LogEvent]:
        from ..aws.logs import read_log_events  # the awslogs driver's streams in CloudWatch Logs

        return read_log_events(aws, query)

    def target_health(self, aws: Aws, stack: str, service: str, target_group: str) -> list[dict]:
        elbv2 = aws.client("elbv2")
        found = elbv2.describe_target_health(TargetGroupArn=target_group)["TargetHealthDescriptions"]
        return [{"id": t["Target"]["Id"], "state": t.get("TargetHealth", {}).get("State", "unknown"),
                 "reason": t.get("TargetHealth", {}).get("Reason"),
                 "description": t.get("TargetHealth", {}).get("Description")}
                for t in sorted(found, key=lambda t: t["Target"]["Id"])]


# Sixteen calls in flight: a 20-service deploy then pays a region's round trip about once per dependent call, not
# once per call (benchmarks/deploy.py --latency-ms 80). It stays within the bursts AWS's token buckets allow (EC2:
# "Request throttling for the Amazon EC2 API", https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html,
# buckets of 50 and more per account and kind of action); a throttled call (RequestLimitExceeded, Throttling) is
# retried with backoff by botocore's standard mode (aws/session.py), whose clients keep aws.session.POOL connections.
# Builds side by side are bounded by this machine's cores as well (pipeline/prepare.py).
DEFAULT_PARALLEL = 16


@dataclass
class Target:
    """The clients one run uses. Targets (aws, local) differ only in what they put here."""

    name: str
    aws: Aws
    docker: Callable[[], object]  # returns a ready docker client; raises DockerUnavailable
    registry: Registry
    registry_auth: Callable[[], dict | None]
    make_gate: Callable[[AppSpec], Gate]
    progress: Progress = field(default_factory=Progress)
    hosts: Hosts = field(default_factory=CloudHosts)
    # The local rehearsal: its AWS is an emulator on this machine and its hosts publish here. Commands that
    # touch what lies outside the stack (DNS) or probe from outside say so and act on the emulator instead.
    rehearsal: bool = False
    # How many independent steps, builds, pushes and health gates one run does at once (`--parallel N`;
    # 1 runs them one after another in plan order). apply/executor.py says how steps are made independent.
    parallel: int = DEFAULT_PARALLEL

    def gate(self, spec: AppSpec) -> Gate:
        return self.make_gate(spec)
