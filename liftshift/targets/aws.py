"""Wiring for the AWS target: real (or emulated, via AWS_ENDPOINT_URL) AWS and the local Docker engine.

`LIFTSHIFT_REGISTRY=host:port` replaces ECR's registry host for pushes and for
the pull in the user-data, for emulators that do not serve ECR's registry
protocol. `LIFTSHIFT_REGISTRY_USERNAME` / `LIFTSHIFT_REGISTRY_PASSWORD` log in to
such a registry; ECR itself is logged in to with `get_authorization_token`.
`LIFTSHIFT_LB_ENDPOINT=host:port` is where the rollout's probe "through the load
balancer" goes, for emulators whose load balancers have no data plane: read when
a gate is made and handed to it, so the gate itself knows no emulator.
"""

from __future__ import annotations

import os

from ..aws.ecr_auth import ecr_login
from ..aws.session import Aws, CallLog
from .base import Target
from ..progress import Progress
from ..model.desired import Registry, ecr_registry
from ..errors import BadInput


class DockerUnavailable(BadInput):
    """No usable Docker engine: bad setup, exit code 2."""


def docker_connector():
    """A function returning a pinged docker client of the calling thread's own, created on its first use there.

    One client per thread, because builds, pulls and pushes run side by side (`Target.parallel`) and a shared
    client is not safe for that: docker-py's APIClient *is* a requests.Session (docker/api/client.py), which
    requests does not document as thread-safe (psf/requests#2766, closed without a contract); docker-py says
    nothing either (docker/docker-py#3229, open). Reading the source: `APIClient._set_auth_headers`
    (docker/api/build.py) reassigns `self._auth_configs` during a build, and a streamed build, pull or push
    holds one of the adapter's pooled connections until it is read to its end (docker/transport/unixconn.py:
    pools of `DEFAULT_MAX_POOL_SIZE` = 10, non-blocking, so an eleventh stream opens a connection the pool then
    discards with a warning). A client per thread costs one ping on the engine's socket and shares nothing.
    Each client is pinged when made, so an unusable engine is reported by the first call that needs one.
    """
    import threading

    mine = threading.local()

    def connect():
        client = getattr(mine, "client", None)
        if client is None:
            import docker
            import docker.errors

            try:
                client = docker.from_env(timeout=300)
                client.ping()
            except docker.errors.DockerException as exc:
                text = str(exc)
                if "Permission denied" in text or "PermissionError" in text:
                    raise DockerUnavailable(
                        "you may not use the Docker engine (permission denied on its socket): "
                        "add your user to the 'docker' group or run with sudo"
                    ) from None
                raise DockerUnavailable(
                    f"cannot reach a Docker engine ({os.environ.get('DOCKER_HOST', 'unix:///var/run/docker.sock')}): "
                    "is dockerd running? " + text.splitlines()[0][:200]
                ) from None
            mine.client = client  # dropped (and its connections closed) with the thread's locals when it ends
        return client

    return connect


def retry_reporter(progress: Progress):
    """With --verbose, every retried AWS call is shown (botocore retries them quietly otherwise)."""
    if not getattr(progress, "verbose", False):
        return None
    return lambda service, operation, attempt: progress.note(f"retrying {service}:{operation} (attempt {attempt})")


def aws_target(region: str | None, profile: str | None, progress: Progress, call_log: CallLog | None = None,
               name: str = "aws") -> Target:
    aws = Aws(region=region, profile=profile, call_log=call_log, on_retry=retry_reporter(progress))
    override = os.environ.get("LIFTSHIFT_REGISTRY", "").strip()
    # ECR's host names the account: one STS call, which also proves the credentials first.
    registry = Registry(override, is_ecr=False) if override else ecr_registry(aws.account_id(), aws.region)
    auth_cache: dict[str, dict | None] = {}

    def registry_auth() -> dict | None:
        if "a" not in auth_cache:
            if override:
                user = os.environ.get("LIFTSHIFT_REGISTRY_USERNAME")
                auth_cache["a"] = {"username": user, "password": os.environ.get("LIFTSHIFT_REGISTRY_PASSWORD", ""),
                                   "serveraddress": override} if user else None
            else:
                auth_cache["a"] = ecr_login(aws, registry.host)
        return auth_cache["a"]

    from ..apply.gate import AwsGate

    def make_gate(spec) -> AwsGate:
        return AwsGate(aws, progress, spec.name, lb_endpoint=lb_endpoint_override())

    return Target(name=name, aws=aws, docker=docker_connector(), registry=registry, registry_auth=registry_auth,
                  make_gate=make_gate, progress=progress)


def lb_endpoint_override() -> str | None:
    """LIFTSHIFT_LB_ENDPOINT ("host:port"), else None: an emulator's stand-in for the load balancer's data plane
    (see README, emulator settings)."""
    return os.environ.get("LIFTSHIFT_LB_ENDPOINT", "").strip() or None
