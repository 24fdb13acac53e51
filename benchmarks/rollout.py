"""Blue-green rollouts in the local rehearsal: stacks/fleet, 2 instances behind the load-balancer stand-in.

Figures, each measured by a client sending a request every 20 ms to the listener
during the command:
  - time from `deploy` start until the client's first answer from the new release;
  - requests failed during the switch (must be 0);
  - time to detect and abandon a release whose health check fails (exit 3), and requests failed meanwhile;
  - time of `rollback`, and until the client sees the previous release again.
Uses a private state directory and stops its services at the end.

    python benchmarks/rollout.py [--rounds N]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from support.lb import Traffic  # noqa: E402 (the tests' helpers, as benchmarks/faults.py uses them)


def cli(*args: str) -> tuple[int, str]:
    result = subprocess.run([sys.executable, "-m", "liftshift.cli", *args, "--target", "local"],
                            capture_output=True, text=True)
    return result.returncode, result.stderr


def measured(port: int, *args: str, expect: int = 0, new: str | None = None) -> dict:
    with Traffic(port) as client:
        start = time.perf_counter()
        code, err = cli(*args)
        took = time.perf_counter() - start
    if code != expect:
        raise SystemExit(f"{' '.join(args)} exited {code}, expected {expect}:\n{err[-2000:]}")
    return {"took": took, "failed": len(client.failures), "requests": client.requests,
            "traffic": client.first(new, start) if new else None,
            "bodies": sorted({b for _, b in client.answers})}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3, help="blue-green switches to measure")
    rounds = parser.parse_args().rounds
    work = Path(tempfile.mkdtemp(prefix="liftshift-bench-rollout-"))
    os.environ["LIFTSHIFT_STATE_DIR"] = str(work / "state")
    for var in ("AWS_ENDPOINT_URL", "LIFTSHIFT_REGISTRY"):
        os.environ.pop(var, None)
    stack = work / "fleet"
    shutil.copytree(ROOT / "stacks" / "fleet", stack)
    app = str(stack / "app.yaml")
    port = free_port()
    text = (stack / "app.yaml").read_text().replace("name: fleet", "name: benchrollout")
    (stack / "app.yaml").write_text(re.sub(r"^(\s{6})port: \d+", rf"\g<1>port: {port}", text, flags=re.M))
    site = stack / "site"
    try:
        print(f"local rehearsal of stacks/fleet: 2 instances behind the load-balancer stand-in on 127.0.0.1:{port}")
        start = time.perf_counter()
        code, err = cli("deploy", app)
        if code:
            raise SystemExit(err[-2000:])
        print(f"first deploy (ALB, target group, group, gate)  {time.perf_counter() - start:6.2f} s")
        switches = []
        for n in range(2, rounds + 2):
            (site / "index.html").write_text(f"release {n}\n")
            switches.append(measured(port, "deploy", app, new=f"release {n}"))
        for s in switches:
            if s["traffic"] is None:
                raise SystemExit("the client never saw the new release")
        print(f"blue-green deploy, start -> traffic on new      {statistics.median(s['traffic'] for s in switches):6.2f} s"
              f"  (median of {rounds}; whole command {statistics.median(s['took'] for s in switches):.2f} s)")
        print(f"requests failed during the switches             {sum(s['failed'] for s in switches):6d}"
              f"    of {sum(s['requests'] for s in switches)}")
        (site / "healthz").unlink()
        (site / "index.html").write_text("broken release\n")
        bad = measured(port, "deploy", app, expect=3)
        print(f"failing release detected and abandoned (exit 3) {bad['took']:6.2f} s"
              f"  ({bad['failed']} of {bad['requests']} requests failed; answers seen: {', '.join(bad['bodies'])})")
        back = measured(port, "rollback", app, new=f"release {rounds}")
        print(f"rollback to the previous release                {back['took']:6.2f} s"
              f"  (traffic back after {back['traffic'] or float('nan'):.2f} s; {back['failed']} failed)")
    finally:
        cli("destroy", app, "--yes")
        subprocess.run([sys.executable, "-m", "liftshift.cli", "local", "stop"], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
