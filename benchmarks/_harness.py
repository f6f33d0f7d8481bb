"""Shared pieces of the benchmarks: thread setup, the matmul peak, interleaved timing, tables.

Not a test and not part of the package. Timings on a shared machine are noisy, so every comparison is
made inside one run: contenders are interleaved round by round (A B C, B C A, ...) and medians are taken.
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from collections.abc import Callable


def set_threads(n: int | None) -> int:
    """Fix the BLAS/OpenMP thread count before numpy (or torch) is imported; returns the count used."""
    if n is None:
        n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(n)
    return n


def matmul_gflops(n: int = 2048, reps: int = 3) -> float:
    """Best-of-`reps` float32 np.matmul rate on (n, n) @ (n, n): this machine's practical GEMM peak."""
    import numpy as np

    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    c = np.empty_like(a)
    np.matmul(a, b, out=c)
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        np.matmul(a, b, out=c)
        best = min(best, time.perf_counter() - t)
    return 2.0 * n**3 / best / 1e9


class Worker:
    """A contender in its own Python process, so its thread pools (OpenBLAS, OpenMP) never share a process
    with another contender's: spinning idle threads of one library would otherwise steal the cores of the next.

    The child runs `script --worker SPEC`, answers each seed written to its stdin with the seconds one call
    took (or a figure such as GFLOP/s), measured inside the child.
    """

    def __init__(self, script: str, spec: str, threads: int, env: dict[str, str] | None = None):
        import subprocess

        self.spec = spec
        self.proc = subprocess.Popen(
            [sys.executable, script, "--worker", spec, "--threads", str(threads)], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, text=True, bufsize=1, env={**os.environ, **(env or {})})
        ready = self.proc.stdout.readline().strip()
        if ready != "ready":
            raise SystemExit(f"benchmark worker {spec} failed to start: {ready!r}")

    def __call__(self, seed: int) -> float:
        self.proc.stdin.write(f"{seed}\n")
        line = self.proc.stdout.readline().strip()
        try:
            return float(line)
        except ValueError:
            raise SystemExit(f"benchmark worker {self.spec} failed: {line!r}") from None

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(timeout=30)


def serve(run: Callable[[int], float]) -> None:
    """The child side of `Worker`: answer seeds on stdin with `run(seed)` until stdin closes."""
    print("ready", flush=True)
    for line in sys.stdin:
        print(repr(float(run(int(line)))), flush=True)


def timed(fn: Callable[[int], object], repeat: int = 1) -> Callable[[int], float]:
    """run(seed): call fn `repeat` times back to back (seeds seed*repeat ...); the median call time (warm)."""
    def run(seed: int) -> float:
        times = []
        for j in range(repeat):
            t = time.perf_counter()
            fn(seed * repeat + j)
            times.append(time.perf_counter() - t)
        return median(times)
    return run


def interleave(contenders: dict[str, Callable[[int], float]], rounds: int, warmup: int = 1,
               pause: float = 0.15) -> dict[str, list[float]]:
    """Call each contender `rounds` times, rotating the order every round (A B C, B C A, ...).

    Each callable gets the round number (its seed) and returns its own measurement. `pause` seconds between
    calls let the previous contender's idle BLAS/OpenMP threads stop spinning before the next one starts.
    """
    names = list(contenders)
    for _ in range(warmup):
        for name in names:
            contenders[name](10_000 + _)
            time.sleep(pause)
    out: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            out[name].append(contenders[name](r))
            time.sleep(pause)
    return out


def median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def blas_info() -> str:
    """The BLAS library numpy calls, its version and the kernel it picked for this CPU (threadpoolctl's
    `architecture`, e.g. OpenBLAS "Haswell" or "SkylakeX"): the same numpy runs different code on different CPUs."""
    import numpy as np  # noqa: F401 - loads the BLAS library threadpoolctl then finds
    from threadpoolctl import threadpool_info

    blas = [lib for lib in threadpool_info() if lib.get("user_api") == "blas"]
    # numpy's own first (its wheel's numpy.libs/), when scipy (scikit-learn) has loaded a second OpenBLAS
    blas.sort(key=lambda lib: not os.path.basename(os.path.dirname(lib.get("filepath") or "")).startswith("numpy"))
    for lib in blas:
        kernel = lib.get("architecture") or "kernel unknown"
        return f"{lib.get('internal_api')} {lib.get('version')}, {kernel} kernel"
    return "unknown BLAS"


def machine_line(threads: int, peak: bool = True) -> str:
    """One line naming the machine every figure of a run comes from: CPU model, logical CPUs, threads, BLAS
    library and kernel, the measured float32 matmul peak at this thread count, and the load average at start
    (a busy machine slows every contender, though interleaving keeps their ratios fair)."""
    import numpy as np

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    gflops = ""
    if peak:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(threads):
            gflops = f", matmul peak {matmul_gflops(1024, 5):.0f} GFLOP/s"
    return (f"{cpu}, {os.cpu_count()} logical CPUs, {threads} threads; Python {platform.python_version()}, "
            f"numpy {np.__version__} ({blas_info()}){gflops}; load average {load:.2f} at start")


def table(headers: list[str], rows: list[list[str]]) -> str:
    """A plain fixed-width table (right-aligned numbers), GitHub-markdown compatible."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    def line(cells):
        return "| " + " | ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))) + " |"
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(headers), sep, *(line(r) for r in rows)])


def command_line() -> str:
    return "python " + " ".join([os.path.relpath(sys.argv[0])] + sys.argv[1:])
