"""Volumes: where a compose service keeps its data, in app.yaml terms.

A named volume becomes a data volume (`data:`, stack-owned storage that outlives the instance: EBS on EC2)
when the service runs as one instance; a replicated service keeps it as a bind mount of an instance
path, with a warning (an EBS volume attaches to one instance). Bind mounts of the developer's files become
empty instance directories, with a warning; tmpfs and anonymous volumes stay in the container.
"""

from __future__ import annotations

import os
import posixpath
import re
from typing import Any

from ..spec.grammar import DATA_NAME_RE
from .compose_load import Service
from .compose_map import Context

VOLUMES_ROOT = "/var/lib/liftshift/volumes"
BINDS_ROOT = "/var/lib/liftshift/binds"
DATA_SIZE_GB = 10  # app.yaml's default size_gb


def map_volumes(ctx: Context, svc: Service, count: int) -> tuple[list[str], dict[str, Any], set[str]]:
    """The service's bind mounts (app.yaml `volumes`), data volumes (`data`), and every container path mounted."""
    out: list[str] = []
    data: dict[str, Any] = {}
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
        if target in seen:
            ctx.note(svc, where, f"a second volume onto {target}: dropped (docker refuses two mounts at one path)")
            continue
        read_only = str(volume.get("read_only", False)).lower() == "true"
        if kind == "volume" and count <= 1:
            if _data_volume(ctx, svc, where, str(source), target, read_only, declared.get(source), data):
                seen.add(target)
            continue
        if kind == "bind":
            host = _bind_host(ctx, svc, where, volume)
        elif kind == "volume":
            host = _named_host(ctx, svc, where, str(source), declared.get(source), count)
        else:
            ctx.note(svc, where, f"a volume of type {kind!r}: app.yaml has bind mounts and data volumes only; dropped")
            continue
        if host is None:
            continue
        seen.add(target)
        out.append(f"{host}:{target}" + (":ro" if read_only else ""))
    return out, data, seen


def data_name(name: str) -> str:
    """A compose volume name in app.yaml's data volume grammar (a-z0-9, '-', '_', at most 32), or ''."""
    text = re.sub(r"[^a-z0-9_-]+", "-", name.lower())
    text = re.sub(r"-{2,}", "-", text).lstrip("-_")[:32]
    return text if DATA_NAME_RE.fullmatch(text) else ""


def _data_volume(ctx: Context, svc: Service, where: tuple, source: str, target: str, read_only: bool,
                 declared: Any, data: dict[str, Any]) -> bool:
    """Named volume `source` as a data volume of the service (added to `data`); False if it is not."""
    name = data_name(source)
    if not name:
        ctx.note(svc, where, f"the volume name {source!r} has no letter or digit a data volume name can use: "
                 "dropped; rename the volume in the compose file (a-z, 0-9, '-', '_')")
        return False
    if name in data:
        ctx.note(svc, where, f"volume `{source}` is mounted a second time, at {target}: dropped (a data volume is "
                 f"mounted at one path, here {data[name]['path']}); mount a sub-directory of it in the app instead")
        return False
    if name != source:
        ctx.note(svc, where, f"volume `{source}` is named `{name}` in app.yaml (data volume names are 1-32 of a-z, "
                 "0-9, '-', '_')", "note")
    others = [other for other, s in ctx.project.services.items() if other != svc.name and any(
        v.get("type") == "volume" and v.get("source") == source for v in s.data.get("volumes") or []
        if isinstance(v, dict))]
    if others:
        ctx.note(svc, where, f"volume `{source}` is also mounted by {', '.join(others)}: in app.yaml each service "
                 "gets a data volume of its own (an EBS volume attaches to one instance), so they do not share "
                 "files; share through a service (a database, S3) instead")
    if read_only:
        ctx.note(svc, where, f"volume `{source}` is mounted read-only in compose: a data volume is mounted "
                 "read-write")
    if isinstance(declared, dict):
        if str(declared.get("external", "")).lower() == "true":
            ctx.note(svc, where, f"volume `{source}` is external in compose: liftshift makes a new, empty volume; "
                     "copy the data onto it after the first deploy")
        elif declared.get("driver") not in (None, "local") or declared.get("driver_opts"):
            ctx.note(svc, where, f"volume `{source}`: its driver and driver_opts (e.g. NFS) are not imported: it "
                     "becomes an EBS volume of the stack")
    data[name] = {"path": target, "size_gb": DATA_SIZE_GB}
    ctx.comment(("services", ctx.names[svc.name], "data", name, "size_gb"),
                f"decide: the volume's size in GiB (compose's volumes have none; {DATA_SIZE_GB} is app.yaml's "
                "default); it outlives instances and is kept by destroy unless --delete-data")
    return True


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


def _named_host(ctx: Context, svc: Service, where: tuple, name: str, declared: Any, count: int) -> Any:
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
    ctx.note(svc, where, f"named volume `{name}` of a service with {count} instances: data volumes are for "
             f"single-instance services (an EBS volume attaches to one instance); mapped to a bind mount of {host} on "
             f"each instance, which does not survive instance replacement{extra}. Keep the data elsewhere (a "
             "database service, S3) or set the replicas to 1")
    return host
