"""Instance roles: each service's IAM role, its policies and its instance profile, made and removed."""

from __future__ import annotations

from ..model import names
from ..model.desired import ServiceWant
from ..model.policies import EC2_TRUST_POLICY, SSM_MANAGED_POLICY
from ..model.observed import Observed
from ..model.steps import NEW_ROLE, Action, Call, Kind, Step


def plan_role(stack: str, service: ServiceWant, observed: Observed) -> list[Step]:
    """The role, its policies and its instance profile. A role whose description names other permissions
    (an older liftshift's, or the service's changed secrets or rollout) gets the wanted ones."""
    role = service.role
    profile = observed.profiles.get(role.name)
    current = observed.role_descriptions.get(role.name) == role.description
    if role.name in observed.roles and current and profile is not None and role.name in profile.roles:
        return []
    calls: list[Call] = []
    # IAM is eventually consistent: a role or profile created by this step's first calls may be NoSuchEntity briefly
    new_role = NEW_ROLE if role.name not in observed.roles else ()
    new_profile = NEW_ROLE if role.name not in observed.roles or profile is None else ()
    if role.name not in observed.roles:
        calls.append(Call("iam", "create_role", {
            "RoleName": role.name, "Path": role.path,
            "AssumeRolePolicyDocument": EC2_TRUST_POLICY,
            "Description": role.description,
            "Tags": names.tag_list(names.tags(stack, service.name)),
        }, ignore=("EntityAlreadyExists",)))
    # Re-put on every incomplete role: an interrupted deploy converges.
    calls.append(Call("iam", "put_role_policy", {
        "RoleName": role.name, "PolicyName": role.policy_name, "PolicyDocument": role.policy}, retry=new_role))
    for arn in role.managed:
        calls.append(Call("iam", "attach_role_policy", {"RoleName": role.name, "PolicyArn": arn}, retry=new_role))
    if role.name in observed.roles and not current:
        for arn in managed_by_liftshift(observed.roles[role.name]) - set(role.managed):
            calls.append(Call("iam", "detach_role_policy", {"RoleName": role.name, "PolicyArn": arn},
                              ignore=("NoSuchEntity",)))
    if profile is None:
        calls.append(Call("iam", "create_instance_profile", {
            "InstanceProfileName": role.name, "Path": role.path,
            "Tags": names.tag_list(names.tags(stack, service.name)),
        }, ignore=("EntityAlreadyExists",)))
    calls.append(Call("iam", "add_role_to_instance_profile",
                      {"InstanceProfileName": role.name, "RoleName": role.name}, ignore=("LimitExceeded",),
                      retry=new_profile))
    if role.name in observed.roles and not current:  # last: an interrupted update is seen as not done
        calls.append(Call("iam", "update_role", {"RoleName": role.name, "Description": role.description}))
    action = Action.CREATE if role.name not in observed.roles else Action.UPDATE
    ssm = ", SSM Run Command (in-place rollouts)" if role.managed else ""
    return [Step(action, Kind.IAM_ROLE, role.name, service.name, tuple(calls),
                 f"pulls only its repository, writes only its log streams, reads only its secrets{ssm}")]


def managed_by_liftshift(role_arn: str) -> set[str]:
    """AWS managed policies some liftshift version may have attached to an instance role."""
    part = role_arn.split(":")[1]  # arn:<partition>:iam::<account>:role/...
    return {SSM_MANAGED_POLICY.format(partition=part)}


def sweep_role(role: str, service: str | None, observed: Observed, reason: str) -> list[Step]:
    """The role's profile, policies and the role itself, removed."""
    calls: list[Call] = []
    profile = observed.profiles.get(role)
    if profile:
        for member in profile.roles:
            calls.append(Call("iam", "remove_role_from_instance_profile",
                              {"InstanceProfileName": profile.name, "RoleName": member}, ignore=("NoSuchEntity",)))
        calls.append(Call("iam", "delete_instance_profile", {"InstanceProfileName": profile.name},
                          ignore=("NoSuchEntity",)))
    if role in observed.roles:
        calls.append(Call("iam", "delete_role_policy", {"RoleName": role, "PolicyName": names.role_policy_name()},
                          ignore=("NoSuchEntity",)))
        calls += [Call("iam", "detach_role_policy", {"RoleName": role, "PolicyArn": arn}, ignore=("NoSuchEntity",))
                  for arn in sorted(managed_by_liftshift(observed.roles[role]))]
        calls.append(Call("iam", "delete_role", {"RoleName": role}, ignore=("NoSuchEntity",)))
    return [Step(Action.DELETE, Kind.IAM_ROLE, role, service, tuple(calls), reason)] if calls else []
