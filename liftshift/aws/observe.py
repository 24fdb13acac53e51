"""Read-only discovery of what a stack already has in AWS, found by its tags.

One batched, tag-filtered describe per resource kind, so the number of read
calls does not grow with the number of services. Nothing here changes AWS.
IAM roles and ECR repositories cannot be listed by tag; they are listed by the
stack's path/name prefix and, where something would be deleted, their tags are
checked one by one (`verify_tags=True`) so look-alikes are never touched.
What is found is returned as the plain records of `model.observed`.

Emulator answers this module copes with, each also right on AWS:
- page sizes are explicit (moto ends DescribeLaunchTemplates at 15 results
  without a NextToken). AWS accepts 200 as MaxResults for each read made with
  it (DescribeLaunchTemplates takes 1-200, DescribeSecurityGroups 5-1000,
  DescribeInstances any size when no instance IDs are given:
  https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeLaunchTemplates.html and
  the API_DescribeSecurityGroups / API_DescribeInstances pages) and pages on
  with NextToken, which the paginator follows;
- instance profiles are matched to the stack through their verified roles,
  not their own tags (moto lacks ListInstanceProfileTags); see `observe_stack`;
- an endpoint without ECR, ELBv2 or Auto Scaling (LocalStack's free edition)
  holds nothing of them: `Observed.unavailable` notes it, and
  `require_services` refuses only a stack that needs one. AWS offers all
  three, and `session.service_unavailable` matches only the emulator's
  "not emulated / not in your license" answers, so on AWS every error of these
  reads is raised as before.

The network and AMI reads are in `aws.network`; the release records are read
by `aws.release_store`.
"""

from __future__ import annotations

import contextlib
from typing import Any

from ..model import names
from ..model.observed import (
    HealthSettings, Observed, ObservedAutoScalingGroup, ObservedGroup, ObservedInstance, ObservedLoadBalancer,
    ObservedProfile, ObservedRule, ObservedTargetGroup, ObservedTemplate, ObservedVolume,
)
from ..spec.model import AppSpec
from .listeners import forward_target
from .release_store import read_releases
from .session import ServiceUnavailable, service_unavailable
from .side_by_side import side_by_side

LIVE_STATES = ["pending", "running", "stopping", "stopped"]


def stack_filter(stack: str) -> list[dict[str, Any]]:
    return [{"Name": f"tag:{names.TAG_STACK}", "Values": [stack]}]


def observe_stack(aws, stack: str, *, verify_tags: bool = False) -> Observed:
    """Every kind of the stack's resources; the kinds are read side by side, each into its own fields."""
    seen = Observed()
    side_by_side([
        lambda: _observe_instances(aws, stack, seen),
        lambda: _observe_templates(aws, stack, seen),
        lambda: _observe_groups(aws, stack, seen),
        lambda: _observe_volumes(aws, stack, seen),
        lambda: _observe_auto_scaling_groups(aws, stack, seen),
        lambda: _observe_elb(aws, stack, seen),
        lambda: _observe_releases(aws, stack, seen),
        lambda: _observe_iam(aws, stack, seen, verify_tags),
        lambda: _observe_repositories(aws, stack, seen, verify_tags),
        lambda: _observe_log_group(aws, stack, seen, verify_tags),
    ])
    return seen


PAGES = {"PageSize": 200}  # explicit: see the module's notes


def _observe_instances(aws, stack: str, seen: Observed) -> None:
    ec2 = aws.client("ec2")
    pages = PAGES
    for page in ec2.get_paginator("describe_instances").paginate(
        Filters=stack_filter(stack) + [{"Name": "instance-state-name", "Values": LIVE_STATES}],
        PaginationConfig=pages,
    ):
        for reservation in page["Reservations"]:
            for inst in reservation["Instances"]:
                tags = names.tag_dict(inst.get("Tags"))
                seen.instances.append(
                    ObservedInstance(
                        id=inst["InstanceId"],
                        service=tags.get(names.TAG_SERVICE, ""),
                        config_hash=tags.get(names.TAG_CONFIG, ""),
                        state=inst["State"]["Name"],
                        subnet=inst.get("SubnetId", ""),
                        zone=inst.get("Placement", {}).get("AvailabilityZone", ""),
                        public_ip=inst.get("PublicIpAddress"),
                        private_ip=inst.get("PrivateIpAddress"),
                        launch_template=tags.get("aws:ec2launchtemplate:id"),
                        host_hash=tags.get(names.TAG_HOST, ""),
                    )
                )


def _observe_templates(aws, stack: str, seen: Observed) -> None:
    ec2 = aws.client("ec2")
    pages = PAGES
    for page in ec2.get_paginator("describe_launch_templates").paginate(Filters=stack_filter(stack), PaginationConfig=pages):
        for lt in page["LaunchTemplates"]:
            tags = names.tag_dict(lt.get("Tags"))
            seen.templates.append(
                ObservedTemplate(
                    id=lt["LaunchTemplateId"], name=lt["LaunchTemplateName"],
                    service=tags.get(names.TAG_SERVICE, ""), config_hash=tags.get(names.TAG_CONFIG, ""),
                    image_digest=tags.get(names.TAG_IMAGE),
                )
            )


def _observe_groups(aws, stack: str, seen: Observed) -> None:
    ec2 = aws.client("ec2")
    pages = PAGES
    for page in ec2.get_paginator("describe_security_groups").paginate(Filters=stack_filter(stack), PaginationConfig=pages):
        for group in page["SecurityGroups"]:
            tags = names.tag_dict(group.get("Tags"))
            ingress, other = _parse_ingress(group.get("IpPermissions", []))
            service = tags.get(names.TAG_SERVICE, "")
            into = seen.lb_groups if tags.get(names.TAG_PART) == "lb" else seen.groups
            into[service] = ObservedGroup(
                id=group["GroupId"], name=group["GroupName"], service=service, vpc_id=group.get("VpcId", ""),
                ingress=ingress, other_rules=other,
            )


def _observe_volumes(aws, stack: str, seen: Observed) -> None:
    ec2 = aws.client("ec2")
    pages = PAGES
    # Data volumes: the stack's EBS volumes with a liftshift:data tag (instances' root volumes carry the stack's
    # tags too, but not that one). DescribeVolumes takes MaxResults 5-500 without volume ids (API reference).
    for page in ec2.get_paginator("describe_volumes").paginate(
            Filters=stack_filter(stack) + [{"Name": "tag-key", "Values": [names.TAG_DATA]}], PaginationConfig=pages):
        for volume in page["Volumes"]:
            tags = names.tag_dict(volume.get("Tags"))
            if tags.get(names.TAG_STACK) != stack or volume.get("State") in ("deleting", "deleted"):
                continue
            seen.data_volumes.append(ObservedVolume(
                id=volume["VolumeId"], service=tags.get(names.TAG_SERVICE, ""), name=tags.get(names.TAG_DATA, ""),
                zone=volume.get("AvailabilityZone", ""), state=volume.get("State", ""),
                size_gb=volume.get("Size", 0),
                attached=tuple(a["InstanceId"] for a in volume.get("Attachments", [])
                               if a.get("State") in ("attaching", "attached") and a.get("InstanceId")),
            ))


def _observe_releases(aws, stack: str, seen: Observed) -> None:
    seen.releases = read_releases(aws.client("dynamodb"), stack)


def _observe_iam(aws, stack: str, seen: Observed, verify_tags: bool) -> None:
    iam = aws.client("iam")
    path = names.iam_path(stack)
    roles, profiles = side_by_side([
        lambda: [role for page in iam.get_paginator("list_roles").paginate(PathPrefix=path) for role in page["Roles"]
                 if role["Path"] == path],
        lambda: [profile for page in iam.get_paginator("list_instance_profiles").paginate(PathPrefix=path)
                 for profile in page["InstanceProfiles"]],
    ])
    if verify_tags:  # one read per role, side by side
        tagged = side_by_side([lambda role=role: _iam_tagged(iam.list_role_tags(RoleName=role["RoleName"]), stack)
                               for role in roles])
        roles = [role for role, ours in zip(roles, tagged) if ours]
    for role in roles:
        seen.roles[role["RoleName"]] = role["Arn"]
        seen.role_descriptions[role["RoleName"]] = role.get("Description", "")
    for profile in profiles:
        if profile["Path"] != path:
            continue
        members = [r["RoleName"] for r in profile.get("Roles", [])]
        # A profile counts as the stack's when it carries a verified role's name or holds one. Its own tags
        # are not read (moto does not implement ListInstanceProfileTags); on AWS this is as safe: liftshift
        # makes each profile in the stack's IAM path with its role's name and that role in it, so a profile
        # that matches no verified role is a look-alike either way and is left alone.
        if verify_tags and profile["InstanceProfileName"] not in seen.roles and not set(members) & set(seen.roles):
            continue
        seen.profiles[profile["InstanceProfileName"]] = ObservedProfile(
            name=profile["InstanceProfileName"], arn=profile["Arn"],
            roles=[r["RoleName"] for r in profile.get("Roles", [])],
        )


def _observe_repositories(aws, stack: str, seen: Observed, verify_tags: bool) -> None:
    ecr = aws.client("ecr")
    with _unless_unavailable(seen, "ecr"):
        for page in ecr.get_paginator("describe_repositories").paginate():
            for repo in page["repositories"]:
                if not repo["repositoryName"].startswith(f"{stack}/"):
                    continue
                if verify_tags:
                    tags = names.tag_dict(ecr.list_tags_for_resource(resourceArn=repo["repositoryArn"]).get("tags"))
                    if tags.get(names.TAG_STACK) != stack:
                        continue
                seen.repositories[repo["repositoryName"]] = repo["repositoryArn"]


def _observe_log_group(aws, stack: str, seen: Observed, verify_tags: bool) -> None:
    logs = aws.client("logs")
    group_name = names.log_group(stack)
    for page in logs.get_paginator("describe_log_groups").paginate(logGroupNamePrefix=group_name):
        for group in page["logGroups"]:
            if group["logGroupName"] != group_name:
                continue
            if verify_tags:
                tags = logs.list_tags_log_group(logGroupName=group_name).get("tags", {})
                if tags.get(names.TAG_STACK) != stack:
                    continue
            seen.log_group = group_name
            seen.log_retention = group.get("retentionInDays")


@contextlib.contextmanager
def _unless_unavailable(seen: Observed, service: str):
    """Read a service; an endpoint without it (aws.service_unavailable) holds nothing of it: noted, not raised."""
    import botocore.exceptions

    try:
        yield
    except botocore.exceptions.ClientError as exc:
        if not service_unavailable(exc):
            raise
        seen.unavailable[service] = str(exc)


def require_services(spec: AppSpec, observed: Observed, *, registry_is_ecr: bool) -> None:
    """Refuse (ServiceUnavailable, exit 2, before any change) a stack that needs a service the endpoint lacks:
    ELBv2 and Auto Scaling for a load_balancer, ECR when the images go to ECR."""
    fleets = [name for name, service in spec.services.items() if service.fleet]
    needs = {s: f"services.{fleets[0]}.load_balancer" for s in ("elbv2", "autoscaling") if fleets}
    if registry_is_ecr:
        needs["ecr"] = "its images (pushed to ECR unless LIFTSHIFT_REGISTRY names another registry)"
    missing = [s for s in needs if s in observed.unavailable]
    if missing:
        raise ServiceUnavailable(
            f"stack {spec.name} needs {' and '.join(SERVICE_NAMES[s] for s in missing)} for "
            f"{', '.join(sorted({needs[s] for s in missing}))}, and this AWS endpoint does not offer "
            f"{'them' if len(missing) > 1 else 'it'} ({observed.unavailable[missing[0]]}); nothing was changed. "
            "Use AWS, or an emulator with these services (moto has them), or change app.yaml.")


SERVICE_NAMES = {"elbv2": "Elastic Load Balancing (elbv2)", "autoscaling": "Auto Scaling (autoscaling)",
                 "ecr": "ECR (ecr)"}


def _observe_auto_scaling_groups(aws, stack: str, seen: Observed) -> None:
    """Auto Scaling groups (tag filter). An endpoint without Auto Scaling (aws.service_unavailable) holds no
    fleet: noted in `unavailable`."""
    with _unless_unavailable(seen, "autoscaling"):
        _observe_auto_scaling(aws, stack, seen)


def _observe_elb(aws, stack: str, seen: Observed) -> None:
    """Load balancers and target groups (tags read in batches of 20: ELBv2 cannot filter by tag). Listeners,
    rules and attributes are read per load balancer: three calls per fleet service, made for several load
    balancers side by side (the attributes are the only way to see whether it drops invalid header fields).
    An endpoint without ELBv2 holds no fleet: noted in `unavailable`."""
    with _unless_unavailable(seen, "elbv2"):
        _observe_load_balancers(aws, stack, seen)


def _observe_auto_scaling(aws, stack: str, seen: Observed) -> None:
    autoscaling = aws.client("autoscaling")
    for page in autoscaling.get_paginator("describe_auto_scaling_groups").paginate(
            Filters=[{"Name": f"tag:{names.TAG_STACK}", "Values": [stack]}]):
        for group in page["AutoScalingGroups"]:
            tags = {t["Key"]: t["Value"] for t in group.get("Tags", [])}
            if tags.get(names.TAG_STACK) != stack:
                continue
            seen.auto_scaling_groups.append(ObservedAutoScalingGroup(
                name=group["AutoScalingGroupName"], service=tags.get(names.TAG_SERVICE, ""),
                config_hash=tags.get(names.TAG_CONFIG, ""), desired=group["DesiredCapacity"],
                min_size=group["MinSize"], max_size=group["MaxSize"],
                target_groups=tuple(group.get("TargetGroupARNs", [])),
                instances=tuple(i["InstanceId"] for i in group.get("Instances", [])),
            ))


def _observe_load_balancers(aws, stack: str, seen: Observed) -> None:
    elbv2 = aws.client("elbv2")
    prefix = (names.elb_stack_prefix(stack), names.legacy_elb_prefix(stack))  # tags decide; this only narrows
    every_lb, every_tg = side_by_side([
        lambda: [lb for page in elbv2.get_paginator("describe_load_balancers").paginate() for lb in page["LoadBalancers"]],
        lambda: [tg for page in elbv2.get_paginator("describe_target_groups").paginate() for tg in page["TargetGroups"]],
    ])
    seen.region_load_balancers = {lb["LoadBalancerName"]: lb["LoadBalancerArn"] for lb in every_lb}
    seen.region_target_groups = {tg["TargetGroupName"]: tg["TargetGroupArn"] for tg in every_tg}
    lbs = [lb for lb in every_lb if lb["LoadBalancerName"].startswith(prefix)]
    groups = [tg for tg in every_tg if tg["TargetGroupName"].startswith(prefix)]
    arns = [lb["LoadBalancerArn"] for lb in lbs] + [tg["TargetGroupArn"] for tg in groups]
    tags_of: dict[str, dict[str, str]] = {}
    for i in range(0, len(arns), 20):
        for described in elbv2.describe_tags(ResourceArns=arns[i: i + 20])["TagDescriptions"]:
            tags_of[described["ResourceArn"]] = names.tag_dict(described.get("Tags"))
    for tg in groups:
        tags = tags_of.get(tg["TargetGroupArn"], {})
        if tags.get(names.TAG_STACK) != stack:
            continue
        seen.target_groups.append(ObservedTargetGroup(
            arn=tg["TargetGroupArn"], name=tg["TargetGroupName"], service=tags.get(names.TAG_SERVICE, ""),
            config_hash=tags.get(names.TAG_CONFIG, ""), port=tg.get("Port", 0), health=target_group_health(tg),
        ))
    ours = [ObservedLoadBalancer(arn=lb["LoadBalancerArn"], name=lb["LoadBalancerName"],
                                 service=tags_of[lb["LoadBalancerArn"]].get(names.TAG_SERVICE, ""),
                                 dns=lb.get("DNSName", ""))
            for lb in lbs if tags_of.get(lb["LoadBalancerArn"], {}).get(names.TAG_STACK) == stack]
    side_by_side([lambda found=found: _observe_listener(elbv2, found) for found in ours])
    for found in ours:
        seen.load_balancers[found.service] = found


def _observe_listener(elbv2, found: ObservedLoadBalancer) -> None:
    """A load balancer's attributes, its listener and the listener's rules, into `found`."""
    attributes = elbv2.describe_load_balancer_attributes(LoadBalancerArn=found.arn).get("Attributes", [])
    found.drops_invalid_headers = any(a.get("Key") == "routing.http.drop_invalid_header_fields.enabled"
                                      and a.get("Value") == "true" for a in attributes)
    listeners = elbv2.describe_listeners(LoadBalancerArn=found.arn)["Listeners"]
    if listeners:
        listener = listeners[0]
        found.listener_arn, found.listener_port = listener["ListenerArn"], listener["Port"]
        found.listener_protocol = listener["Protocol"]
        found.listener_certificate = (listener.get("Certificates") or [{}])[0].get("CertificateArn")
        found.default_target_group = forward_target(listener.get("DefaultActions", []))
        for rule in elbv2.describe_rules(ListenerArn=found.listener_arn)["Rules"]:
            if rule.get("IsDefault") or rule["Priority"] == "default":
                continue
            values: tuple[str, ...] = ()
            for condition in rule.get("Conditions", []):
                header = condition.get("HttpHeaderConfig") or {}
                if header.get("HttpHeaderName", "").lower() == names.RELEASE_HEADER.lower():
                    values = tuple(header.get("Values", []))
            found.rules.append(ObservedRule(rule["RuleArn"], rule["Priority"], values,
                                            forward_target(rule.get("Actions", []))))


def target_group_health(tg: dict[str, Any]) -> HealthSettings:
    """The health settings liftshift sets, from a DescribeTargetGroups entry."""
    return (("healthy", tg.get("HealthyThresholdCount")), ("interval", tg.get("HealthCheckIntervalSeconds")),
            ("path", tg.get("HealthCheckPath")), ("timeout", tg.get("HealthCheckTimeoutSeconds")),
            ("unhealthy", tg.get("UnhealthyThresholdCount")))


def _iam_tagged(response: dict[str, Any], stack: str) -> bool:
    return names.tag_dict(response.get("Tags")).get(names.TAG_STACK) == stack


def _parse_ingress(permissions: list[dict[str, Any]]) -> tuple[set[tuple[int, str]], list[dict[str, Any]]]:
    ours: set[tuple[int, str]] = set()
    other: list[dict[str, Any]] = []
    for perm in permissions:
        single_tcp = perm.get("IpProtocol") == "tcp" and perm.get("FromPort") == perm.get("ToPort")
        if not single_tcp or perm.get("PrefixListIds"):
            other.append(perm)
            continue
        for r in perm.get("IpRanges", []):
            ours.add((perm["FromPort"], r["CidrIp"]))
        for r in perm.get("Ipv6Ranges", []):
            ours.add((perm["FromPort"], r["CidrIpv6"]))
        for pair in perm.get("UserIdGroupPairs", []):
            ours.add((perm["FromPort"], pair["GroupId"]))
    return ours, other
