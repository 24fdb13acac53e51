"""`liftshift doctor FILE --policy`: the minimal IAM policy of a pipeline role that deploys, rolls back and
destroys one stack. Pure: the actions are the deployer's table for the kinds of stack this is
(checks/permissions.py), the resources the stack's own names where IAM can name them.

Where IAM cannot narrow (EC2's, ELBv2's, Auto Scaling's and Route 53's calls and the list/describe reads take
`*`, or resources whose names are made at deploy time), the statement is `*`; EC2's deletes are narrowed by
the stack's tag instead (`aws:ResourceTag`, IAM user guide "Controlling access to AWS resources using tags").
"""

from __future__ import annotations

from typing import Any

from ..model.names import TABLE, TAG_STACK, iam_path, log_group, role
from ..spec.model import AppSpec
from .permissions import stack_actions

# Acting on the stack's roles and instance profiles (the path /liftshift/<stack>/, model/names.iam_path).
IAM_STACK = {"iam:ListRoleTags", "iam:GetInstanceProfile", "iam:CreateRole", "iam:UpdateRole", "iam:PutRolePolicy",
             "iam:DeleteRolePolicy", "iam:DeleteRole", "iam:CreateInstanceProfile", "iam:AddRoleToInstanceProfile",
             "iam:RemoveRoleFromInstanceProfile", "iam:DeleteInstanceProfile", "iam:TagRole", "iam:TagInstanceProfile"}
SSM_POLICY = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"  # in-place rollouts attach it (plan/roles)
# EC2 actions on existing resources that accept the aws:ResourceTag condition (EC2 service authorization
# reference, "Actions defined by Amazon EC2": the instance, security-group, launch-template, volume resources).
EC2_TAGGED = {"ec2:TerminateInstances", "ec2:DeleteSecurityGroup", "ec2:DeleteLaunchTemplate", "ec2:DeleteVolume",
              "ec2:RevokeSecurityGroupIngress"}
ECR_ANY = {"ecr:GetAuthorizationToken", "ecr:DescribeRepositories"}  # resource "*" (the token; a listing)
LOGS_ANY = {"logs:DescribeLogGroups"}


def policy(spec: AppSpec, *, account: str = "*", region: str = "*") -> dict[str, Any]:
    """The policy document (IAM JSON policy grammar, version 2012-10-17)."""
    stack = spec.name
    actions = set(stack_actions(spec))
    roles = [f"arn:aws:iam::{account}:role{iam_path(stack)}*",
             f"arn:aws:iam::{account}:instance-profile{iam_path(stack)}*"]
    group = f"arn:aws:logs:{region}:{account}:log-group:{log_group(stack)}"
    statements: list[dict[str, Any]] = []

    def add(sid: str, chosen: set[str], resource: Any, condition: dict[str, Any] | None = None) -> None:
        chosen = chosen & actions
        if not chosen:
            return
        actions.difference_update(chosen)
        statement: dict[str, Any] = {"Sid": sid, "Effect": "Allow", "Action": sorted(chosen), "Resource": resource}
        if condition:
            statement["Condition"] = condition
        statements.append(statement)

    add("StackRoles", IAM_STACK, roles)
    add("PassStackRolesToEc2", {"iam:PassRole"}, roles[0],
        {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}})
    add("SsmPolicyOnStackRoles", {"iam:AttachRolePolicy", "iam:DetachRolePolicy"}, roles[0],
        {"ArnEquals": {"iam:PolicyARN": SSM_POLICY}})
    add("ServiceLinkedRoles", {"iam:CreateServiceLinkedRole"}, f"arn:aws:iam::{account}:role/aws-service-role/*",
        {"StringEquals": {"iam:AWSServiceName": ["elasticloadbalancing.amazonaws.com",
                                                 "autoscaling.amazonaws.com"]}})
    add("StackRepositories", {a for a in actions if a.startswith("ecr:")} - ECR_ANY,
        f"arn:aws:ecr:{region}:{account}:repository/{stack}/*")
    add("StackLogGroup", {a for a in actions if a.startswith("logs:")} - LOGS_ANY, [group, f"{group}:*"])
    add("LockAndReleaseTable", {a for a in actions if a.startswith("dynamodb:")},
        f"arn:aws:dynamodb:{region}:{account}:table/{TABLE}")
    add("StackEc2Resources", EC2_TAGGED, "*", {"StringEquals": {f"aws:ResourceTag/{TAG_STACK}": stack}})
    add("Unscoped", set(actions), "*")  # IAM takes only "*" for these (module docstring)
    return {"Version": "2012-10-17", "Statement": statements}


def probes(spec: AppSpec, account: str, region: str, only: list[str] | None = None) -> list[dict[str, Any]]:
    """What `doctor` (and `runbook --check`, `only` its plan's actions) asks IAM's policy simulator: each
    statement's actions on a resource of the stack its Resource names (IAM would compare a simulated `*` with the
    stack's ARNs and deny), with the context its Condition reads, so that a role holding exactly this policy
    passes the check. Actions of `only` the policy does not name are asked on `*`."""
    stack, service = spec.name, next(iter(spec.services))
    names = {"StackRepositories": service, "ServiceLinkedRoles": "elasticloadbalancing.amazonaws.com/"
             "AWSServiceRoleForElasticLoadBalancing"}
    out = []
    for statement in policy(spec, account=account, region=region)["Statement"]:
        context = [{"ContextKeyName": key, "ContextKeyValues": [value if isinstance(value, str) else value[0]],
                    "ContextKeyType": "string"}
                   for test in statement.get("Condition", {}).values() for key, value in test.items()]
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        if resources == ["*"]:
            out.append({"actions": statement["Action"], "resources": [], "context": context})
            continue
        groups: dict[str, list[str]] = {}
        for action in statement["Action"]:  # an instance profile's actions act on the profile, the others on the role
            pattern = resources[1] if "InstanceProfile" in action and len(resources) > 1 else resources[0]
            name = names.get(statement["Sid"], role(stack, service))
            groups.setdefault(pattern[:-1] + name if pattern.endswith("*") else pattern, []).append(action)
        out += [{"actions": actions, "resources": [arn], "context": context} for arn, actions in groups.items()]
    if only is None:
        return out
    wanted = set(only)
    kept = [{**ask, "actions": [a for a in ask["actions"] if a in wanted]} for ask in out]
    kept = [ask for ask in kept if ask["actions"]]
    rest = sorted(wanted - {a for ask in kept for a in ask["actions"]})
    return kept + ([{"actions": rest, "resources": [], "context": []}] if rest else [])


def allows(document: dict[str, Any], action: str) -> bool:
    """Whether some statement names `action` (the tests' check that the policy covers recorded calls)."""
    return any(action in s["Action"] for s in document["Statement"] if s["Effect"] == "Allow")
