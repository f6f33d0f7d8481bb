"""Stop signals (SIGINT, SIGTERM) during a search: a trial in training is interrupted at once and runs again on
resume; outside training (storage writes) the signal is only noted and the loop stops at its next check."""

from __future__ import annotations

import signal
import time
from contextlib import contextmanager
from typing import Callable


class Interrupted(KeyboardInterrupt):
    """Raised inside a trial by a stop signal; the trial is not counted and will run again on resume."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


class Stopper:
    """SIGINT/SIGTERM: stop the search cleanly (see the module docstring)."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._in_trial = False
        self.listeners: list[Callable[[int], None]] = []  # told of each stop signal (workers.Pool.forward)

    def _handler(self, signum, frame) -> None:
        if self.signum is None:
            self.signum = signum
        for tell in list(self.listeners):
            tell(signum)
        if self._in_trial:
            self._in_trial = False
            raise Interrupted(signum)

    @contextmanager
    def signals(self, which=(signal.SIGINT, signal.SIGTERM)):
        """Install the handlers (main thread only) and restore the previous ones afterwards."""
        old = {s: signal.signal(s, self._handler) for s in which}
        try:
            yield self
        finally:
            for s, h in old.items():
                signal.signal(s, h)

    def sleep(self, seconds: float) -> None:
        """Wait, but return at once when a stop signal arrives."""
        end = time.monotonic() + seconds
        while self.signum is None and time.monotonic() < end:
            time.sleep(min(0.05, end - time.monotonic()))

    @contextmanager
    def trial(self):
        if self.signum is not None:
            raise Interrupted(self.signum)
        self._in_trial = True
        try:
            yield
        finally:
            self._in_trial = False
