"""Wall time of the local rehearsal of stacks/hello: a cold first deploy, a no-change deploy, destroy.

Cold means: the base image (busybox:1.36) is present, nothing of the stack is
built, and the emulator and registry are not running yet (their start is part
of the figure). Uses a private state directory and stops its services at the end.

    python benchmarks/local.py
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(label: str, *args: str) -> float:
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "liftshift.cli", *args], capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{label} failed ({result.returncode}):\n{result.stderr[-2000:]}")
    print(f"{label:<32} {elapsed:6.2f} s")
    return elapsed


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="liftshift-bench-local-"))
    os.environ["LIFTSHIFT_STATE_DIR"] = str(work / "state")
    for var in ("AWS_ENDPOINT_URL", "LIFTSHIFT_REGISTRY"):
        os.environ.pop(var, None)
    stack = work / "hello"
    shutil.copytree(ROOT / "stacks" / "hello", stack)
    app = stack / "app.yaml"
    app.write_text(app.read_text().replace("name: hello", "name: benchlocal"))
    import docker

    client = docker.from_env()
    for image in client.images.list():  # cold: nothing of this stack built or pushed before
        if any("/benchlocal/" in tag for tag in image.tags):
            client.images.remove(image.id, force=True)
    try:
        print("local rehearsal of stacks/hello (busybox:1.36 present, nothing built)")
        timed("first deploy (cold)", "deploy", str(app), "--target", "local")
        timed("second deploy (no change)", "deploy", str(app), "--target", "local")
        timed("status", "status", str(app), "--target", "local")
        timed("destroy", "destroy", str(app), "--target", "local", "--yes")
    finally:
        subprocess.run([sys.executable, "-m", "liftshift.cli", "local", "stop"], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
