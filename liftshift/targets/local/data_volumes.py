"""The local rehearsal's data volumes: Docker named volumes the stand-in hosts' user-data makes (with the
labels below, templates/user-data.sh.j2 "data volumes"), which outlive stand-ins as EBS volumes outlive
instances. `destroy --delete-data` removes them; a plain destroy keeps them, as it keeps the EBS volumes."""

from __future__ import annotations

import contextlib

STACK_LABEL = "liftshift.stack"
DATA_LABEL = "liftshift.data"  # the volume's app.yaml name; set only on data volumes


def data_volumes(client, stack: str) -> list:
    """The stack's Docker data volumes, found by their labels (never by a name prefix: stack "a" and "a-b")."""
    return [v for v in client.volumes.list(filters={"label": [f"{STACK_LABEL}={stack}", DATA_LABEL]})
            if v.attrs.get("Labels", {}).get(STACK_LABEL) == stack]


def remove_data_volumes(client, stack: str) -> list[str]:
    """Remove the stack's Docker data volumes (their containers are gone by then); the names removed."""
    import docker.errors

    removed = []
    for volume in data_volumes(client, stack):
        with contextlib.suppress(docker.errors.NotFound):
            volume.remove(force=True)
            removed.append(volume.name)
    return removed
