"""The prepared split, built once by a `--jobs N` coordinator into files its worker processes map read-only.

    with sharing(True) as share:                  # a private folder, removed on the way out (any way out)
        split = data.split(ds, ..., alloc=share.alloc)   # X_train, X_val ARE memory-mapped .npy files there
        share.save(split)                         # y, mean, std and meta.json (written last: the folder is complete)
        ... pool.go(share.path) ...               # a worker: open_split(path) + check_matches(...)

Why: a search on CIFAR-10-size data (50,000 x 3,072 float32 = 614 MB) with --jobs 2 held two private copies
of the split, one per process. Here the coordinator writes the split once, straight into the files (no
private copy, no second write), and every process trains on the same pages: on /dev/shm (a tmpfs, when it
has room) they never touch a disk, elsewhere they are ordinary page cache. The pages are identical bytes,
so results are bit-identical to a private split's.

Layout of the folder (named hpsearch-split-<pid>-<random>, so a leftover after a SIGKILL is recognisable):
X_train.npy, X_val.npy, y_train.npy, y_val.npy, mean.npy, std.npy, meta.json (the Split's other fields).
HPSEARCH_SHARE_SPLIT=0 turns sharing off (each worker loads --data itself, as before): read in enabled() only.
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

from hpsearch.data import Split
from hpsearch.errors import DataError, OutputError

ENV = "HPSEARCH_SHARE_SPLIT"  # "0" (or false/no/off): no shared split, workers load --data themselves
PREFIX = "hpsearch-split-"  # + <coordinator pid>-<random>
SHM = "/dev/shm"  # preferred: a tmpfs, the pages are plain memory
MARGIN = 64 << 20  # bytes left free on the file system after the split: a full tmpfs would SIGBUS a writer
META = "meta.json"
FORMAT = 1  # meta.json "format": what open_split() can read
SMALL = ("y_train", "y_val", "mean", "std")  # the Split's small arrays, saved whole
# the hint of a folder that is not the study's split (a worker fed another search's "go FOLDER")
OTHER = "the folder holds another search's split; start the worker by hand to load --data itself"
SPEC = ("label_column", "val_fraction", "split_seed", "flatten")  # how it was split (the data spec's keys)


def enabled() -> bool:
    """Whether --jobs shares the split (the one place HPSEARCH_SHARE_SPLIT is read)."""
    return os.environ.get(ENV, "1").strip().lower() not in ("0", "false", "no", "off")


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


def place(need: int) -> str | None:
    """The folder to create the split's folder in: /dev/shm when it has room for `need` bytes (plus MARGIN),
    else the temporary folder when it has; None when neither has (the split then stays private)."""
    bases = [SHM] if os.path.isdir(SHM) and os.access(SHM, os.W_OK | os.X_OK) else []
    for base in bases + [tempfile.gettempdir()]:
        if free_bytes(base) >= need + MARGIN:
            return base
    return None


class Folder:
    """The split's folder; created by the first alloc() (data.Alloc), so its size is known before a byte is
    written. `path` stays None when nothing is shared (no room anywhere): the arrays are then private."""

    def __init__(self) -> None:
        self.path: str | None = None  # the folder, once created

    def alloc(self, shapes: dict) -> dict:
        """{name: (shape, dtype)} -> {name: an empty array}, memory-mapped files in a new folder if room."""
        need = sum(int(np.prod(s, dtype=np.int64)) * np.dtype(t).itemsize for s, t in shapes.values())
        base = None if self.path is not None else place(need + (1 << 20))  # + the small arrays
        if base is None:
            return {k: np.empty(s, t) for k, (s, t) in shapes.items()}
        try:
            self.path = tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-", dir=base)  # mode 0700: this user's only
            return {k: np.lib.format.open_memmap(os.path.join(self.path, k + ".npy"), mode="w+", dtype=t, shape=s)
                    for k, (s, t) in shapes.items()}
        except OSError as e:
            raise _unwritable(base, e) from None

    def save(self, split: Split, spec: dict) -> None:
        """Write the split's small arrays, its other fields and how it was made (`spec`: the data spec it was
        loaded from, options.data_spec); meta.json last (a reader sees all or nothing).
        No flush of the memory maps: writes through MAP_SHARED are seen at once by every process mapping
        the file (one page cache), and an msync would only write a disk-backed folder out for nothing."""
        if self.path is None:
            return
        p = Path(self.path)
        try:
            for k in SMALL:
                if getattr(split, k) is not None:
                    np.save(p / f"{k}.npy", getattr(split, k))
        except OSError as e:
            raise _unwritable(self.path, e) from None
        meta = {"format": FORMAT, "name": split.name, "fingerprint": split.fingerprint,
                "num_classes": int(split.num_classes), "preprocess": split.preprocess,
                "max_samples": split.max_samples, "small": [k for k in SMALL if getattr(split, k) is not None],
                "spec": {k: spec.get(k) for k in SPEC if k in spec}}
        try:
            (p / (META + ".tmp")).write_text(json.dumps(meta))
            os.replace(p / (META + ".tmp"), p / META)
        except OSError as e:
            raise _unwritable(self.path, e) from None

    def remove(self) -> None:
        if self.path is not None:
            shutil.rmtree(self.path, ignore_errors=True)


def _unwritable(where: str, e: OSError) -> OutputError:
    return OutputError(f"--jobs: cannot write the shared split in {where}: {e.strerror or e}",
                       f"free space there, or set {ENV}=0 (each worker then loads --data itself)")


@contextmanager
def sharing(active: bool) -> Iterator[Folder | None]:
    """A Folder (None when not `active`), removed on the way out, whatever the way: leave this context only
    after the workers have exited. While it lives, SIGTERM (whose default action ends the process at once,
    leaving the folder behind) raises SystemExit(143) instead; the search installs its own stop handler
    meanwhile (search.Stopper) and puts this one back afterwards."""
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
    as stage.load_split checks a reloaded --data), split the same way (`made`: its spec), in the study's dtype."""
    if recorded.get("fingerprint") and split.fingerprint != recorded["fingerprint"]:
        raise DataError(f"shared split {path}: fingerprint {split.fingerprint} differs from {recorded['fingerprint']} "
                        f"recorded in {source} (the data changed)", OTHER)
    got = {**made, **split.info(), "dtype": str(split.X_train.dtype)}
    want = {**recorded, "dtype": str(np.dtype(dtype))}
    for k in ("train_samples", "val_samples", "features", "preprocess", "max_samples", "dtype", *SPEC):
        if k in want and k in got and got[k] != want[k]:
            raise DataError(f"shared split {path}: {k} {got[k]} differs from {want[k]} recorded in {source}", OTHER)
