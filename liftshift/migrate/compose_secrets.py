"""A compose service's secrets as app.yaml secret files (`secret_files`): the same file at the same path,
fetched from SSM when the container starts. The value is never written: each secret names an SSM
parameter, and app.yaml's comment (and `-o json`'s `commands`) gives the command that stores it.
"""

from __future__ import annotations

import os
import posixpath
import re
import shlex
from typing import Any, Optional

from ..spec.grammar import parse_secret
from .compose_load import Service
from .compose_map import Context
from .compose_parts import PartError, as_int, ssm_level

SECRETS_DIR = "/run/secrets"
# What compose gives a secret file when the service names no mode (world-readable, so an app that drops to
# another user, like the postgres image's entrypoint, still reads it); app.yaml's own default is 0400.
COMPOSE_MODE = 0o444
FILE_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")


def map_secrets(ctx: Context, svc: Service, service_name: str, mounted: set[str]) -> dict[str, Any]:
    """The service's secrets as app.yaml secret_files; `mounted`: container paths volumes and data use."""
    out: dict[str, Any] = {}
    declared = ctx.project.top.get("secrets") or {}
    for i, item in enumerate(svc.data.get("secrets") or []):
        where = ("secrets", i)
        long = item if isinstance(item, dict) else {"source": item}
        source, target = long.get("source"), long.get("target")
        if not isinstance(source, str) or not source:
            ctx.note(svc, where, "a secret needs a name (source): dropped")
            continue
        if source not in declared:
            ctx.note(svc, where, f"secret {source!r} is not declared under the top-level secrets: dropped", "error")
            continue
        if target is not None and (not isinstance(target, str) or not target.strip("/")):
            ctx.note(svc, where + ("target",), f"{target!r} is not a path: the default /run/secrets/{source} is used")
            target = None
        path = posixpath.normpath(target if target and target.startswith("/")
                                  else posixpath.join(SECRETS_DIR, target or source))
        name = _file_name(source, path, out)
        if path in mounted or any(_path(n, f) == path for n, f in out.items()):
            ctx.note(svc, where, f"{path} is mounted already (a volume or another secret): dropped")
            continue
        parameter = f"/{ctx.stack}/{ssm_level(source)}"
        try:
            parse_secret("ssm:" + parameter)
        except ValueError:
            parameter = f"/app-{ctx.stack}/{ssm_level(source)}"
        spec: dict[str, Any] = {"ref": "ssm:" + parameter}
        if path != posixpath.join(SECRETS_DIR, name):
            spec["path"] = path
        spec["mode"] = _mode(ctx, svc, where, long.get("mode"))
        for key in ("uid", "gid"):
            if long.get(key) is not None:
                try:
                    spec[key] = as_int(long[key])
                except PartError as exc:
                    ctx.note(svc, where + (key,), f"{exc}: not imported (the file belongs to root)")
        out[name] = spec
        here = ("services", service_name, "secret_files", name)
        if "mode" not in long:
            ctx.comment(here + ("mode",), "decide: compose's default, readable by every user in the container; "
                        '"0400" (app.yaml\'s default) if the app reads it as root')
        source_of = declared[source] if isinstance(declared[source], dict) else {}
        command = _store_command(ctx, parameter, source, source_of)
        if all(c["parameter"] != parameter for c in ctx.imported.commands):
            ctx.imported.commands.append({"service": service_name, "secret": source, "parameter": parameter,
                                          "command": command})
        if str(source_of.get("external", "")).lower() == "true":
            called = f" (called {source_of['name']} there)" if source_of.get("name") else ""
            ctx.comment(here + ("ref",), f"decide: external in compose{called}: point ref at where it already "
                        f"lives (ssm:/PATH or secretsmanager:NAME), or store it: {command}")
        else:
            ctx.comment(here + ("ref",), f"decide: store it first: {command}")
    return out


def _file_name(source: str, path: str, taken: dict[str, Any]) -> str:
    """The secret_files key: the file's name when it lives in /run/secrets (so no path is needed), else the
    compose secret's name; made to fit app.yaml's grammar and unique."""
    base = posixpath.basename(path) if posixpath.dirname(path) == SECRETS_DIR else source
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", base).lstrip("_.-")[:120] or "secret"
    candidate, n = name, 2
    while candidate in taken or not FILE_NAME_RE.fullmatch(candidate):
        candidate, n = f"{name}-{n}", n + 1
    return candidate


def _path(name: str, spec: dict[str, Any]) -> str:
    return spec.get("path") or posixpath.join(SECRETS_DIR, name)


def _mode(ctx: Context, svc: Service, where: tuple, value: Optional[Any]) -> str:
    """compose's mode is a YAML 1.1 number (0440 is octal, 0o440 too, 288 decimal); app.yaml wants "0440"."""
    if value is None:
        return f"0{COMPOSE_MODE:o}"
    text = str(value).strip().lower()
    try:
        mode = int(text[2:], 8) if text.startswith("0o") else int(text, 8) if text.startswith("0") else int(text)
    except ValueError:
        mode = -1
    if not 0 <= mode <= 0o777:
        ctx.note(svc, where + ("mode",), f"{value!r} is not a file mode of app.yaml (0000-0777): "
                 f"0{COMPOSE_MODE:o} is used")
        mode = COMPOSE_MODE
    return f"0{mode:03o}"


def _store_command(ctx: Context, parameter: str, source: str, declared: dict[str, Any]) -> str:
    """The AWS CLI command that stores the secret's value. Never the value."""
    base = f"aws ssm put-parameter --name {shlex.quote(parameter)} --type SecureString"
    if declared.get("file"):
        path = str(declared["file"])
        shown = path if os.path.isabs(path) else os.path.relpath(
            os.path.normpath(os.path.join(str(ctx.project.dir), path)), ctx.out_dir)
        return f"{base} --value {shlex.quote('file://' + shown)}"
    if declared.get("environment"):
        return f'{base} --value "${declared["environment"]}"'
    if "content" in declared:
        return f"{base} --value '<the content of secrets.{source}.content>'"
    return f"{base} --value '<its value>'"
