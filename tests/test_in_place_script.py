"""The in-place release command (gate.in_place_script, what SSM Run Command runs on an instance), run for real
under bash with fake `aws`, `docker` and `curl` programs on PATH: the release's user-data lands in a file only
root can read, in a directory only root can enter, with no moment where it is readable by others."""
from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

from liftshift.apply.gate import in_place_script

# Stands in for a release's user-data: it records, while it runs, the modes of its own file and directory
# and of what it writes with its own umask (the real user-data sets 022 for its unit files), then "pulls".
USER_DATA = b"""#!/bin/bash
set -euo pipefail
umask 022
stat -c %a "$0" >"$OUT/file-mode"
stat -c %a "$(dirname "$0")" >"$OUT/dir-mode"
touch "$OUT/unit" && stat -c %a "$OUT/unit" >"$OUT/unit-mode"
aws ecr get-login-password --region eu-west-1 >/dev/null
docker pull registry/app@sha256:0000
"""


def fake_tools(bindir: Path, log: Path) -> None:
    bindir.mkdir()
    for tool in ("aws", "docker", "curl"):
        path = bindir / tool
        path.write_text(f'#!/bin/bash\nprintf "%s\\n" "{tool} $*" >>{log}\nexit 0\n')
        path.chmod(0o755)


def run(script: str, tmp: Path) -> subprocess.CompletedProcess:
    bindir = tmp / "bin"
    if not bindir.exists():
        fake_tools(bindir, tmp / "calls")
    env = {"PATH": f"{bindir}:/usr/bin:/bin", "OUT": str(tmp), "HOME": str(tmp)}
    # SSM Run Command's shell has the usual umask 022: the script must not rely on the caller's.
    return subprocess.run([shutil.which("bash"), "-c", "umask 022; " + script], env=env, capture_output=True,
                          text=True, timeout=60)


def test_the_release_script_is_written_root_only_and_run(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    lib.mkdir(mode=0o755)
    old = lib / "release.sh"  # left world-readable by an older liftshift
    old.write_text("echo old release with env values\n")
    old.chmod(0o644)
    script = in_place_script(USER_DATA, 8080, "/healthz", 10, directory=str(lib))
    result = run(script, tmp_path)
    assert result.returncode == 0, result.stderr
    # while it ran: 0600 in a 0700 directory; the user-data's own umask still applies to what it writes
    assert (tmp_path / "file-mode").read_text().strip() == "600"
    assert (tmp_path / "dir-mode").read_text().strip() == "700"
    assert (tmp_path / "unit-mode").read_text().strip() == "644"
    assert stat.S_IMODE(os.stat(lib / "release.sh").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(lib).st_mode) == 0o700
    assert (lib / "release.sh").read_bytes() == USER_DATA
    calls = (tmp_path / "calls").read_text().splitlines()
    assert calls[:2] == ["aws ecr get-login-password --region eu-west-1", "docker pull registry/app@sha256:0000"]
    assert calls[2] == "curl -fsS -o /dev/null --max-time 3 http://127.0.0.1:8080/healthz"


def test_the_umask_is_set_before_anything_is_written() -> None:
    lines = in_place_script(USER_DATA, 8080, None, 10).splitlines()
    umask = lines.index("umask 077")
    writes = [i for i, line in enumerate(lines) if ">/var/lib/liftshift" in line or "mkdir" in line]
    assert writes and umask < min(writes)
    assert lines.index("chmod 0700 /var/lib/liftshift") < lines.index("rm -f /var/lib/liftshift/release.sh") < max(writes)
