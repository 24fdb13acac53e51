"""The AWS pre-flight checks of `liftshift doctor` and `liftshift runbook --check`, run live: each a Result (✓, ✗
with its fix, or ☐ when AWS would not say), keyed "STACK:ID" like the runbook's checklist items.

Every AWS call goes through aws/session.Aws; none reads a secret's value (DescribeParameters and
DescribeSecret return metadata only: the deployer reads no secret, only the instances do). A check that
cannot be made (no permission to ask, an emulator without the service) is left to check by hand, never
passed.
"""

from __future__ import annotations

import socket
from typing import Any, Optional

from ..errors import LiftshiftError
from ..runbook.inventory import inventory
from ..spec.model import AppSpec
from . import QUOTAS, Result

PREFIX = {"elbv2": "elasticloadbalancing", "service-quotas": "servicequotas"}  # client -> IAM prefix
CREDENTIALS_FIX = ("set AWS_PROFILE (or --profile) or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, and the region "
                   "(app.yaml region:, --region or AWS_REGION)")
# The instance families the "Running On-Demand Standard" quota counts (its name lists them).
STANDARD_FAMILIES = tuple("acdhimrtz")


def plan_actions(plan: dict[str, Any]) -> list[str]:
    """The IAM actions of the plan's AWS calls (an operation is the action of the same name)."""
    import boto3

    clients: dict[str, Any] = {}
    out: set[str] = set()
    for step in plan["steps"]:
        for call in step["calls"]:
            name = call["client"]
            if name in ("docker", "gate"):
                continue
            if name not in clients:
                clients[name] = boto3.client(name, region_name="us-east-1", aws_access_key_id="x",
                                             aws_secret_access_key="x")
            client = clients[name]
            operation = client.meta.method_to_api_mapping.get(call["operation"])
            if operation is None:  # a waiter: its describe call
                try:
                    operation = client.get_waiter(call["operation"]).config.operation
                except ValueError:
                    continue
            out.add(f"{PREFIX.get(name, name)}:{operation}")
    return sorted(out)


def _code(exc: Exception) -> str:
    """The AWS error code, else the kind of failure (a botocore error's text can be a whole HTML page)."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and response.get("Error", {}).get("Code"):
        return str(response["Error"]["Code"])
    return type(exc).__name__


def run_checks(spec: AppSpec, aws, actions: list[str], probes=None) -> dict[str, Result]:
    """The AWS checks of one stack (not images: the plan's build is that check, see pipeline/runbook).

    probes: a function (account, region) -> the simulator's questions with resources and context
    (checks/policy.probes: doctor's); else `actions` are simulated on `*` (the runbook's)."""
    stack = spec.name
    out: dict[str, Result] = {}
    try:
        account = aws.account_id()
        arn = aws.client("sts").get_caller_identity()["Arn"]
        out["credentials"] = Result(True, f"account {account}, {arn}, region {aws.region}")
    except Exception as exc:  # no credentials, an unreachable endpoint: nothing else can be asked
        out["credentials"] = Result(False, _message(exc), CREDENTIALS_FIX)
        return {f"{stack}:{k}": v for k, v in out.items()}
    services = inventory(spec)
    out["permissions"] = permissions(aws, arn, actions, probes(account, aws.region) if probes else None)
    out.update(quotas(aws, services))
    out.update(network_and_amis(aws, spec))
    for s in services:
        for ref in s["secrets"] + s["secret_files"]:
            out[f"secret:{s['name']}:{ref['name']}"] = secret(aws, ref)
        lb = s["load_balancer"]
        if lb and lb["certificate_arn"]:
            out[f"certificate:{s['name']}"] = certificate(aws, lb["certificate_arn"])
    return {f"{stack}:{k}": v for k, v in out.items()}


def _message(exc: Exception) -> str:
    return exc.explain() if isinstance(exc, LiftshiftError) else str(exc)


def permissions(aws, arn: str, actions: list[str], probes: Optional[list[dict[str, Any]]] = None) -> Result:
    """IAM's policy simulator on the caller (an assumed role is simulated as its role); with `probes`, each
    group of actions on its resources and with its context (checks/policy.probes)."""
    if not actions and not probes:
        return Result(True, "the plan makes no AWS call")
    source = arn
    parts = arn.split(":")
    if len(parts) == 6 and parts[2] == "sts" and parts[5].startswith("assumed-role/"):
        source = f"arn:{parts[1]}:iam::{parts[4]}:role/{parts[5].split('/')[1]}"
    if parts[-1] == "root":
        return Result(None, "the root user is allowed everything (and should not deploy)")
    iam = aws.client("iam")
    denied: list[str] = []
    asks = probes if probes is not None else [{"actions": actions, "resources": [], "context": []}]
    try:
        for ask in asks:
            extra: dict[str, Any] = {}
            if ask["resources"]:
                extra["ResourceArns"] = ask["resources"]
            if ask["context"]:
                extra["ContextEntries"] = ask["context"]
            for start in range(0, len(ask["actions"]), 50):
                answer = iam.simulate_principal_policy(PolicySourceArn=source,
                                                       ActionNames=ask["actions"][start:start + 50], **extra)
                denied += [r["EvalActionName"] for r in answer.get("EvaluationResults", [])
                           if r.get("EvalDecision") != "allowed"]
    except Exception as exc:
        return Result(None, f"cannot simulate ({_code(exc)}): check them by hand")
    if denied:
        return Result(False, f"{source} may not: {', '.join(sorted(denied))}",
                      "grant them (README, \"Permissions for the deployer\")")
    count = sum(len(ask["actions"]) for ask in asks)
    return Result(True, f"{source} may make all {count} calls")


def _quota(aws, key: str) -> Optional[float]:
    service, code = QUOTAS[key]
    return aws.client("service-quotas").get_service_quota(ServiceCode=service, QuotaCode=code)["Quota"]["Value"]


def quotas(aws, services: list[dict[str, Any]]) -> dict[str, Result]:
    out: dict[str, Result] = {}
    running = [s for s in services if s["instances"]["count"]]
    types = sorted({s["instances"]["type"] for s in running})
    ec2 = aws.client("ec2")
    try:
        vcpus = _vcpus(ec2, types)
        need = sum(2 * s["instances"]["count"] * vcpus[s["instances"]["type"]] for s in running
                   if s["instances"]["type"].startswith(STANDARD_FAMILIES))
        used = _used_vcpus(ec2)
        limit = _quota(aws, "instances")
        out["quota-instances"] = _room(need, used, limit, "vCPUs of On-Demand standard instances",
                                       QUOTAS["instances"])
    except Exception as exc:
        out["quota-instances"] = Result(None, f"cannot read the quota ({_code(exc)}): check by hand")
    try:
        groups = sum(1 for page in ec2.get_paginator("describe_security_groups").paginate()
                     for _ in page["SecurityGroups"])
        lbs = sum(1 for s in services if s["load_balancer"])
        out["quota-security-groups"] = _room(len(services) + lbs, groups, _quota(aws, "security-groups"),
                                             "security groups", QUOTAS["security-groups"])
    except Exception as exc:
        out["quota-security-groups"] = Result(None, f"cannot read the quota ({_code(exc)}): check by hand")
    lbs = sum(1 for s in services if s["load_balancer"])
    if lbs:
        try:
            elbv2 = aws.client("elbv2")
            present = sum(1 for page in elbv2.get_paginator("describe_load_balancers").paginate()
                          for lb in page["LoadBalancers"] if lb.get("Type") == "application")
            out["quota-load-balancers"] = _room(lbs, present, _quota(aws, "load-balancers"),
                                                "Application Load Balancers", QUOTAS["load-balancers"])
        except Exception as exc:
            out["quota-load-balancers"] = Result(None, f"cannot read the quota ({_code(exc)}): check by hand")
    return out


def _room(need: float, used: float, limit: float, what: str, quota: tuple[str, str]) -> Result:
    detail = f"{what}: {used:g} in use + {need:g} needed, quota {limit:g}"
    if used + need > limit:
        return Result(False, detail, f"ask for more: aws service-quotas request-service-quota-increase "
                                     f"--service-code {quota[0]} --quota-code {quota[1]} --desired-value "
                                     f"{used + need:g}")
    return Result(True, detail)


def _vcpus(ec2, types: list[str]) -> dict[str, int]:
    if not types:
        return {}
    answer = ec2.describe_instance_types(InstanceTypes=types)
    return {t["InstanceType"]: t["VCpuInfo"]["DefaultVCpus"] for t in answer["InstanceTypes"]}


def _used_vcpus(ec2) -> float:
    used = 0.0
    filters = [{"Name": "instance-state-name", "Values": ["pending", "running"]}]
    for page in ec2.get_paginator("describe_instances").paginate(Filters=filters):
        for reservation in page["Reservations"]:
            for instance in reservation["Instances"]:
                if not instance["InstanceType"].startswith(STANDARD_FAMILIES):
                    continue
                cpu = instance.get("CpuOptions") or {}
                used += cpu.get("CoreCount", 1) * cpu.get("ThreadsPerCore", 1) if cpu else 1
    return used


def network_and_amis(aws, spec: AppSpec) -> dict[str, Result]:
    from ..aws.network import network, resolve_amis

    out: dict[str, Result] = {}
    try:
        net = network(aws, spec)
        out["network"] = Result(True, "; ".join(f"{name}: {', '.join(subnets)}" for name, subnets in
                                                net.subnets.items()))
    except Exception as exc:
        out["network"] = Result(False, _message(exc), "make a default VPC (aws ec2 create-default-vpc) or list "
                                                      "instances.subnets in app.yaml")
    try:
        amis = resolve_amis(aws, spec)
        for name in spec.services:
            out[f"ami:{name}"] = Result(True, amis[name].image_id)
    except Exception as exc:
        for name in spec.services:
            out[f"ami:{name}"] = Result(False, _message(exc), "set instances.ami to an AMI of the region")
    return out


def secret(aws, ref: dict[str, Any]) -> Result:
    """The secret exists and is current (metadata only: its value is never read)."""
    name = ref["secret"]
    try:
        if ref["store"] == "ssm":
            ssm = aws.client("ssm")
            found = ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Option": "Equals", "Values": [name]}])
            if not found.get("Parameters"):
                return Result(False, f"no SSM parameter {name}",
                              f"aws ssm put-parameter --type SecureString --name {name} --value ...")
            return Result(True, f"SSM parameter {name} ({found['Parameters'][0].get('Type', '?')})")
        secretsmanager = aws.client("secretsmanager")
        described = secretsmanager.describe_secret(SecretId=name)
    except Exception as exc:
        code = _code(exc)
        if code == "ResourceNotFoundException":
            return Result(False, f"no secret {name} in Secrets Manager",
                          f"aws secretsmanager create-secret --name {name} --secret-string ...")
        return Result(None, f"cannot tell ({code})")
    if described.get("DeletedDate"):
        return Result(False, f"secret {name} is scheduled for deletion",
                      f"aws secretsmanager restore-secret --secret-id {name}")
    stages = described.get("VersionIdsToStages") or {}
    if stages and not any("AWSCURRENT" in s for s in stages.values()):
        return Result(False, f"secret {name} has no current version (AWSCURRENT)",
                      f"aws secretsmanager put-secret-value --secret-id {name} --secret-string ...")
    key = f"; its JSON key {ref['key']!r} is not checked (that would read the value)" if ref["key"] else ""
    return Result(True, f"secret {name}{key}")


def certificate(aws, arn: str) -> Result:
    """ACM certificates are regional: a load balancer can use only one of its own region, and only issued."""
    region = arn.split(":")[3]
    if region != aws.region:
        return Result(False, f"the certificate is in {region}, the stack deploys to {aws.region}",
                      f"request or import a certificate in {aws.region} (aws acm request-certificate --region "
                      f"{aws.region} ...) and set load_balancer.certificate_arn to it")
    acm = aws.client("acm")
    try:
        status = acm.describe_certificate(CertificateArn=arn)["Certificate"]["Status"]
    except Exception as exc:
        code = _code(exc)
        if code == "ResourceNotFoundException":
            return Result(False, "no such certificate", "request one (aws acm request-certificate) and set "
                                                        "load_balancer.certificate_arn to its ARN")
        return Result(None, f"cannot tell ({code})")
    if status != "ISSUED":
        return Result(False, f"the certificate is {status}",
                      "complete its validation (the DNS record ACM asks for), or request a new one")
    return Result(True, "issued")


def ports_free(stack: str, ports: list[int]) -> Result:
    """The rehearsal publishes these on 127.0.0.1: each must be free to bind."""
    busy = []
    for port in ports:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                busy.append(port)
    if busy:
        return Result(False, f"in use: {', '.join(map(str, busy))}",
                      "stop what listens there (ss -ltnp), or a rehearsal of this stack still running "
                      "(liftshift destroy FILE --target local)")
    return Result(True, f"{', '.join(map(str, ports))} free")
