"""A compose service as compose sees it: its short forms normalised, and `extends` merged in.

Normalising first makes the merge rules of the Compose Specification (05-services.md "extends",
13-merge.md) simple: mappings merge key by key (the extending service wins), sequences append (the
base's items first), `volumes` and `secrets` are unique by target, `command`, `entrypoint` and
`healthcheck.test` are replaced, scalars are overridden. Relative paths (build contexts, bind mounts,
env files) are relative to the file that wrote them, so they are made absolute before merging.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Mapping

from ..spec.yamlsource import LocatedData
from .compose_load import URL_RE, ComposeError, Service, env_file_values

REPLACED = ("command", "entrypoint")
# The shapes the Compose Specification allows for the keys this import reads (anything else is refused here,
# at its line, rather than misread later).
SHAPES: dict[str, tuple[type, ...]] = {
    "image": (str,), "build": (str, dict), "ports": (list,), "expose": (list,), "environment": (dict, list),
    "env_file": (str, list), "command": (str, list), "entrypoint": (str, list), "volumes": (list,),
    "secrets": (list,), "healthcheck": (dict,), "deploy": (dict,), "depends_on": (list, dict), "profiles": (list,),
    "networks": (list, dict), "network_mode": (str,), "extends": (str, dict), "labels": (dict, list),
    "scale": (str,), "mem_limit": (str,), "cpus": (str,),
}
SHAPE_NAMES = {str: "a text value", dict: "a mapping", list: "a list"}
UNIQUE_BY_TARGET = ("volumes", "secrets", "configs")


def resolve_service(file: Path, located: LocatedData, name: str, load: Callable[[Path, str], LocatedData],
                    environ: Mapping[str, str], chain: list[tuple[Path, str]]) -> Service:
    """Service `name` of `file` (already loaded as `located`), with everything it extends merged in."""
    prefix = ("services", name)
    services = located.data.get("services") if isinstance(located.data, dict) else None
    definition = services.get(name) if isinstance(services, dict) else None
    if not isinstance(definition, dict):
        where = chain[-1] if chain else (file, name)
        raise ComposeError(located.file, located.line_of(("services",)), ("services", name),
                           f"no service {name!r} in {located.file} (extended by {where[1]})")
    if (file, name) in chain:
        cycle = " -> ".join(n for _, n in chain + [(file, name)])
        raise ComposeError(located.file, located.line_of(prefix + ("extends",)), prefix + ("extends",),
                           f"services extend each other in a cycle: {cycle}")
    data = normalise(definition, file.parent, located, prefix)
    env_values = {}
    if "env_file" in data:
        env_values = env_file_values(file, located, prefix, data["env_file"], environ)
    service = Service(name, data, [(located, prefix)], env_values)
    extends = data.pop("extends", None)
    if extends is None:
        return service
    where = prefix + ("extends",)
    if isinstance(extends, str):
        extends = {"service": extends}
    if not isinstance(extends, dict) or not isinstance(extends.get("service"), str):
        raise ComposeError(located.file, located.line_of(where), where, "must be a service name or {service, file}")
    base_file, base_located = file, located
    if extends.get("file") is not None:
        base_file = Path(os.path.expanduser(str(extends["file"])))
        base_file = (base_file if base_file.is_absolute() else file.parent / base_file).resolve()
        if not base_file.is_file():
            raise ComposeError(located.file, located.line_of(where + ("file",)), where + ("file",),
                               f"extends a file that does not exist: {base_file}")
        base_located = load(base_file, os.path.relpath(base_file))
    base = resolve_service(base_file, base_located, extends["service"], load, environ, chain + [(file, name)])
    return Service(name, merge(base.data, data), service.sources + base.sources, {**base.env_file, **env_values})


def merge(base: Any, over: Any, key: str = "") -> Any:
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for k, v in over.items():
            if k in out and k not in REPLACED and not (key == "healthcheck" and k == "test"):
                out[k] = merge(out[k], v, k)
            else:
                out[k] = v
        return out
    if isinstance(base, list) and isinstance(over, list):
        if key in UNIQUE_BY_TARGET:
            targets = {_target(item) for item in over}
            return [item for item in base if _target(item) not in targets] + over
        return base + [item for item in over if item not in base]
    return over


def _target(item: Any) -> Any:
    if isinstance(item, dict):
        return item.get("target") or item.get("source")
    return str(item)


def normalise(definition: dict[str, Any], directory: Path, located: LocatedData, prefix: tuple) -> dict[str, Any]:
    """The long forms of a service's keys (a copy), with its paths made absolute."""
    data = {k: v for k, v in definition.items() if v is not None}
    for key, shapes in SHAPES.items():
        if key in data and not isinstance(data[key], shapes):
            raise ComposeError(located.file, located.line_of(prefix + (key,)), prefix + (key,),
                               f"must be {' or '.join(SHAPE_NAMES[s] for s in shapes)}")
    for key in ("environment", "labels", "annotations", "sysctls"):
        if key in data:
            data[key] = as_mapping(data[key], located, prefix + (key,))
    if "build" in data:
        build = data["build"]
        build = {"context": build} if isinstance(build, str) else dict(build) if isinstance(build, dict) else build
        if not isinstance(build, dict):
            raise ComposeError(located.file, located.line_of(prefix + ("build",)), prefix + ("build",),
                               "must be a path or a mapping with context")
        build.setdefault("context", ".")
        for key in ("context", "dockerfile", "target"):
            if build.get(key) is not None and not isinstance(build[key], str):
                raise ComposeError(located.file, located.line_of(prefix + ("build", key)), prefix + ("build", key),
                                   "must be a text value")
        if isinstance(build["context"], str) and not URL_RE.match(build["context"]):
            build["context"] = str((directory / os.path.expanduser(build["context"])).resolve())
        if "args" in build:
            build["args"] = as_mapping(build["args"], located, prefix + ("build", "args"))
        data["build"] = build
    if "depends_on" in data:
        depends = data["depends_on"]
        if isinstance(depends, list):
            data["depends_on"] = {str(d): {"condition": "service_started"} for d in depends}
        elif not isinstance(depends, dict):
            raise ComposeError(located.file, located.line_of(prefix + ("depends_on",)), prefix + ("depends_on",),
                               "must be a list of services or a mapping")
    if "volumes" in data:
        if not isinstance(data["volumes"], list):
            raise ComposeError(located.file, located.line_of(prefix + ("volumes",)), prefix + ("volumes",),
                               "must be a list")
        data["volumes"] = [_volume(v, directory, located, prefix + ("volumes", i))
                           for i, v in enumerate(data["volumes"])]
    return data


def as_mapping(value: Any, located: LocatedData, path: tuple) -> dict[str, Any]:
    """`[A=1, B]` or `{A: 1, B: null}` as {A: "1", B: None} (None: no value given)."""
    if value is None:
        return {}
    if isinstance(value, dict):
        return {str(k): (None if v is None else str(v) if not isinstance(v, (dict, list)) else v)
                for k, v in value.items()}
    if isinstance(value, list):
        out: dict[str, Any] = {}
        for item in value:
            if not isinstance(item, str):
                raise ComposeError(located.file, located.line_of(path), path, "list items must be NAME=VALUE text")
            name, eq, text = item.partition("=")
            out[name] = text if eq else None
        return out
    raise ComposeError(located.file, located.line_of(path), path, "must be a mapping or a list of NAME=VALUE")


def _volume(item: Any, directory: Path, located: LocatedData, path: tuple) -> dict[str, Any]:
    """A volume in the long syntax: {type, source, target, read_only, ...}; `_short` keeps what was written."""
    if isinstance(item, dict):
        volume = dict(item)
        volume.setdefault("type", "volume")
    elif isinstance(item, str):
        parts = item.split(":")
        mode = ""
        if len(parts) >= 3 or (len(parts) == 2 and not parts[1].startswith("/") and parts[0].startswith("/")):
            mode = parts.pop()
        if len(parts) == 1:
            volume = {"type": "volume", "target": parts[0]}
        elif len(parts) == 2:
            source, target = parts
            bind = source.startswith(("/", ".", "~")) or "/" in source
            volume = {"type": "bind" if bind else "volume", "source": source, "target": target}
        else:
            raise ComposeError(located.file, located.line_of(path), path,
                               f"{item!r} is not [SOURCE:]TARGET[:MODE]")
        options = mode.split(",") if mode else []
        volume["read_only"] = "ro" in options
        volume["_short"] = item
    else:
        raise ComposeError(located.file, located.line_of(path), path, "must be a volume string or mapping")
    for key in ("source", "target", "type"):
        if volume.get(key) is not None and not isinstance(volume[key], str):
            raise ComposeError(located.file, located.line_of(path + (key,)), path + (key,), "must be a text value")
    source = volume.get("source")
    volume["_written"] = source
    if volume.get("type") == "bind" and isinstance(source, str) and source:
        expanded = os.path.expanduser(source) if source.startswith("~") else source
        if not expanded.startswith("/"):
            expanded = str((directory / expanded).resolve())
        volume["source"] = os.path.normpath(expanded)
        volume["_relative"] = not source.startswith("/")
    return volume
