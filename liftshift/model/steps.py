"""Plans as data: a step is a list of instructions, printed by `plan` and run by the executor.

Each instruction has its own type and the executor dispatches on it: `Call`
(one AWS API call), `Wait` (a botocore waiter), `PushImage` (the image
pusher), `GateCall` (a question to the rollout's health gate). Plans print
each as a client and an operation (`docker push`, `gate probe`,
`ec2 wait:instance_running`), as they always have. A step's action and kind
are declared once, below.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, ClassVar, Union

from .refs import Ref


class _Text(str, Enum):
    """A name that prints as its text (plans, progress, -o json) and equals it."""

    __str__ = str.__str__
    __format__ = str.__format__


class Action(_Text):
    CREATE = "create"
    UPDATE = "update"
    PUSH = "push"
    LAUNCH = "launch"
    TERMINATE = "terminate"
    DELETE = "delete"
    WAIT = "wait"
    ATTACH = "attach"


class Kind(_Text):
    """What a step acts on."""

    LOG_GROUP = "log group"
    ECR_REPOSITORY = "ecr repository"
    IMAGE = "image"
    IAM_ROLE = "iam role"
    SECURITY_GROUP = "security group"
    LAUNCH_TEMPLATE = "launch template"
    INSTANCES = "instances"
    INSTANCES_RUNNING = "instances running"  # a wait
    INSTANCE_IN_PLACE = "instance in place"  # one instance's in-place update
    RELEASE = "release"  # one release record
    RELEASES = "releases"  # records beyond `keep`, forgotten
    RELEASE_HISTORY = "release history"  # every record of the stack (destroy)
    LOAD_BALANCER = "load balancer"
    LISTENER = "listener"
    LISTENER_RULE = "listener rule"
    TARGET_GROUP = "target group"
    AUTO_SCALING_GROUP = "auto scaling group"
    RELEASE_HEALTHY = "release healthy"  # health gates, then the switch and the drain
    PROBE = "probe"
    SWITCH = "switch"
    DRAIN = "drain"
    DATA_VOLUME = "data volume"  # an EBS volume of services.X.data (plan/data.py)
    HOSTED_ZONE = "hosted zone"  # a Route 53 zone: made only in the local rehearsal (plan/cutover.py)
    DNS_RECORD = "dns record"  # the record sets of services.X.dns.name that `cutover` moves
    CUTOVER_RECORD = "cutover record"  # the original record and each cutover move, kept like a release


@dataclass(frozen=True)
class Withheld:
    """A parameter the executor sends as `value` but that plans, `-o json` and progress show as `shown`
    (a release's probe header value, which must stay unguessable)."""

    value: str = field(repr=False)
    shown: str = "(withheld)"

    def __repr__(self) -> str:
        return self.shown

    __str__ = __repr__


@dataclass(frozen=True)
class RunToken:
    """A client token (RunInstances, CreateLaunchTemplate) that the executor makes once per run: a hash of its random
    run id and `intent`. Retries of one call within a run send the same token, so a lost answer does not double the
    launch; no later run repeats it. AWS keeps a token after the instance has ended ("A client token is valid for at
    least 24 hours after the termination of the instance"; the same token and parameters return the original, perhaps
    terminated, reservation, other parameters IdempotentParameterMismatch: "Ensuring idempotency in Amazon EC2 API
    requests", https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-idempotency.html). Across runs, an interrupted
    run's launches are found by their tags instead. Plans show `<token per run: intent>`."""

    intent: str

    def __repr__(self) -> str:
        return f"<token per run: {self.intent}>"

    __str__ = __repr__


# "Not yet" answers (Call.retry) while something this run just made propagates; AWS is eventually consistent.
# EC2: a resource just created may be reported as not existing ("Eventual consistency in the Amazon EC2 API", which
# names InvalidGroup.NotFound: https://docs.aws.amazon.com/ec2/latest/devguide/eventual-consistency.html).
# IAM: a new instance profile takes seconds to be usable by EC2 and Auto Scaling ("Value (...) for parameter
# iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name"; IAM user guide, "Changes that I make are not
# always immediately visible": https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_general.html).
NEW_PROFILE_EC2 = ("InvalidParameterValue:instance profile", "InvalidParameterValue:iamInstanceProfile")
NEW_GROUP_EC2 = ("InvalidGroup.NotFound",)
NEW_TEMPLATE_EC2 = ("InvalidLaunchTemplateName.NotFoundException",)
# Auto Scaling checks the launch template, its profile and groups, and the target groups at CreateAutoScalingGroup,
# answering ValidationError ("You must use a valid fully-formed launch template. Value (...) for parameter
# iamInstanceProfile.name is invalid...", "The specified launch template, with template name ..., does not exist",
# "Invalid IamInstanceProfile"; target groups: "Provided Target Groups may not be valid").
NEW_FOR_AUTO_SCALING = ("ValidationError:instance profile", "ValidationError:iamInstanceProfile",
                        "ValidationError:specified launch template", "ValidationError:security group",
                        "ValidationError:target group")
NEW_TARGET_GROUP = ("TargetGroupNotFound",)  # ELBv2, a target group just created
NEW_LB_GROUP = ("InvalidSecurityGroup",)  # ELBv2 CreateLoadBalancer, a security group just created
NEW_LOAD_BALANCER = ("LoadBalancerNotFound",)  # ELBv2, a load balancer just created
NEW_ROLE = ("NoSuchEntity",)  # IAM, a role or instance profile created by the step's first calls


@dataclass(frozen=True)
class Call:
    """One AWS API call: a boto3 client's method."""

    client: str  # a boto3 service name
    operation: str  # the client method
    params: dict[str, Any]
    save: dict[Ref, str] = field(default_factory=dict)  # ref -> JMESPath into the response
    ignore: tuple[str, ...] = ()  # error codes meaning "already done" (safe re-runs)
    retry: tuple[str, ...] = ()  # "Code" or "Code:words in the message" meaning "not yet", retried with a bound


@dataclass(frozen=True)
class Wait:
    """A botocore waiter: polls until what earlier calls started is done (instances running, a load balancer
    deleted), within the executor's bound."""

    client: str
    waiter: str  # the botocore waiter's name
    params: dict[str, Any]
    save: ClassVar[dict[Ref, str]] = {}
    ignore: ClassVar[tuple[str, ...]] = ()
    retry: ClassVar[tuple[str, ...]] = ()

    @property
    def operation(self) -> str:
        return f"wait:{self.waiter}"


@dataclass(frozen=True)
class PushImage:
    """A local image pushed to the registry by the executor's image pusher; the digest is saved under `digest`."""

    service: str
    image_id: str
    repository: str  # the repository URI
    tag: str
    digest: Ref
    client: ClassVar[str] = "docker"
    operation: ClassVar[str] = "push"
    ignore: ClassVar[tuple[str, ...]] = ()
    retry: ClassVar[tuple[str, ...]] = ()

    @property
    def params(self) -> dict[str, Any]:
        return {"service": self.service, "image_id": self.image_id, "repository": self.repository, "tag": self.tag}

    @property
    def save(self) -> dict[Ref, str]:
        return {self.digest: "@"}


class Check(_Text):
    """The questions a rollout asks its health gate (targets.base.Gate's methods)."""

    HEALTHY = "healthy"
    PROBE = "probe"
    UPDATE_IN_PLACE = "update_in_place"
    SWITCHED = "switched"
    DRAIN = "drain"


@dataclass(frozen=True)
class GateCall:
    """A question to the rollout's health gate; a failed answer raises RolloutFailed (exit 3)."""

    check: Check
    params: dict[str, Any]
    client: ClassVar[str] = "gate"
    save: ClassVar[dict[Ref, str]] = {}
    ignore: ClassVar[tuple[str, ...]] = ()
    retry: ClassVar[tuple[str, ...]] = ()

    @property
    def operation(self) -> str:
        return str(self.check)


# What a step is made of; every kind prints as `client` and `operation` (plan, -o json) and has `params`.
Instruction = Union[Call, Wait, PushImage, GateCall]


@dataclass(frozen=True)
class Step:
    action: Action
    kind: Kind
    name: str
    service: str | None
    calls: tuple[Instruction, ...]
    detail: str = ""
    # Runs only after every earlier step of a lower stage (apply/dependencies.py); plan/phases.py numbers a
    # deploy's stages so that no listener switches before every health gate has passed. Not printed.
    stage: int = field(default=0, compare=False)
    # Steps of one lane keep their plan order; by default a service's steps are one lane. A planner names a lane
    # of its own where a service's steps do not depend on each other (plan/stack.py: its role and its groups).
    lane: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:  # plain text is accepted and typed: an unknown action or kind fails here
        object.__setattr__(self, "action", Action(self.action))
        object.__setattr__(self, "kind", Kind(self.kind))
