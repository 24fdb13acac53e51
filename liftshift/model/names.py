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
TAG_DATA = "liftshift:data"  # the app.yaml name of a data volume (services.X.data.NAME) on its EBS volume
RELEASE_HEADER = "X-Liftshift-Release"  # routes a probe through the load balancer to one release
STACK_LEVEL = "-"  # liftshift:service value of resources shared by the stack (the log group)
# The DynamoDB table of the deploy locks (aws.lock) and the release records (model.releases), one per account
# and region, shared by every stack: destroy deletes a stack's items, never the table.
TABLE = "liftshift-locks"


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


def data_volume(stack: str, service: str, name: str) -> str:
    """A data volume's Name tag on EC2, and its Docker volume's name in the local rehearsal (stack, service and
    volume names are [a-z0-9_-], which Docker's volume names allow; '-' alone may be ambiguous between stacks,
    so the Docker volumes also carry labels, and destroy finds them by those)."""
    return f"liftshift-{stack}-{service}-{name}"


def data_volume_tags(stack: str, service: str, name: str) -> dict[str, str]:
    return tags(stack, service, **{TAG_DATA: name, "Name": data_volume(stack, service, name)})


def repository(stack: str, service: str) -> str:
    return f"{stack}/{service}"


def log_group(stack: str) -> str:
    return f"/liftshift/{stack}"


def iam_path(stack: str) -> str:
    return f"/liftshift/{stack}/"


# Resource names. Stack and service names are [a-z0-9-] (spec.NAME_RE), so '-' alone cannot separate them:
# stack "a" + service "b-c" and stack "a-b" + service "c" would both be "a-b-c". Where AWS allows a character
# that app.yaml names cannot contain, '.' separates the parts; where it does not (load balancers and target
# groups), a hash of the parts makes the name. What AWS allows, per the API references:
# - IAM role and instance profile names: [\w+=,.@-]+, at most 64 (role) and 128 (profile) characters
#   https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html
#   https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateInstanceProfile.html
# - security group names: up to 255 of a-z, A-Z, 0-9, spaces and ._-:/()#,@[]+=&;{}!$*, unique per VPC
#   https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateSecurityGroup.html
# - launch template names: [a-zA-Z0-9\(\)\.\-/_]+, 3 to 128 characters
#   https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateLaunchTemplate.html
# - Auto Scaling group names: ASCII 33 to 126 but ':', at most 255
#   https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_CreateAutoScalingGroup.html
# - load balancer and target group names: at most 32 alphanumerics and '-', not starting or ending with '-'
#   https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateLoadBalancer.html
#   https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateTargetGroup.html
# ECR repositories ("stack/service") and the log group ("/liftshift/stack") are unambiguous already.
SEP = "."
IAM_ROLE_MAX = 64
ELB_MAX = 32
ELB_PREFIX = "ls-"


def role(stack: str, service: str) -> str:
    """The instance role, and the instance profile of the same name."""
    return bounded(f"liftshift{SEP}{stack}{SEP}{service}", IAM_ROLE_MAX)


def security_group(stack: str, service: str) -> str:
    return f"liftshift{SEP}{stack}{SEP}{service}"


def lb_security_group(stack: str, service: str) -> str:
    """One more part than any instance group's name, so never equal to one."""
    return f"liftshift{SEP}{stack}{SEP}{service}{SEP}lb"


def launch_template(stack: str, service: str, config_hash: str) -> str:
    return f"liftshift{SEP}{stack}{SEP}{service}{SEP}{config_hash}"


def auto_scaling_group(stack: str, service: str, config_hash: str) -> str:
    return f"liftshift{SEP}{stack}{SEP}{service}{SEP}{config_hash}"


def role_policy_name() -> str:
    return "liftshift-instance"


def elb_stack_prefix(stack: str) -> str:
    """What every load balancer and target group name of the stack starts with (observe lists by it)."""
    return f"{ELB_PREFIX}{short_hash(stack, length=4)}"


def legacy_elb_prefix(stack: str) -> str:
    """The prefix of the names liftshift gave load balancers and target groups before the hashed names
    (`ls-<stack>-<service>[-<config>]`): such resources are still found, by their tags, and kept."""
    return f"{ELB_PREFIX}{stack}"[:23]


def _elb_name(stack: str, service: str, *extra: str) -> str:
    """`ls-` + 4 hex digits of the stack + 12 of (stack, service, extra): different pairs (and releases) get
    different names; the stack and service follow, as far as 32 characters go, for people to read."""
    key = short_hash(stack, service, *extra, length=12)
    return f"{elb_stack_prefix(stack)}{key}-{stack}-{service}"[:ELB_MAX].rstrip("-")


def load_balancer(stack: str, service: str) -> str:
    return _elb_name(stack, service)


def target_group(stack: str, service: str, config_hash: str) -> str:
    return _elb_name(stack, service, config_hash)


PLACEHOLDER_CONFIG = "0" * 12  # validate knows no config hash yet: names per release are checked with this one


def stack_resource_names(stack: str, services: dict[str, bool]) -> dict[str, list[tuple[str, str]]]:
    """Every name the stack can make, by AWS namespace: {kind: [(name, service)]}. `services` maps each
    service to whether it has a load balancer. Names made per release use a placeholder config hash.
    Pure: validate uses it to refuse a stack whose services would share a resource."""
    out: dict[str, list[tuple[str, str]]] = {k: [] for k in (
        "iam role", "security group", "launch template", "auto scaling group", "load balancer", "target group",
        "ecr repository")}
    for service, fleet in services.items():
        out["iam role"].append((role(stack, service), service))  # the instance profile has the same name
        out["security group"].append((security_group(stack, service), service))
        out["launch template"].append((launch_template(stack, service, PLACEHOLDER_CONFIG), service))
        out["ecr repository"].append((repository(stack, service), service))
        if fleet:
            out["security group"].append((lb_security_group(stack, service), service))
            out["load balancer"].append((load_balancer(stack, service), service))
            out["target group"].append((target_group(stack, service, PLACEHOLDER_CONFIG), service))
            out["auto scaling group"].append((auto_scaling_group(stack, service, PLACEHOLDER_CONFIG), service))
    return out


def shared_name(stack: str, services: dict[str, bool]) -> tuple[str, str, str, str] | None:
    """The first (kind, name, first service, second service) where two services of the stack would make
    resources of one name, in the order of `services`; None when every name is its own."""
    for kind, made in stack_resource_names(stack, services).items():
        owner: dict[str, str] = {}
        for name, service in made:
            key = name.lower()  # IAM and security group names are not case-sensitive
            if key in owner and owner[key] != service:
                return kind, name, owner[key], service
            owner.setdefault(key, service)
    return None
