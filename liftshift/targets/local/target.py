"""Wiring for the local rehearsal: the same pipeline with an emulator for AWS and stand-in hosts for EC2.

Differences from the AWS target are only in the clients: AWS calls go to the
background emulator, images go to a local registry (the user-data pulls from it
by digest, exactly as on EC2 from ECR), and stand-in hosts run each emulated
instance's user-data.
"""

from __future__ import annotations

from ...aws.session import Aws, CallLog
from ..base import Target
from ...progress import Progress
from ...model.desired import Registry
from ..aws import docker_connector, retry_reporter
from .services import ensure_emulator, ensure_registry
from .gate import LocalGate
from .standin import StandInHosts

DEFAULT_REGION = "us-east-1"


def local_target(region: str | None, progress: Progress, call_log: CallLog | None = None) -> Target:
    docker = docker_connector()
    docker()  # a missing or forbidden engine is reported before anything starts
    endpoint = ensure_emulator()
    registry = ensure_registry(docker)
    aws = Aws(region=region or DEFAULT_REGION, call_log=call_log, endpoint_url=endpoint,
              credentials=("liftshift-local", "liftshift-local"), on_retry=retry_reporter(progress))
    hosts = StandInHosts(docker, aws, progress)
    return Target(name="local", rehearsal=True, aws=aws, docker=docker, registry=Registry(registry, is_ecr=False),
                  registry_auth=lambda: None, progress=progress, hosts=hosts,
                  make_gate=lambda spec: LocalGate(hosts, aws, spec, progress))
