"""A service's settings for what a compose app or a migration needs: several ports, start order (depends_on),
other names (aliases), secrets as files, data volumes, and the DNS record `cutover` moves.

pydantic models, as in spec/settings.py (whose SpecModel, Int and SecretRef they use); spec/model.py
assembles them into ServiceSpec.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any, Literal, Optional

from pydantic import BeforeValidator, Field, field_validator, model_validator

from .grammar import ALIAS_RE, DATA_NAME_RE, volume_path
from .settings import Int, SecretRef, SpecModel


def _port_short(value: Any) -> Any:
    """compose's short form: 'PUBLISH:CONTAINER' or 'CONTAINER' (a string or a number)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return {"container": value}
    if isinstance(value, str):
        parts = value.split(":")
        if len(parts) == 1:
            return {"container": parts[0]}
        if len(parts) == 2:
            return {"publish": parts[0], "container": parts[1]}
        raise ValueError(f"{value!r} must be 'PUBLISH:CONTAINER' or 'CONTAINER', e.g. \"8443:443\" (TCP; no host "
                         "address, ranges or /udp)")
    return value


class PortSpec(SpecModel):
    """One of a service's ports: the container's port and the instance's port it is published on (the same by
    default). TCP only."""

    container: Int = Field(ge=1, le=65535)
    publish: Optional[Int] = Field(None, ge=1, le=65535)

    @property
    def published(self) -> int:
        return self.publish if self.publish is not None else self.container


PortItem = Annotated[PortSpec, BeforeValidator(_port_short)]


class DependsOnSpec(SpecModel):
    """A service this one needs (compose's depends_on): it resolves by name inside the container, it is
    launched first, and with `condition: healthy` the container starts once it answers its health check."""

    condition: Literal["started", "healthy"] = "started"


def _depends_short(value: Any) -> Any:
    """A list of names is the short form (condition started)."""
    if isinstance(value, list):
        out: dict[Any, Any] = {}
        for item in value:
            if not isinstance(item, str):
                raise ValueError(f"must list service names, got {type(item).__name__}")
            if item in out:
                raise ValueError(f"lists {item!r} twice")
            out[item] = {}
        return out
    if isinstance(value, dict):
        return {k: ({} if v is None else v) for k, v in value.items()}
    return value


def _file_mode(value: Any) -> Any:
    if isinstance(value, bool) or isinstance(value, int):
        raise ValueError('write the mode as a quoted octal string, e.g. "0400" (a bare number is read as decimal)')
    if isinstance(value, str):
        if not re.fullmatch(r"0?[0-7]{3}", value):
            raise ValueError(f'{value!r} is not an octal file mode such as "0400" or "0440"')
        return int(value, 8)
    return value


class SecretFileSpec(SpecModel):
    """A secret delivered as a file (compose's secrets): fetched like an env secret each time the container
    starts, written on tmpfs on the instance, bind-mounted read-only at `path`."""

    ref: SecretRef
    path: Optional[str] = None  # default /run/secrets/NAME
    mode: Annotated[int, BeforeValidator(_file_mode)] = 0o400
    uid: Optional[Int] = Field(None, ge=0, le=2**31 - 1)
    gid: Optional[Int] = Field(None, ge=0, le=2**31 - 1)

    @field_validator("path")
    @classmethod
    def _path(cls, value: Optional[str]) -> Optional[str]:
        return None if value is None else volume_path(value, "container")


def _secret_file_short(value: Any) -> Any:
    return {"ref": value} if isinstance(value, str) else value


SecretFileItem = Annotated[SecretFileSpec, BeforeValidator(_secret_file_short)]


class DataVolumeSpec(SpecModel):
    """Storage that outlives the instance (compose's named volumes): an EBS volume of the stack on EC2, a
    Docker volume in the local rehearsal, mounted at `path` in the container. Kept by destroy unless
    --delete-data."""

    path: str
    size_gb: Int = Field(10, ge=1, le=16384)

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        return volume_path(value, "container")


def check_alias(value: Any) -> Any:
    if isinstance(value, str) and not ALIAS_RE.fullmatch(value):
        raise ValueError(f"{value!r} is not a host name: letters, digits, '-', '_' and '.', starting and ending "
                         "with a letter or digit, at most 253 characters")
    return value


def check_data_name(value: Any) -> Any:
    if isinstance(value, str) and not DATA_NAME_RE.fullmatch(value):
        raise ValueError(f"{value!r} is not a volume name: 1-32 of a-z, 0-9, '-' and '_', starting with a letter "
                         "or digit")
    return value


_DOMAIN_RE = re.compile(r"(?=.{1,253}\.?$)(?:(?!-)[A-Za-z0-9_-]{1,63}(?<!-)\.)+[A-Za-z]{2,63}\.?")
_ZONE_ID_RE = re.compile(r"(?:/hostedzone/)?Z[A-Z0-9]{1,32}")


class DnsSpec(SpecModel):
    """The DNS record a migration moves traffic on (`liftshift cutover`): `name` in the Route 53 hosted zone
    `zone` (its name or id), pointing at the old server `old` (an IP address or a host name) before, and at
    the stack after. `ttl` is the record's TTL while traffic moves (lowered first, the original restored at
    the end)."""

    zone: str
    name: str
    old: str
    ttl: Int = Field(60, ge=1, le=86400)

    @field_validator("zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        if not (_ZONE_ID_RE.fullmatch(value) or _DOMAIN_RE.fullmatch(value)):
            raise ValueError("must be a Route 53 hosted zone: its name (example.com) or id (Z0123456789ABC)")
        return value

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _DOMAIN_RE.fullmatch(value):
            raise ValueError("must be a DNS name such as shop.example.com")
        return value

    @field_validator("old")
    @classmethod
    def _old(cls, value: str) -> str:
        try:
            ipaddress.ip_address(value)
            return value
        except ValueError:
            pass
        if not _DOMAIN_RE.fullmatch(value):
            raise ValueError("must be the old server's IP address (203.0.113.10) or host name (old.example.com)")
        return value

    @model_validator(mode="after")
    def _in_zone(self) -> "DnsSpec":
        if _DOMAIN_RE.fullmatch(self.zone) and not _ZONE_ID_RE.fullmatch(self.zone):
            zone = self.zone.rstrip(".").lower()
            name = self.name.rstrip(".").lower()
            if name != zone and not name.endswith("." + zone):
                raise ValueError(f"name {self.name} is not in the zone {self.zone}")
        if self.name.rstrip(".").lower() == self.old.rstrip(".").lower():
            raise ValueError("old must be the old server's own address or name, not the record being moved")
        return self
