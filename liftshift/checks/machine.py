"""The machine's checks: a Docker engine that answers, its builder, and the platforms it can build for.

liftshift builds through the engine's API with the docker SDK (apply/images.py), so the engine's own builder
is the one used; a foreign architecture (an arm64 service built on an x86_64 engine) needs the engine's host to
run foreign binaries (binfmt_misc with QEMU's handlers), which the kernel lists in /proc/sys/fs/binfmt_misc.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any, Optional

from . import Result

ENGINE_FIX = ("start the Docker engine (sudo systemctl start docker), or point DOCKER_HOST at one; "
              "a permission error: add your user to the 'docker' group")
ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}  # engine's uname -m -> Docker's
BINFMT = {"amd64": "qemu-x86_64", "arm64": "qemu-aarch64"}  # the handler a foreign platform needs
BINFMT_DIR = Path("/proc/sys/fs/binfmt_misc")
BINFMT_FIX = "docker run --privileged --rm tonistiigi/binfmt --install {arch} (QEMU user emulation for the engine)"


def engine() -> tuple[Result, Optional[dict[str, Any]]]:
    """The engine's answer to `info` (None when it does not answer)."""
    import docker
    import docker.errors

    where = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    try:
        client = docker.from_env(timeout=10)
        info = client.info()
        version = client.version().get("Version", "?")
    except (docker.errors.DockerException, OSError) as exc:
        first = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
        return Result(False, f"no Docker engine answers at {where}: {first}", ENGINE_FIX), None
    return Result(True, f"Docker {version} at {where}, {info.get('OSType', '?')}/{info.get('Architecture', '?')}"), info


def builder(info: Optional[dict[str, Any]]) -> Result:
    """The engine builds (classic builder through its API); BuildKit's buildx is reported when present."""
    if info is None:
        return Result(None, "no engine to ask")
    buildx = _buildx()
    if info.get("OSType") != "linux":
        return Result(False, f"the engine runs {info.get('OSType')} containers; EC2 instances run linux ones",
                      "switch the engine to Linux containers")
    extra = f"; buildx {buildx} is installed (liftshift does not need it)" if buildx else \
        "; no buildx (liftshift does not need it: it builds through the engine's API)"
    return Result(True, "the engine's builder" + extra)


def _buildx() -> Optional[str]:
    docker_cli = shutil.which("docker")
    if not docker_cli:
        return None
    try:
        out = subprocess.run([docker_cli, "buildx", "version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.split()[1] if out.returncode == 0 and len(out.stdout.split()) > 1 else None


def engine_arch(info: Optional[dict[str, Any]]) -> Optional[str]:
    return ARCH.get(str((info or {}).get("Architecture", "")).lower())


def can_build(info: Optional[dict[str, Any]], arch: str) -> Optional[bool]:
    """True natively or through binfmt, False when it cannot, None when it cannot be told (a remote engine)."""
    native = engine_arch(info)
    if native is None:
        return None
    if native == arch:
        return True
    if os.environ.get("DOCKER_HOST", "unix://").split("://")[0] not in ("unix", "npipe"):
        return None  # the binfmt handlers to look at are on another machine
    if not (BINFMT_DIR / "status").exists():
        return None  # binfmt_misc is not mounted here (a container): its handlers cannot be read
    return (BINFMT_DIR / BINFMT[arch]).exists()


def platforms(info: Optional[dict[str, Any]]) -> Result:
    """Which of linux/amd64 and linux/arm64 the engine can build for."""
    if info is None:
        return Result(None, "no engine to ask")
    answers = {arch: can_build(info, arch) for arch in ("amd64", "arm64")}
    yes = [f"linux/{a}" for a, ok in answers.items() if ok]
    no = [a for a, ok in answers.items() if ok is False]
    unknown = [f"linux/{a}" for a, ok in answers.items() if ok is None]
    detail = f"builds for {', '.join(yes) or 'nothing known'}"
    if unknown:
        detail += f"; cannot tell for {', '.join(unknown)} (binfmt_misc of a remote engine, or not mounted here)"
    if no:
        return Result(True, detail + f"; not linux/{', linux/'.join(no)} (no binfmt handler)",
                      "only if a service needs it: " + BINFMT_FIX.format(arch=",".join(no)))
    return Result(True, detail)


def service_arch(name: str, arch: str, info: Optional[dict[str, Any]]) -> Result:
    """A service's instance architecture against what the engine can build."""
    ok = can_build(info, arch)
    if info is None:
        return Result(None, f"linux/{arch}: no engine to ask")
    if ok is None:
        return Result(None, f"linux/{arch} on a {info.get('Architecture')} engine: cannot tell whether it emulates")
    if not ok:
        return Result(False, f"{name} runs on linux/{arch}, the engine is {info.get('Architecture')} without "
                             "emulation", BINFMT_FIX.format(arch=arch) + ", or choose an instance type of "
                                                                           f"{engine_arch(info)}")
    how = "natively" if engine_arch(info) == arch else "under QEMU emulation (slow)"
    return Result(True, f"linux/{arch}, built {how}")
