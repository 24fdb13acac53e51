"""Volumes and secrets: where a compose service keeps its data and gets its passwords, in app.yaml terms.

app.yaml v1 has bind mounts of instance paths and secrets delivered as environment variables from SSM or
Secrets Manager. Named volumes, bind mounts of the developer's files and secret files are mapped onto
those, each with a warning saying what is lost (stack-owned volumes and secret files are not supported
yet). A secret's value is never written: the output names an SSM parameter and the command that
stores it.
"""

from __future__ import annotations

import os
import posixpath
import shlex
from typing import Any

from ..spec.grammar import parse_secret
from .compose_load import Service
from .compose_map import Context
from .compose_parts import env_name, ssm_level

VOLUMES_ROOT = "/var/lib/liftshift/volumes"
BINDS_ROOT = "/var/lib/liftshift/binds"


def map_volumes(ctx: Context, svc: Service) -> list[str]:
    out: list[str] = []
    seen: set[str] = set()
    declared = ctx.project.top.get("volumes") or {}
    for i, volume in enumerate(svc.data.get("volumes") or []):
        where = ("volumes", i)
        kind, source, target = volume.get("type"), volume.get("source"), volume.get("target")
        if not isinstance(target, str) or not target.startswith("/"):
            ctx.note(svc, where, f"the container path {target!r} is not absolute: dropped")
            continue
        target = posixpath.normpath(target)
        if target == "/" or ":" in target:
            ctx.note(svc, where, f"the container path {target!r} cannot be mounted by app.yaml: dropped")
            continue
        if kind == "volume" and not source:
            ctx.note(svc, where, f"an anonymous volume at {target}: not imported; the path is in the container's "
                     "own filesystem, which a new release or instance starts empty", "note")
            continue
        if kind == "tmpfs":
            ctx.note(svc, where, f"a tmpfs at {target}: app.yaml mounts no tmpfs; the path is in the container's own "
                     "filesystem")
            continue
        if kind == "bind":
            host = _bind_host(ctx, svc, where, volume)
        elif kind == "volume":
            host = _named_host(ctx, svc, where, str(source), declared.get(source))
        else:
            ctx.note(svc, where, f"a volume of type {kind!r}: app.yaml has bind mounts only; dropped")
            continue
        if host is None:
            continue
        if target in seen:
            ctx.note(svc, where, f"a second volume onto {target}: dropped (docker refuses two mounts at one path)")
            continue
        seen.add(target)
        read_only = str(volume.get("read_only", False)).lower() == "true"
        out.append(f"{host}:{target}" + (":ro" if read_only else ""))
    return out


def _bind_host(ctx: Context, svc: Service, where: tuple, volume: dict[str, Any]) -> Any:
    source = volume["source"]
    shown = volume.get("_written") or source
    if not volume.get("_relative") and not source.startswith(str(ctx.project.dir.resolve()) + os.sep):
        if ":" in source:
            ctx.note(svc, where, f"the host path {source!r} holds ':', which app.yaml cannot mount: dropped")
            return None
        return source
    root = str(ctx.project.dir.resolve())
    relative = os.path.relpath(source, root)
    if relative.startswith(".."):
        relative = posixpath.basename(source) or "root"
    host = posixpath.join(BINDS_ROOT, ctx.stack, relative.replace(os.sep, "/")) if relative != "." else \
        posixpath.join(BINDS_ROOT, ctx.stack, "project")
    if ":" in host:
        ctx.note(svc, where, f"the path {shown!r} holds ':', which app.yaml cannot mount: dropped")
        return None
    ctx.note(svc, where, f"bind mount of {shown} (a path on this machine): the instance has no copy of it; mapped to "
             f"{host}, an empty directory made at boot. Put the files into the image (COPY in the Dockerfile) or "
             "onto the instance")
    return host


def _named_host(ctx: Context, svc: Service, where: tuple, name: str, declared: Any) -> Any:
    if ":" in name or "/" in name:
        ctx.note(svc, where, f"the volume name {name!r} cannot be a directory name: dropped")
        return None
    host = posixpath.join(VOLUMES_ROOT, ctx.stack, name)
    extra = ""
    if isinstance(declared, dict):
        if str(declared.get("external", "")).lower() == "true":
            extra = "; it is external in compose: copy its data onto the instance yourself"
        elif declared.get("driver") not in (None, "local") or declared.get("driver_opts"):
            extra = "; its driver and driver_opts (e.g. NFS) are not imported"
    ctx.note(svc, where, f"named volume `{name}`: app.yaml has no stack-owned volumes yet; mapped to a bind mount of "
             f"{host}, which does not survive instance replacement{extra} (stack-owned volumes are not supported yet)")
    return host


def map_secrets(ctx: Context, svc: Service, service_name: str, env: dict[str, str]) -> dict[str, str]:
    """The service's secrets as app.yaml secret references; `env` loses the NAME_FILE variables they replace."""
    out: dict[str, str] = {}
    declared = ctx.project.top.get("secrets") or {}
    for i, item in enumerate(svc.data.get("secrets") or []):
        where = ("secrets", i)
        source, target = (item.get("source"), item.get("target")) if isinstance(item, dict) else (item, None)
        if not isinstance(source, str) or not source:
            ctx.note(svc, where, "a secret needs a name (source): dropped")
            continue
        if source not in declared:
            ctx.note(svc, where, f"secret {source!r} is not declared under the top-level secrets: dropped", "error")
            continue
        file = str(target) if target and str(target).startswith("/") else f"/run/secrets/{target or source}"
        # The official images' convention: POSTGRES_PASSWORD_FILE=/run/secrets/x reads POSTGRES_PASSWORD from
        # the file (Grafana's: GF_..._PASSWORD__FILE).
        by_file = [n for n, v in env.items() if v == file and n.endswith("_FILE") and _base(n) not in env]
        if by_file:
            var = _base(by_file[0])
            del env[by_file[0]]
            ctx.note(svc, where, f"{by_file[0]} named this secret's file: the secret is delivered as {var} instead "
                     f"(the image's NAME_FILE convention), and {by_file[0]} is left out", "note")
        else:
            var = env_name(posixpath.basename(str(target)) if target else source)
        if var in env or var in out:
            var += "_SECRET"
        parameter = f"/{ctx.stack}/{ssm_level(source)}"
        try:
            parse_secret("ssm:" + parameter)
        except ValueError:
            parameter = f"/app-{ctx.stack}/{ssm_level(source)}"
        out[var] = "ssm:" + parameter
        command, how = _store_command(ctx, parameter, source, declared[source])
        if all(c["parameter"] != parameter for c in ctx.imported.commands):
            ctx.imported.commands.append({"service": service_name, "secret": source, "parameter": parameter,
                                          "command": command})
        ctx.comment(("services", service_name, "secrets", var), f"decide: store it first: {command}")
        if by_file:
            continue
        ctx.note(svc, where, f"secret {source!r} is delivered as the environment variable {var} (fetched from SSM "
                 f"parameter {parameter}), not as the file /run/secrets/{target or source} (secret files are not "
                 f"supported yet): make the app read ${var}. {how}")
    return out


def _store_command(ctx: Context, parameter: str, source: str, declared: Any) -> tuple[str, str]:
    """The AWS CLI command that stores the secret's value, and where the value comes from. Never the value."""
    base = f"aws ssm put-parameter --name {shlex.quote(parameter)} --type SecureString"
    declared = declared if isinstance(declared, dict) else {}
    if declared.get("file"):
        path = str(declared["file"])
        path = path if os.path.isabs(path) else os.path.normpath(os.path.join(str(ctx.project.dir), path))
        shown = os.path.relpath(path, ctx.out_dir)
        return (f"{base} --value {shlex.quote('file://' + shown)}",
                "Store the file's content with the command in app.yaml's comment (run from app.yaml's directory).")
    if declared.get("environment"):
        var = str(declared["environment"])
        return f'{base} --value "${var}"', f"Store the value of ${var} with the command in app.yaml's comment."
    if "content" in declared:
        return (f"{base} --value '<the content of secrets.{source}.content>'",
                "Its value is written in the compose file: store it in SSM and remove it from the compose file.")
    return (f"{base} --value '<its value>'",
            "It is external in compose: store its value in SSM under that name.")


def _base(name: str) -> str:
    return name[:-6] if name.endswith("__FILE") else name[:-5]
