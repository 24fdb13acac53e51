"""The app.yaml schema (version 1) and loading it with errors that name file, line and key.

app.yaml is a public contract written by users, CI pipelines and tests, so field
names here are stable. pydantic does the type checking; unknown keys are found
first by walking the data beside the models, so the message can say "did you
mean" and point at the key's own line.
"""

from __future__ import annotations

import datetime
import difflib
import ipaddress
import re
from pathlib import Path
from typing import Any, Literal, Optional, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .yamlsource import LocatedData, SourceError, load_yaml

NAME_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$")
ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
INSTANCE_TYPE_RE = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")
AMI_ID_RE = re.compile(r"^ami-[0-9a-f]{8,17}$")
SUBNET_RE = re.compile(r"^subnet-[0-9a-f]{8,17}$")
REGION_RE = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")
ARM64_FAMILY_RE = re.compile(r"^[a-z]+\d+g[a-z]*$")
SSM_SECRET_RE = re.compile(r"^ssm:(/?[A-Za-z0-9_.\-/]{1,1011})$")
CERTIFICATE_ARN_RE = re.compile(r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[A-Za-z0-9-]+$")
SM_SECRET_RE = re.compile(r"^secretsmanager:([A-Za-z0-9/_+=.@\-]{1,512})(?::([A-Za-z0-9_.\-]{1,256}))?$")

AMI_ALIASES = {
    "al2023": "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-{arch}",
    "ecs-al2023": "/aws/service/ecs/optimized-ami/amazon-linux-2023/{ecs_arch}recommended/image_id",
}


class SpecError(SourceError):
    """Bad input in app.yaml: exit code 2, nothing created."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _name(value: str, what: str) -> str:
    if not isinstance(value, str) or not NAME_RE.match(value):
        raise ValueError(
            f"{what} must be 1-32 characters of a-z, 0-9 and '-', starting and ending with a letter or digit"
        )
    return value


def _cidrs(values: list[str]) -> list[str]:
    out = []
    for value in values:
        try:
            out.append(str(ipaddress.ip_network(value, strict=True)))
        except ValueError:
            raise ValueError(f"{value!r} is not a CIDR block such as 203.0.113.0/24 (host bits must be zero)") from None
    return out


def _url_path(value: str) -> str:
    if not value.startswith("/") or any(c.isspace() for c in value):
        raise ValueError("must start with '/' and contain no spaces")
    return value


class BuildSpec(_Model):
    context: str = Field(min_length=1)
    dockerfile: str = "Dockerfile"
    args: dict[str, str] = Field(default_factory=dict)
    target: Optional[str] = None

    @field_validator("args", mode="before")
    @classmethod
    def _stringify(cls, value: Any) -> Any:
        return _stringify_map(value)


class HealthSpec(_Model):
    path: str = "/"
    interval: int = Field(10, ge=1, le=3600)
    timeout: int = Field(5, ge=1, le=3600)
    retries: int = Field(3, ge=1, le=100)
    start_period: int = Field(30, ge=0, le=3600)

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        return _url_path(value)


class InstancesSpec(_Model):
    type: str = "t3.micro"
    count: int = Field(1, ge=0, le=100)
    ami: str = "al2023"
    disk_gb: int = Field(8, ge=8, le=16384)
    ingress: list[str] = Field(default_factory=lambda: ["0.0.0.0/0"])
    subnets: list[str] = Field(default_factory=list)
    key_name: Optional[str] = Field(None, min_length=1, max_length=255)
    ssh_ingress: list[str] = Field(default_factory=list)

    @field_validator("type")
    @classmethod
    def _type(cls, value: str) -> str:
        if not INSTANCE_TYPE_RE.match(value):
            raise ValueError("must be an EC2 instance type such as t3.micro")
        return value

    @field_validator("ami")
    @classmethod
    def _ami(cls, value: str) -> str:
        if value not in AMI_ALIASES and not AMI_ID_RE.match(value):
            raise ValueError(f"must be one of {', '.join(AMI_ALIASES)} or an AMI id such as ami-0123456789abcdef0")
        return value

    @field_validator("ingress", "ssh_ingress")
    @classmethod
    def _cidr_list(cls, value: list[str]) -> list[str]:
        return _cidrs(value)

    @field_validator("subnets")
    @classmethod
    def _subnets(cls, value: list[str]) -> list[str]:
        for subnet in value:
            if not SUBNET_RE.match(subnet):
                raise ValueError(f"{subnet!r} is not a subnet id such as subnet-0123456789abcdef0")
        if len(set(value)) != len(value):
            raise ValueError("lists a subnet twice")
        return value

    @property
    def arch(self) -> str:
        """arm64 for Graviton families (t4g, m7g, c7gn, a1...), else x86_64."""
        family = self.type.split(".", 1)[0]
        return "arm64" if family == "a1" or ARM64_FAMILY_RE.match(family) else "x86_64"


class TargetHealthSpec(_Model):
    """The load balancer's health check of each instance (an ALB target group's settings)."""

    path: str = Field("/", max_length=100)
    interval: int = Field(10, ge=5, le=300)
    healthy: int = Field(2, ge=2, le=10)
    unhealthy: int = Field(3, ge=2, le=10)
    timeout: int = Field(5, ge=2, le=120)

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        return _url_path(value)

    @model_validator(mode="after")
    def _timeout_below_interval(self) -> "TargetHealthSpec":
        if self.timeout >= self.interval:
            raise ValueError("timeout must be shorter than interval (an ALB rule)")
        return self


class LoadBalancerSpec(_Model):
    port: Optional[int] = Field(None, ge=1, le=65535)  # default: 443 with a certificate, else 80
    certificate_arn: Optional[str] = Field(None, min_length=20, max_length=200)
    health: TargetHealthSpec = Field(default_factory=TargetHealthSpec)

    @field_validator("certificate_arn")
    @classmethod
    def _certificate(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and not CERTIFICATE_ARN_RE.match(value):
            raise ValueError("must be an ACM certificate ARN such as arn:aws:acm:eu-west-1:123456789012:certificate/...")
        return value

    @property
    def listener_port(self) -> int:
        return self.port if self.port is not None else (443 if self.certificate_arn else 80)

    @property
    def protocol(self) -> str:
        return "HTTPS" if self.certificate_arn else "HTTP"


class RolloutSpec(_Model):
    # Default: blue-green with a load balancer; without one, instances are replaced (new first) unless
    # in-place: the containers on the existing instances are updated one at a time (SSM Run Command).
    strategy: Optional[Literal["blue-green", "in-place"]] = None
    timeout: int = Field(600, ge=30, le=1200)  # within the deploy lock's 30 minutes
    keep: int = Field(5, ge=2, le=50)



class VolumeSpec(_Model):
    host: str
    container: str
    read_only: bool = False


class ServiceSpec(_Model):
    build: Optional[BuildSpec] = None
    image: Optional[str] = Field(None, min_length=1, max_length=512)
    port: int = Field(ge=1, le=65535)
    publish: Optional[int] = Field(None, ge=1, le=65535)
    command: Optional[list[str]] = None
    env: dict[str, str] = Field(default_factory=dict)
    health: Optional[HealthSpec] = None
    volumes: list[VolumeSpec] = Field(default_factory=list)
    instances: InstancesSpec = Field(default_factory=InstancesSpec)
    secrets: dict[str, str] = Field(default_factory=dict)
    load_balancer: Optional[LoadBalancerSpec] = None
    rollout: RolloutSpec = Field(default_factory=RolloutSpec)

    @field_validator("secrets")
    @classmethod
    def _secrets(cls, value: dict[str, str]) -> dict[str, str]:
        for name, ref in value.items():
            if not ENV_NAME_RE.match(name):
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
        value = _stringify_map(value)
        if isinstance(value, dict):
            for name in value:
                if not isinstance(name, str) or not ENV_NAME_RE.match(name):
                    raise ValueError(f"{name!r} is not a valid environment variable name")
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
        return [_parse_volume(item) if isinstance(item, str) else item for item in value]

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


class AppSpec(_Model):
    version: Literal[1]
    name: str
    region: Optional[str] = None
    services: dict[str, ServiceSpec] = Field(min_length=1)

    @field_validator("name")
    @classmethod
    def _stack_name(cls, value: str) -> str:
        return _name(value, "the stack name")

    @field_validator("region")
    @classmethod
    def _region(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and not REGION_RE.match(value):
            raise ValueError("must be an AWS region such as eu-west-1")
        return value

    @field_validator("services")
    @classmethod
    def _service_names(cls, value: dict[str, ServiceSpec]) -> dict[str, ServiceSpec]:
        for name in value:
            _name(name, f"service name {name!r}")
        return value


def parse_secret(ref: str) -> tuple[str, str, str | None]:
    """("ssm", parameter name, None) or ("secretsmanager", secret name, json key or None)."""
    if isinstance(ref, str):
        match = SSM_SECRET_RE.match(ref)
        if match:
            return "ssm", match.group(1), None
        match = SM_SECRET_RE.match(ref)
        if match:
            return "secretsmanager", match.group(1), match.group(2)
    raise ValueError(f"{ref!r} must be 'ssm:/parameter/name' or 'secretsmanager:secret-name[:json-key]'")


def _stringify_map(value: Any) -> Any:
    """YAML turns `DEBUG: true` into a bool; env and build args are strings."""
    if not isinstance(value, dict):
        return value
    out = {}
    for key, item in value.items():
        if isinstance(item, bool):
            item = "true" if item else "false"
        elif isinstance(item, (datetime.date, datetime.datetime)):
            item = item.isoformat()
        elif isinstance(item, (int, float)):
            item = str(item)
        out[key] = item
    return out


def _parse_volume(text: str) -> dict[str, Any]:
    parts = text.split(":")
    if len(parts) == 3 and parts[2] in ("ro", "rw"):
        host, container, mode = parts
    elif len(parts) == 2:
        (host, container), mode = parts, "rw"
    else:
        raise ValueError(f"{text!r} must be 'HOST_PATH:CONTAINER_PATH' with an optional ':ro'")
    for path in (host, container):
        if not path.startswith("/") or "\n" in path or "\0" in path:
            raise ValueError(f"{text!r}: both paths must be absolute, e.g. /srv/shop:/data")
    return {"host": host, "container": container, "read_only": mode == "ro"}


# --- loading -----------------------------------------------------------------


def load_spec(path: Path | str) -> tuple[AppSpec, Path]:
    """Load and check app.yaml; returns the spec and the file's directory.

    Raises SpecError naming the file, line and key path for any problem,
    including build contexts and Dockerfiles that do not exist.
    """
    path = Path(path)
    try:
        located = load_yaml(path, str(path))
    except SourceError as exc:
        raise SpecError(exc.file, exc.line, exc.path, exc.message) from None
    if not isinstance(located.data, dict):
        raise SpecError(located.file, 1, (), "must be a mapping with version, name and services")
    _check_unknown_keys(located, located.data, AppSpec, ())
    try:
        spec = AppSpec.model_validate(located.data)
    except ValidationError as exc:
        raise _first_error(located, exc) from None
    base = path.resolve().parent
    _check_build_contexts(located, spec, base)
    _check_references(located, spec)
    _check_resource_names(located, spec)
    return spec, base


def _first_error(located: LocatedData, exc: ValidationError) -> SpecError:
    errors = sorted(exc.errors(), key=lambda e: located.line_of(_clean_loc(e["loc"])) or 0)
    err = errors[0]
    loc = _clean_loc(err["loc"])
    message = err["msg"]
    if message.startswith("Value error, "):
        message = message[len("Value error, "):]
    if err["type"] == "missing":
        message = "is required"
    elif err["type"] == "literal_error" and loc == ("version",):
        message = "must be 1 (the only app.yaml version this liftshift reads)"
    elif "input" in err and err["type"] not in ("missing",) and not isinstance(err["input"], (dict, list)):
        message = f"{message} (got {err['input']!r})"[:300]
    more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
    return SpecError(located.file, located.line_of(loc), loc, message + more)


def _clean_loc(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    # pydantic adds the name of a model-level validator's model to some locations
    return tuple(part for part in loc if part not in ("function-after[_source()]",))


def _check_unknown_keys(located: LocatedData, data: Any, model: type[BaseModel], path: tuple) -> None:
    if not isinstance(data, dict):
        return
    fields = model.model_fields
    for key, value in data.items():
        if key not in fields:
            hint = difflib.get_close_matches(str(key), list(fields), n=1, cutoff=0.6)
            suggestion = f" (did you mean {hint[0]!r}?)" if hint else f" (allowed: {', '.join(fields)})"
            raise SpecError(located.file, located.line_of(path + (key,)), path + (key,), "unknown field" + suggestion)
        inner = _model_of(fields[key].annotation)
        if inner is None:
            continue
        kind, sub = inner
        if kind == "model":
            _check_unknown_keys(located, value, sub, path + (key,))
        elif kind == "dict" and isinstance(value, dict):
            for name, item in value.items():
                _check_unknown_keys(located, item, sub, path + (key, name))
        elif kind == "list" and isinstance(value, list):
            for i, item in enumerate(value):
                _check_unknown_keys(located, item, sub, path + (key, i))


def _model_of(annotation: Any) -> tuple[str, type[BaseModel]] | None:
    origin = get_origin(annotation)
    if origin is Union:
        for arg in get_args(annotation):
            found = _model_of(arg)
            if found:
                return found
        return None
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return ("model", annotation)
    if origin is dict:
        sub = get_args(annotation)[1]
        if isinstance(sub, type) and issubclass(sub, BaseModel):
            return ("dict", sub)
    if origin is list:
        sub = get_args(annotation)[0]
        if isinstance(sub, type) and issubclass(sub, BaseModel):
            return ("list", sub)
    return None


def repository_root(base: Path) -> Path:
    """The git work tree holding app.yaml, else app.yaml's own directory."""
    for candidate in (base, *base.parents):
        if (candidate / ".git").exists():
            return candidate
    return base


def _check_build_contexts(located: LocatedData, spec: AppSpec, base: Path) -> None:
    root = repository_root(base)
    for name, service in spec.services.items():
        if service.build is None:
            continue
        where = ("services", name, "build")
        context = (base / service.build.context).resolve()
        if not context.is_relative_to(root):
            raise SpecError(located.file, located.line_of(where), where,
                            f"build context {service.build.context!r} leads outside {root}")
        if not context.is_dir():
            raise SpecError(located.file, located.line_of(where), where,
                            f"build context {service.build.context!r} is not a directory ({context})")
        dockerfile = (context / service.build.dockerfile).resolve()
        if not dockerfile.is_relative_to(context) and not dockerfile.is_relative_to(root):
            raise SpecError(located.file, located.line_of(where), where,
                            f"dockerfile {service.build.dockerfile!r} leads outside {root}")
        if not dockerfile.is_file():
            raise SpecError(located.file, located.line_of(where), where,
                            f"no Dockerfile: {dockerfile} does not exist")


PEER_REF_RE = re.compile(r"\$\{service\.([^.}]*)\.([^}]*)\}")


def peers_of(service: ServiceSpec) -> list[str]:
    """Services named in env values as ${service.NAME.url|host|port}, in order of first use."""
    found: list[str] = []
    for value in service.env.values():
        for match in PEER_REF_RE.finditer(value):
            if match.group(1) not in found:
                found.append(match.group(1))
    return found


def service_order(spec: AppSpec) -> list[str]:
    """Services with every peer before the services that call it (references are acyclic)."""
    order: list[str] = []
    def visit(name: str) -> None:
        if name not in order:
            for peer in peers_of(spec.services[name]):
                visit(peer)
            order.append(name)
    for name in spec.services:
        visit(name)
    return order


def _check_references(located: LocatedData, spec: AppSpec) -> None:
    for name, service in spec.services.items():
        for key, value in service.env.items():
            where = ("services", name, "env", key)
            for match in PEER_REF_RE.finditer(value):
                peer, field = match.group(1), match.group(2)
                if field not in ("url", "host", "port"):
                    raise SpecError(located.file, located.line_of(where), where,
                                    f"{match.group(0)}: use .url, .host or .port")
                if peer not in spec.services:
                    raise SpecError(located.file, located.line_of(where), where,
                                    f"{match.group(0)} names no service of this stack ({', '.join(spec.services)})")
                if peer == name:
                    raise SpecError(located.file, located.line_of(where), where,
                                    f"{match.group(0)}: a service cannot call itself this way")
    state: dict[str, str] = {}

    def visit(name: str, trail: list[str]) -> None:
        if state.get(name) == "done":
            return
        if state.get(name) == "active":
            cycle = trail[trail.index(name):] + [name]
            where = ("services", cycle[0], "env")
            raise SpecError(located.file, located.line_of(where), where,
                            "services call each other in a cycle: " + " -> ".join(cycle))
        state[name] = "active"
        for peer in peers_of(spec.services[name]):
            visit(peer, trail + [name])
        state[name] = "done"

    for name in spec.services:
        visit(name, [])


def _check_resource_names(located: LocatedData, spec: AppSpec) -> None:
    """No two services of the stack may make resources of one name (names.shared_name)."""
    from .names import shared_name

    found = shared_name(spec.name, {n: s.load_balancer is not None for n, s in spec.services.items()})
    if found is not None:
        kind, name, first, second = found
        where = ("services", second)
        raise SpecError(located.file, located.line_of(where), where,
                        f"would make the {kind} {name!r}, which service {first!r} makes too: rename one of them")
