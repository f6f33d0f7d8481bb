"""The prepared split, built once by a `--jobs N` coordinator into files its worker processes map read-only.

    with sharing(True) as share:                  # a private folder, removed on the way out (any way out)
        split = split.split(ds, ..., alloc=share.alloc)   # X_train, X_val ARE memory-mapped .npy files there
        share.save(split)                         # y, mean, std and meta.json (written last: the folder is complete)
        ... pool.go(share.path) ...               # a worker: open_split(path) + check_matches(...)

Why: a search on CIFAR-10-size data (50,000 x 3,072 float32 = 614 MB) with --jobs 2 held two private copies
of the split, one per process. Here the coordinator writes the split once, straight into the files (no
private copy, no second write), and every process trains on the same pages: on /dev/shm (a tmpfs, when it
has room) they never touch a disk, elsewhere they are ordinary page cache. The pages are identical bytes,
so results are bit-identical to a private split's.

Layout of the folder (named hpsearch-split-<pid>-<random>, so a leftover after a SIGKILL is recognisable):
X_train.npy, X_val.npy, y_train.npy, y_val.npy, mean.npy, std.npy, meta.json (the Split's other fields).
HPSEARCH_SHARE_SPLIT=0 turns sharing off (each worker loads --data itself): config.runtime.Runtime.share_split.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np

from hpsearch.config.data import DataSpec
from hpsearch.data.split import Split
from hpsearch.errors import DataError

PREFIX = "hpsearch-split-"  # + <coordinator pid>-<random>
SHM = "/dev/shm"  # preferred: a tmpfs, the pages are plain memory
MARGIN = 64 << 20  # bytes left free on the file system after the split: a full tmpfs would SIGBUS a writer
META = "meta.json"
LOCK = ".lock"  # flocked by the coordinator while the folder lives: see sweep()
FORMAT = 1  # meta.json "format": what open_split() can read
SMALL = ("y_train", "y_val", "mean", "std")  # the Split's small arrays, saved whole
# the hint of a folder that is not the study's split (a worker fed another search's "go FOLDER")
OTHER = "the folder holds another search's split; start the worker by hand to load --data itself"
SPEC = ("label_column", "val_fraction", "split_seed", "flatten")  # how it was split (the data spec's keys)


def folders_of(pid: int) -> list[str]:
    """The split folders coordinator `pid` made (after a SIGKILL, what is left behind: remove them)."""
    import glob

    bases = dict.fromkeys([SHM, tempfile.gettempdir()])
    return sorted(p for base in bases for p in glob.glob(os.path.join(glob.escape(base), f"{PREFIX}{pid}-*")))


def free_bytes(path: str) -> int:
    try:
        st = os.statvfs(path)
    except OSError:
        return 0
    return st.f_bavail * st.f_frsize


def places(need: int) -> list[str]:
    """Where the split's folder may go, best first: /dev/shm, then the temporary folder, each only if it has
    room for `need` bytes plus MARGIN."""
    bases = [SHM] if os.path.isdir(SHM) and os.access(SHM, os.W_OK | os.X_OK) else []
    return [b for b in bases + [tempfile.gettempdir()] if free_bytes(b) >= need + MARGIN]


def place(need: int) -> str | None:
    """The first of places(need), or None when neither has room (the split then stays private)."""
    found = places(need)
    return found[0] if found else None


def sweep() -> list[str]:
    """Remove split folders of this user whose coordinator is gone (killed: SIGKILL, the OOM killer, a CI
    timeout), in both places; returns them. A live coordinator holds an exclusive flock on its folder's
    `.lock` for the folder's lifetime (the kernel drops it when the process dies, however it dies), so a
    folder whose lock can be taken is stale. Safer than asking whether a pid is alive: pids are reused,
    and containers sharing /dev/shm do not see each other's. A folder without a lock is left alone (it
    may be in the middle of being created)."""
    import fcntl
    import glob

    removed = []
    for base in dict.fromkeys([SHM, tempfile.gettempdir()]):
        for d in glob.glob(os.path.join(glob.escape(base), PREFIX + "*")):
            try:
                if os.stat(d).st_uid != os.getuid():
                    continue
                fd = os.open(os.path.join(d, LOCK), os.O_RDWR)
            except OSError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                shutil.rmtree(d, ignore_errors=True)
                removed.append(d)
            except OSError:
                pass  # held: its coordinator is alive
            finally:
                os.close(fd)
    return removed


class Folder:
    """The split's folder; created by the first alloc() (data.split.Alloc), so its size is known before a byte is
    written. `path` stays None when nothing is shared (no room anywhere, or writing failed: `problem` says
    why): the arrays are then private, and the workers load --data themselves."""

    def __init__(self) -> None:
        self.path: str | None = None  # the folder, once created (None again if sharing was given up)
        self.problem: str | None = None  # why the split is not shared, when a place with room failed
        self._lock: int | None = None  # fd of `.lock`, flocked while the folder lives (see sweep)

    def alloc(self, shapes: dict) -> dict:
        """{name: (shape, dtype)} -> {name: an empty array}: memory-mapped files in a new folder where there is
        room, with their blocks reserved up front (a tmpfs that fills up later would otherwise kill the
        writer with SIGBUS); private arrays when no place works."""
        need = sum(int(np.prod(s, dtype=np.int64)) * np.dtype(t).itemsize for s, t in shapes.values())
        if self.path is None and self._lock is None:
            sweep()
            for base in places(need + (1 << 20)):  # + the small arrays
                try:
                    return self._map(base, shapes)
                except OSError as e:
                    self.problem = f"cannot write the shared split in {base}: {e.strerror or e}"
                    self.remove()
                    self.path = None
        return {k: np.empty(s, t) for k, (s, t) in shapes.items()}

    def _map(self, base: str, shapes: dict) -> dict:
        import fcntl

        self.path = tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-", dir=base)  # mode 0700: this user's only
        tmp = os.path.join(self.path, LOCK + ".tmp")  # locked before it is visible as LOCK: sweep() never
        self._lock = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)  # sees it unlocked
        fcntl.flock(self._lock, fcntl.LOCK_EX)
        os.rename(tmp, os.path.join(self.path, LOCK))
        out = {}
        for k, (s, t) in shapes.items():
            path = os.path.join(self.path, k + ".npy")
            out[k] = np.lib.format.open_memmap(path, mode="w+", dtype=t, shape=s)
            with open(path, "r+b") as f:  # reserve every block now: ENOSPC here rather than SIGBUS later
                os.posix_fallocate(f.fileno(), 0, os.fstat(f.fileno()).st_size)
        return out

    def save(self, split: Split, spec: DataSpec) -> None:
        """Write the split's small arrays, its other fields and how it was made (`spec`: the data spec it was
        loaded from); meta.json last (a reader sees all or nothing). If that fails, the
        split is not shared (`problem` says why; this process keeps its mapped arrays, the files being only
        unlinked).
        No flush of the memory maps: writes through MAP_SHARED are seen at once by every process mapping
        the file (one page cache), and an msync would only write a disk-backed folder out for nothing."""
        if self.path is None:
            return
        p = Path(self.path)
        meta = {"format": FORMAT, "name": split.name, "fingerprint": split.fingerprint,
                "num_classes": int(split.num_classes), "preprocess": split.preprocess,
                "max_samples": split.max_samples, "small": [k for k in SMALL if getattr(split, k) is not None],
                "spec": {k: getattr(spec, k) for k in SPEC}}
        try:
            for k in SMALL:
                if getattr(split, k) is not None:
                    np.save(p / f"{k}.npy", getattr(split, k))
            (p / (META + ".tmp")).write_text(json.dumps(meta))
            os.replace(p / (META + ".tmp"), p / META)
        except OSError as e:
            self.problem = f"cannot write the shared split in {self.path}: {e.strerror or e}"
            self.remove()
            self.path = None

    def remove(self) -> None:
        if self.path is not None:
            shutil.rmtree(self.path, ignore_errors=True)
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None


@contextmanager
def sharing(active: bool) -> Iterator[Folder | None]:
    """A Folder (None when not `active`), removed on the way out, whatever the way: leave this context only
    after the workers have exited. While it lives, SIGTERM (whose default action ends the process at once,
    leaving the folder behind) raises SystemExit(143) instead; the search installs its own stop handler
    meanwhile (engine.stop.Stopper) and puts this one back afterwards."""
    if not active:
        yield None
        return
    share = Folder()
    old = None
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        old = signal.signal(signal.SIGTERM, _exit_143)
    try:
        yield share
    finally:
        if old is not None:  # already on the way out: a second SIGTERM must not cut the removal short
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        share.remove()
        if old is not None:
            signal.signal(signal.SIGTERM, old)


def _exit_143(signum, frame) -> None:
    raise SystemExit(128 + signal.SIGTERM)


def open_split(path: str, recorded: dict, dtype: str, source: str) -> Split:
    """The split a coordinator saved in `path`, its X arrays memory-mapped read-only (no copy), checked to be
    the one `source` records (`recorded`: its data dict; `dtype`: the study's), as check_matches says."""
    p = Path(path)
    hint = "a shared split lives only while its coordinator runs; start the worker by hand to load --data itself"
    try:
        meta = json.loads((p / META).read_text())
        if meta.get("format") != FORMAT:
            raise ValueError(f"format {meta.get('format')!r}, expected {FORMAT}")
        X = {k: np.load(p / f"{k}.npy", mmap_mode="r") for k in ("X_train", "X_val")}
        small = {k: np.load(p / f"{k}.npy") for k in meta["small"]}
        split = Split(X["X_train"], small["y_train"], X["X_val"], small["y_val"], int(meta["num_classes"]),
                     meta["name"], meta["fingerprint"], small.get("mean"), small.get("std"), meta["preprocess"],
                     meta["max_samples"])
        made = dict(meta["spec"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise DataError(f"shared split {path}: cannot be read ({type(e).__name__}: {e})", hint) from None
    check_matches(split, made, recorded, dtype, source, path)
    return split


def check_matches(split: Split, made: dict, recorded: dict, dtype: str, source: str, path: str) -> None:
    """The shared split is the one `source` records (`recorded`: its data dict): the same data (fingerprint,
    as engine.stage checks a reloaded --data), split the same way (`made`: its spec), in the study's dtype."""
    if recorded.get("fingerprint") and split.fingerprint != recorded["fingerprint"]:
        raise DataError(f"shared split {path}: fingerprint {split.fingerprint} differs from {recorded['fingerprint']} "
                        f"recorded in {source} (the data changed)", OTHER)
    got = {**made, **split.info(), "dtype": str(split.X_train.dtype)}
    want = {**recorded, "dtype": str(np.dtype(dtype))}
    for k in ("train_samples", "val_samples", "features", "preprocess", "max_samples", "dtype", *SPEC):
        if k in want and k in got and got[k] != want[k]:
            raise DataError(f"shared split {path}: {k} {got[k]} differs from {want[k]} recorded in {source}", OTHER)
