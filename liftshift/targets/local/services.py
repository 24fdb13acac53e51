"""Background services of the local rehearsal: the AWS emulator and a container registry.

Both run detached and are recorded in a state file so every later liftshift
command (deploy, status, destroy) talks to the same ones. State lives in
$LIFTSHIFT_STATE_DIR, else $XDG_STATE_HOME/liftshift, else ~/.local/state/liftshift.
The registry is Debian's `docker-registry` binary when installed (works with no
network), else a `registry:2` container (pulled if absent).
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any, Iterator

from ...errors import BadInput

REGISTRY_CONTAINER = "liftshift-local-registry"


class LocalSetupError(BadInput):
    """The local rehearsal cannot start here (missing part, busy port): exit code 2."""


def state_dir() -> Path:
    base = os.environ.get("LIFTSHIFT_STATE_DIR")
    if base:
        path = Path(base)
    else:
        xdg = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
        path = Path(xdg) / "liftshift"
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[dict[str, Any]]:
    """The state file, read and written under an exclusive lock (two commands may start at once)."""
    with open(directory / "local.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        path = directory / "local.json"
        state = json.loads(path.read_text()) if path.exists() else {}
        yield state
        path.write_text(json.dumps(state, indent=2))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:  # a zombie is not alive
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


def _wait(url: str, what: str, log: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not _answers(url):
        if time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-1500:] if log.exists() else ""
            raise LocalSetupError(f"{what} did not start within {timeout:.0f} s (log {log}):\n{tail}")
        time.sleep(0.2)


def _spawn(argv: list[str], log: Path, env: dict[str, str] | None = None) -> int:
    with open(log, "ab") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=out, stdin=subprocess.DEVNULL,
                                start_new_session=True, env=env)
    return proc.pid


def ensure_emulator() -> str:
    """The endpoint of the running AWS emulator, started if needed."""
    if importlib.util.find_spec("moto") is None:
        raise LocalSetupError("the local target needs moto: pip install 'liftshift[local]'")
    directory = state_dir()
    with _locked(directory) as state:
        found = state.get("emulator", {})
        url = f"http://127.0.0.1:{found.get('port')}"
        if _alive(found.get("pid")) and _answers(url + "/moto-api/"):
            return url
        port = free_port()
        log = directory / "emulator.log"
        env = {**os.environ, "MOTO_IAM_LOAD_MANAGED_POLICIES": "true"}
        pid = _spawn([sys.executable, "-m", "liftshift.targets.local.emulator", "--port", str(port)], log, env)
        url = f"http://127.0.0.1:{port}"
        _wait(url + "/moto-api/", "the AWS emulator", log)
        state["emulator"] = {"pid": pid, "port": port}
        return url


def ensure_registry(docker_client_fn) -> str:
    """host:port of the running local registry, started if needed."""
    directory = state_dir()
    with _locked(directory) as state:
        found = state.get("registry", {})
        host = f"127.0.0.1:{found.get('port')}"
        if found and _answers(f"http://{host}/v2/") and (found.get("container") or _alive(found.get("pid"))):
            return host
        port = free_port()
        host = f"127.0.0.1:{port}"
        log = directory / "registry.log"
        binary = shutil.which("docker-registry") or shutil.which("registry")
        if binary:
            config = directory / "registry.yml"
            config.write_text(
                "version: 0.1\nstorage:\n  filesystem:\n"
                f"    rootdirectory: {directory / 'registry'}\n  delete:\n    enabled: true\n"
                f"http:\n  addr: {host}\n"
            )
            state["registry"] = {"pid": _spawn([binary, "serve", str(config)], log), "port": port}
        else:
            state["registry"] = {"container": _registry_container(docker_client_fn(), port), "port": port}
        _wait(f"http://{host}/v2/", "the local registry", log)
        return host


def _registry_container(client, port: int) -> str:
    import docker.errors

    with contextlib.suppress(docker.errors.NotFound):
        client.containers.get(REGISTRY_CONTAINER).remove(force=True)
    try:
        container = client.containers.run(
            "registry:2", name=REGISTRY_CONTAINER, detach=True, ports={"5000/tcp": ("127.0.0.1", port)},
            labels={"liftshift.local": "registry"},
        )
    except docker.errors.DockerException as exc:
        raise LocalSetupError(
            "no local registry: install Debian's docker-registry package, or let Docker pull registry:2 "
            f"({str(exc).splitlines()[0][:200]})"
        ) from None
    return container.id


def stop_services(docker_client_fn) -> list[str]:
    """Stop the emulator and the registry; returns what was stopped."""
    directory = state_dir()
    stopped = []
    with _locked(directory) as state:
        for name in ("emulator", "registry"):
            found = state.pop(name, None) or {}
            if found.get("container"):
                import docker.errors

                with contextlib.suppress(docker.errors.NotFound):
                    docker_client_fn().containers.get(found["container"]).remove(force=True)
                stopped.append(name)
            elif _alive(found.get("pid")):
                os.kill(found["pid"], signal.SIGTERM)
                for _ in range(50):
                    if not _alive(found["pid"]):
                        break
                    time.sleep(0.1)
                else:
                    os.kill(found["pid"], signal.SIGKILL)
                stopped.append(name)
    return stopped
