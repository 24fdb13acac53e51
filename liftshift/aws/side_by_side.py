"""Reads that do not depend on each other, made at once: a region's round trip paid once, not once per read.

Used for observation (one describe per kind of resource) and for the per-item reads that AWS offers no
batch for (an IAM role's tags, an instance profile). Reads only: the planned changes go through the
executor, which has its own scheduling (apply/executor.py). boto3 clients may be shared by threads (boto3's
guide, "Multithreading or multiprocessing with clients"); the clients are made first by aws.session.Aws,
whose lock guards the Session.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable, TypeVar

T = TypeVar("T")
READERS = 16  # at most this many reads in flight (aws.session.POOL connections per client)


def side_by_side(reads: Iterable[Callable[[], T]], workers: int = READERS) -> list[T]:
    """Each read's result, in the order given; the first read (in that order) that failed raises its error
    once every read has ended."""
    reads = list(reads)
    if len(reads) < 2 or workers < 2:
        return [read() for read in reads]
    with ThreadPoolExecutor(max_workers=min(workers, len(reads)), thread_name_prefix="liftshift-read") as pool:
        futures = [pool.submit(read) for read in reads]
    return [future.result() for future in futures]
