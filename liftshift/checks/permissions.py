"""The IAM actions the deployer needs, by kind of stack: the README's "Permissions for the deployer" table as
data (tests/test_doctor.py checks the two are equal, and tests/test_permissions.py checks the table against
every call the code makes and real runs record), so `doctor` simulates and `doctor --policy` grants exactly
what is documented and tested.
"""

from __future__ import annotations

from ..spec.model import AppSpec

EVERY = frozenset({
    "sts:GetCallerIdentity",
    "dynamodb:CreateTable", "dynamodb:DescribeTable", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "ec2:DescribeInstances", "ec2:DescribeLaunchTemplates", "ec2:DescribeSecurityGroups", "ec2:DescribeVolumes",
    "ec2:DescribeSubnets", "ec2:DescribeInstanceTypeOfferings", "ec2:DescribeImages", "ec2:CreateSecurityGroup",
    "ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress", "ec2:DeleteSecurityGroup",
    "ec2:CreateLaunchTemplate", "ec2:DeleteLaunchTemplate", "ec2:RunInstances", "ec2:TerminateInstances",
    "ec2:CreateTags",
    "ssm:GetParameters",
    "iam:ListRoles", "iam:ListRoleTags", "iam:ListInstanceProfiles", "iam:GetInstanceProfile", "iam:CreateRole",
    "iam:UpdateRole", "iam:PutRolePolicy", "iam:DeleteRolePolicy", "iam:DetachRolePolicy", "iam:DeleteRole",
    "iam:CreateInstanceProfile", "iam:AddRoleToInstanceProfile", "iam:RemoveRoleFromInstanceProfile",
    "iam:DeleteInstanceProfile", "iam:PassRole", "iam:TagRole", "iam:TagInstanceProfile",
    "ecr:DescribeRepositories", "ecr:ListTagsForResource", "ecr:CreateRepository", "ecr:PutLifecyclePolicy",
    "ecr:DeleteRepository", "ecr:TagResource",
    "logs:DescribeLogGroups", "logs:ListTagsLogGroup", "logs:CreateLogGroup", "logs:PutRetentionPolicy",
    "logs:DeleteLogGroup", "logs:TagResource",
    "elasticloadbalancing:DescribeLoadBalancers", "elasticloadbalancing:DescribeTargetGroups",
    "autoscaling:DescribeAutoScalingGroups",
})
LOAD_BALANCER = frozenset({
    "elasticloadbalancing:DescribeTags", "elasticloadbalancing:DescribeListeners", "elasticloadbalancing:DescribeRules",
    "elasticloadbalancing:DescribeLoadBalancerAttributes", "elasticloadbalancing:DescribeTargetGroupAttributes",
    "elasticloadbalancing:DescribeTargetHealth", "elasticloadbalancing:CreateLoadBalancer",
    "elasticloadbalancing:ModifyLoadBalancerAttributes", "elasticloadbalancing:CreateTargetGroup",
    "elasticloadbalancing:ModifyTargetGroupAttributes", "elasticloadbalancing:CreateListener",
    "elasticloadbalancing:ModifyListener", "elasticloadbalancing:CreateRule", "elasticloadbalancing:DeleteRule",
    "elasticloadbalancing:DeleteTargetGroup", "elasticloadbalancing:DeleteLoadBalancer",
    "elasticloadbalancing:AddTags",
    "autoscaling:CreateAutoScalingGroup", "autoscaling:UpdateAutoScalingGroup",
    "autoscaling:DetachLoadBalancerTargetGroups", "autoscaling:DeleteAutoScalingGroup",
    "autoscaling:DescribeScalingActivities", "autoscaling:CreateOrUpdateTags",
    "iam:CreateServiceLinkedRole", "logs:GetLogEvents",
})
IN_PLACE = frozenset({"ssm:SendCommand", "ssm:GetCommandInvocation", "ec2:DescribeLaunchTemplateVersions",
                      "iam:AttachRolePolicy"})
ECR_PUSH = frozenset({"ecr:GetAuthorizationToken", "ecr:BatchCheckLayerAvailability", "ecr:InitiateLayerUpload",
                      "ecr:UploadLayerPart", "ecr:CompleteLayerUpload", "ecr:PutImage", "ecr:BatchGetImage"})
DATA = frozenset({"ec2:CreateVolume", "ec2:AttachVolume", "ec2:DeleteVolume", "ec2:CreateTags"})
DNS = frozenset({"route53:GetHostedZone", "route53:ListHostedZonesByName", "route53:ListResourceRecordSets",
                 "route53:ChangeResourceRecordSets", "route53:GetChange", "route53:CreateHostedZone",
                 "route53:ListHostedZones", "elasticloadbalancing:DescribeLoadBalancers"})
DNS_LOCAL_ONLY = frozenset({"route53:CreateHostedZone", "route53:ListHostedZones"})  # the rehearsal's emulator
CHECKS = frozenset({"iam:SimulatePrincipalPolicy", "servicequotas:GetServiceQuota", "ec2:DescribeInstanceTypes",
                    "ec2:DescribeInstances", "ec2:DescribeSecurityGroups", "elasticloadbalancing:DescribeLoadBalancers",
                    "ssm:DescribeParameters", "secretsmanager:DescribeSecret", "acm:DescribeCertificate"})
LOGS = frozenset({"logs:DescribeLogStreams", "logs:FilterLogEvents", "logs:GetLogEvents"})  # `liftshift logs`

# The README table's rows by the tests' category names (tests/test_permissions.readme_permissions).
TABLE = {"every": EVERY, "lb": LOAD_BALANCER, "in-place": IN_PLACE, "ecr": ECR_PUSH, "data": DATA, "dns": DNS,
         "check": CHECKS, "logs": LOGS}
NO_PERMISSION = frozenset({"sts:GetCallerIdentity"})  # "No permissions are required to perform this operation"


def kinds(spec: AppSpec) -> list[str]:
    """The table's rows a pipeline's deploy, rollback and destroy of this stack use (images are always pushed to
    ECR by a pipeline; `runbook --check`/`doctor` and `logs` are people's commands, not the pipeline's)."""
    services = list(spec.services.values())
    out = ["every", "ecr"]
    if any(s.load_balancer for s in services):
        out.append("lb")
    if any(s.rollout.strategy == "in-place" for s in services):
        out.append("in-place")
    if any(getattr(s, "data", None) for s in services):
        out.append("data")
    if any(getattr(s, "dns", None) for s in services):
        out.append("dns")
    return out


def stack_actions(spec: AppSpec) -> list[str]:
    """Every action deploy, rollback and destroy of this stack may call (a superset of one plan's calls: also
    the reads, and the calls of a later change, a failed release, a lost lock)."""
    out: set[str] = set()
    for kind in kinds(spec):
        out |= TABLE[kind]
    if "dns" in kinds(spec):
        out -= DNS_LOCAL_ONLY
    return sorted(out - NO_PERMISSION)
