"""The app.yaml schema (version 1): pydantic models of the stack, its services and their settings.

app.yaml is a public contract written by users, CI pipelines and tests, so field names here are
stable. pydantic does the type checking; a service's settings (build, health, instances...) are in
spec/settings.py and spec/runtime.py, the grammars of values in spec/grammar.py, loading
and error reporting in spec/load.py, the AWS limits in spec/limits.py.
"""

from __future__ import annotations

import posixpath
import re
from typing import Annotated, Any, Literal, Optional

from pydantic import BeforeValidator, Field, PrivateAttr, field_validator, model_serializer, model_validator

from .grammar import (ENV_NAME_RE, IMAGE_NAME_MAX, IMAGE_REF_RE, REGION_RE, char_problem, check_name,
                      parse_secret, parse_volume, stringify_map)
from .runtime import (DataVolumeSpec, DependsOnSpec, DnsSpec, PortItem, SecretFileItem, _depends_short, _port_short,
                      check_alias, check_data_name)
from .settings import (BuildSpec, HealthSpec, InstancesSpec, Int, LoadBalancerSpec, RolloutSpec, SecretRef, SpecModel,
                       VolumeSpec)

# Fields added after app.yaml v1 was first released: left out of a service's dump while empty, so the config
# hash (desired.config_hash) of a service that does not use them is what it was, and nothing is replaced.
_LATER_FIELDS = ("ports", "depends_on", "aliases", "secret_files", "data", "dns")


class ServiceSpec(SpecModel):
    build: Optional[BuildSpec] = None
    image: Optional[str] = Field(None, min_length=1, max_length=512)  # a Docker image reference
    port: Int = Field(ge=1, le=65535)
    publish: Optional[Int] = Field(None, ge=1, le=65535)
    # Every port, compose's way ("PUBLISH:CONTAINER" or CONTAINER); the first is the main one (health, load
    # balancer, ${service.NAME.port}). Instead of port/publish, which are the one-port form.
    ports: list[PortItem] = Field(default_factory=lambda: [])
    # Reachable only from the stack's other services: the instances' security group admits their security
    # groups on `publish` and no CIDR (plain true/false: a flag that closes a port takes no "yes").
    internal: bool = Field(False, strict=True)
    command: Optional[list[str]] = None
    env: dict[str, str] = Field(default_factory=lambda: {})
    health: Optional[HealthSpec] = None
    volumes: list[VolumeSpec] = Field(default_factory=lambda: [])
    instances: InstancesSpec = Field(default_factory=InstancesSpec)
    secrets: dict[str, SecretRef] = Field(default_factory=lambda: {})
    load_balancer: Optional[LoadBalancerSpec] = None
    rollout: RolloutSpec = Field(default_factory=RolloutSpec)
    # The services this one needs (compose's depends_on): launched first, reached by name from the container.
    depends_on: dict[str, DependsOnSpec] = Field(default_factory=lambda: {})
    # More names the stack's other services reach this one by (compose's network aliases).
    aliases: list[Annotated[str, BeforeValidator(check_alias)]] = Field(default_factory=lambda: [])
    # Secrets as files (default /run/secrets/NAME, mode 0400): NAME: REF, or NAME: {ref, path, mode, uid, gid}.
    secret_files: dict[str, SecretFileItem] = Field(default_factory=lambda: {})
    # Storage that outlives the instance (compose's named volumes): NAME: {path, size_gb}.
    data: dict[Annotated[str, BeforeValidator(check_data_name)], DataVolumeSpec] = Field(default_factory=lambda: {})
    # The DNS record a migration moves from the old server to this service (`liftshift cutover`).
    dns: Optional[DnsSpec] = None

    @model_validator(mode="before")
    @classmethod
    def _ports_form(cls, value: Any) -> Any:
        """`ports` alone: its first entry is the main port (port/publish)."""
        if not isinstance(value, dict) or "ports" not in value:
            return value
        if "port" in value or "publish" in value:
            raise ValueError("give port (and publish) or ports, not both: ports lists every port, the first is "
                             "the main one")
        ports = value["ports"]
        if not isinstance(ports, list) or not ports:
            return value  # the field reports its own type, or emptiness below
        try:
            first = _port_short(ports[0])
        except ValueError:
            return {**value, "port": 1}  # ports.0 reports the problem
        if isinstance(first, dict):
            value = {**value, "port": first.get("container")}
            if first.get("publish") is not None:
                value["publish"] = first["publish"]
        return value

    @model_serializer(mode="wrap")
    def _dump(self, handler) -> dict[str, Any]:
        data = handler(self)
        for name in _LATER_FIELDS:
            if not data.get(name):
                data.pop(name, None)
        return data

    @field_validator("ports")
    @classmethod
    def _distinct_ports(cls, value: list) -> list:
        published: set[int] = set()
        inside: set[int] = set()
        for port in value:
            if port.published in published:
                raise ValueError(f"publishes port {port.published} twice")
            if port.container in inside:
                raise ValueError(f"lists container port {port.container} twice")
            published.add(port.published)
            inside.add(port.container)
        return value

    @field_validator("depends_on", mode="before")
    @classmethod
    def _depends(cls, value: Any) -> Any:
        return _depends_short(value)

    @field_validator("aliases")
    @classmethod
    def _distinct_aliases(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("lists a name twice")
        return value

    @field_validator("secret_files")
    @classmethod
    def _secret_file_names(cls, value: dict) -> dict:
        for name in value:
            if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}", name):
                raise ValueError(f"{name!r} is not a secret file name: letters, digits, '_', '.' and '-', starting "
                                 "with a letter or digit")
        return value

    @field_validator("image")
    @classmethod
    def _image(cls, value: Optional[str]) -> Optional[str]:
        if value is None:
            return value
        match = IMAGE_REF_RE.fullmatch(value)
        if not match:
            raise ValueError("is not a Docker image reference such as nginx:1.27, registry.example.com:5000/team/app:v2"
                             " or name@sha256:<64 hex>: [host[:port]/]path (lower case)[:tag][@digest]")
        if len(match.group(1)) > IMAGE_NAME_MAX:
            raise ValueError(f"the image name is longer than Docker's {IMAGE_NAME_MAX} characters")
        return value

    @field_validator("command")
    @classmethod
    def _command_text(cls, value: Optional[list[str]]) -> Optional[list[str]]:
        for i, arg in enumerate(value or []):
            problem = char_problem(arg, free=True)
            if problem:
                raise ValueError(f"argument {i} {problem}")
        return value

    @field_validator("volumes")
    @classmethod
    def _distinct_mounts(cls, value: list["VolumeSpec"]) -> list["VolumeSpec"]:
        seen: set[str] = set()
        for volume in value:
            target = posixpath.normpath(volume.container)
            if target in seen:
                raise ValueError(f"two volumes mount onto {target} in the container (docker refuses duplicate "
                                 "mount points)")
            seen.add(target)
        return value

    @field_validator("secrets")
    @classmethod
    def _secrets(cls, value: dict[str, str]) -> dict[str, str]:
        for name, ref in value.items():
            if not ENV_NAME_RE.fullmatch(name):
                raise ValueError(f"{name!r} is not a valid environment variable name")
            parse_secret(ref)
        return value

    @field_validator("build", mode="before")
    @classmethod
    def _build_shorthand(cls, value: Any) -> Any:
        return {"context": value} if isinstance(value, str) else value

    @field_validator("env", mode="before")
    @classmethod
    def _env(cls, value: Any) -> Any:
        value = stringify_map(value)
        if isinstance(value, dict):
            for name, item in value.items():
                if not isinstance(name, str) or not ENV_NAME_RE.fullmatch(name):
                    raise ValueError(f"{name!r} is not a valid environment variable name")
                if isinstance(item, str) and char_problem(item, free=True):
                    raise ValueError(f"the value of {name} {char_problem(item, free=True)}")
        return value

    @field_validator("command", mode="before")
    @classmethod
    def _command(cls, value: Any) -> Any:
        if isinstance(value, str):
            raise ValueError('must be a list of arguments, e.g. ["httpd", "-f", "-p", "8080"]')
        if isinstance(value, list) and not value:
            raise ValueError("must not be empty (leave it out to use the image's command)")
        return value

    @field_validator("volumes", mode="before")
    @classmethod
    def _volumes(cls, value: Any) -> Any:
        if not isinstance(value, list):
            return value
        return [parse_volume(item) if isinstance(item, str) else item for item in value]

    @model_validator(mode="after")
    def _source(self) -> "ServiceSpec":
        if (self.build is None) == (self.image is None):
            raise ValueError("give exactly one of 'build' (a Dockerfile to build) or 'image' (an existing image)")
        both = sorted(set(self.env) & set(self.secrets))
        if both:
            raise ValueError(f"{both[0]} is in both env and secrets")
        if self.rollout.strategy == "blue-green" and self.load_balancer is None:
            raise ValueError("rollout.strategy blue-green needs a load_balancer (the switch happens there)")
        if self.rollout.strategy == "in-place" and self.load_balancer is not None:
            raise ValueError("rollout.strategy in-place is for services without a load_balancer; behind one, "
                             "releases go out blue-green")
        if self.load_balancer is not None and self.instances.subnets and len(self.instances.subnets) < 2:
            raise ValueError("a load_balancer needs instances.subnets in at least two availability zones")
        if self.data and (self.load_balancer is not None or self.instances.count > 1):
            raise ValueError("data volumes are for a single instance without a load_balancer (an EBS volume "
                             "attaches to one instance): set instances.count to 1, or keep the data elsewhere")
        mounts: dict[str, str] = {posixpath.normpath(v.container): "volumes" for v in self.volumes}
        for kind, paths in (("data", [d.path for d in self.data.values()]),
                            ("secret_files", [f.path or f"/run/secrets/{n}" for n, f in self.secret_files.items()])):
            for path in paths:
                target = posixpath.normpath(path)
                if target in mounts:
                    raise ValueError(f"{kind} and {mounts[target]} both mount onto {target} in the container")
                mounts[target] = kind
        return self

    @property
    def in_place(self) -> bool:
        return self.rollout.strategy == "in-place"

    @property
    def fleet(self) -> bool:
        """Behind a load balancer: an Auto Scaling group per release, rolled out blue-green."""
        return self.load_balancer is not None

    @property
    def published_port(self) -> int:
        return self.publish if self.publish is not None else self.port

    @property
    def extra_ports(self) -> list[tuple[int, int]]:
        """(published, container) of the ports besides the main one."""
        return [(p.published, p.container) for p in self.ports[1:]]

    def secret_file_path(self, name: str) -> str:
        return self.secret_files[name].path or f"/run/secrets/{name}"


def _no_bool(value: Any) -> Any:
    if isinstance(value, bool):  # true == 1 in Python
        raise ValueError("must be 1 (the only app.yaml version this liftshift reads)")
    return value


class AppSpec(SpecModel):
    version: Annotated[Literal[1], BeforeValidator(_no_bool)]
    name: str
    region: Optional[str] = None
    services: dict[str, ServiceSpec] = Field(min_length=1)
    _source: Any = PrivateAttr(default=None)  # the LocatedData it was read from, to name lines in later checks

    @field_validator("name")
    @classmethod
    def _stack_name(cls, value: str) -> str:
        return check_name(value, "the stack name")

    @field_validator("region")
    @classmethod
    def _region(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and not REGION_RE.fullmatch(value):
            raise ValueError("must be an AWS region such as eu-west-1")
        return value

    @field_validator("services")
    @classmethod
    def _service_names(cls, value: dict[str, ServiceSpec]) -> dict[str, ServiceSpec]:
        for name in value:
            check_name(name, f"service name {name!r}")
        return value


# Names other modules import from here; their homes are spec/load.py, spec/limits.py and spec/grammar.py.
