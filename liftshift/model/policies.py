"""IAM documents of an instance role: its trust policy, its inline policy and the AWS managed policies
it gets. Pure data: JSON strings and ARNs, no I/O.

Every ARN takes its partition from the region through spec.grammar.partition (the one definition), so
a role in China, GovCloud or the isolated regions names resources its partition holds.
"""

from __future__ import annotations

import json
from typing import Any

from . import names
from ..spec.grammar import parse_secret, partition
from ..spec.model import ServiceSpec

SSM_MANAGED_POLICY = "arn:{partition}:iam::aws:policy/AmazonSSMManagedInstanceCore"
EC2_TRUST_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    },
    sort_keys=True,
)
SSM_READS = ["ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath", "ssm:GetParameterHistory"]


def role_policy(stack: str, service: str, account: str, region: str, finds_peers: bool = False,
                secrets: list[tuple[str, str]] | None = None) -> str:
    """The instance role's inline policy: pull the service's own images, write its own log streams,
    read exactly its own secrets, and nothing else (the README's Security section lists it).

    The explicit Denies make "only its own secrets" hold even next to AmazonSSMManagedInstanceCore
    (attached for in-place rollouts), which allows ssm:GetParameter(s) on "*": in IAM an explicit
    Deny wins over any Allow (IAM User Guide, "Policy evaluation logic"), and NotResource denies
    every parameter but the named ones ("IAM JSON policy elements: NotResource").
    """
    part = partition(region)
    parameters = sorted({f"arn:{part}:ssm:{region}:{account}:parameter/{i.lstrip('/')}"
                         for kind, i in secrets or [] if kind == "ssm"})
    # Secrets Manager appends 6 random characters to a secret's ARN; "-??????" matches exactly those.
    managed_secrets = sorted({f"arn:{part}:secretsmanager:{region}:{account}:secret:{i}-??????"
                              for kind, i in secrets or [] if kind == "secretsmanager"})
    statements: list[dict[str, Any]] = []
    if parameters:
        statements.append({"Sid": "ReadOwnParameters", "Effect": "Allow", "Action": "ssm:GetParameter",
                           "Resource": parameters})
    statements.append({"Sid": "ReadNoOtherParameters", "Effect": "Deny", "Action": SSM_READS,
                       **({"NotResource": parameters} if parameters else {"Resource": "*"})})
    if managed_secrets:
        statements.append({"Sid": "ReadOwnSecrets", "Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
                           "Resource": managed_secrets})
    statements.append({"Sid": "ReadNoOtherSecrets", "Effect": "Deny", "Action": "secretsmanager:GetSecretValue",
                       **({"NotResource": managed_secrets} if managed_secrets else {"Resource": "*"})})
    if finds_peers:
        # DescribeInstances has no resource-level permissions: AWS requires "*". Read-only.
        statements.append({"Sid": "FindPeers", "Effect": "Allow", "Action": "ec2:DescribeInstances", "Resource": "*"})
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": statements + [
                # GetAuthorizationToken has no resource-level permissions: AWS requires "*".
                {"Sid": "EcrLogin", "Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
                {
                    "Sid": "PullOwnImages",
                    "Effect": "Allow",
                    "Action": ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                    "Resource": f"arn:{part}:ecr:{region}:{account}:repository/{names.repository(stack, service)}",
                },
                {
                    # Docker's awslogs driver writes the stream "<service>/<instance id>" (user-data.sh.j2):
                    # it creates the stream and puts events, nothing else, and only in the service's streams.
                    "Sid": "WriteOwnLogStreams",
                    "Effect": "Allow",
                    "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                    "Resource": f"arn:{part}:logs:{region}:{account}:log-group:{names.log_group(stack)}"
                                f":log-stream:{service}/*",
                },
            ],
        },
        sort_keys=True,
    )


def secret_refs(service: ServiceSpec) -> list[tuple[str, str]]:
    """(kind, id) of every secret the instances read with the role: env secrets and secret files."""
    refs = [*service.secrets.values(), *(f.ref for f in service.secret_files.values())]
    return [parse_secret(ref)[:2] for ref in refs]


def managed_policies(service: ServiceSpec, region: str) -> tuple[str, ...]:
    """AWS managed policies of a service's role: SSM's agent permissions only where liftshift runs
    commands through SSM (in-place rollouts)."""
    return (SSM_MANAGED_POLICY.format(partition=partition(region)),) if service.in_place else ()
