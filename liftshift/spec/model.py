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
import os
import posixpath
import re
from pathlib import Path
from typing import Annotated, Any, Callable, Literal, Optional, Union, get_args, get_origin

from pydantic import (AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, ValidationError,
                      field_validator, model_validator)

from .yamlsource import LocatedData, SourceError, load_yaml

# Every pattern is used with fullmatch: `$` in re.match also matches before a final newline.
NAME_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?")
ENV_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
INSTANCE_TYPE_RE = re.compile(r"[a-z][a-z0-9-]*\.[a-z0-9]+")
AMI_ID_RE = re.compile(r"ami-[0-9a-f]{8,17}")
SUBNET_RE = re.compile(r"subnet-[0-9a-f]{8,17}")
REGION_RE = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")
ARM64_FAMILY_RE = re.compile(r"[a-z]+\d+g[a-z]*")
SSM_SECRET_RE = re.compile(r"ssm:(.*)", re.DOTALL)
SSM_NAME_RE = re.compile(r"/?[A-Za-z0-9_.\-]+(?:/[A-Za-z0-9_.\-]+)*")
SSM_NAME_MAX = 1011  # AWS: the fully qualified name, counting the ARN before it (arn:aws:ssm:REGION:ACCOUNT:parameter/)
SSM_MAX_LEVELS = 15
CERTIFICATE_ARN_RE = re.compile(r"arn:(aws(?:-[a-z]+)*):acm:([a-z]{2}(?:-[a-z]+)+-\d{1,2}):(\d{12}):"
                                r"certificate/[A-Za-z0-9-]+")
SM_SECRET_RE = re.compile(r"secretsmanager:([A-Za-z0-9/_+=.@\-]{1,512})(?::([A-Za-z0-9_.\-]{1,256}))?")
KEY_NAME_RE = re.compile(r"[\x20-\x7e]{1,255}")  # EC2: up to 255 ASCII characters
HTTP_PATH_RE = re.compile(r"/[\x21-\x7e]*")  # an HTTP request path: printable ASCII, no spaces (render.py's rule)
BUILD_TARGET_RE = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,127}")  # a Dockerfile stage name
BUILD_ARG_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,255}")
DECIMAL_RE = re.compile(r"[-+]?(?:0|[1-9][0-9]*)")
# Docker's image reference grammar (distribution/reference): [host[:port]/]path[:tag][@digest].
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[0-9a-fA-F:]+\])(?::[0-9]{{1,5}})?"
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
IMAGE_NAME_RE = re.compile(rf"(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*")
IMAGE_REF_RE = re.compile(rf"({IMAGE_NAME_RE.pattern})(?::([\w][\w.-]{{0,127}}))?"
                          r"(?:@(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128}))?")
IMAGE_NAME_MAX = 255
SSH_PORT = 22
SG_RULES_PER_FAMILY = 60  # EC2's default quota of inbound rules per security group, IPv4 and IPv6 each

AMI_ALIASES = {
    "al2023": "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-{arch}",
    "ecs-al2023": "/aws/service/ecs/optimized-ami/amazon-linux-2023/{ecs_arch}recommended/image_id",
}


class SpecError(SourceError):
    """Bad input in app.yaml: exit code 2, nothing created."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# No control characters (C0, DEL, C1), line/paragraph separators or lone surrogates (which cannot be encoded)
# in names, paths and other settings. Free text (env values, build args, command arguments) reaches the
# container byte for byte through the user-data's quoting (tests/test_shell_safety.py), so it may hold any
# character but NUL (no argv or environment entry can carry one) and lone surrogates.
CONTROL_RE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
FREE_TEXT_BAD_RE = re.compile("[\x00\ud800-\udfff]")


def _char_problem(text: str, free: bool = False) -> str | None:
    """Why `text` cannot be used: a control character (in free text only NUL), else None."""
    found = (FREE_TEXT_BAD_RE if free else CONTROL_RE).search(text)
    if found is None:
        return None
    char = found.group(0)
    what = "a NUL character" if char == "\0" else ("a lone surrogate" if "\ud800" <= char <= "\udfff"
                                                  else "a control character")
    return f"contains {what} (U+{ord(char):04X})" + ("" if free else "; only printable text is allowed here")


def _printable(value: Any, free: bool = False) -> Any:
    if isinstance(value, str):
        problem = _char_problem(value, free)
        if problem:
            raise ValueError(problem)
    return value


def _whole_number(value: Any) -> Any:
    """An integer field takes an integer as written: `true` is not 1, `'0022'`, `22:22` and `1e3` are
    refused (YAML 1.1 and 1.2 read them differently); a quoted decimal such as '8080' and a whole
    number such as 80.0 are accepted as before."""
    if isinstance(value, bool):
        raise ValueError("must be an integer, not true or false")
    if isinstance(value, float):
        if value.is_integer():
            return int(value)  # 80.0, as before
        raise ValueError("must be an integer, got a number with a fractional part")
    if isinstance(value, str):
        if DECIMAL_RE.fullmatch(value):
            return int(value)
        if re.fullmatch(r"[-+]?0o[0-7]+|[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)[eE][-+]?[0-9]+", value):
            raise ValueError("is a number in YAML 1.2 but a string in YAML 1.1: write the integer in decimal")
        if re.fullmatch(r"[-+]?0[0-9]+", value):
            raise ValueError("must be an integer without leading zeros (0022 is octal 18 in YAML 1.1, 22 in "
                             "YAML 1.2): write 22, or 0o22 for octal")
        raise ValueError("must be an integer such as 8080")
    return value


Int = Annotated[int, BeforeValidator(_whole_number)]


def _secret_ref(value: str) -> str:
    parse_secret(value)
    return value


SecretRef = Annotated[str, AfterValidator(_secret_ref)]  # errors name the secret's own key


def _name(value: str, what: str) -> str:
    if not isinstance(value, str) or not NAME_RE.fullmatch(value):
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
    if not HTTP_PATH_RE.fullmatch(value):
        raise ValueError("must start with '/' and contain no spaces, control or non-ASCII characters (e.g. /healthz; "
                         "percent-encode anything else)")
    return value


def _volume_path(path: Any, what: str) -> Any:
    """What render.py demands of a bind mount's paths (and docker of its -v spec), checked here first."""
    if not isinstance(path, str):
        return path  # pydantic reports the type
    if not path.startswith("/"):
        raise ValueError(f"the {what} path {path!r} must be absolute, e.g. /srv/shop:/data")
    if ":" in path:
        raise ValueError(f"the {what} path {path!r} must not contain ':' (it separates docker's -v fields)")
    problem = _char_problem(path)
    if problem:
        raise ValueError(f"the {what} path {path!r} {problem}")
    if what == "container" and posixpath.normpath(path).strip("/") == "":
        raise ValueError(f"the container path {path!r} is the container's root: a volume cannot replace '/'")
    return path


class BuildSpec(_Model):
    context: str = Field(min_length=1)
    dockerfile: str = Field("Dockerfile", min_length=1)
    args: dict[str, str] = Field(default_factory=dict)
    target: Optional[str] = None

    @field_validator("args", mode="before")
    @classmethod
    def _stringify(cls, value: Any) -> Any:
        value = _stringify_map(value)
        if isinstance(value, dict):
            for name, item in value.items():
                if not isinstance(name, str) or not BUILD_ARG_RE.fullmatch(name):
                    raise ValueError(f"{name!r} is not a build argument name (letters, digits, '_', '.', '-')")
                if isinstance(item, str) and _char_problem(item, free=True):
                    raise ValueError(f"the value of {name} {_char_problem(item, free=True)}")
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


class HealthSpec(_Model):
    path: str = "/"
    interval: Int = Field(10, ge=1, le=3600)
    timeout: Int = Field(5, ge=1, le=3600)
    retries: Int = Field(3, ge=1, le=100)
    start_period: Int = Field(30, ge=0, le=3600)

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        return _url_path(value)


class InstancesSpec(_Model):
    type: str = "t3.micro"
    count: Int = Field(1, ge=0, le=100)
    ami: str = "al2023"
    disk_gb: Int = Field(8, ge=8, le=16384)
    ingress: list[str] = Field(default_factory=lambda: ["0.0.0.0/0"])
    subnets: list[str] = Field(default_factory=list)
    key_name: Optional[str] = Field(None, min_length=1, max_length=255)
    ssh_ingress: list[str] = Field(default_factory=list)
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


class TargetHealthSpec(_Model):
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


class LoadBalancerSpec(_Model):
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
        if match.group(1) != _partition(match.group(2)):
            raise ValueError(f"names region {match.group(2)} in partition {match.group(1)}, which does not hold it "
                             f"(expected arn:{_partition(match.group(2))}:acm:...)")
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


class RolloutSpec(_Model):
    # Default: blue-green with a load balancer; without one, instances are replaced (new first) unless
    # in-place: the containers on the existing instances are updated one at a time (SSM Run Command).
    strategy: Optional[Literal["blue-green", "in-place"]] = None
    timeout: Int = Field(600, ge=30, le=1200)  # within the deploy lock's 30 minutes
    keep: Int = Field(5, ge=2, le=50)



class VolumeSpec(_Model):
    host: str
    container: str
    read_only: bool = False

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        return _volume_path(value, "host")

    @field_validator("container")
    @classmethod
    def _container(cls, value: str) -> str:
        return _volume_path(value, "container")


class ServiceSpec(_Model):
    build: Optional[BuildSpec] = None
    image: Optional[str] = Field(None, min_length=1, max_length=512)  # a Docker image reference
    port: Int = Field(ge=1, le=65535)
    publish: Optional[Int] = Field(None, ge=1, le=65535)
    command: Optional[list[str]] = None
    env: dict[str, str] = Field(default_factory=dict)
    health: Optional[HealthSpec] = None
    volumes: list[VolumeSpec] = Field(default_factory=list)
    instances: InstancesSpec = Field(default_factory=InstancesSpec)
    secrets: dict[str, SecretRef] = Field(default_factory=dict)
    load_balancer: Optional[LoadBalancerSpec] = None
    rollout: RolloutSpec = Field(default_factory=RolloutSpec)

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
            problem = _char_problem(arg, free=True)
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
        value = _stringify_map(value)
        if isinstance(value, dict):
            for name, item in value.items():
                if not isinstance(name, str) or not ENV_NAME_RE.fullmatch(name):
                    raise ValueError(f"{name!r} is not a valid environment variable name")
                if isinstance(item, str) and _char_problem(item, free=True):
                    raise ValueError(f"the value of {name} {_char_problem(item, free=True)}")
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


def _no_bool(value: Any) -> Any:
    if isinstance(value, bool):  # true == 1 in Python
        raise ValueError("must be 1 (the only app.yaml version this liftshift reads)")
    return value


class AppSpec(_Model):
    version: Annotated[Literal[1], BeforeValidator(_no_bool)]
    name: str
    region: Optional[str] = None
    services: dict[str, ServiceSpec] = Field(min_length=1)
    _source: Any = PrivateAttr(default=None)  # the LocatedData it was read from, to name lines in later checks

    @field_validator("name")
    @classmethod
    def _stack_name(cls, value: str) -> str:
        return _name(value, "the stack name")

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
            _name(name, f"service name {name!r}")
        return value


def parse_secret(ref: str) -> tuple[str, str, str | None]:
    """("ssm", parameter name, None) or ("secretsmanager", secret name, json key or None)."""
    if isinstance(ref, str):
        match = SSM_SECRET_RE.fullmatch(ref)
        if match:
            return "ssm", _ssm_name(match.group(1)), None
        match = SM_SECRET_RE.fullmatch(ref)
        if match:
            return "secretsmanager", match.group(1), match.group(2)
    raise ValueError("must be 'ssm:/parameter/name' or 'secretsmanager:secret-name[:json-key]' (a secret name is up "
                     "to 512 of a-z A-Z 0-9 / _ + = . @ -)" + (f": {ref[:80]!r}" if isinstance(ref, str) else ""))


def _ssm_name(name: str) -> str:
    """AWS's rules for parameter names ("Requirements and constraints for parameter names")."""
    if not SSM_NAME_RE.fullmatch(name):
        raise ValueError(f"{name!r} is not an SSM parameter name: a-z, A-Z, 0-9, '_', '.', '-', and '/' between "
                         "levels (no spaces, no empty level)")
    if "/" in name and not name.startswith("/"):
        raise ValueError(f"{name!r}: a parameter name with levels must be fully qualified, starting with '/' "
                         f"(/{name})")
    levels = name.lstrip("/").split("/")
    if levels[0].lower().startswith(("aws", "ssm")):
        raise ValueError(f"{name!r}: parameter names beginning with 'aws' or 'ssm' are reserved by AWS")
    if len(levels) > SSM_MAX_LEVELS:
        raise ValueError(f"{name!r} has {len(levels)} levels; AWS allows {SSM_MAX_LEVELS}")
    if len(name) > SSM_NAME_MAX:
        raise ValueError(f"the parameter name is {len(name)} characters; AWS allows {SSM_NAME_MAX}")
    return name


def _partition(region: str) -> str:
    for prefix, partition in (("cn-", "aws-cn"), ("us-gov-", "aws-us-gov"), ("us-iso-", "aws-iso"),
                              ("us-isob-", "aws-iso-b")):
        if region.startswith(prefix):
            return partition
    return "aws"


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
    for path, what in ((host, "host"), (container, "container")):
        try:
            _volume_path(path, what)
        except ValueError as exc:
            raise ValueError(f"{text!r}: {exc}") from None
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
    _check_text(located, located.data, ())
    _keep_written_text(located)
    try:
        spec = AppSpec.model_validate(located.data)
    except ValidationError as exc:
        raise _first_error(located, exc) from None
    spec._source = located
    base = path.resolve().parent
    _check_build_contexts(located, spec, base)
    _check_references(located, spec)
    check_limits(spec)
    _check_resource_names(located, spec)
    return spec, base


def _free_text(path: tuple) -> bool:
    """Env values, build args and command arguments: the only places control characters but NUL may appear."""
    return (len(path) == 4 and path[0] == "services" and path[2] in ("env", "command")) or (
        len(path) == 5 and path[0] == "services" and path[2:4] == ("build", "args"))


def _check_text(located: LocatedData, data: Any, path: tuple) -> None:
    """No control characters (NUL, newlines, escapes...) in any key or string value, before anything else
    looks at them: a trailing newline in a name or region must not pass as part of it."""
    if isinstance(data, dict):
        for key, value in data.items():
            problem = _char_problem(key) if isinstance(key, str) else None
            if problem:
                raise SpecError(located.file, located.line_of(path + (key,)), path, f"the key {key!r} {problem}")
            _check_text(located, value, path + (key,))
    elif isinstance(data, list):
        for i, item in enumerate(data):
            _check_text(located, item, path + (i,))
    elif isinstance(data, str):
        problem = _char_problem(data, free=_free_text(path))
        if problem:
            raise SpecError(located.file, located.line_of(path), path, f"{problem} (got {data[:200]!r})")


def _keep_written_text(located: LocatedData) -> None:
    """Env values, build args and command arguments are strings: where YAML saw a bool or a number
    (`true`, `1.10`, `0x1F`), use the text as written rather than Python's rendering of the value.
    Elsewhere a number YAML 1.1 read as a string (`1e3`, `0o17`) stays that string: a setting that
    needs a number then refuses it rather than guess which YAML the author meant."""
    for path, text in located.texts.items():
        if not _free_text(path) and path not in located.ambiguous:
            continue
        parent = located.data
        try:
            for part in path[:-1]:
                parent = parent[part]
            if isinstance(parent, (dict, list)):
                parent[path[-1]] = text
        except (KeyError, IndexError, TypeError):
            continue


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


# Worst cases for what validate cannot know yet: the longest region name a partition has (with the
# .com.cn registry suffix of the China regions) and a 12-digit account. ECR hosts are
# ACCOUNT.dkr.ecr.REGION.amazonaws.com[.cn].
LONGEST_REGION = "cn-northwest-1"
LONGEST_PARTITION = "aws-us-gov"


def _ecr_host(region: str) -> str:
    return f"123456789012.dkr.ecr.{region}.amazonaws.com" + (".cn" if region.startswith("cn-") else "")


def check_limits(spec: AppSpec, region: Optional[str] = None, registry: Any = None) -> None:
    """Refuse what AWS or the instance would refuse later, before any build or AWS call: port 22
    (the instance's sshd), more CIDRs than a security group holds, a certificate or parameter ARN
    AWS refuses in the stack's region, user-data over EC2's limit (rendered here with the longest
    digest and registry host it can get) or that the renderer refuses.

    validate calls it with what app.yaml says; plan and deploy again once the region and the registry
    are known (`registry`: a resources.Registry), still before anything is built or changed."""
    located = spec._source or LocatedData(file="app.yaml", data=None)
    region = region or spec.region

    def fail(path: tuple, message: str) -> None:
        raise SpecError(located.file, located.line_of(path), path, message)

    for name, service in spec.services.items():
        here = ("services", name)
        if service.published_port == SSH_PORT:
            if service.publish is not None:
                fail(here + ("publish",), "port 22 on the instance is its SSH daemon's: publish another port, "
                                          "e.g. publish: 2222")
            fail(here + ("port",), "port 22 is published on the instance by default, where the SSH daemon has it: "
                                   "set publish to another port, e.g. publish: 2222")
        _check_rule_counts(service, here, fail)
        lb = service.load_balancer
        if lb is not None and region and lb.certificate_region and lb.certificate_region != region:
            fail(here + ("load_balancer", "certificate_arn"),
                 f"the certificate is in {lb.certificate_region} but the stack deploys to {region}: a load balancer "
                 "can only use an ACM certificate of its own region")
        for key, ref in service.secrets.items():
            kind, ident, _ = parse_secret(ref)
            if kind == "ssm":
                arn_region = region or LONGEST_REGION
                part = _partition(region) if region else LONGEST_PARTITION
                arn = f"arn:{part}:ssm:{arn_region}:123456789012:parameter/{ident.lstrip('/')}"
                if len(arn) > SSM_NAME_MAX:
                    fail(here + ("secrets", key), f"the parameter's ARN would be {len(arn)} characters; AWS allows "
                                                  f"{SSM_NAME_MAX} for the name with the ARN before it")
        _check_role_policy(spec, name, region, fail)
    _check_user_data(spec, region, registry, fail)


ROLE_POLICY_MAX = 10240  # IAM: a role's inline policies, whitespace not counted


def _check_role_policy(spec: AppSpec, name: str, region: Optional[str], fail: Callable[[tuple, str], None]) -> None:
    """The instance role's policy names every secret's ARN (twice: allowed, and excepted from a Deny)."""
    from ..model.desired import role_policy

    service = spec.services[name]
    if not service.secrets:
        return
    policy = role_policy(spec.name, name, "123456789012", region or "us-gov-west-1",
                         finds_peers=bool(peers_of(service)),
                         secrets=[parse_secret(ref)[:2] for ref in service.secrets.values()])
    size = len(re.sub(r"\s", "", policy))
    if size > ROLE_POLICY_MAX:
        fail(("services", name, "secrets"), f"the instance role's policy, which names each secret, would be {size} "
                                            f"characters; IAM allows {ROLE_POLICY_MAX}: use fewer or shorter names")


def _check_rule_counts(service: ServiceSpec, here: tuple, fail: Callable[[tuple, str], None]) -> None:
    def count(cidrs: list[str], version: int) -> int:
        return len({c for c in cidrs if ipaddress.ip_network(c).version == version})

    inst = service.instances
    for version, family in ((4, "IPv4"), (6, "IPv6")):
        ssh = count(inst.ssh_ingress, version)
        ingress = count(inst.ingress, version)
        if service.load_balancer is not None:
            # the instances' group admits the load balancer's group (one rule, counted in each family) and SSH;
            # the load balancer's own group holds the ingress CIDRs
            groups = [("the instances' security group", 1 + ssh, "ssh_ingress"),
                      ("the load balancer's security group", ingress, "ingress")]
        else:
            groups = [("the instances' security group", ingress + ssh,
                       "ingress" if ingress >= ssh else "ssh_ingress")]
        for group, rules, key in groups:
            if rules > SG_RULES_PER_FAMILY:
                fail(here + ("instances", key),
                     f"needs {rules} {family} inbound rules in {group}; a security group holds "
                     f"{SG_RULES_PER_FAMILY} per address family (EC2's default quota): merge CIDRs into larger blocks")


def _check_user_data(spec: AppSpec, region: Optional[str], registry: Any, fail: Callable[[tuple, str], None]) -> None:
    """Render each service's user-data as deploy will, with the longest digest and registry host possible."""
    from ..model.user_data import render_user_data
    from ..model.desired import USER_DATA_LIMIT, Registry, user_data_context

    if registry is not None:
        registries = [registry]
    else:
        registries = [Registry(_ecr_host(region or LONGEST_REGION), True),
                      Registry(_ecr_host(region or LONGEST_REGION), False)]
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
                key = next((k for k in ("volume", "health", "command", "env", "secret") if k in message), None)
                path = here + ({"volume": ("volumes",), "health": ("health",), "command": ("command",),
                                "env": ("env",), "secret": ("secrets",)}.get(key, ()))
                fail(path, f"cannot be rendered into the instance's user-data: {message}")
            size = len(text.encode("utf-8"))
            if size > USER_DATA_LIMIT:
                sizes = {k: len(repr(getattr(service, k)).encode()) for k in ("env", "command", "volumes", "secrets")
                         if getattr(service, k)}
                biggest = max(sizes, key=sizes.get) if sizes else None
                fail(here + ((biggest,) if biggest else ()),
                     f"the rendered user-data would be up to {size} bytes; EC2 allows {USER_DATA_LIMIT}: shorten "
                     "env values or the command, or move large values into secrets:")


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
    from ..model.names import shared_name

    found = shared_name(spec.name, {n: s.load_balancer is not None for n, s in spec.services.items()})
    if found is not None:
        kind, name, first, second = found
        where = ("services", second)
        raise SpecError(located.file, located.line_of(where), where,
                        f"would make the {kind} {name!r}, which service {first!r} makes too: rename one of them")
