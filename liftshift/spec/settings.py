"""The settings inside a service in app.yaml: build, health, instances, load balancer, rollout, volumes. What a
compose app or a migration needs (ports, start order, secret files, data volumes, the DNS record) is in
spec/runtime.py.

Each is a pydantic model (spec/model.py assembles them into ServiceSpec and AppSpec); the grammars of
their values live in spec/grammar.py.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import (AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_serializer,
                      model_validator)

from .grammar import (AMI_ALIASES, AMI_ID_RE, ARM64_FAMILY_RE, BUILD_ARG_RE, BUILD_TARGET_RE,
                      CERTIFICATE_ARN_RE,
                      HEALTH_COMMAND_MAX, HTTP_PATH_RE, INSTANCE_TYPE_RE, KEY_NAME_RE, SUBNET_RE, char_problem,
                      parse_secret, partition, stringify_map, volume_path, whole_number)


class SpecModel(BaseModel):
    """Unknown keys are errors (a typo is never ignored); a loaded spec is immutable.

    An empty list or mapping defaults to `lambda: []` / `lambda: {}`, not `list` / `dict`: pydantic reads a
    default factory's signature, and a builtin's is parsed from text with tokenize (3-5 ms of every start)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _printable(value: Any, free: bool = False) -> Any:
    if isinstance(value, str):
        problem = char_problem(value, free)
        if problem:
            raise ValueError(problem)
    return value


Int = Annotated[int, BeforeValidator(whole_number)]


def _secret_ref(value: str) -> str:
    parse_secret(value)
    return value


SecretRef = Annotated[str, AfterValidator(_secret_ref)]  # errors name the secret's own key


def _cidrs(values: list[str]) -> list[str]:
    out = []
    for value in values:
        try:
            out.append(str(ipaddress.ip_network(value, strict=True)))
        except ValueError:
            raise ValueError(f"{value!r} is not a CIDR block such as 203.0.113.0/24 (host bits must be zero)") from None
    return out


def _url_path(value: str) -> str:
    if not HTTP_PATH_RE.fullmatch(value):
        raise ValueError("must start with '/' and contain no spaces, control or non-ASCII characters (e.g. /healthz; "
                         "percent-encode anything else)")
    return value


class BuildSpec(SpecModel):
    context: str = Field(min_length=1)
    dockerfile: str = Field("Dockerfile", min_length=1)
    args: dict[str, str] = Field(default_factory=lambda: {})
    target: Optional[str] = None

    @field_validator("args", mode="before")
    @classmethod
    def _stringify(cls, value: Any) -> Any:
        value = stringify_map(value)
        if isinstance(value, dict):
            for name, item in value.items():
                if not isinstance(name, str) or not BUILD_ARG_RE.fullmatch(name):
                    raise ValueError(f"{name!r} is not a build argument name (letters, digits, '_', '.', '-')")
                if isinstance(item, str) and char_problem(item, free=True):
                    raise ValueError(f"the value of {name} {char_problem(item, free=True)}")
        return value

    @field_validator("context", "dockerfile")
    @classmethod
    def _path(cls, value: str) -> str:
        return _printable(value)

    @field_validator("target")
    @classmethod
    def _target(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and not BUILD_TARGET_RE.fullmatch(value):
            raise ValueError("must be a Dockerfile stage name (a letter, then letters, digits, '_', '.' or '-')")
        return value


class HealthSpec(SpecModel):
    """The container's own health check (docker run --health-*): an HTTP GET of `path` inside the container, or
    `command` for services that do not speak HTTP (compose's healthcheck.test): a list is the exec form (CMD),
    a string the shell form (CMD-SHELL, run with sh -c). A load balancer's target-group check is separate
    (load_balancer.health)."""

    path: str = "/"
    command: Optional[Union[list[str], str]] = None
    interval: Int = Field(10, ge=1, le=3600)
    timeout: Int = Field(5, ge=1, le=3600)
    retries: Int = Field(3, ge=1, le=100)
    start_period: Int = Field(30, ge=0, le=3600)

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        return _url_path(value)

    @field_validator("command", mode="before")
    @classmethod
    def _command_shape(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            raise ValueError('must not be empty: a list such as ["pg_isready", "-U", "app"] or a shell command '
                             'such as "redis-cli ping | grep -q PONG" (leave it out to check health.path)')
        if isinstance(value, list):
            if not value:
                raise ValueError('must not be empty: a list such as ["pg_isready", "-U", "app"] (leave it out to '
                                 "check health.path)")
            for i, item in enumerate(value):
                if not isinstance(item, str):
                    raise ValueError(f"argument {i} must be a string, got {type(item).__name__}")
            if not value[0].strip():
                raise ValueError("the program (the list's first item) must not be empty")
        elif value is not None and not isinstance(value, str):
            raise ValueError('must be a list of arguments (exec form, e.g. ["pg_isready", "-U", "app"]) or a string '
                             '(shell form, run with sh -c)')
        return value

    @field_validator("command")
    @classmethod
    def _command_text(cls, value: Optional[Union[list[str], str]]) -> Optional[Union[list[str], str]]:
        items = [value] if isinstance(value, str) else (value or [])
        for i, item in enumerate(items):
            problem = char_problem(item)
            if problem:
                raise ValueError(problem if isinstance(value, str) else f"argument {i} {problem}")
        size = len(value) if isinstance(value, str) else sum(len(item) + 1 for item in items)
        if size > HEALTH_COMMAND_MAX:
            raise ValueError(f"is {size} characters long; at most {HEALTH_COMMAND_MAX} (put a longer check in a "
                             "script in the image)")
        return value

    @model_validator(mode="after")
    def _one_check(self) -> "HealthSpec":
        if self.command is not None and "path" in self.model_fields_set:
            raise ValueError("give health.path (an HTTP check) or health.command, not both")
        return self

    @model_serializer(mode="wrap")
    def _dump(self, handler) -> dict[str, Any]:
        # Without a command the settings dump as they did before the field existed: the config hash (which
        # hashes them) of a service without one does not change.
        data = handler(self)
        if self.command is None:
            data.pop("command", None)
        return data


class InstancesSpec(SpecModel):
    type: str = "t3.micro"
    count: Int = Field(1, ge=0, le=100)
    ami: str = "al2023"
    disk_gb: Int = Field(8, ge=8, le=16384)
    ingress: list[str] = Field(default_factory=lambda: ["0.0.0.0/0"])
    subnets: list[str] = Field(default_factory=lambda: [])
    key_name: Optional[str] = Field(None, min_length=1, max_length=255)
    ssh_ingress: list[str] = Field(default_factory=lambda: [])
    # The containers may use the instance role (IMDS hop limit 2); by default only the host reaches it.
    container_credentials: bool = False

    @field_validator("type")
    @classmethod
    def _type(cls, value: str) -> str:
        if not INSTANCE_TYPE_RE.fullmatch(value) or len(value) > 64:
            raise ValueError("must be an EC2 instance type such as t3.micro")
        return value

    @field_validator("ami")
    @classmethod
    def _ami(cls, value: str) -> str:
        if value not in AMI_ALIASES and not AMI_ID_RE.fullmatch(value):
            raise ValueError(f"must be one of {', '.join(AMI_ALIASES)} or an AMI id such as ami-0123456789abcdef0")
        return value

    @field_validator("ingress", "ssh_ingress")
    @classmethod
    def _cidr_list(cls, value: list[str]) -> list[str]:
        return _cidrs(value)

    @field_validator("key_name")
    @classmethod
    def _key_name(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and not KEY_NAME_RE.fullmatch(value):
            raise ValueError("must be an EC2 key pair name: up to 255 printable ASCII characters")
        return value

    @field_validator("subnets")
    @classmethod
    def _subnets(cls, value: list[str]) -> list[str]:
        for subnet in value:
            if not SUBNET_RE.fullmatch(subnet):
                raise ValueError(f"{subnet!r} is not a subnet id such as subnet-0123456789abcdef0")
        if len(set(value)) != len(value):
            raise ValueError("lists a subnet twice")
        return value

    @property
    def arch(self) -> str:
        """arm64 for Graviton families (t4g, m7g, c7gn, a1...), else x86_64."""
        family = self.type.split(".", 1)[0]
        return "arm64" if family == "a1" or ARM64_FAMILY_RE.fullmatch(family) else "x86_64"


class TargetHealthSpec(SpecModel):
    """The load balancer's health check of each instance (an ALB target group's settings)."""

    path: str = Field("/", max_length=100)
    interval: Int = Field(10, ge=5, le=300)
    healthy: Int = Field(2, ge=2, le=10)
    unhealthy: Int = Field(3, ge=2, le=10)
    timeout: Int = Field(5, ge=2, le=120)

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        return _url_path(value)

    @model_validator(mode="after")
    def _timeout_below_interval(self) -> "TargetHealthSpec":
        if self.timeout >= self.interval:
            raise ValueError("timeout must be shorter than interval (an ALB rule)")
        return self


class LoadBalancerSpec(SpecModel):
    port: Optional[Int] = Field(None, ge=1, le=65535)  # default: 443 with a certificate, else 80
    certificate_arn: Optional[str] = Field(None, min_length=20, max_length=200)
    health: TargetHealthSpec = Field(default_factory=TargetHealthSpec)

    @field_validator("certificate_arn")
    @classmethod
    def _certificate(cls, value: Optional[str]) -> Optional[str]:
        if value is None:
            return value
        match = CERTIFICATE_ARN_RE.fullmatch(value)
        if not match:
            raise ValueError("must be an ACM certificate ARN such as arn:aws:acm:eu-west-1:123456789012:certificate/...")
        if match.group(1) != partition(match.group(2)):
            raise ValueError(f"names region {match.group(2)} in partition {match.group(1)}, which does not hold it "
                             f"(expected arn:{partition(match.group(2))}:acm:...)")
        return value

    @property
    def certificate_region(self) -> Optional[str]:
        match = CERTIFICATE_ARN_RE.fullmatch(self.certificate_arn or "")
        return match.group(2) if match else None

    @property
    def listener_port(self) -> int:
        return self.port if self.port is not None else (443 if self.certificate_arn else 80)

    @property
    def protocol(self) -> str:
        return "HTTPS" if self.certificate_arn else "HTTP"


class RolloutSpec(SpecModel):
    # Default: blue-green with a load balancer; without one, instances are replaced (new first) unless
    # in-place: the containers on the existing instances are updated one at a time (SSM Run Command).
    strategy: Optional[Literal["blue-green", "in-place"]] = None
    timeout: Int = Field(600, ge=30, le=1200)  # within the deploy lock's 30 minutes
    keep: Int = Field(5, ge=2, le=50)


class VolumeSpec(SpecModel):
    host: str
    container: str
    read_only: bool = False

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        return volume_path(value, "host")

    @field_validator("container")
    @classmethod
    def _container(cls, value: str) -> str:
        return volume_path(value, "container")
