"""The journal file: Optuna's JournalFileBackend with batched appends, an fsync at most once a second, a cut-off
last record set aside, and a lock that records its owner (so a lock left by a dead process is broken at once).
storage.open_study uses it; see storage.py for the rest of the storage layer."""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from typing import Any


SYNC_EVERY = 1.0  # seconds: a journal append fsyncs when the last fsync is older than this
# what json.dumps(log, separators=(",", ":")) (Optuna's record format) builds anew at every call: one for all
_ENCODE = json.JSONEncoder(separators=(",", ":")).encode


def repair_journal(path: str) -> str | None:
    """If the journal's last record is cut off (no final newline), move that partial record to `<path>.damaged`
    and cut the journal back to its last whole record; returns a one-line note of it, else None. Call it with
    the journal's lock held (a writer holds it for a whole append, so a partial line under it is a dead one)."""
    try:
        with open(path, "rb+") as f:
            end = f.seek(0, os.SEEK_END)
            if end == 0:
                return None
            f.seek(end - 1)
            if f.read(1) == b"\n":
                return None
            back = min(end, 1 << 16)
            while True:  # find the last newline, reading backwards in blocks
                f.seek(end - back)
                block = f.read(back)
                cut = block.rfind(b"\n")
                if cut >= 0 or back == end:
                    break
                back = min(end, back * 2)
            keep = end - back + cut + 1 if cut >= 0 else 0
            f.seek(keep)
            partial = f.read()
            with open(path + ".damaged", "ab") as side:
                side.write(partial + b"\n")
                side.flush()
                os.fsync(side.fileno())
            f.truncate(keep)
            f.flush()
            os.fsync(f.fileno())
    except FileNotFoundError:
        return None
    return (f"{path}: its last record was cut off ({len(partial)} bytes, a crash or a full disk?); it was set aside "
            f"in {path}.damaged and the study goes on with every whole record")


def journal_backend(path: str):
    """Optuna's JournalFileBackend (same file format, same lock) without an fsync per record.

    An fsync per record costs more than training a small trial (README, Performance). Records still reach
    the OS at once (a killed process loses nothing); an append fsyncs when the last fsync is older than
    SYNC_EVERY seconds (a power loss loses at most that much), and `sync()` makes everything durable at the end.

    A cut-off last record (a crash mid-write, a full disk) is set aside before anything is appended after it
    (repair_journal): appending onto a partial line would corrupt the journal for good.

    `hold()` keeps Optuna's lock for a whole critical section (enqueueing the plan): appends made meanwhile
    by this process (any thread: JournalStorage serializes them) skip the lock they already hold.

    `batch()` turns the records one thread appends meanwhile into one append, made under the lock (held for
    the whole batch, so what the thread read in it is still true when its records land): a trial's claim, or
    its result, is one lock and one write. An exception inside the batch writes none of its records.
    """
    from optuna.storages.journal import JournalFileBackend

    class Backend(JournalFileBackend):
        def __init__(self, file_path: str) -> None:
            self.hp_path, self.hp_lock = file_path, owned_lock(file_path)
            self.hp_guard = threading.Lock()  # one hold() at a time in this process
            # makes "is it held? else take it" atomic against hold(): JournalStorage calls append_logs with
            # its own thread lock taken, which hold()'s thread may be waiting for (no lock-order cycle)
            self.hp_mutex = threading.Lock()
            self.hp_synced = time.monotonic()  # when the journal was last fsync'd
            self.hp_notes: list[str] = []  # repairs made (a cut-off record set aside), for a warning
            self.hp_holder: int | None = None  # the thread in hold(), which holds hp_lock (None: no hold())
            self.hp_batcher: int | None = None  # thread in batch(): its appends go to hp_buffer
            self.hp_buffer: list[dict[str, Any]] = []
            self.hp_read = False  # the batch has read the journal since it took the lock
            self.hp_write = threading.Lock()  # one write to the file at a time in this process
            self.hp_end = -1  # the journal's size right after this process's last append (-1: unknown)
            self.hp_storage = None  # the JournalStorage reading this backend (storage.open_study sets it)
            super().__init__(file_path, self.hp_lock)

        def read_logs(self, log_number_from: int):
            if self.hp_batcher == threading.get_ident():  # in batch(), under the lock: no other process can
                if self.hp_read:  # have appended since its first read (this process's heartbeat thread may:
                    return iter(())  # a lease renewal, read after the batch)
                self.hp_read = True
            return super().read_logs(log_number_from)

        def append_logs(self, logs: list[dict[str, Any]]) -> None:
            if self.hp_batcher == threading.get_ident():
                self.hp_buffer.extend(logs)
                return
            data = ("\n".join(_ENCODE(log) for log in logs) + "\n").encode("utf-8")
            with self.hp_mutex:
                if self.hp_holder is not None:  # a hold() of this process has the lock: write before it lets go
                    self._write(data)
                    return
                self.hp_lock.acquire()  # blocks until held
            try:
                self._write(data)
            finally:
                self.hp_lock.release()

        def _write(self, data: bytes) -> int:
            """Append `data` in one write() (the lock held); returns the offset it starts at."""
            with self.hp_write, open(self.hp_path, "ab", buffering=0) as f:
                end = os.fstat(f.fileno()).st_size
                if end != self.hp_end:  # someone else appended since our last write (or it is the first):
                    note = repair_journal(self.hp_path)  # never append after a partial line
                    if note:
                        self.hp_notes.append(note)
                    end = os.fstat(f.fileno()).st_size
                view = memoryview(data)
                while view:
                    view = view[f.write(view):]
                self.hp_end = end + len(data)
                now = time.monotonic()
                if now - self.hp_synced >= SYNC_EVERY:
                    os.fsync(f.fileno())
                    self.hp_synced = now
            return end

        def _append_own(self, logs: list[dict[str, Any]]) -> None:
            """A batch's append (the lock held since its read), applied to the storage's replay at once when the
            replay had read the whole journal: the records are not read back from the file (parsing them again
            and re-reading the file cost more than the rest of recording a trial). Else, or should this Optuna
            lack the internals used, an ordinary append (read back at the next look)."""
            st = self.hp_storage
            replay = getattr(st, "_replay_result", None)
            if st is None or not hasattr(st, "_thread_lock") or not hasattr(replay, "log_number_read"):
                self.append_logs(logs)
                return
            lines = [_ENCODE(log).encode("utf-8") for log in logs]
            with st._thread_lock:  # no other thread reads the journal meanwhile
                n = replay.log_number_read
                start = self._log_number_offset.get(n)
                at = self._write(b"\n".join(lines) + b"\n")
                if start is None or at != start:  # records of others in between: read back in order
                    return
                for i, line in enumerate(lines, n + 1):
                    start += len(line) + 1
                    self._log_number_offset[i] = start
                # as read back (JSON values, in file order), decoded in one call
                replay.apply_logs(json.loads(b"[" + b",".join(lines) + b"]"))

        @contextlib.contextmanager
        def hold(self):
            with self.hp_guard:
                with self.hp_mutex:
                    self.hp_lock.acquire()
                    self.hp_holder = threading.get_ident()
                try:
                    yield
                finally:
                    with self.hp_mutex:  # not while another thread's append relies on it (append_logs)
                        self.hp_holder = None
                        self.hp_lock.release()

        @contextlib.contextmanager
        def batch(self):
            me = threading.get_ident()
            if self.hp_batcher == me:  # nested: the outer batch writes
                yield
                return
            with contextlib.nullcontext() if self.hp_holder == me else self.hold():
                self.hp_batcher, self.hp_buffer, self.hp_read = me, [], False
                try:
                    yield
                except BaseException:
                    self.hp_batcher, self.hp_buffer = None, []  # nothing of it written
                    raise
                logs, self.hp_batcher, self.hp_buffer = self.hp_buffer, None, []
                if logs:
                    self._append_own(logs) if self.hp_read else self.append_logs(logs)

        def sync(self) -> None:
            with open(self.hp_path, "ab") as f:
                os.fsync(f.fileno())

    return Backend(path)


def owner_gone(worker: Any) -> bool:
    """Whether `worker` ("host:pid") names a process of this machine that no longer exists. False when it is
    another machine's, this process, or still alive (a reused pid only means waiting the grace)."""
    import socket

    if not isinstance(worker, str) or ":" not in worker:
        return False
    host, _, pid = worker.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OSError):
        return False
    return False


OWNER_BYTES = 256  # the owner record's fixed size: rewritten in place, never truncated, created or renamed


def owned_lock(path: str):
    """Optuna's journal lock (a symlink `<journal>.lock`, same protocol, so Optuna processes interoperate) that
    also records its owner in `<journal>.lock.owner`: a lock left by a process of this machine that is gone
    (SIGKILL, a SIGTERM before the handlers) is broken at once instead of after 30 s.

    The record is "host:pid ctime" (ctime: the lock symlink's creation time in ns, as lstat reads it), written
    in place after the symlink is made and left behind at release: it names the holder only of the symlink
    with that ctime, so a record left by an earlier holder never condemns the next one (a lock is one symlink
    and one small write, not a file created, renamed and removed: the journal is locked twice a trial)."""
    import socket

    from optuna.storages.journal import JournalFileSymlinkLock

    me = f"{socket.gethostname()}:{os.getpid()}"

    class OwnedLock(JournalFileSymlinkLock):
        def __init__(self, filepath: str) -> None:
            super().__init__(filepath)
            self.hp_owner = self._lock_file + ".owner"

        def acquire(self) -> bool:
            while True:
                try:
                    os.symlink(self._lock_target_file, self._lock_file)
                except FileExistsError:
                    if self._owner_gone():
                        with contextlib.suppress(RuntimeError, OSError):
                            super().release()  # its owner is gone: nobody else will release it
                        continue
                    got = super().acquire()  # a live owner: Optuna's wait (with its 30 s grace)
                    self._write_owner()
                    return got
                self._write_owner()
                return True

        def release(self) -> None:
            try:  # held by this process (Optuna renames first, to survive a release race it cannot have here)
                os.unlink(self._lock_file)
            except OSError:
                raise RuntimeError("Error: did not possess lock") from None

        def _write_owner(self) -> None:
            with contextlib.suppress(OSError):
                made = os.lstat(self._lock_file).st_ctime_ns
                fd = os.open(self.hp_owner, os.O_WRONLY | os.O_CREAT, 0o644)
                try:
                    os.pwrite(fd, f"{me} {made}".encode().ljust(OWNER_BYTES), 0)
                finally:
                    os.close(fd)

        def _owner_gone(self) -> bool:
            try:
                made = os.lstat(self._lock_file).st_ctime_ns
                with open(self.hp_owner, "rb") as f:
                    words = f.read(OWNER_BYTES).decode("utf-8", "replace").split()
            except OSError:
                return False
            return len(words) == 2 and words[1] == str(made) and owner_gone(words[0])

    return OwnedLock(path)
