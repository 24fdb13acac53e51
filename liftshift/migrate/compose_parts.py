"""The small grammars of compose values, as pure functions: ports, durations, sizes, health checks,
commands, names; and the choice of an instance type for compose's resource limits."""

from __future__ import annotations

import math
import re
import shlex
from dataclasses import dataclass
from typing import Any, Optional

from ..spec.grammar import HTTP_PATH_RE, NAME_MAX, NAME_RE


class PartError(ValueError):
    """A compose value this import cannot read (the caller names the file, line and key)."""


# --- numbers and booleans as compose writes them (after interpolation everything may be text) -------

def as_int(value: Any) -> int:
    text = str(value).strip()
    if not re.fullmatch(r"[+]?\d+", text):
        raise PartError(f"{value!r} is not a whole number")
    return int(text)


def as_bool(value: Any) -> bool:
    return str(value).strip().lower() in ("true", "1", "yes")


# --- ports: [HOST_IP:][PUBLISHED:]TARGET[/PROTOCOL], ranges, or {target, published, host_ip, protocol} ----

@dataclass
class Port:
    target: int
    published: Optional[int]
    host_ip: str = ""
    protocol: str = "tcp"
    ranged: bool = False  # written as a range: only its first port is taken


def _port_number(text: str) -> tuple[int, bool]:
    match = re.fullmatch(r"(\d+)(?:-(\d+))?", text.strip())
    if not match:
        raise PartError(f"{text!r} is not a port or a range of ports")
    port = int(match.group(1))
    if not 1 <= port <= 65535:
        raise PartError(f"{port} is not a port (1-65535)")
    return port, match.group(2) is not None and match.group(2) != match.group(1)


def parse_port(item: Any) -> Port:
    if isinstance(item, dict):
        if "target" not in item:
            raise PartError("a port in the long syntax needs target")
        target, ranged = _port_number(str(item["target"]))
        published = None
        if item.get("published") not in (None, ""):
            published, more = _port_number(str(item["published"]))
            ranged = ranged or more
        return Port(target, published, str(item.get("host_ip") or ""), str(item.get("protocol") or "tcp").lower(),
                    ranged)
    text = str(item).strip()
    protocol = "tcp"
    if "/" in text:
        text, protocol = text.rsplit("/", 1)
    parts = text.rsplit(":", 2) if not text.startswith("[") else _ipv6_split(text)
    target, ranged = _port_number(parts[-1])
    published = None
    if len(parts) >= 2 and parts[-2] != "":
        published, more = _port_number(parts[-2])
        ranged = ranged or more
    host_ip = parts[0] if len(parts) == 3 else ""
    return Port(target, published, host_ip.strip("[]"), protocol.lower(), ranged)


def _ipv6_split(text: str) -> list[str]:
    host, _, rest = text[1:].partition("]")
    return [host] + rest.lstrip(":").split(":", 1)


LOCAL_IPS = ("127.0.0.1", "::1", "localhost")


# --- durations and sizes -----------------------------------------------------------------------

_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}


def duration_seconds(value: Any) -> float:
    """A compose duration (`1m30s`, `10s`, `500ms`, or a bare number of seconds) in seconds."""
    text = str(value).strip()
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return float(text)
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|us|µs|ns|h|m|s)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise PartError(f"{value!r} is not a duration such as 30s, 1m30s or 500ms")
    return sum(float(n) * _UNITS[u] for n, u in parts)


def whole_seconds(value: Any) -> int:
    return int(math.ceil(duration_seconds(value) - 1e-9))


def size_mib(value: Any) -> float:
    """A compose byte size (`512m`, `1g`, `1.5GB`, `2048k`, bytes as a number) in MiB."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([bkmgt]?)(?:i?b)?", str(value).strip().lower())
    if not match:
        raise PartError(f"{value!r} is not a size such as 512m or 2g")
    factor = {"": 1 / 1048576, "b": 1 / 1048576, "k": 1 / 1024, "m": 1, "g": 1024, "t": 1048576}[match.group(2)]
    return float(match.group(1)) * factor


# (vCPUs, GiB, type): the general-purpose t3 family, then m6i for more than t3.2xlarge holds.
INSTANCE_TYPES = [(2, 0.5, "t3.nano"), (2, 1, "t3.micro"), (2, 2, "t3.small"), (2, 4, "t3.medium"),
                  (2, 8, "t3.large"), (4, 16, "t3.xlarge"), (8, 32, "t3.2xlarge"), (16, 64, "m6i.4xlarge"),
                  (32, 128, "m6i.8xlarge"), (48, 192, "m6i.12xlarge"), (64, 256, "m6i.16xlarge")]
OS_HEADROOM_MIB = 512  # the instance's own system, Docker and the CloudWatch agent


def suggest_instance_type(cpus: Optional[float], memory_mib: Optional[float]) -> tuple[str, str]:
    """The smallest type that holds the limits plus the system's share, and why."""
    need_mem = ((memory_mib or 0) + OS_HEADROOM_MIB) / 1024
    for vcpus, gib, name in INSTANCE_TYPES:
        if vcpus >= (cpus or 0) and gib >= need_mem and name != "t3.nano":
            return name, f"{vcpus} vCPU, {gib:g} GiB"
    vcpus, gib, name = INSTANCE_TYPES[-1]
    return name, f"{vcpus} vCPU, {gib:g} GiB: the largest suggested; the limits ask for more"


# --- health checks -----------------------------------------------------------------------------

HTTP_CHECK_RE = re.compile(
    r"\b(?:curl|wget)\b[^|;&]*?(https?)://(?:localhost|127\.0\.0\.1|0\.0\.0\.0|\[::1\])(?::(\d+))?(/[^\s'\"|;&]*)?")


@dataclass
class HealthTest:
    kind: str  # "none" | "http" | "other"
    text: str = ""  # the command, as one line
    scheme: str = "http"
    port: Optional[int] = None
    path: str = "/"
    argv: Optional[list[str]] = None  # the exec form (CMD), else None: `text` runs under sh -c


def parse_health_test(test: Any) -> HealthTest:
    """`["CMD", ...]`, `["CMD-SHELL", "..."]`, `["NONE"]` or a string (run by the shell)."""
    if isinstance(test, list):
        if not test:
            return HealthTest("none")
        head = str(test[0]).upper()
        if head == "NONE":
            return HealthTest("none")
        argv = None
        if head == "CMD":
            argv = [str(a) for a in test[1:]]
            text = " ".join(shlex.quote(a) for a in argv)
        elif head == "CMD-SHELL":
            text = " ".join(str(a) for a in test[1:])
        else:
            raise PartError(f"a healthcheck test list starts with CMD, CMD-SHELL or NONE, not {test[0]!r}")
    elif isinstance(test, str):
        text, argv = test, None
    else:
        raise PartError("a healthcheck test is a list or a string")
    match = HTTP_CHECK_RE.search(text)
    if not match:
        return HealthTest("other", text, argv=argv)
    path = match.group(3) or "/"
    return HealthTest("http", text, match.group(1), int(match.group(2)) if match.group(2) else None, path)


def valid_health_path(path: str) -> bool:
    return bool(HTTP_PATH_RE.fullmatch(path))


# --- commands ----------------------------------------------------------------------------------

def as_argv(value: Any) -> list[str]:
    """A compose command or entrypoint: a list of arguments, or a string split as a shell would."""
    if value is None:
        return []
    if isinstance(value, list):
        return [str(a) for a in value]
    try:
        return shlex.split(str(value))
    except ValueError as exc:
        raise PartError(f"cannot split {value!r} into arguments: {exc}") from None


# --- names -------------------------------------------------------------------------------------

def sanitise_name(name: str) -> str:
    """A compose name in liftshift's name grammar (a-z, 0-9, '-', 1-32, letter or digit at both ends), or ''."""
    text = re.sub(r"[^a-z0-9-]+", "-", name.lower())
    text = re.sub(r"-{2,}", "-", text).strip("-")
    return text[:NAME_MAX].strip("-")


def is_name(name: str) -> bool:
    return bool(NAME_RE.fullmatch(name))


def ssm_level(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "-", text) or "secret"


# A port when compose names none (a worker, a database reached by name): the image's well-known port.
WELL_KNOWN_PORTS = {"postgres": 5432, "postgis": 5432, "timescaledb": 5432, "mysql": 3306, "mariadb": 3306,
                    "percona": 3306, "redis": 6379, "valkey": 6379, "keydb": 6379, "mongo": 27017,
                    "memcached": 11211, "rabbitmq": 5672, "elasticsearch": 9200, "opensearch": 9200,
                    "nginx": 80, "httpd": 80, "caddy": 80, "traefik": 80, "minio": 9000, "nats": 4222,
                    "zookeeper": 2181, "kafka": 9092, "cassandra": 9042, "influxdb": 8086, "grafana": 3000,
                    "prometheus": 9090,
                    "node-exporter": 9100, "mailhog": 8025, "adminer": 8080, "consul": 8500, "vault": 8200}


def well_known_port(image: Optional[str]) -> Optional[int]:
    if not image:
        return None
    base = image.split("@", 1)[0].rsplit("/", 1)[-1].split(":", 1)[0]
    return WELL_KNOWN_PORTS.get(base)
