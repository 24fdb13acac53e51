"""Removal: everything a service owns (a service gone from app.yaml), or everything the stack owns (destroy).

Dependency order, the reverse of creation: Auto Scaling groups and load
balancers first (a group would replace terminated instances), instances, then
what they used. Pure: nothing here talks to AWS.
"""

from __future__ import annotations

from ..model import names
from ..model.observed import Observed, ObservedGroup
from ..model.releases import item_key, of_service
from ..model.steps import Action, Call, Kind, Step, Wait
from .data import delete_data_volumes
from .records import forget_call
from .roles import sweep_role


def plan_destroy(stack: str, observed: Observed, *, keep_images: bool, delete_data: bool = False) -> list[Step]:
    """Everything found with the stack's tags, removed in dependency order; the data volumes only with
    `delete_data` (destroy --delete-data), after the instances they were attached to are gone."""
    services = observed.services() | {r.split("/", 1)[1] for r in observed.repositories}
    steps = []
    for service in sorted(services):
        steps += plan_fleet_removal(stack, service, observed, "destroy")
    steps += _terminate_and_wait([i.id for i in observed.instances], None, "destroy")
    if delete_data:
        steps += delete_data_volumes(stack, observed, "destroy --delete-data")
    for service in sorted(services):
        steps += sweep_service(stack, service, observed, keep_images=keep_images, reason="destroy", terminate=False)
    swept = {names.role(stack, s) for s in services}
    for role in sorted((set(observed.roles) | set(observed.profiles)) - swept):
        steps += sweep_role(role, None, observed, "destroy")
    if observed.log_group:
        steps.append(Step(Action.DELETE, Kind.LOG_GROUP, observed.log_group, None, (
            Call("logs", "delete_log_group", {"logGroupName": observed.log_group},
                 ignore=("ResourceNotFoundException",)),
        ), "destroy"))
    if observed.releases:
        steps.append(Step(Action.DELETE, Kind.RELEASE_HISTORY, f"{len(observed.releases)} release(s)", None, (
            Call("dynamodb", "delete_item", {"TableName": names.TABLE, "Key": item_key(stack)}),
        ), "destroy"))
    return steps


def sweep_service(stack: str, service: str, observed: Observed, *, keep_images: bool, reason: str,
                  terminate: bool = True, planned: frozenset[str] = frozenset()) -> list[Step]:
    """Steps removing everything one service owns, in dependency order. `planned`: services whose groups'
    rules the same plan sets anyway (a deploy's kept services), left alone here."""
    steps: list[Step] = []
    if terminate:
        steps += plan_fleet_removal(stack, service, observed, reason)
        steps += _terminate_and_wait([i.id for i in observed.instances if i.service == service], service, reason)
    for template in observed.templates:
        if template.service == service:
            steps.append(Step(Action.DELETE, Kind.LAUNCH_TEMPLATE, template.name, service, (
                Call("ec2", "delete_launch_template", {"LaunchTemplateId": template.id},
                     ignore=("InvalidLaunchTemplateId.NotFound",)),
            ), reason))
    for group in (observed.groups.get(service), observed.lb_groups.get(service)):
        if group:
            steps.append(Step(Action.DELETE, Kind.SECURITY_GROUP, group.name, service, (
                *_unreference(group, service, observed, planned),
                # DependencyViolation: a deleted load balancer's network interfaces go a little later
                Call("ec2", "delete_security_group", {"GroupId": group.id},
                     ignore=("InvalidGroup.NotFound",), retry=("DependencyViolation",)),
            ), reason))
    records = of_service(observed.releases, service)
    if records and terminate:
        steps.append(Step(Action.DELETE, Kind.RELEASES, f"{len(records)} of {service}", service,
                          (forget_call(stack, records),), reason))
    steps += sweep_role(names.role(stack, service), service, observed, reason)
    repo = names.repository(stack, service)
    if not keep_images and repo in observed.repositories:
        steps.append(Step(Action.DELETE, Kind.ECR_REPOSITORY, repo, service, (
            Call("ecr", "delete_repository", {"repositoryName": repo, "force": True},
                 ignore=("RepositoryNotFoundException",)),
        ), reason + " (with its images)"))
    return steps


def _unreference(group: ObservedGroup, service: str, observed: Observed, planned: frozenset[str]) -> list[Call]:
    """Revoke the rules of the stack's other services' groups that admit `group` (internal services admit
    their peers' groups), so that it can be deleted whichever group goes first: EC2 refuses to delete a
    security group "referenced by another security group in the same VPC" with DependencyViolation
    (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DeleteSecurityGroup.html), which no retry
    would end. A group deleted earlier in the same plan answers InvalidGroup.NotFound: nothing to revoke."""
    calls = []
    for other in sorted(observed.groups.values(), key=lambda g: g.service):
        if other.service in (service, *planned):
            continue
        ports = sorted(port for port, source in other.ingress if source == group.id)
        if ports:
            calls.append(Call("ec2", "revoke_security_group_ingress", {"GroupId": other.id, "IpPermissions": [
                {"IpProtocol": "tcp", "FromPort": port, "ToPort": port, "UserIdGroupPairs": [{"GroupId": group.id}]}
                for port in ports]}, ignore=("InvalidPermission.NotFound", "InvalidGroup.NotFound")))
    return calls


def plan_fleet_removal(stack: str, service: str, observed: Observed, reason: str) -> list[Step]:
    """Everything of a service's load balancing, for destroy or a service removed from app.yaml.
    Auto Scaling groups go first (they would replace terminated instances)."""
    steps: list[Step] = []
    for group in observed.auto_scaling_groups:
        if group.service == service:
            steps.append(Step(Action.DELETE, Kind.AUTO_SCALING_GROUP, group.name, service, (
                Call("autoscaling", "delete_auto_scaling_group", {"AutoScalingGroupName": group.name,
                                                                  "ForceDelete": True}, ignore=("ValidationError",)),
            ), reason))
    lb = observed.load_balancers.get(service)
    if lb is not None:
        steps.append(Step(Action.DELETE, Kind.LOAD_BALANCER, lb.name, service, (
            Call("elbv2", "delete_load_balancer", {"LoadBalancerArn": lb.arn}, ignore=("LoadBalancerNotFound",)),
            Wait("elbv2", "load_balancers_deleted", {"LoadBalancerArns": [lb.arn]}),
        ), reason + " (with its listener and rules)"))
    for tg in observed.target_groups:
        if tg.service == service:
            steps.append(Step(Action.DELETE, Kind.TARGET_GROUP, tg.name, service, (
                Call("elbv2", "delete_target_group", {"TargetGroupArn": tg.arn},
                     ignore=("TargetGroupNotFound",), retry=("ResourceInUse",)),
            ), reason))
    return steps


def _terminate_and_wait(ids: list[str], service: str | None, reason: str) -> list[Step]:
    if not ids:
        return []
    return [Step(Action.TERMINATE, Kind.INSTANCES, ", ".join(ids), service, (
        Call("ec2", "terminate_instances", {"InstanceIds": ids}, ignore=("InvalidInstanceID.NotFound",)),
        Wait("ec2", "instance_terminated", {"InstanceIds": ids}),  # their security groups are freed then
    ), reason)]
