"""Render the templates that instances (and people) read.

Pure: the only I/O is reading templates from disk (model/templating.py: the sh filter, the Jinja2
environment).

Safety model for ``templates/user-data.sh.j2``:

* Every value inserted into the shell script passes through ONE filter, ``sh``
  (:func:`shell_quote`, shlex.quote semantics). ``tests/test_render.py`` scans the
  template and fails on any ``{{ ... }}`` without ``| sh``.
* Values that also end up somewhere the shell quoting does not protect (comments,
  container/unit names, file paths, systemd unit lines) are validated here to a
  strict character set before rendering: stack, service, config_hash, env names,
  region, port numbers. Free-form values (env values, command args, volume paths,
  health path, log group) only ever appear as quoted shell words.
* Files the script writes at boot (systemd run script and unit) are produced with
  ``printf`` from shell variables / the ``run_args`` array (``printf ' %q'``), never
  with a heredoc, so no value can terminate a heredoc body early.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from typing import Any

from .data_volumes import DataVolume, check_data_volumes
from .secret_files import SecretFile, check_secret_files
from .templating import render_template, shell_quote, templates_dir
from ..spec.grammar import (ALIAS_RE, ENV_NAME_RE, HEALTH_COMMAND_MAX, HTTP_PATH_RE, NAME_RE, PEER_FIELDS, PEER_REF_RE,
                            char_problem)

__all__ = [
    "Health",
    "health_command_container",
    "health_command_line",
    "Peer",
    "Secret",
    "UserDataContext",
    "Volume",
    "render_template",
    "render_user_data",
    "shell_quote",
    "templates_dir",
]

USER_DATA_TEMPLATE = "user-data.sh.j2"


@dataclass(frozen=True)
class Volume:
    host: str  # absolute host path (bind mount, created with mkdir -p) or a named volume
    container: str  # absolute path inside the container
    read_only: bool = False


@dataclass(frozen=True)
class Health:
    path: str  # HTTP path probed inside the container, e.g. "/healthz" (unless there is a command)
    interval: int  # seconds
    timeout: int  # seconds
    retries: int
    start_period: int  # seconds
    # The container's own health command instead of the HTTP probe: a tuple is the exec form (rendered as a
    # shell-quoted command line), a string the shell form (as it is); docker runs either with /bin/sh -c.
    command: tuple[str, ...] | str | None = None


@dataclass(frozen=True)
class Peer:
    """A service this one calls, named in an env value as ${service.NAME.url|host|port}."""

    service: str
    port: int  # its published port
    config_hash: str  # only its instances running this configuration are used
    aliases: tuple[str, ...] = ()  # more names it resolves by in this service's container (besides its own)
    # depends_on with condition healthy: the container starts once the peer answers (an HTTP GET of this
    # path answering 2xx/3xx, or "" for a TCP connect when its health check is a command or absent)
    wait: bool = False
    wait_path: str = ""


@dataclass(frozen=True)
class Secret:
    """An env var whose value is fetched on the instance when the container starts (never rendered)."""

    name: str
    kind: str  # "ssm" | "secretsmanager"
    id: str  # parameter name or secret name
    key: str | None = None  # JSON key inside a Secrets Manager secret


@dataclass(frozen=True)
class UserDataContext:
    stack: str
    service: str
    image: str  # "<registry>/<repo>@sha256:<64 hex>" (always by digest)
    registry: str
    registry_is_ecr: bool
    region: str
    log_group: str
    port: int  # container port
    publish: int  # host port
    command: tuple[str, ...] | None
    env: tuple[tuple[str, str], ...]
    volumes: tuple[Volume, ...]
    health: Health | None
    config_hash: str
    peers: tuple[Peer, ...] = ()
    secrets: tuple[Secret, ...] = ()
    extra_ports: tuple[tuple[int, int], ...] = ()  # (published, container) besides the main port
    secret_files: tuple[SecretFile, ...] = ()
    data: tuple[DataVolume, ...] = ()  # data volumes: attached devices on EC2, Docker volumes on a stand-in


# --------------------------------------------------------------------------- validation
# Stack and service names, env names, HTTP paths and peer references follow spec/grammar.py, the
# definitions validate checks app.yaml against: one grammar, so whatever validate accepts renders.

_HEX_RE = re.compile(r"[0-9a-f]{6,64}")
_REGION_RE = re.compile(r"[a-z]{2}(?:-[a-z]+)+-\d+|local")
_REGISTRY_RE = re.compile(r"[A-Za-z0-9.-]+(?::\d{1,5})?")
_DIGEST_RE = re.compile(r"@sha256:[0-9a-f]{64}")
_VOLUME_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def _fail(msg: str) -> None:
    raise ValueError(f"user-data: {msg}")


def _check_text(label: str, value: object) -> None:
    if not isinstance(value, str):
        _fail(f"{label} must be a string, got {type(value).__name__}")
    assert isinstance(value, str)
    if "\x00" in value:
        _fail(f"{label} contains a NUL character")


def _check_int(label: str, value: object, lo: int, hi: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        _fail(f"{label} must be an integer in [{lo}, {hi}], got {value!r}")


def _validate(ctx: UserDataContext) -> None:
    # Used in comments, container names, unit names and file paths: strict.
    for label, value in (("stack", ctx.stack), ("service", ctx.service)):
        _check_text(label, value)
        if not NAME_RE.fullmatch(value):
            _fail(f"{label} {value!r} must match {NAME_RE.pattern}")
    _check_text("config_hash", ctx.config_hash)
    if not _HEX_RE.fullmatch(ctx.config_hash):
        _fail(f"config_hash {ctx.config_hash!r} must be 6-64 lowercase hex digits")
    _check_text("region", ctx.region)
    if not _REGION_RE.fullmatch(ctx.region):
        _fail(f"region {ctx.region!r} is not a region name")
    _check_text("registry", ctx.registry)
    if not _REGISTRY_RE.fullmatch(ctx.registry):
        _fail(f"registry {ctx.registry!r} must be host[:port]")
    _check_text("image", ctx.image)
    if not ctx.image.startswith(ctx.registry + "/"):
        _fail(f"image {ctx.image!r} is not in registry {ctx.registry!r}")
    repo, at, _ = ctx.image.partition("@")
    if not at or not _DIGEST_RE.fullmatch(ctx.image[len(repo):]) or not re.fullmatch(
        r"[A-Za-z0-9._:/-]+", repo
    ):
        _fail(f"image {ctx.image!r} must be referenced by digest: <repo>@sha256:<64 hex>")
    _check_text("log_group", ctx.log_group)
    if not ctx.log_group:
        _fail("log_group is empty")
    _check_int("port", ctx.port, 1, 65535)
    _check_int("publish", ctx.publish, 1, 65535)
    if ctx.command is not None:
        if not isinstance(ctx.command, tuple):
            _fail("command must be a tuple of strings or None")
        for i, arg in enumerate(ctx.command):
            _check_text(f"command[{i}]", arg)
    names = []
    for pair in ctx.env:
        name, value = pair
        _check_text("env name", name)
        if not ENV_NAME_RE.fullmatch(name):
            _fail(f"env name {name!r} must match {ENV_NAME_RE.pattern}")
        _check_text(f"env {name}", value)
        names.append(name)
    if len(set(names)) != len(names):
        _fail("env names must be unique")
    for secret in ctx.secrets:
        if not ENV_NAME_RE.fullmatch(secret.name) or secret.name in names:
            _fail(f"secret name {secret.name!r} must be a unique env name")
        if secret.kind not in ("ssm", "secretsmanager"):
            _fail(f"secret {secret.name}: unknown kind {secret.kind!r}")
        _check_text(f"secret {secret.name} id", secret.id)
        _check_text(f"secret {secret.name} key", secret.key or "")
    for published, container in ctx.extra_ports:
        _check_int("extra published port", published, 1, 65535)
        _check_int("extra container port", container, 1, 65535)
    check_secret_files(ctx.secret_files)
    check_data_volumes(ctx.data)
    for peer in ctx.peers:
        if not NAME_RE.fullmatch(peer.service) or not _HEX_RE.fullmatch(peer.config_hash):
            _fail(f"peer {peer!r} is not a service name with a config hash")
        _check_int(f"peer {peer.service} port", peer.port, 1, 65535)
        for alias in peer.aliases:
            if not ALIAS_RE.fullmatch(alias):
                _fail(f"peer {peer.service} alias {alias!r} is not a host name")
        if peer.wait_path and not HTTP_PATH_RE.fullmatch(peer.wait_path):
            _fail(f"peer {peer.service} health path {peer.wait_path!r} is not an HTTP path")
    for vol in ctx.volumes:
        _check_text("volume host", vol.host)
        _check_text("volume container", vol.container)
        for label, path in (("host", vol.host), ("container", vol.container)):
            # ':' separates the fields of docker's -v spec; newlines are fine for
            # the shell but a path must at least be non-empty.
            if ":" in path or not path:
                _fail(f"volume {label} path {path!r} must be non-empty and contain no ':'")
        if not vol.container.startswith("/"):
            _fail(f"volume container path {vol.container!r} must be absolute")
        if not vol.host.startswith("/") and not _VOLUME_NAME_RE.fullmatch(vol.host):
            _fail(f"volume host {vol.host!r} must be an absolute path or a volume name")
    if ctx.health is not None:
        h = ctx.health
        _check_text("health path", h.path)
        if not HTTP_PATH_RE.fullmatch(h.path):
            _fail(f"health path {h.path!r} must start with '/' and be printable ASCII without spaces")
        if h.command is not None:
            # One line of printable text, as validate demands (health.command): the in-place update finds it
            # again in the rendered script (health_command_container).
            if not isinstance(h.command, (tuple, str)) or not h.command or (
                    isinstance(h.command, tuple) and not h.command[0]):
                _fail("health command must be a non-empty tuple of strings or a non-empty string")
            for i, arg in enumerate((h.command,) if isinstance(h.command, str) else h.command):
                _check_text(f"health command[{i}]", arg)
                if char_problem(arg):
                    _fail(f"health command[{i}] {char_problem(arg)}")
            if len(health_command_line(h.command)) > 2 * HEALTH_COMMAND_MAX:
                _fail(f"health command is longer than {2 * HEALTH_COMMAND_MAX} characters")
        _check_int("health interval", h.interval, 1, 86400)
        _check_int("health timeout", h.timeout, 1, 86400)
        _check_int("health retries", h.retries, 1, 1000)
        _check_int("health start_period", h.start_period, 0, 86400)


# --------------------------------------------------------------------------- derived values


def health_probe(port: int, path: str) -> str:
    """The ``/bin/sh -c`` command docker runs INSIDE the container.

    curl if present; else ``nc`` speaking HTTP/1.0 (Debian's busybox-static wget
    crashes, so nc comes before wget); else wget; else unhealthy. Every branch
    exits 0 (healthy) or 1 (unhealthy), the two codes docker defines.
    """
    q = shlex.quote
    url = q(f"http://127.0.0.1:{port}{path}")
    return (
        "if command -v curl >/dev/null 2>&1; then "
        f"curl -fsS -o /dev/null --max-time 10 {url}; "
        "elif command -v nc >/dev/null 2>&1; then "
        f"printf 'GET %s HTTP/1.0\\r\\nHost: 127.0.0.1\\r\\n\\r\\n' {q(path)} | nc 127.0.0.1 {port} | head -n 1 | grep -q ' [23][0-9][0-9]'; "
        "elif command -v wget >/dev/null 2>&1; then "
        f"wget -q -O /dev/null {url}; "
        "else false; fi || exit 1"
    )


def health_command_line(command: tuple[str, ...] | str) -> str:
    """What docker's --health-cmd gets for a health command (docker runs it with /bin/sh -c, its CMD-SHELL):
    the shell form as it is; the exec form as a command line of shell-quoted words, so each argument
    arrives as written (reserved words quoted too: a first argument `if` stays a program name)."""
    if isinstance(command, str):
        return command
    return " ".join(shell_quote(arg) for arg in command)


# The start of every HTTP probe health_probe makes (and made): what tells it apart from a health command.
HTTP_PROBE_START = "if command -v curl >/dev/null 2>&1; then curl "
_HEADER_RE = re.compile(rf"# liftshift user-data for stack '?({NAME_RE.pattern})'?, "  # a reserved word is quoted
                        rf"service '?({NAME_RE.pattern})'?, config '?([0-9a-f]{{6,64}})'?")


def health_command_container(user_data: str) -> tuple[str, str] | None:
    """(the container's name on EC2, the release's config hash) when the rendered `user_data` runs its container
    with a health command, else None (an HTTP probe, or no health check): what an in-place update waits on.

    Read from the script's fixed shape: the header's second line names stack, service and config (names and
    hex only), and `--health-cmd` follows `run_args=(` and the template's own lines there (no value is rendered
    before it: env values, which may hold newlines, come after), its value one quoted word on that line."""
    lines = user_data.splitlines()
    header = _HEADER_RE.fullmatch(lines[1]) if len(lines) > 1 else None
    if header is None or "run_args=(" not in lines:
        return None
    for line in lines[lines.index("run_args=(") + 1:]:
        if line.startswith(_RUN_ARGS_BEFORE_HEALTH):
            continue
        if line.startswith("  --health-cmd "):
            try:
                words = shlex.split(line)
            except ValueError:
                return None
            if len(words) != 2 or words[1].startswith(HTTP_PROBE_START):
                return None
            stack, service, config = header.groups()
            return f"liftshift-{stack}-{service}", config
        return None
    return None


# The template's lines of run_args before the health options: literal text, no rendered value.
# The template's own run_args lines before --health-cmd: the name, published ports, labels, and arrays it built.
_RUN_ARGS_BEFORE_HEALTH = ('  --name "$container_name"', '  -p ', '  --label "liftshift.', '  "${')


def _env_parts(name: str, value: str, peers: tuple[Peer, ...]) -> list[tuple[str, Any]]:
    """NAME=VALUE as ("lit", text) and ("host", peer index) parts; hosts are found at boot."""
    index = {p.service: i for i, p in enumerate(peers)}
    parts: list[tuple[str, Any]] = [("lit", f"{name}=")]
    last = 0
    for match in PEER_REF_RE.finditer(value):
        parts.append(("lit", value[last:match.start()]))
        peer, field = match.group(1), match.group(2)
        if field not in PEER_FIELDS:
            _fail(f"env {name}: {match.group(0)}: use .url, .host or .port")
        if peer not in index:
            _fail(f"env {name} names service {peer!r}, which is not among the peers")
        port = str(peers[index[peer]].port)
        if field == "url":
            parts += [("lit", "http://"), ("host", index[peer]), ("lit", ":" + port)]
        elif field == "host":
            parts.append(("host", index[peer]))
        else:
            parts.append(("lit", port))
        last = match.end()
    parts.append(("lit", value[last:]))
    return [p for p in parts if p != ("lit", "")]


def _health_cmd(port: int, health: Health) -> str:
    return health_probe(port, health.path) if health.command is None else health_command_line(health.command)


def _volume_spec(vol: Volume) -> str:
    return f"{vol.host}:{vol.container}" + (":ro" if vol.read_only else "")


def render_user_data(ctx: UserDataContext) -> str:
    """Render the EC2 user-data script (also run by the local stand-in host)."""
    _validate(ctx)
    return render_template(
        USER_DATA_TEMPLATE,
        stack=ctx.stack,
        service=ctx.service,
        image=ctx.image,
        registry=ctx.registry,
        registry_is_ecr=bool(ctx.registry_is_ecr),
        region=ctx.region,
        log_group=ctx.log_group,
        port=ctx.port,
        publish=ctx.publish,
        command=tuple(ctx.command or ()),
        env_parts=[_env_parts(name, value, ctx.peers) for name, value in ctx.env],
        peers=ctx.peers,
        peer_hostnames=[(name, i) for i, peer in enumerate(ctx.peers) for name in (peer.service, *peer.aliases)],
        secrets=ctx.secrets,
        extra_ports=ctx.extra_ports,
        secret_files=ctx.secret_files,
        data=ctx.data,
        bind_dirs=[v.host for v in ctx.volumes if v.host.startswith("/")],
        volume_specs=[_volume_spec(v) for v in ctx.volumes],
        health=ctx.health,
        health_cmd=_health_cmd(ctx.port, ctx.health) if ctx.health else "",
        config_hash=ctx.config_hash,
    )
