"""Plans as data: a step is a list of API calls, printed by `plan` and run by the executor."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Refs:
    """Several refs whose values (lists) are concatenated: e.g. all new instance ids."""

    names: tuple[str, ...]

    def __repr__(self) -> str:
        return "<" + " + ".join(self.names) + ">"


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
    client: str  # a boto3 service name, "docker" for the image pusher, "gate" for rollout health gates
    operation: str  # the client method; "wait:<waiter>" for a botocore waiter
    params: dict[str, Any]
    save: dict[str, str] = field(default_factory=dict)  # ref name -> JMESPath into the response
    ignore: tuple[str, ...] = ()  # error codes meaning "already done" (safe re-runs)
    retry: tuple[str, ...] = ()  # "Code" or "Code:words in the message" meaning "not yet", retried with a bound


@dataclass(frozen=True)
class Step:
    action: str  # create | update | push | launch | terminate | delete | wait
    kind: str
    name: str
    service: str | None
    calls: tuple[Call, ...]
    detail: str = ""
