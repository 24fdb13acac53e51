"""Wall time and AWS API calls of plan, a first deploy and a no-change deploy of a 20-service stack.

Runs against a moto server it starts itself, the local Docker engine and a
Debian docker-registry it starts on a free loopback port (LIFTSHIFT_REGISTRY).
Needs: dockerd running, /usr/bin/docker-registry, the busybox:1.36 image
(scripts/make-busybox-image.sh). Prints the figures; asserts nothing.

--latency-ms N delays every AWS API call (each HTTP attempt) by N ms inside this
process, as a real region's round trip would: 80 is a laptop or CI runner far
from its region. --parallel N is the deploy's --parallel (1: one call after another).

    python benchmarks/deploy.py [--services 20] [--latency-ms 80] [--parallel 8]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from emulated import emulated  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--services", type=int, default=20)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--parallel", type=int, default=None)
    args = parser.parse_args()
    if args.latency_ms:
        delay_aws_calls(args.latency_ms / 1000)
    work = Path(tempfile.mkdtemp(prefix="liftshift-bench-"))

    try:
        with emulated(work):
            run(work, args.services, args.parallel)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def delay_aws_calls(seconds: float) -> None:
    """Every client liftshift makes sleeps `seconds` before each HTTP attempt (botocore's before-send event)."""
    from liftshift.aws.session import Aws

    make = Aws._client

    def with_latency(self, name: str):
        new = name not in self._clients
        client = make(self, name)
        if new:
            client.meta.events.register("before-send", lambda **_: time.sleep(seconds))
        return client

    Aws._client = with_latency


def run(work: Path, count: int, parallel: int | None) -> None:
    from liftshift.aws.session import CallLog
    from liftshift.pipeline.deploy import deploy
    from liftshift.pipeline.destroy import destroy
    from liftshift.pipeline.prepare import prepare
    from liftshift.progress import Progress
    from liftshift.spec.load import load_spec
    from liftshift.targets.aws import aws_target

    stack = work / "stack"
    stack.mkdir()
    (stack / "Dockerfile").write_text('FROM busybox:1.36\nCMD ["httpd", "-f", "-p", "8080"]\n')
    services = "".join(
        f"  svc{i:02d}:\n    build: .\n    port: 8080\n    env: {{INDEX: '{i}'}}\n" for i in range(count))
    (stack / "app.yaml").write_text(f"version: 1\nname: bench\nservices:\n{services}")
    spec, base = load_spec(stack / "app.yaml")

    def measure(label: str, fn) -> None:
        log = CallLog()
        start = time.perf_counter()
        target = aws_target(None, None, Progress(), log)
        if parallel is not None:
            target.parallel = parallel
        fn(target)
        elapsed = time.perf_counter() - start
        by_op = log.by_operation()
        print(f"\n{label}: {elapsed:.2f} s, {len(log.calls)} AWS calls "
              f"({len(log.reads())} reads, {len(log.mutating())} mutating, of which "
              f"{len(log.stack_changes())} change the stack's resources; the rest are DynamoDB writes: the deploy lock and release records)")
        for op, n in sorted(by_op.items()):
            print(f"    {n:4d}  {op}")

    from liftshift.targets.base import DEFAULT_PARALLEL

    print(f"stack of {count} services (one image build each, shared Docker cache), --parallel "
          f"{parallel or DEFAULT_PARALLEL}")
    measure("plan (empty account)", lambda t: prepare(spec, base, t))
    measure("first deploy", lambda t: deploy(spec, base, t))
    measure("second deploy, no change", lambda t: deploy(spec, base, t))
    measure("plan, no change", lambda t: prepare(spec, base, t))
    measure("destroy", lambda t: destroy(spec, t, keep_images=False))


if __name__ == "__main__":
    sys.exit(main())
