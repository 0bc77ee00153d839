"""Stopping a training cleanly: SIGTERM or SIGINT (a cluster's time limit, Ctrl-C) ends it after a checkpoint."""

from __future__ import annotations

import contextlib
import signal
import threading
from typing import Iterator


class TrainingInterrupted(RuntimeError):
    """Raised after a checkpoint was written because SIGTERM/SIGINT arrived."""

    def __init__(self, signum: int, iteration: int) -> None:
        super().__init__(f"stopped by {signal.Signals(signum).name} at iteration {iteration}; "
                         f"checkpoint written, run again to resume")
        self.signum = signum
        self.iteration = iteration


@contextlib.contextmanager
def catch_signals() -> Iterator[list[int]]:
    """Record SIGTERM/SIGINT in the yielded list instead of dying (main thread only)."""
    caught: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield caught
        return
    previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    for s in previous:
        signal.signal(s, lambda signum, _frame: caught.append(signum))
    try:
        yield caught
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
