"""A guard against hangs in tests: SIGALRM stops a call that does not answer in time.

A guard, not a benchmark: the limit is generous, and no test asserts how fast anything is.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator


class Hang(BaseException):
    """Raised by the alarm. A BaseException, so the CLI's `except Exception` lets it through."""


@contextlib.contextmanager
def hang_guard(seconds: float) -> Iterator[None]:
    if not hasattr(signal, "SIGALRM"):  # no alarms on Windows: run unguarded
        yield
        return

    def on_alarm(signum, frame):
        raise Hang(f"no answer within {seconds} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
