"""Risky but valid settings: plan and deploy warn about them; --strict makes them errors.

Pure: a function of the spec and the AMIs resolved for it.
"""

from __future__ import annotations

import posixpath

from ..model.launch_template import Ami
from .model import AppSpec

OPEN = {"0.0.0.0/0", "::/0"}
# Host paths a bind mount should not expose: the Docker (and containerd) socket is root on the host; the
# others hold its configuration, credentials, kernel interfaces, devices or programs. A mount of one of
# these, of anything below one, or of a directory holding one (/, /var, /run...) is warned about.
DOCKER_SOCKETS = ("/run/docker.sock", "/var/run/docker.sock", "/run/containerd", "/var/run/containerd")
SYSTEM_PATHS = ("/etc", "/root", "/home", "/boot", "/proc", "/sys", "/dev", "/usr", "/bin", "/sbin", "/lib",
                "/lib64", "/var/lib/docker", "/var/lib/containerd")


def risky_mount(host: str) -> str | None:
    """Why bind-mounting host path `host` into a container is risky, or None."""
    path = "/" + posixpath.normpath(host).lstrip("/")

    def touches(risky: str) -> bool:
        return path == risky or path.startswith(risky + "/") or risky.startswith(path.rstrip("/") + "/")

    if path == "/":
        return "the host's whole filesystem (its configuration, credentials and the Docker socket)"
    for socket in DOCKER_SOCKETS:
        if touches(socket):
            return f"the host's container engine socket ({socket}): control of Docker is root on the host"
    for system in SYSTEM_PATHS:
        if touches(system):
            return f"the host's {system} (its system files, credentials, devices or programs)"
    return None


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
        if service.instances.container_credentials:
            found.append(f"services.{name}.instances.container_credentials lets the containers take the instance "
                         "role's credentials (pull its images, write its logs, read its secrets): only for apps that "
                         "call AWS themselves")
        lb = service.load_balancer
        if lb is not None and lb.certificate_arn is None and OPEN & set(service.instances.ingress):
            found.append(f"services.{name}.load_balancer listens on plain HTTP (port {lb.listener_port}) to the "
                         "internet: set certificate_arn for HTTPS")
        for i, volume in enumerate(service.volumes):
            why = risky_mount(volume.host)
            if why:
                mode = "read-only" if volume.read_only else "read-write"
                found.append(f"services.{name}.volumes[{i}] bind-mounts {volume.host} ({mode}) into the container: "
                             f"{why}")
    return found
