"""Names and tags of everything a stack owns, in one place.

AWS holds the truth: resources are found by the `liftshift:stack` and
`liftshift:service` tags; names only need to be unique and within AWS limits.
"""

from __future__ import annotations

import hashlib

TAG_STACK = "liftshift:stack"
TAG_SERVICE = "liftshift:service"
TAG_CONFIG = "liftshift:config"
TAG_IMAGE = "liftshift:image"
TAG_RELEASE = "liftshift:release"
TAG_HOST = "liftshift:host"  # hash of the instance-level settings: equal means a release can go out in place
TAG_PART = "liftshift:part"  # "lb" on a load balancer's own security group
RELEASE_HEADER = "X-Liftshift-Release"  # routes a probe through the load balancer to one release
STACK_LEVEL = "-"  # liftshift:service value of resources shared by the stack (the log group)


def short_hash(*parts: str, length: int = 8) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:length]


def bounded(name: str, limit: int) -> str:
    """`name`, or a prefix of it plus a hash when it is longer than `limit`."""
    if len(name) <= limit:
        return name
    suffix = short_hash(name)
    return f"{name[: limit - len(suffix) - 1].rstrip('-')}-{suffix}"


def tags(stack: str, service: str | None = None, **extra: str) -> dict[str, str]:
    out = {TAG_STACK: stack, TAG_SERVICE: service or STACK_LEVEL}
    out.update(extra)
    return out


def tag_list(values: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in sorted(values.items())]


def tag_dict(values: list[dict[str, str]] | None) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in values or []}


def repository(stack: str, service: str) -> str:
    return f"{stack}/{service}"


def log_group(stack: str) -> str:
    return f"/liftshift/{stack}"


def iam_path(stack: str) -> str:
    return f"/liftshift/{stack}/"


def role(stack: str, service: str) -> str:
    return bounded(f"liftshift-{stack}-{service}", 64)


def security_group(stack: str, service: str) -> str:
    return f"liftshift-{stack}-{service}"


def launch_template(stack: str, service: str, config_hash: str) -> str:
    return f"liftshift-{stack}-{service}-{config_hash}"


def role_policy_name() -> str:
    return "liftshift-instance"


def load_balancer(stack: str, service: str) -> str:
    """ALB names: at most 32 characters, letters, digits and '-'."""
    return bounded(f"ls-{stack}-{service}", 32)


def lb_security_group(stack: str, service: str) -> str:
    return f"liftshift-{stack}-{service}-lb"


def target_group(stack: str, service: str, config_hash: str) -> str:
    return bounded(f"ls-{stack}-{service}-{config_hash}", 32)


def auto_scaling_group(stack: str, service: str, config_hash: str) -> str:
    return f"liftshift-{stack}-{service}-{config_hash}"


def releases_path(stack: str, service: str | None = None) -> str:
    """SSM parameters holding the release records (they outlive the templates and groups they name)."""
    return f"/liftshift/{stack}/releases/" + (f"{service}/" if service else "")


def release_parameter(stack: str, service: str, number: int) -> str:
    return f"{releases_path(stack, service)}{number:06d}"
