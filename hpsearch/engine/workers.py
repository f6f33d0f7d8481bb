"""Worker processes for `--jobs N` on one machine: this process trains too, and starts N-1 `hpsearch worker`
processes on the study.

    pool = Pool.start(url, name, 1)    # first thing: the children import while this process prepares
    ...                                # load the data, open the study, enqueue.prepare (plan, data spec, grace)
    outcome, ended = run(h, plan, split, stopper, pool)   # go(); train here too; stops are forwarded

Why separate processes started with `python -m hpsearch worker` (not fork, not multiprocessing):
- a fresh interpreter: no BLAS or OpenMP thread pool, lock or open database connection inherited from a
  parent that already used them (forking after OpenBLAS has started its threads can hang);
- each worker rebuilds everything from the study (plan from (seed, number), data from the recorded spec),
  exactly as a worker on another machine does: one code path, tested locally;
- nothing large crosses a pipe: the coordinator builds the prepared split once into memory-mapped files
  (data/shared_split.py) and names their folder in the "go" line; each child maps them read-only, so
  one copy of the split serves every process. Without a folder (a bare "go"; HPSEARCH_SHARE_SPLIT=0), a
  child loads --data itself, as a worker started by hand does.
Each child runs with one BLAS thread (its environment, given explicitly, is set before NumPy loads) in its
own session, so a terminal's Ctrl-C reaches only the coordinator, which forwards it once. A child waits for
"go [FOLDER]" on its stdin before it opens the study (EOF: the coordinator gave up, the child exits 0), and
stops as on SIGTERM when its coordinator dies (watch_parent). The coordinator removes the folder once every
child has exited.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from hpsearch.engine import study
from hpsearch.engine.storage import join_url, refuse_shared_sqlite
from hpsearch.errors import ConfigError, StorageError

ONE_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
              "HPSEARCH_THREADS": "1"}  # HPSEARCH_THREADS: the trainer's own helper lane (trainer/fast/lanes.py)
GO_ENV = "HPSEARCH_WAIT_GO"  # set for a child: read "go" on stdin before opening the study
PARENT_ENV = "HPSEARCH_PARENT_PID"  # set for a child: stop when this process (its coordinator) is gone
STORAGE_ENV = "HPSEARCH_STORAGE"  # the study's storage, for a child (not in argv: a password would show in ps)
STOP_WAIT = 60.0  # seconds a stopped child may take to record its interrupted trial before SIGKILL
STOP_EXITS = (130, 143, -signal.SIGINT, -signal.SIGTERM)  # a child stopped by SIGINT or SIGTERM


@dataclass
class Pool:
    procs: list = field(default_factory=list)  # subprocess.Popen of each child
    stopped: int | None = None  # the signal forwarded to the children, if any
    released: bool = False  # go() or cancel() done: stdin closed

    @classmethod
    def start(cls, url: str, name: str, n: int, extra_args: tuple[str, ...] = ()) -> "Pool":
        """Start `n` worker processes for study `name` in `url`, waiting for go(). Each child's environment is
        this one's plus ONE_THREAD and the variables above, given explicitly (this process's is not changed)."""
        env = {**os.environ, **ONE_THREAD, STORAGE_ENV: url, PARENT_ENV: str(os.getpid()), GO_ENV: "1"}
        pool = cls()
        cmd = [sys.executable, "-m", "hpsearch", "worker", "--study", name, "--quiet", *extra_args]
        try:
            for _ in range(n):
                pool.procs.append(subprocess.Popen(cmd, env=env, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                                   start_new_session=True))
        except OSError as e:
            pool.stop()
            raise StorageError(f"--jobs: cannot start a worker process: {e}", "lower --jobs") from e
        return pool

    def _release(self, word: bytes) -> None:
        if self.released:
            return
        self.released = True
        for p in self.procs:
            try:
                p.stdin.write(word)
                p.stdin.close()
            except (BrokenPipeError, OSError):
                pass  # that child already ended: wait() reports it

    def go(self, shared: str | None = None) -> None:
        """The study is prepared: let the children join it (on the split saved in folder `shared`, if given)."""
        self._release(f"go {shared}\n".encode() if shared else b"go\n")

    def forward(self, signum: int) -> None:
        """Pass a stop signal (SIGINT, SIGTERM) on to every running child."""
        self.stopped = signum
        for p in self.procs:
            if p.poll() is None:
                try:
                    p.send_signal(signum)
                except ProcessLookupError:
                    pass

    def wait(self, done: bool = False) -> list[tuple[int, int]]:
        """Reap every child: (pid, returncode). A child still running STOP_WAIT s after a stop, or after the
        study had nothing left to run (`done`: a child frozen or hung, say), is killed."""
        out, deadline = [], time.monotonic() + STOP_WAIT if done else None
        for p in self.procs:
            while True:
                if self.stopped is not None and deadline is None:
                    deadline = time.monotonic() + STOP_WAIT
                try:
                    rc = p.wait(timeout=0.2)
                    break
                except subprocess.TimeoutExpired:
                    if deadline is not None and time.monotonic() >= deadline:
                        p.kill()
            out.append((p.pid, rc))
        return out

    def stop(self) -> None:
        """The coordinator gave up (an error, or a stop before the search began): end every child."""
        if not self.released:
            self._release(b"")  # EOF: a child still waiting for go exits 0
        else:
            self.forward(signal.SIGTERM)
        self.wait()


def journal_path(out: str) -> Path:
    """results.json -> results.journal, beside it (x.journal -> x.journal.journal: never the --out file)."""
    p = Path(out)
    return p.with_name(p.name + ".journal") if p.suffix == ".journal" else p.with_name(p.stem + ".journal")


def default_study(command: str, out: str) -> str:
    return f"{command}-{Path(out).stem}"


def start_workers(command: str, jobs: int, storage_url: str | None, name: str | None, out: str) -> Pool | None:
    """--jobs N: start the N-1 other worker processes first thing (a Pool, or None), so that they import while
    this process reads the space, loads the data and prepares the study; stage.run_stage lets them join once
    the study is ready. Use inside `released_on_error(pool)`. (This module imports nothing heavy, so that a
    command can call this before it imports NumPy.)"""
    check_jobs(jobs, storage_url)
    if jobs <= 1:
        return None
    return Pool.start(join_url(storage_url, journal_path(out)), name or default_study(command, out), jobs - 1)


@contextmanager
def released_on_error(pool: Pool | None):
    """Workers started early exit (without training) if the command fails before the search begins."""
    try:
        yield
    except BaseException:
        if pool is not None and not pool.released:
            pool.stop()
        raise


def describe_exit(rc: int) -> str:
    if rc < 0:
        try:
            return f"killed by {signal.Signals(-rc).name}"
        except ValueError:
            return f"killed by signal {-rc}"
    return f"exit {rc}"


def problems(ended: list[tuple[int, int]], stopped: bool = False) -> list[str]:
    """One warning line per child that did not end normally: one that failed or was killed, or one stopped by
    SIGINT or SIGTERM when this command did not stop them (`stopped`: it forwarded a stop), i.e. from outside."""
    out = []
    for pid, rc in ended:
        if rc == 0 or (stopped and rc in STOP_EXITS):
            continue
        how = describe_exit(rc) if rc not in STOP_EXITS else f"stopped by {_stop_name(rc)} from outside"
        out.append(f"worker process {pid} {how} (a trial it held ran again in another process)")
    return out


def _stop_name(rc: int) -> str:
    return "SIGINT" if rc in (130, -signal.SIGINT) else "SIGTERM"


def ran_here(h, plan, outcome, ended: list[tuple[int, int]]) -> int:
    """Trials this process and its children finished (the children's are found by their worker attr)."""
    if not ended:
        return outcome.ran
    host = study.worker_id().rsplit(":", 1)[0]
    kids = {f"{host}:{pid}" for pid, _ in ended}
    done = study.done_trials(h, range(len(plan.trials))).values()
    return outcome.ran + sum(t.user_attrs.get(study.WORKER_ATTR) in kids for t in done)


WORKER_MEMORY = 200 * 2**20  # bytes a worker process needs at least (an interpreter with NumPy and Optuna loaded)
JOBS_PER_CORE = 4  # more processes than this per core only contend


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity: a container's or taskset's limit, not the machine's)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def parse_jobs(value: str | int) -> int:
    """--jobs as typed: a number of processes, or `auto`: one per usable core (usable_cores), at most what
    max_jobs() allows. Anything else is a ConfigError naming the flag (exit 2)."""
    if isinstance(value, int):
        return value
    text = value.strip().lower()
    if text == "auto":
        return min(usable_cores(), max_jobs())
    try:
        return int(text)
    except ValueError:
        raise ConfigError(f"--jobs must be a number of processes or 'auto', got {value!r}",
                          "e.g. --jobs 2, or --jobs auto (one per usable core)", key="jobs") from None


def max_jobs() -> int:
    """The most worker processes this machine can run usefully: JOBS_PER_CORE per core, and as many as its
    available memory holds at WORKER_MEMORY each (at least 1)."""
    cores = usable_cores()
    from hpsearch.config.runtime import available_memory

    limit = JOBS_PER_CORE * cores
    avail = available_memory()
    if avail is not None:
        limit = min(limit, avail // WORKER_MEMORY)
    return max(1, limit)


def check_jobs(jobs: int, url: str | None) -> None:
    if jobs < 0:
        raise ConfigError(f"--jobs must be >= 0, got {jobs}", "e.g. --jobs 2 (one per core); 0 only enqueues",
                          key="jobs")
    top = max_jobs()
    if jobs > top:
        raise ConfigError(f"--jobs {jobs} is more than this machine can run usefully ({top}: {JOBS_PER_CORE} per "
                          f"core, {WORKER_MEMORY // 2**20} MiB of available memory each)",
                          f"use --jobs {min(top, usable_cores())} (one per core) or --jobs auto, or start `hpsearch worker` "
                          "processes on other machines", key="jobs")
    if jobs != 1:  # --jobs 0 only enqueues, for `hpsearch worker` processes: SQLite cannot serve them either
        refuse_shared_sqlite(url, f"--jobs {jobs}")


def run(h, plan, split, stopper, pool: Pool | None = None, on_trial=None, watch=None, shared: str | None = None,
        threads: int | None = None):
    """Train here (and in `pool`, released now) until the study has nothing left to run or a stop signal.
    `shared`: the folder `split` is saved in (data/shared_split.py), passed on to the children; `threads`:
    lanes per fit in this process.

    Returns (loop.Outcome of this process, [(pid, returncode)] of the children). Call inside
    `stopper.signals()`: a stop is forwarded to the children, which record their interrupted trial.
    """
    from hpsearch.engine import loop  # (this module stays light: a coordinator imports it to start workers first)

    if pool is None:
        return loop.run(h, plan, split, stopper, on_trial, watch, threads=threads), []
    stopper.listeners.append(pool.forward)
    try:
        pool.go(shared)
        outcome = loop.run(h, plan, split, stopper, on_trial, watch, threads=threads)
        if stopper.signum is not None and pool.stopped is None:
            pool.forward(stopper.signum)
        return outcome, pool.wait(done=outcome.stopped_by is None)
    except BaseException:
        pool.stop()
        raise
    finally:
        stopper.listeners.remove(pool.forward)


def watch_parent(pid: int | None) -> None:
    """A worker started by a coordinator's --jobs stops (as on SIGTERM) when that coordinator (`pid`) dies."""
    import threading

    if pid is None:
        return

    def watch() -> None:
        while os.getppid() == pid:
            threading.Event().wait(1.0)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="hpsearch-parent-watch", daemon=True).start()
