"""Who deployed, when, and from which git commit: the `Origin` recorded with each release.

Kept out of `model/` because it reads the environment, the clock and runs
`git`; `model.releases.Origin` is the plain record it returns.
"""

from __future__ import annotations

import datetime
import getpass
import os
import socket
import subprocess
from pathlib import Path

from .model.releases import Origin


def origin(base: Path) -> Origin:
    """`LIFTSHIFT_DEPLOYED_BY` or user@host, the time now (UTC, seconds), and the commit `base` is at."""
    by = os.environ.get("LIFTSHIFT_DEPLOYED_BY") or f"{_user()}@{socket.gethostname()}"
    at = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()
    return Origin(by[:200], at, _commit(base))


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _commit(base: Path) -> str | None:
    """The git commit app.yaml's directory is at, marked -dirty when it has uncommitted changes."""
    try:
        head = subprocess.run(["git", "-C", str(base), "rev-parse", "--short=12", "HEAD"], capture_output=True,
                              text=True, timeout=10)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", str(base), "status", "--porcelain", "--", "."], capture_output=True,
                               text=True, timeout=10)
        return head.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None
