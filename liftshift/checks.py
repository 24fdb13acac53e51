"""Risky but valid settings: plan and deploy warn about them; --strict makes them errors.

Pure: a function of the spec and the AMIs resolved for it.
"""

from __future__ import annotations

from .resources import Ami
from .spec import AppSpec

OPEN = {"0.0.0.0/0", "::/0"}


def warnings(spec: AppSpec, amis: dict[str, Ami]) -> list[str]:
    found = []
    for name, service in spec.services.items():
        open_ssh = sorted(OPEN & set(service.instances.ssh_ingress))
        if open_ssh:
            found.append(f"services.{name}.instances.ssh_ingress opens SSH (22) to {', '.join(open_ssh)}: "
                         "the whole internet")
        ami = amis.get(name)
        if ami is not None and not ami.owned_by_amazon:
            found.append(f"services.{name}.instances.ami {ami.image_id} is not owned by Amazon: make sure you "
                         "trust its publisher")
        lb = service.load_balancer
        if lb is not None and lb.certificate_arn is None and OPEN & set(service.instances.ingress):
            found.append(f"services.{name}.load_balancer listens on plain HTTP (port {lb.listener_port}) to the "
                         "internet: set certificate_arn for HTTPS")
    return found
