"""Data volumes (app.yaml `services.NAME.data`) as the plan and the user-data need them. Pure data, no I/O.

A data volume is storage the stack owns and that outlives the instance: on EC2 an EBS volume per name, made
once, attached by liftshift to the service's (single) instance at a fixed device name and mounted by the
user-data; in the local rehearsal a Docker named volume. The device names, not the volume ids, go into the
user-data, so a service's config hash never depends on a volume id (a volume made again is not a new config).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import BadInput
from ..spec.grammar import DATA_NAME_RE, char_problem

if TYPE_CHECKING:
    from ..spec.model import ServiceSpec

# The device names AWS recommends for EBS volumes on Linux instances: /dev/sd[f-p] ("Device names for volumes
# on Amazon EC2 instances", https://docs.aws.amazon.com/ebs/latest/userguide/device_naming.html). On Nitro
# instances the volume appears as an NVMe device; Amazon Linux 2023's udev rules (amazon-ec2-utils) link the
# name given to AttachVolume to it, and Xen instances name it /dev/xvdX: the user-data accepts both.
DEVICES = tuple(f"/dev/sd{letter}" for letter in "fghijklmnop")


class TooManyDataVolumes(BadInput, ValueError):
    """More data volumes than device names to attach them at (bad input: exit 2)."""


@dataclass(frozen=True)
class DataVolume:
    """One data volume of a service: its app.yaml name, where the container sees it, its size, and the device
    name liftshift attaches its EBS volume at (in the sorted order of the names)."""

    name: str
    path: str  # absolute path inside the container
    size_gb: int
    device: str


def data_volumes_of(service_name: str, service: ServiceSpec) -> tuple[DataVolume, ...]:
    """A service's data volumes, by name, each with its device name."""
    names = sorted(service.data)
    if len(names) > len(DEVICES):
        raise TooManyDataVolumes(
            f"services.{service_name}.data: {len(names)} data volumes; at most {len(DEVICES)} can be attached "
            f"(device names {DEVICES[0]} to {DEVICES[-1]})")
    return tuple(DataVolume(name, service.data[name].path, service.data[name].size_gb, device)
                 for name, device in zip(names, DEVICES))


def check_data_volumes(volumes: tuple[DataVolume, ...]) -> None:
    """What the template relies on (a name is a file and Docker volume name, a path one field of docker's -v
    spec, a device one of DEVICES); the spec checks the same at app.yaml's lines, this guards the renderer.
    Raises ValueError naming the volume."""

    def fail(name: object, message: str) -> None:
        raise ValueError(f"user-data: data volume {name!r}: {message}")

    seen: set[str] = set()
    devices: set[str] = set()
    for v in volumes:
        if not isinstance(v.name, str) or not DATA_NAME_RE.fullmatch(v.name):
            fail(v.name, "the name must be 1-32 of a-z, 0-9, '-' and '_', starting with a letter or digit")
        if v.name in seen:
            fail(v.name, "is listed twice")
        seen.add(v.name)
        if not isinstance(v.path, str) or not v.path.startswith("/") or ":" in v.path or char_problem(v.path):
            fail(v.name, f"the path {v.path!r} must be absolute, printable and without ':'")
        if v.device not in DEVICES or v.device in devices:
            fail(v.name, f"the device {v.device!r} must be one of {DEVICES[0]}..{DEVICES[-1]}, once")
        devices.add(v.device)
