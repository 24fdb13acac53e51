"""What a stand-in host (standin.py) needs for a service's secret files and its ports beyond the main one.

Secret files: the stand-in's `docker run -v FILE:PATH:ro` is executed by this machine's engine, so FILE must be a
path of this machine. Each stand-in gets its own directory here (on tmpfs where the machine has a runtime
directory, $XDG_RUNTIME_DIR; else under the state directory), bound into the stand-in at the same path and named
to its user-data in LIFTSHIFT_SECRET_FILE_DIR; the user-data writes the files there. The values reach the stand-in
as the env secrets' do: read from the emulator (as EC2 would with the instance role) and put in the stand-in's own
filesystem, never in its environment. The directory goes with the stand-in.

More ports: published at their declared ports, unless another instance of the same service already has one
(a rollout starts the new instance before the old one goes): then at a free port, told to the user-data in
LIFTSHIFT_PUBLISH_PORT_<container port>, as LIFTSHIFT_PUBLISH_PORT does for the main port.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import tarfile
from pathlib import Path
from typing import Any, Callable, Iterable

from .services import state_dir

SECRET_FILE_DIR_ENV = "LIFTSHIFT_SECRET_FILE_DIR"
VALUES_DIR = "liftshift/secret-file-values"  # under /run in the stand-in, as the template reads them
EXTRA_PORTS_LABEL = "liftshift.extra-ports"  # "PUBLISHED:CONTAINER,..." as published by the stand-in


def _base() -> Path:
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and Path(runtime).is_dir() and os.access(runtime, os.W_OK):
        return Path(runtime) / "liftshift" / "secret-files"
    return state_dir() / "secret-files"


def host_dir(stack: str, instance: str) -> Path:
    """The stand-in's directory of secret files on this machine, made empty and private (0700)."""
    path = _base() / f"{stack}.{instance}"
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    _remove_tree(path)
    path.mkdir(mode=0o700, exist_ok=True)  # left only where this user may not remove root's files in it
    return path


def mount(path: Path) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """The stand-in's volumes and environment for its directory of secret files (the same path inside)."""
    return {str(path): {"bind": str(path), "mode": "rw"}}, {SECRET_FILE_DIR_ENV: str(path)}


def values_archive(values: dict[str, str]) -> bytes:
    """A tar of the values for put_archive into the stand-in's /run: a root-only directory of 0400 files."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        directory = tarfile.TarInfo(VALUES_DIR)
        directory.type, directory.mode = tarfile.DIRTYPE, 0o700
        tar.addfile(directory)
        for name, value in values.items():
            data = value.encode()
            info = tarfile.TarInfo(f"{VALUES_DIR}/{name}")
            info.size, info.mode = len(data), 0o400
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def remove(stack: str, instance: str, container: Any = None) -> None:
    """The stand-in's directory, while the stand-in (root, which wrote the files) can still help."""
    path = _base() / f"{stack}.{instance}"
    if not path.exists():
        return
    if container is not None:
        with contextlib.suppress(Exception):
            container.exec_run(["rm", "-rf", "--", str(path)])
    _remove_tree(path)


def remove_stack(stack: str) -> None:
    """Every directory the stack's stand-ins left (destroy)."""
    base = _base()
    if base.is_dir():
        for path in base.glob(f"{stack}.*"):
            _remove_tree(path)


def _remove_tree(path: Path) -> None:
    if path.exists():
        shutil.rmtree(path, ignore_errors=True)


# --- more ports ------------------------------------------------------------------------------------------------


def choose_ports(declared: Iterable[tuple[int, int]], used: set[int],
                 free_port: Callable[[], int]) -> list[tuple[int, int]]:
    """(published, container) for a new stand-in: the declared port, or a free one where `used` has it."""
    return [(published if published not in used else free_port(), container) for published, container in declared]


def label(ports: list[tuple[int, int]]) -> str:
    return ",".join(f"{published}:{container}" for published, container in ports)


def parse_label(text: str | None) -> tuple[tuple[int, int], ...]:
    out = []
    for item in (text or "").split(","):
        published, _, container = item.partition(":")
        if published.isdigit() and container.isdigit():
            out.append((int(published), int(container)))
    return tuple(out)


def environment(ports: list[tuple[int, int]]) -> dict[str, str]:
    return {f"LIFTSHIFT_PUBLISH_PORT_{container}": str(published) for published, container in ports}


def bound_ports(client, stack: str, service: str | None = None) -> set[int]:
    """The host ports the stack's app containers (of `service`) publish, including ports a release brought in
    place (the stand-in's label has those it was booted with)."""
    labels = [f"liftshift.stack={stack}"] + ([f"liftshift.service={service}"] if service else [])
    out = set()
    for app in client.containers.list(all=True, filters={"label": labels}):
        for bindings in (app.attrs.get("HostConfig", {}).get("PortBindings") or {}).values():
            out |= {int(b["HostPort"]) for b in bindings or [] if str(b.get("HostPort", "")).isdigit()}
    return out
