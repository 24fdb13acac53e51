"""The grammars of app.yaml's values, each defined once: names, secret, peer and image references,
volumes, the identifiers AWS defines.

Pure and light (only `re`): the models (spec/model.py), the AWS limits (spec/limits.py) and the
user-data renderer (model/user_data.py) use these same definitions, so what validate accepts is
exactly what the later stages can use. Every pattern is used with fullmatch: `$` in re.match also
matches before a final newline.
"""

from __future__ import annotations

import datetime
import posixpath
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .model import AppSpec, ServiceSpec

# --- stack and service names -------------------------------------------------------------------
# Both end up in every resource name (model/names.py), in container and systemd unit names on the
# instance, and in the README's contract ("1-32 chars"). The binding AWS limit is the launch template
# name, liftshift.STACK.SERVICE.<12 hex config hash>, at most 128 characters
# (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateLaunchTemplate.html): 24 + 32 + 32
# = 88 fits, two names of 63 (a DNS label, the renderer's old limit) would make 150. IAM role names (64)
# and load balancer and target group names (32) are cut and hashed by model/names.py.
NAME_MAX = 32
NAME_RE = re.compile(rf"[a-z0-9](?:[a-z0-9-]{{0,{NAME_MAX - 2}}}[a-z0-9])?")


def check_name(value: Any, what: str) -> str:
    """`value` if it is a stack or service name, else ValueError naming `what`."""
    if not isinstance(value, str) or not NAME_RE.fullmatch(value):
        raise ValueError(
            f"{what} must be 1-{NAME_MAX} characters of a-z, 0-9 and '-', starting and ending with a letter or digit"
        )
    return value


# A name a service is reached by inside its peers' containers (compose's network aliases), besides its own.
ALIAS_RE = re.compile(r"(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9_.-]*[A-Za-z0-9])?")
# A data volume's name: part of the EBS volume's Name tag and of the local rehearsal's Docker volume name.
DATA_NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")

# --- identifiers of the container, EC2 and HTTP ------------------------------------------------
ENV_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
INSTANCE_TYPE_RE = re.compile(r"[a-z][a-z0-9-]*\.[a-z0-9]+")
AMI_ID_RE = re.compile(r"ami-[0-9a-f]{8,17}")
SUBNET_RE = re.compile(r"subnet-[0-9a-f]{8,17}")
REGION_RE = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")
ARM64_FAMILY_RE = re.compile(r"[a-z]+\d+g[a-z]*")
KEY_NAME_RE = re.compile(r"[\x20-\x7e]{1,255}")  # EC2: up to 255 ASCII characters
HTTP_PATH_RE = re.compile(r"/[\x21-\x7e]*")  # an HTTP request path: printable ASCII, no spaces or controls
HEALTH_COMMAND_MAX = 4096  # characters of a container health command (docker's --health-cmd); user-data holds 16 KB
BUILD_TARGET_RE = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,127}")  # a Dockerfile stage name
BUILD_ARG_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,255}")
CERTIFICATE_ARN_RE = re.compile(r"arn:(aws(?:-[a-z]+)*):acm:([a-z]{2}(?:-[a-z]+)+-\d{1,2}):(\d{12}):"
                                r"certificate/[A-Za-z0-9-]+")
AMI_ALIASES = {
    "al2023": "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-{arch}",
    "ecs-al2023": "/aws/service/ecs/optimized-ami/amazon-linux-2023/{ecs_arch}recommended/image_id",
}


def partition(region: str) -> str:
    """The AWS partition holding `region` (the second field of its ARNs)."""
    for prefix, name in (("cn-", "aws-cn"), ("us-gov-", "aws-us-gov"), ("us-iso-", "aws-iso"),
                         ("us-isob-", "aws-iso-b")):
        if region.startswith(prefix):
            return name
    return "aws"


# --- Docker image references (distribution/reference): [host[:port]/]path[:tag][@digest] --------
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[0-9a-fA-F:]+\])(?::[0-9]{{1,5}})?"
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
IMAGE_NAME_RE = re.compile(rf"(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*")
IMAGE_REF_RE = re.compile(rf"({IMAGE_NAME_RE.pattern})(?::([\w][\w.-]{{0,127}}))?"
                          r"(?:@(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128}))?")
IMAGE_NAME_MAX = 255

# --- text -------------------------------------------------------------------------------------
# No control characters (C0, DEL, C1), line/paragraph separators or lone surrogates (which cannot be encoded)
# in names, paths and other settings. Free text (env values, build args, command arguments) reaches the
# container byte for byte through the user-data's quoting (tests/test_shell_safety.py), so it may hold any
# character but NUL (no argv or environment entry can carry one) and lone surrogates.
CONTROL_RE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
FREE_TEXT_BAD_RE = re.compile("[\x00\ud800-\udfff]")


def char_problem(text: str, free: bool = False) -> str | None:
    """Why `text` cannot be used: a control character (in free text only NUL), else None."""
    found = (FREE_TEXT_BAD_RE if free else CONTROL_RE).search(text)
    if found is None:
        return None
    char = found.group(0)
    what = "a NUL character" if char == "\0" else ("a lone surrogate" if "\ud800" <= char <= "\udfff"
                                                  else "a control character")
    return f"contains {what} (U+{ord(char):04X})" + ("" if free else "; only printable text is allowed here")


# --- scalars as YAML writes them ---------------------------------------------------------------
DECIMAL_RE = re.compile(r"[-+]?(?:0|[1-9][0-9]*)")


def whole_number(value: Any) -> Any:
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


def stringify_map(value: Any) -> Any:
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


# --- volumes: HOST_PATH:CONTAINER_PATH[:ro|rw] --------------------------------------------------


def volume_path(path: Any, what: str) -> Any:
    """What the renderer demands of a bind mount's paths (and docker of its -v spec), checked here first."""
    if not isinstance(path, str):
        return path  # pydantic reports the type
    if not path.startswith("/"):
        raise ValueError(f"the {what} path {path!r} must be absolute, e.g. /srv/shop:/data")
    if ":" in path:
        raise ValueError(f"the {what} path {path!r} must not contain ':' (it separates docker's -v fields)")
    problem = char_problem(path)
    if problem:
        raise ValueError(f"the {what} path {path!r} {problem}")
    if what == "container" and posixpath.normpath(path).strip("/") == "":
        raise ValueError(f"the container path {path!r} is the container's root: a volume cannot replace '/'")
    return path


def parse_volume(text: str) -> dict[str, Any]:
    """The short form 'HOST:CONTAINER[:ro|rw]' as the mapping form's fields."""
    parts = text.split(":")
    if len(parts) == 3 and parts[2] in ("ro", "rw"):
        host, container, mode = parts
    elif len(parts) == 2:
        (host, container), mode = parts, "rw"
    else:
        raise ValueError(f"{text!r} must be 'HOST_PATH:CONTAINER_PATH' with an optional ':ro'")
    for path, what in ((host, "host"), (container, "container")):
        try:
            volume_path(path, what)
        except ValueError as exc:
            raise ValueError(f"{text!r}: {exc}") from None
    return {"host": host, "container": container, "read_only": mode == "ro"}


# --- secret references: ssm:NAME | secretsmanager:NAME[:json-key] -------------------------------
SSM_SECRET_RE = re.compile(r"ssm:(.*)", re.DOTALL)
SSM_NAME_RE = re.compile(r"/?[A-Za-z0-9_.\-]+(?:/[A-Za-z0-9_.\-]+)*")
SSM_NAME_MAX = 1011  # AWS: the fully qualified name, counting the ARN before it (arn:aws:ssm:REGION:ACCOUNT:parameter/)
SSM_MAX_LEVELS = 15
SM_SECRET_RE = re.compile(r"secretsmanager:([A-Za-z0-9/_+=.@\-]{1,512})(?::([A-Za-z0-9_.\-]{1,256}))?")


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


# --- peer references in env values: ${service.NAME.url|host|port} -------------------------------
# The pattern matches anything shaped like a reference, not only valid ones, so that a near miss
# (${service.Api.URL}, ${service.api.address}) is refused by validate and by the renderer rather than
# reaching the container as literal text. Group 1 is the service, group 2 the field.
PEER_REF_RE = re.compile(r"\$\{service\.([^.}]*)\.([^}]*)\}")
PEER_FIELDS = ("url", "host", "port")


def peers_of(service: ServiceSpec) -> list[str]:
    """The services this one calls: named in env values as ${service.NAME.url|host|port}, in order of first
    use, then those in depends_on."""
    found: list[str] = []
    for value in service.env.values():
        for match in PEER_REF_RE.finditer(value):
            if match.group(1) not in found:
                found.append(match.group(1))
    found += [name for name in service.depends_on if name not in found]
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
