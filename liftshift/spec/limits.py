"""AWS limits known before any call: what AWS or the instance would refuse later, refused at validate.

check_limits runs when app.yaml is loaded (with what it says) and again in plan and deploy once the
region and the registry are known, still before anything is built or changed.
"""

from __future__ import annotations

import ipaddress
import os
import re
from typing import TYPE_CHECKING, Callable, Optional

from .errors import SpecError
from .grammar import SSM_NAME_MAX, parse_secret, partition, peers_of
from .model import AppSpec, ServiceSpec
from .yamlsource import LocatedData

if TYPE_CHECKING:
    from ..model.registry import Registry

SSH_PORT = 22
SG_RULES_PER_FAMILY = 60  # EC2's default quota of inbound rules per security group, IPv4 and IPv6 each

# Worst cases for what validate cannot know yet: the longest region name a partition has (with the
# .com.cn registry suffix of the China regions) and a 12-digit account (model.desired.ecr_registry).
LONGEST_REGION = "cn-northwest-1"
LONGEST_PARTITION = "aws-us-gov"


def check_limits(spec: AppSpec, region: Optional[str] = None, registry: Optional[Registry] = None) -> None:
    """Refuse what AWS or the instance would refuse later, before any build or AWS call: port 22
    (the instance's sshd), more CIDRs than a security group holds, a certificate or parameter ARN
    AWS refuses in the stack's region, user-data over EC2's limit (rendered here with the longest
    digest and registry host it can get) or that the renderer refuses.

    validate calls it with what app.yaml says; plan and deploy again once the region and the registry
    are known (`registry`), still before anything is built or changed."""
    located = spec._source or LocatedData(file="app.yaml", data=None)
    region = region or spec.region

    def fail(path: tuple, message: str) -> None:
        raise SpecError.at(located, path, message)

    for name, service in spec.services.items():
        here = ("services", name)
        if service.published_port == SSH_PORT:
            if service.ports:
                fail(here + ("ports", 0), "port 22 on the instance is its SSH daemon's: publish another port, "
                                          'e.g. "2222:22"')
            if service.publish is not None:
                fail(here + ("publish",), "port 22 on the instance is its SSH daemon's: publish another port, "
                                          "e.g. publish: 2222")
            fail(here + ("port",), "port 22 is published on the instance by default, where the SSH daemon has it: "
                                   "set publish to another port, e.g. publish: 2222")
        for i, (published, _) in enumerate(service.extra_ports, start=1):
            if published == SSH_PORT:
                fail(here + ("ports", i), "port 22 on the instance is its SSH daemon's: publish another port, "
                                          'e.g. "2222:22"')
        _check_rule_counts(service, here, fail, peers=len(spec.services) - 1)
        lb = service.load_balancer
        if lb is not None and region and lb.certificate_region and lb.certificate_region != region:
            fail(here + ("load_balancer", "certificate_arn"),
                 f"the certificate is in {lb.certificate_region} but the stack deploys to {region}: a load balancer "
                 "can only use an ACM certificate of its own region")
        refs = [(("secrets", key), ref) for key, ref in service.secrets.items()]
        refs += [(("secret_files", key), f.ref) for key, f in service.secret_files.items()]
        for key, ref in refs:
            kind, ident, _ = parse_secret(ref)
            if kind == "ssm":
                arn_region = region or LONGEST_REGION
                part = partition(region) if region else LONGEST_PARTITION
                arn = f"arn:{part}:ssm:{arn_region}:123456789012:parameter/{ident.lstrip('/')}"
                if len(arn) > SSM_NAME_MAX:
                    fail(here + key, f"the parameter's ARN would be {len(arn)} characters; AWS allows "
                                                  f"{SSM_NAME_MAX} for the name with the ARN before it")
        _check_role_policy(spec, name, region, fail)
    _check_user_data(spec, region, registry, fail)


ROLE_POLICY_MAX = 10240  # IAM: a role's inline policies, whitespace not counted


def _check_role_policy(spec: AppSpec, name: str, region: Optional[str], fail: Callable[[tuple, str], None]) -> None:
    """The instance role's policy names every secret's ARN (twice: allowed, and excepted from a Deny)."""
    service = spec.services[name]
    if not service.secrets and not service.secret_files:
        return
    from ..model.policies import role_policy, secret_refs  # only with secrets: a start without them need not load it

    policy = role_policy(spec.name, name, "123456789012", region or "us-gov-west-1",
                         finds_peers=bool(peers_of(service)), secrets=secret_refs(service))
    size = len(re.sub(r"\s", "", policy))
    if size > ROLE_POLICY_MAX:
        fail(("services", name, "secrets" if service.secrets else "secret_files"),
             f"the instance role's policy, which names each secret, would be {size} characters; IAM allows "
             f"{ROLE_POLICY_MAX}: use fewer or shorter names")


def _check_rule_counts(service: ServiceSpec, here: tuple, fail: Callable[[tuple, str], None], peers: int = 0) -> None:
    def count(cidrs: list[str], version: int) -> int:
        return len({c for c in cidrs if ipaddress.ip_network(c).version == version})

    ports = 1 + len(service.extra_ports)  # a rule per published port and source
    merge = "merge CIDRs into larger blocks" + (f" (each source takes a rule for each of the {ports} ports)"
                                                if ports > 1 else "")
    inst = service.instances
    for version, family in ((4, "IPv4"), (6, "IPv6")):
        ssh = count(inst.ssh_ingress, version)
        ingress = count(inst.ingress, version)
        if service.load_balancer is not None:
            # the instances' group admits the load balancer's group (one rule, counted in each family) and SSH;
            # the load balancer's own group holds the ingress CIDRs
            groups = [("the instances' security group", 1 + ssh, ("instances", "ssh_ingress"), merge),
                      ("the load balancer's security group", ingress, ("instances", "ingress"), merge)]
        elif service.internal:
            # one rule per other service of the stack (a group reference, counted in each family, as the load
            # balancer's above) and SSH; no ingress CIDRs
            groups = [("the instances' security group", peers * ports + ssh,
                       ("internal",) if peers * ports >= ssh else ("instances", "ssh_ingress"),
                       "it admits each of the stack's other services on each port: split the stack"
                       if peers * ports >= ssh else merge)]
        else:
            groups = [("the instances' security group", ingress * ports + ssh,
                       ("instances", "ingress" if ingress * ports >= ssh else "ssh_ingress"), merge)]
        for group, rules, key, advice in groups:
            if rules > SG_RULES_PER_FAMILY:
                fail(here + key,
                     f"needs {rules} {family} inbound rules in {group}; a security group holds "
                     f"{SG_RULES_PER_FAMILY} per address family (EC2's default quota): {advice}")


def _check_user_data(spec: AppSpec, region: Optional[str], registry: Optional[Registry],
                     fail: Callable[[tuple, str], None]) -> None:
    """Render each service's user-data as deploy will, with the longest digest and registry host possible."""
    from ..model.user_data import render_user_data
    from ..model.registry import Registry, ecr_registry
    from ..model.launch_template import USER_DATA_LIMIT, user_data_context

    if registry is not None:
        registries = [registry]
    else:
        ecr = ecr_registry("123456789012", region or LONGEST_REGION)
        registries = [ecr, Registry(ecr.host, False)]
        override = os.environ.get("LIFTSHIFT_REGISTRY")
        if override and re.fullmatch(r"[A-Za-z0-9.-]+(?::\d{1,5})?", override):  # a bad one is not app.yaml's fault
            registries.append(Registry(override, False))
    where_region = region or LONGEST_REGION
    hashes = {n: "f" * 12 for n in spec.services}
    for name, service in spec.services.items():
        here = ("services", name)
        for reg in registries:
            digest_ref = f"{reg.repository_uri(spec.name, name)}@sha256:{'f' * 64}"
            try:
                text = render_user_data(user_data_context(spec, name, digest_ref, reg, where_region, "f" * 12, hashes))
            except (ValueError, TypeError) as exc:
                message = str(exc)
                key = next((k for k in ("volume", "health", "command", "env", "secret file", "secret") if k in message),
                           None)
                path = here + ({"volume": ("volumes",), "health": ("health",), "command": ("command",),
                                "env": ("env",), "secret file": ("secret_files",), "secret": ("secrets",)}.get(key, ()))
                fail(path, f"cannot be rendered into the instance's user-data: {message}")
            size = len(text.encode("utf-8"))
            if size > USER_DATA_LIMIT:
                sizes = {k: len(repr(getattr(service, k)).encode())
                         for k in ("env", "command", "volumes", "secrets", "secret_files") if getattr(service, k)}
                if service.health is not None and service.health.command is not None:
                    sizes["health"] = len(repr(service.health.command).encode())
                biggest = max(sizes, key=sizes.get) if sizes else None
                fail(here + ((biggest,) if biggest else ()),
                     f"the rendered user-data would be up to {size} bytes; EC2 allows {USER_DATA_LIMIT}: shorten "
                     "env values, the command or the health command, or move large values into secrets:")
