"""The deploy lock: one deploy or destroy of a stack at a time, across machines.

The lock is an item in the DynamoDB table `liftshift-locks` (model.names.TABLE; partition key
`stack`), made on first use and shared by every stack of the account and
region, so destroying a stack never deletes it. DynamoDB conditional writes
are atomic for a single item wherever the writers run (two CI runners, a
laptop and a runner), need no server of our own, and moto emulates them
faithfully, so the tests exercise the real protocol:

- acquire: `put_item` only if no item exists or the one there has expired;
- release / refresh: only if the item still carries our random token, so a
  process never removes or extends a lock that someone else now holds;
- expiry: every lock has `expires_at` (epoch seconds). A process killed while
  holding the lock blocks others for at most `ttl` seconds; a live run keeps
  its lock with `refresh`, which `held` calls from a heartbeat thread every
  third of the ttl. If a refresh finds the lock gone (it expired while the
  process was stalled, or someone ran `liftshift unlock`), the run is stopped
  with LockLost: another run may be changing the stack now.
  `force_unlock` is the manual way out.

Expiry is judged by the acquiring client's clock, so hosts need roughly
synchronised clocks (seconds, not minutes); the ttl is far larger than skew.

Every function takes a ready boto3 DynamoDB client; nothing here creates one.
"""

from __future__ import annotations

import _thread
import getpass
import os
import signal
import socket
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Iterator

from ..errors import Locked
from ..model.names import TABLE

TAG_MANAGED = "liftshift:managed"
DEFAULT_TTL = 1800  # seconds
POLL_SECONDS = 2.0


class LockHeld(Locked):
    """Someone else holds the stack's lock (and kept it for the whole wait, if any)."""

    def __init__(self, owner: str, operation: str, acquired_at: str, expires_at: int, *, stack: str):
        self.stack = stack
        self.owner = owner
        self.operation = operation
        self.acquired_at = acquired_at
        self.expires_at = expires_at
        super().__init__(
            f"stack {stack} is locked by {owner} ({operation} since {acquired_at}, "
            f"expires at {_iso(expires_at)}); if that run is dead, wait for the expiry "
            f"or run `liftshift unlock`"
        )


class LockLost(Locked):
    """refresh found the lock gone or held by another token (it expired and was taken, or was forced)."""


class KeepAlive:
    """Refreshes a held lock from a daemon thread until stopped.

    When a refresh finds the lock lost, the main thread is interrupted (as by Ctrl-C, which every
    run already survives: re-running converges) and `held` turns that interruption into LockLost.
    A refresh that fails for another reason (network) is tried again at the next beat; the lock
    stays ours as long as its token is in the table, even past its expiry.
    """

    def __init__(self, client: Any, lock: Lock, ttl: int, interval: float,
                 now: Callable[[], float] = time.time, signum: int = signal.SIGINT):
        self.signum = signum  # what interrupt_main simulates: see interruptible()
        self.client = client
        self.lock = lock
        self.ttl = ttl
        self.interval = interval
        self.now = now
        self.lost: LockLost | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"lock-keepalive-{lock.stack}", daemon=True)

    def start(self) -> "KeepAlive":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=10)

    def _beat(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.lock = refresh(self.client, self.lock, ttl=self.ttl, now=self.now)
            except LockLost as exc:
                self.lost = exc
                if not self._stop.is_set():
                    _thread.interrupt_main(self.signum)
                return
            except Exception:  # noqa: BLE001 - transient: the next beat tries again
                continue


@dataclass(frozen=True)
class Lock:
    """One lock item as stored in the table."""

    stack: str
    owner: str
    operation: str
    acquired_at: str  # ISO 8601 UTC
    expires_at: int  # epoch seconds
    token: str


def default_owner() -> str:
    """`user@host pid N`: enough for a person to find the process holding a lock."""
    try:
        user = getpass.getuser()
    except Exception:  # no login name (some containers)
        user = str(os.getuid()) if hasattr(os, "getuid") else "unknown"
    return f"{user}@{socket.gethostname()} pid {os.getpid()}"


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _code(exc: Exception) -> str:
    return getattr(exc, "response", {}).get("Error", {}).get("Code", "")


def _from_item(item: dict[str, Any]) -> Lock:
    return Lock(
        stack=item["stack"]["S"],
        owner=item.get("owner", {}).get("S", "?"),
        operation=item.get("operation", {}).get("S", "?"),
        acquired_at=item.get("acquired_at", {}).get("S", "?"),
        expires_at=int(item.get("expires_at", {}).get("N", "0")),
        token=item.get("token", {}).get("S", ""),
    )


def ensure_table(client: Any) -> None:
    """Create the shared lock table if it does not exist, and wait until it is ACTIVE."""
    import botocore.exceptions

    try:
        client.create_table(
            TableName=TABLE,
            AttributeDefinitions=[{"AttributeName": "stack", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "stack", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
            Tags=[{"Key": TAG_MANAGED, "Value": "true"}],
        )
    except botocore.exceptions.ClientError as exc:
        if _code(exc) != "ResourceInUseException":  # another process created it first
            raise
    client.get_waiter("table_exists").wait(TableName=TABLE, WaiterConfig={"Delay": 2, "MaxAttempts": 60})


def current(client: Any, stack: str) -> Lock | None:
    """The stack's lock item (possibly expired), or None."""
    import botocore.exceptions

    try:
        item = client.get_item(TableName=TABLE, Key={"stack": {"S": stack}}, ConsistentRead=True).get("Item")
    except botocore.exceptions.ClientError as exc:
        if _code(exc) == "ResourceNotFoundException":
            return None
        raise
    return _from_item(item) if item else None


def acquire(
    client: Any,
    stack: str,
    owner: str,
    operation: str,
    ttl: int = DEFAULT_TTL,
    wait_seconds: float = 0,
    now: Callable[[], float] = time.time,
    poll_seconds: float = POLL_SECONDS,
) -> Lock:
    """Take the stack's lock, or raise LockHeld.

    An expired lock is taken over. With `wait_seconds > 0`, a held lock is
    polled every `poll_seconds` until it is free or the wait is over. The
    table is created on first use (the put that finds no table creates it).
    """
    import botocore.exceptions

    deadline = time.monotonic() + wait_seconds
    table_checked = False
    while True:
        start = now()
        lock = Lock(
            stack=stack,
            owner=owner,
            operation=operation,
            acquired_at=_iso(start),
            expires_at=int(start) + int(ttl),
            token=uuid.uuid4().hex,
        )
        try:
            client.put_item(
                TableName=TABLE,
                Item={
                    "stack": {"S": stack},
                    "owner": {"S": owner},
                    "operation": {"S": operation},
                    "acquired_at": {"S": lock.acquired_at},
                    "expires_at": {"N": str(lock.expires_at)},
                    "token": {"S": lock.token},
                },
                ConditionExpression="attribute_not_exists(#s) OR #e < :now",
                ExpressionAttributeNames={"#s": "stack", "#e": "expires_at"},
                ExpressionAttributeValues={":now": {"N": str(int(start))}},
            )
            return lock
        except botocore.exceptions.ClientError as exc:
            code = _code(exc)
            if code == "ResourceNotFoundException" and not table_checked:
                ensure_table(client)
                table_checked = True
                continue
            if code != "ConditionalCheckFailedException":
                if _ours(client, stack, lock):  # applied, but the answer was lost
                    return lock
                raise
        except botocore.exceptions.BotoCoreError:
            if _ours(client, stack, lock):
                return lock
            raise
        holder = current(client, stack)
        if holder is not None and holder.token == lock.token:
            return lock  # a retry of our own put found the item it wrote
        if holder is None or holder.expires_at < int(now()):
            continue  # released or expired between our put and our read: try again at once
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise LockHeld(holder.owner, holder.operation, holder.acquired_at, holder.expires_at, stack=stack)
        time.sleep(min(poll_seconds, remaining))


def _ours(client: Any, stack: str, lock: Lock) -> bool:
    """Whether the item holds our token (a write whose answer was lost may still have landed)."""
    try:
        holder = current(client, stack)
    except Exception:  # noqa: BLE001 - we are already handling the original error
        return False
    return holder is not None and holder.token == lock.token


def release(client: Any, stack: str, token: str) -> bool:
    """Delete the lock if it still carries `token`; True if it did. Someone else's lock is left alone."""
    import botocore.exceptions

    try:
        client.delete_item(
            TableName=TABLE,
            Key={"stack": {"S": stack}},
            ConditionExpression="#t = :token",
            ExpressionAttributeNames={"#t": "token"},
            ExpressionAttributeValues={":token": {"S": token}},
        )
    except botocore.exceptions.ClientError as exc:
        if _code(exc) in ("ConditionalCheckFailedException", "ResourceNotFoundException"):
            return False
        raise
    return True


def refresh(
    client: Any, lock: Lock, ttl: int = DEFAULT_TTL, now: Callable[[], float] = time.time
) -> Lock:
    """Push the lock's expiry to now + ttl; raise LockLost if it is no longer ours."""
    import botocore.exceptions

    expires_at = int(now()) + int(ttl)
    try:
        client.update_item(
            TableName=TABLE,
            Key={"stack": {"S": lock.stack}},
            UpdateExpression="SET #e = :e",
            ConditionExpression="#t = :token",
            ExpressionAttributeNames={"#e": "expires_at", "#t": "token"},
            ExpressionAttributeValues={":e": {"N": str(expires_at)}, ":token": {"S": lock.token}},
        )
    except botocore.exceptions.ClientError as exc:
        if _code(exc) in ("ConditionalCheckFailedException", "ResourceNotFoundException"):
            raise LockLost(f"the lock of stack {lock.stack} is no longer held by {lock.owner}") from None
        raise
    return Lock(lock.stack, lock.owner, lock.operation, lock.acquired_at, expires_at, lock.token)


def force_unlock(client: Any, stack: str) -> Lock | None:
    """Delete the stack's lock whoever holds it (`liftshift unlock`); return what was there."""
    import botocore.exceptions

    try:
        old = client.delete_item(TableName=TABLE, Key={"stack": {"S": stack}}, ReturnValues="ALL_OLD")
    except botocore.exceptions.ClientError as exc:
        if _code(exc) == "ResourceNotFoundException":  # no table: nothing was ever locked
            return None
        raise
    item = old.get("Attributes")
    return _from_item(item) if item else None


@contextmanager
def held(
    dynamodb_client: Any,
    stack: str,
    owner: str,
    operation: str,
    ttl: int = DEFAULT_TTL,
    wait_seconds: float = 0,
    now: Callable[[], float] = time.time,
    on_release_error: Callable[[Exception], None] | None = None,
    release_attempts: int = 3,
    keep_alive: bool = True,
) -> Iterator[Lock]:
    """Hold the stack's lock for the body, refreshed every ttl/3; released on exit, also on errors.

    If the lock is lost while the body runs, the body is interrupted and LockLost raised.
    A failing release never fails the work done under the lock nor hides its error: it is tried
    `release_attempts` times, then reported to `on_release_error` (the lock then expires by itself).
    """
    lock = acquire(dynamodb_client, stack, owner, operation, ttl=ttl, wait_seconds=wait_seconds, now=now)
    with interruptible() as signum:
        keeper = KeepAlive(dynamodb_client, lock, ttl, ttl / 3, now=now, signum=signum).start() if keep_alive else None
        yield from _body(dynamodb_client, stack, operation, lock, keeper, on_release_error, release_attempts)


@contextmanager
def interruptible() -> Iterator[int]:
    """The signal the keep-alive interrupts the main thread with. `_thread.interrupt_main` does nothing for a
    signal Python does not handle (Python docs, _thread.interrupt_main), and a process started in the
    background by a non-interactive shell (`cmd &` in a CI script) inherits SIGINT ignored (POSIX, "Signals
    and Error Handling" of the Shell Command Language). Then SIGUSR1 is handled, while the lock is held, by
    raising KeyboardInterrupt, as SIGINT would; where Python handles SIGINT, nothing changes."""
    handled = callable(signal.getsignal(signal.SIGINT))
    if handled or threading.current_thread() is not threading.main_thread() \
            or signal.getsignal(signal.SIGUSR1) is not signal.SIG_DFL:
        yield signal.SIGINT
        return
    signal.signal(signal.SIGUSR1, signal.default_int_handler)
    try:
        yield signal.SIGUSR1
    finally:
        signal.signal(signal.SIGUSR1, signal.SIG_DFL)


def _body(dynamodb_client: Any, stack: str, operation: str, lock: Lock, keeper: KeepAlive | None,
          on_release_error: Callable[[Exception], None] | None, release_attempts: int) -> Iterator[Lock]:
    try:
        yield lock
    except KeyboardInterrupt:
        if keeper is not None and keeper.lost is not None:
            raise LockLost(f"stopped: the lock of stack {stack} was lost while this {operation} ran (it expired "
                           "or was removed with `liftshift unlock`); another run may be changing the stack. "
                           "Run the same command again once that run has finished: it converges") from None
        raise
    finally:
        if keeper is not None:
            keeper.stop()
        if keeper is None or keeper.lost is None:  # a lost lock is not ours to release
            _release_reporting(dynamodb_client, stack, lock.token, on_release_error, release_attempts)


def _release_reporting(client: Any, stack: str, token: str, on_error: Callable[[Exception], None] | None,
                       attempts: int) -> None:
    for attempt in range(1, attempts + 1):
        try:
            release(client, stack, token)
            return
        except Exception as exc:  # noqa: BLE001 - any failure to release is reported, not raised
            if attempt == attempts:
                if on_error is not None:
                    on_error(exc)
            else:
                time.sleep(0.5 * attempt)
