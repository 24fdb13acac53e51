"""Stopping a parallel run's other steps: after one step fails, or when the run is interrupted.

A worker thread cannot be killed, so the executor sets an event that its
workers check before each call, and that long waits (a health gate's polls,
a "not yet" retry) sleep on through `pause`. A step stopped so is neither done
nor failed: the run reports the failure that stopped it.
"""

from __future__ import annotations

import threading
import time


class Stopped(BaseException):
    """The step was left unfinished because its run is stopping. A BaseException so that a gate's own
    `except Exception` does not mistake it for its check failing."""


current_stop = threading.local()  # .event: the stopping flag of the run this worker thread works for


def pause(seconds: float) -> None:
    """Sleep between polls of a long wait; raise Stopped at once if this thread's run is stopping. Outside a
    parallel run (the main thread, --parallel 1) this is time.sleep."""
    stop: threading.Event | None = getattr(current_stop, "event", None)
    if stop is None:
        time.sleep(seconds)
    elif stop.wait(seconds):
        raise Stopped()
