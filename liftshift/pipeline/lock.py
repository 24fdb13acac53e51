"""One deploy, rollback or destroy of a stack at a time, across machines (aws.lock's DynamoDB lock)."""

from __future__ import annotations

import contextlib
from typing import Iterator

from ..spec.model import AppSpec
from ..targets.base import Target


@contextlib.contextmanager
def stack_lock(spec: AppSpec, target: Target, operation: str, wait: float) -> Iterator[None]:
    """Hold the stack's lock for the block; the lock is refreshed while the run works (lock.KeepAlive), and a
    run that loses it stops with LockLost."""
    from ..aws import lock

    target.aws.account_id()  # bad credentials are bad input (exit 2), not a lock problem

    def released_late(exc: Exception) -> None:
        target.progress.note(f"warning: the deploy lock of {spec.name} could not be released ({exc}); it "
                             "expires by itself, or run `liftshift unlock`")

    with lock.held(target.aws.client("dynamodb"), spec.name, lock.default_owner(), operation, ttl=lock.DEFAULT_TTL,
                   wait_seconds=wait, on_release_error=released_late):
        yield
