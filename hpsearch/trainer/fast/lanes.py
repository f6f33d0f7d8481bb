"""Two lanes of work for a big first layer: the calling thread and one helper thread.

NumPy releases the GIL inside BLAS calls and ufunc loops, so the two halves of a GEMM, or of a whole-buffer
update, run at once on two cores; this beats letting OpenBLAS thread each call (its forward GEMM at these
shapes does not parallelize, and element-wise NumPy never does; README, Performance).

A fit keeps OpenBLAS single-threaded (`single_threaded_blas()`, threadpoolctl, restored afterwards): its idle
threads spin, and next to the lanes or any other busy process on a small machine one threaded call can take
many times longer than a single-threaded one.

Results never depend on the number of lanes: the work is always cut into the same halves; one lane runs
them one after the other, two lanes run them at once.
"""

from __future__ import annotations

import contextlib
import os
import threading
from typing import Callable

SPLIT_MIN = 1 << 17  # first-layer D*M from which its GEMMs and the parameter update are cut in halves


def threads(requested: int | None = None) -> int:
    """Lanes a fit uses: `requested` (1, or 2 at most), else every core this process may use, at most 2.
    A search running several worker processes on few cores asks for 1 in each (config.runtime.Runtime)."""
    if requested is not None:
        return max(1, min(int(requested), 2))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return min(cores, 2)


class Lanes:
    """run(other, here): `here()` on the calling thread while `other()` runs on the helper (or after it)."""

    def __init__(self, n: int = 2):
        self.parallel = n >= 2
        self._job: Callable[[], None] | None = None
        self._error: BaseException | None = None
        if self.parallel:
            self._go = threading.Lock()
            self._go.acquire()
            self._done = threading.Lock()
            self._done.acquire()
            self._thread = threading.Thread(target=self._loop, name="hpsearch-lane", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while True:
            self._go.acquire()
            job = self._job
            if job is None:
                self._done.release()
                return
            try:
                job()
            except BaseException as e:  # re-raised on the calling thread
                self._error = e
            self._done.release()

    def run(self, other: Callable[[], None], here: Callable[[], None]) -> None:
        if not self.parallel:
            here()
            other()
            return
        self._job = other
        self._go.release()
        try:
            here()
        finally:
            self._wait_done()
        if self._error is not None:
            err, self._error = self._error, None
            raise err

    def _wait_done(self) -> None:
        """Wait for the helper's job even if a signal's exception (Ctrl-C, SIGTERM) interrupts the wait: until it
        is done the helper still writes the shared buffers, and close() needs it idle. The exception is kept."""
        pending: BaseException | None = None
        while True:
            try:
                self._done.acquire()
                break
            except BaseException as e:  # noqa: BLE001 - re-raised below, after the helper is idle
                pending = pending or e
        if pending is not None:
            raise pending

    def close(self) -> None:
        if self.parallel and self._thread.is_alive():
            self._job = None
            self._go.release()
            self._done.acquire()
            self._thread.join()

    def __enter__(self) -> "Lanes":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


_controller = None  # threadpoolctl.ThreadpoolController, created on first use (it scans loaded libraries)


@contextlib.contextmanager
def single_threaded_blas():
    """OpenBLAS/MKL at one thread inside the block (threadpoolctl); a no-op if threadpoolctl is missing."""
    ctl = controller()
    if ctl is None:  # pragma: no cover - threadpoolctl is a dependency
        yield False
        return
    with ctl.limit(limits=1, user_api="blas"):
        yield True


def controller():
    """The process's ThreadpoolController (None without threadpoolctl). Creating it scans the loaded
    libraries (a few ms): search set-up calls this once, so that the first trial does not pay for it."""
    global _controller
    if _controller is None:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:  # pragma: no cover - threadpoolctl is a dependency
            return None
        _controller = ThreadpoolController()
    return _controller
