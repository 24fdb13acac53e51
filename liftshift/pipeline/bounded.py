"""Jobs on at most N threads, stopping at the first failure: the builds and pulls of a stack's services.

Unlike reads, which can each run to their end, a failed job keeps the others from starting: a build takes
minutes. Why not concurrent.futures: its workers are joined when the interpreter exits, so an interrupted run
(Ctrl-C) would wait for every running build; these workers are daemon threads (as apply/executor.py's are).
"""

from __future__ import annotations

import threading
from typing import Callable, Sequence, TypeVar

T = TypeVar("T")


def run_bounded(jobs: Sequence[Callable[[], T]], workers: int, name: str = "liftshift-job") -> list[T]:
    """Each job's result, in the jobs' order, with at most `workers` running at once (1: one after another in this
    thread, as a plain loop would).

    Once a job fails no job starts; the running ones finish; then the failure of the earliest failed job in the
    jobs' order is raised, the error a serial run would have raised first among them. An interruption of the
    waiting thread (Ctrl-C) goes on at once: no job starts after it, the running ones are left to their daemons.
    """
    if workers <= 1 or len(jobs) <= 1:
        return [job() for job in jobs]
    results: list = [None] * len(jobs)
    failures: dict[int, BaseException] = {}
    lock = threading.Lock()
    stop = threading.Event()
    upcoming = iter(range(len(jobs)))

    def work() -> None:
        while True:
            with lock:  # the stop check and the take are one: no job starts after a failure is recorded
                index = None if stop.is_set() else next(upcoming, None)
            if index is None:
                return
            try:
                results[index] = jobs[index]()
            except BaseException as exc:  # raised by the waiting thread
                with lock:
                    failures[index] = exc
                    stop.set()

    threads = [threading.Thread(target=work, name=f"{name}-{n}", daemon=True)
               for n in range(min(workers, len(jobs)))]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            thread.join()
    except BaseException:
        stop.set()
        raise
    if failures:
        raise failures[min(failures)]
    return results
