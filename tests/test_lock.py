"""The deploy lock against moto's DynamoDB (conditional writes are faithful there)."""

from __future__ import annotations

import threading
import time

import pytest

from liftshift.aws import lock as locks
from liftshift.aws.lock import LockHeld, LockLost
from liftshift.model.names import TABLE


def _client():
    import boto3
    from botocore.config import Config

    # moto answers unimplemented calls with 500s; do not let botocore retry them for 40 s.
    return boto3.client("dynamodb", region_name="eu-west-1", config=Config(retries={"total_max_attempts": 1}))


@pytest.fixture
def ddb(aws_env):
    return _client()


def test_first_acquire_creates_the_shared_table(ddb, unique):
    assert TABLE not in ddb.list_tables()["TableNames"]
    lock = locks.acquire(ddb, unique, "alice@ci pid 1", "deploy")
    table = ddb.describe_table(TableName=TABLE)["Table"]
    assert table["TableStatus"] == "ACTIVE"
    assert table["KeySchema"] == [{"AttributeName": "stack", "KeyType": "HASH"}]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    tags = ddb.list_tags_of_resource(ResourceArn=table["TableArn"])["Tags"]
    assert {"Key": "liftshift:managed", "Value": "true"} in tags
    item = ddb.get_item(TableName=TABLE, Key={"stack": {"S": unique}})["Item"]
    assert item["owner"]["S"] == "alice@ci pid 1"
    assert item["operation"]["S"] == "deploy"
    assert item["token"]["S"] == lock.token and len(lock.token) == 32
    assert lock.acquired_at.endswith("Z")
    assert abs(lock.expires_at - (time.time() + 1800)) < 5


def test_second_acquire_raises_lock_held_naming_owner_and_time(ddb, unique):
    first = locks.acquire(ddb, unique, "alice@ci pid 1", "deploy")
    with pytest.raises(LockHeld) as info:
        locks.acquire(ddb, unique, "bob@laptop pid 2", "destroy")
    err = info.value
    assert (err.stack, err.owner, err.operation) == (unique, "alice@ci pid 1", "deploy")
    assert (err.acquired_at, err.expires_at) == (first.acquired_at, first.expires_at)
    message = str(err)
    assert f"stack {unique} is locked by alice@ci pid 1 (deploy since {first.acquired_at}, expires at " in message
    # the loser did not disturb the holder
    assert locks.current(ddb, unique).token == first.token


def test_different_stacks_are_independent(ddb, unique):
    a = locks.acquire(ddb, unique + "a", "alice", "deploy")
    b = locks.acquire(ddb, unique + "b", "bob", "destroy")
    assert a.token != b.token
    assert locks.release(ddb, a.stack, a.token)
    assert locks.current(ddb, b.stack).owner == "bob"


def test_release_only_by_the_token_holder(ddb, unique):
    lock = locks.acquire(ddb, unique, "alice", "deploy")
    assert locks.release(ddb, unique, "0" * 32) is False
    assert locks.current(ddb, unique).token == lock.token
    with pytest.raises(LockHeld):
        locks.acquire(ddb, unique, "bob", "deploy")
    assert locks.release(ddb, unique, lock.token) is True
    assert locks.current(ddb, unique) is None
    assert locks.release(ddb, unique, lock.token) is False  # twice is harmless
    locks.acquire(ddb, unique, "bob", "deploy")


def test_release_and_force_unlock_without_table(ddb, unique):
    assert locks.release(ddb, unique, "x") is False
    assert locks.force_unlock(ddb, unique) is None
    assert locks.current(ddb, unique) is None


def test_expired_lock_can_be_taken_over(ddb, unique):
    t0 = time.time()
    dead = locks.acquire(ddb, unique, "killed", "deploy", ttl=60, now=lambda: t0)
    with pytest.raises(LockHeld):  # not yet expired
        locks.acquire(ddb, unique, "next", "deploy", now=lambda: t0 + 59)
    taken = locks.acquire(ddb, unique, "next", "deploy", now=lambda: t0 + 61)
    assert locks.current(ddb, unique).owner == "next"
    # the dead holder can neither release nor refresh the lock it lost
    assert locks.release(ddb, unique, dead.token) is False
    with pytest.raises(LockLost):
        locks.refresh(ddb, dead, now=lambda: t0 + 62)
    assert locks.current(ddb, unique).token == taken.token


def test_refresh_extends_the_lock(ddb, unique):
    t0 = time.time()
    lock = locks.acquire(ddb, unique, "long", "deploy", ttl=60, now=lambda: t0)
    lock = locks.refresh(ddb, lock, ttl=60, now=lambda: t0 + 50)
    assert lock.expires_at == int(t0 + 50) + 60
    assert locks.current(ddb, unique).expires_at == lock.expires_at
    with pytest.raises(LockHeld):  # would have expired without the refresh
        locks.acquire(ddb, unique, "other", "deploy", now=lambda: t0 + 70)


def test_wait_succeeds_when_the_holder_releases(ddb, unique):
    holder = locks.acquire(ddb, unique, "alice", "deploy")

    def release_later():
        time.sleep(1.0)
        locks.release(_client(), unique, holder.token)

    thread = threading.Thread(target=release_later)
    started = time.monotonic()
    thread.start()
    try:
        lock = locks.acquire(ddb, unique, "bob", "destroy", wait_seconds=20, poll_seconds=0.2)
    finally:
        thread.join()
    assert 0.9 < time.monotonic() - started < 10
    assert lock.owner == "bob" and locks.current(ddb, unique).token == lock.token


def test_wait_gives_up_with_lock_held(ddb, unique):
    locks.acquire(ddb, unique, "alice", "deploy")
    started = time.monotonic()
    with pytest.raises(LockHeld, match="locked by alice"):
        locks.acquire(ddb, unique, "bob", "deploy", wait_seconds=1, poll_seconds=0.3)
    assert 0.9 < time.monotonic() - started < 5


def test_force_unlock_clears_and_returns_the_holder(ddb, unique):
    lock = locks.acquire(ddb, unique, "alice@ci pid 7", "destroy")
    old = locks.force_unlock(ddb, unique)
    assert old == lock
    assert locks.current(ddb, unique) is None
    assert locks.force_unlock(ddb, unique) is None
    locks.acquire(ddb, unique, "bob", "deploy")


def test_held_releases_on_exit_and_on_error(ddb, unique):
    with locks.held(ddb, unique, "alice", "deploy") as lock:
        assert locks.current(ddb, unique).token == lock.token
        with pytest.raises(LockHeld):
            with locks.held(ddb, unique, "bob", "destroy"):
                pass
    assert locks.current(ddb, unique) is None
    with pytest.raises(RuntimeError):
        with locks.held(ddb, unique, "alice", "deploy"):
            raise RuntimeError("deploy failed")
    assert locks.current(ddb, unique) is None


def test_two_racers_exactly_one_wins(aws_env, unique):
    clients = [_client(), _client()]
    for round_ in range(20):
        stack = f"{unique}-{round_ % 3}"  # also reuses released items
        barrier = threading.Barrier(2)
        results: list[object] = [None, None]

        def race(i: int) -> None:
            barrier.wait()
            try:
                results[i] = locks.acquire(clients[i], stack, f"racer{i}", "deploy")
            except LockHeld as exc:
                results[i] = exc
            except Exception as exc:  # surfaces in the assertion below
                results[i] = exc

        threads = [threading.Thread(target=race, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        winners = [r for r in results if isinstance(r, locks.Lock)]
        losers = [r for r in results if isinstance(r, LockHeld)]
        assert len(winners) == 1 and len(losers) == 1, (round_, results)
        assert losers[0].owner == winners[0].owner
        assert locks.current(clients[0], stack).token == winners[0].token
        assert locks.release(clients[0], stack, winners[0].token)


def test_held_keeps_the_lock_past_its_ttl_while_the_body_runs(ddb, unique):
    """A run longer than the ttl keeps its lock: the heartbeat refreshes it every ttl/3."""
    ttl = 3
    with locks.held(ddb, unique, "alice", "deploy", ttl=ttl) as lock:
        first_expiry = locks.current(ddb, unique).expires_at
        deadline = time.time() + 2.5 * ttl
        while time.time() < deadline:  # well past the first expiry: a second run must still be refused
            with pytest.raises(LockHeld):
                locks.acquire(_client(), unique, "bob", "deploy")
            time.sleep(0.5)
        holder = locks.current(ddb, unique)
        assert holder.token == lock.token and holder.expires_at > first_expiry + ttl
    assert locks.current(ddb, unique) is None  # released at the end


def test_a_lost_lock_stops_the_run_and_leaves_the_new_holder_alone(ddb, unique):
    """Someone forced the lock away and took it: the run is interrupted with LockLost, and the other
    run's lock is neither released nor refreshed by it."""
    ttl = 3
    stopped_after = None
    start = time.monotonic()
    with pytest.raises(LockLost, match="was lost while this deploy ran"):
        with locks.held(ddb, unique, "alice", "deploy", ttl=ttl):
            locks.force_unlock(ddb, unique)
            other = locks.acquire(_client(), unique, "bob", "deploy", ttl=600)
            try:
                while time.monotonic() - start < 30:  # the work goes on until the heartbeat notices
                    time.sleep(0.1)
            finally:
                stopped_after = time.monotonic() - start
    assert stopped_after is not None and stopped_after < ttl + 2  # within one beat (ttl/3) or so
    holder = locks.current(ddb, unique)
    assert holder is not None and holder.token == other.token and holder.expires_at == other.expires_at


def test_ctrl_c_is_still_an_interruption_when_the_lock_is_kept(ddb, unique):
    with pytest.raises(KeyboardInterrupt):
        with locks.held(ddb, unique, "alice", "deploy", ttl=3):
            raise KeyboardInterrupt
    assert locks.current(ddb, unique) is None


def test_a_lost_lock_stops_the_run_also_where_sigint_is_ignored(ddb, unique):
    """A run started in the background by a CI script (`liftshift deploy ... &`) inherits SIGINT ignored, where
    interrupting the main thread with SIGINT does nothing: the keep-alive then uses SIGUSR1, only while held."""
    import signal

    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        start = time.monotonic()
        with pytest.raises(LockLost, match="was lost while this deploy ran"):
            with locks.held(ddb, unique, "alice", "deploy", ttl=3):
                locks.force_unlock(ddb, unique)
                while time.monotonic() - start < 30:
                    time.sleep(0.1)
        assert time.monotonic() - start < 5
        assert signal.getsignal(signal.SIGUSR1) is signal.SIG_DFL  # put back
    finally:
        signal.signal(signal.SIGINT, previous)

