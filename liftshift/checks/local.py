"""The local rehearsal's checks (`doctor --target local`): its AWS emulator and its registry can start here.

Read only: nothing is started (deploy --target local starts them, targets/local/services.py); the state file
says whether they already run. The ports the stack publishes are aws.ports_free's check.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from typing import Any, Optional

from . import Result

REGISTRY_IMAGE = "registry:2"  # what targets/local/services.py runs when there is no registry binary


def _state() -> dict[str, Any]:
    from ..targets.local.services import state_dir

    path = state_dir() / "local.json"
    try:
        return json.loads(path.read_text()) if path.exists() else {}
    except (OSError, ValueError):
        return {}


def emulator() -> Result:
    if importlib.util.find_spec("moto") is None:
        return Result(False, "moto is not installed", "pip install 'liftshift[local]'")
    from ..targets.local.services import _alive, _answers

    found = _state().get("emulator") or {}
    if found and _alive(found.get("pid")) and _answers(f"http://127.0.0.1:{found.get('port')}/moto-api/"):
        return Result(True, f"moto answers at 127.0.0.1:{found['port']}")
    return Result(True, "moto is installed (started by the first deploy --target local)")


def registry(client: Optional[Any]) -> Result:
    """A registry binary, or the engine with the registry image (or able to pull it)."""
    from ..targets.local.services import _answers

    found = _state().get("registry") or {}
    if found and _answers(f"http://127.0.0.1:{found.get('port')}/v2/"):
        return Result(True, f"a registry answers at 127.0.0.1:{found['port']}")
    binary = shutil.which("docker-registry") or shutil.which("registry")
    if binary:
        return Result(True, f"{binary} (started by the first deploy --target local)")
    if client is None:
        return Result(False, "no registry binary and no Docker engine to run one",
                      "install Debian's docker-registry package, or start the Docker engine")
    import docker.errors

    try:
        client.images.get(REGISTRY_IMAGE)
        return Result(True, f"the image {REGISTRY_IMAGE} (run by the first deploy --target local)")
    except docker.errors.ImageNotFound:
        return Result(None, f"no registry binary; the engine will pull {REGISTRY_IMAGE} (needs Docker Hub)",
                      f"docker pull {REGISTRY_IMAGE}, or install Debian's docker-registry package")
    except docker.errors.DockerException as exc:
        return Result(None, f"cannot ask the engine ({type(exc).__name__})")
