"""Reading the small text files a command takes (space files, results files) safely: only regular files,
never more than a size limit, never blocking (a FIFO or a device would hang a plain read); writing any output
file atomically (write_atomic)."""

from __future__ import annotations

import os
import stat

SPACE_LIMIT = 1 << 20  # a space file is a few hundred bytes; 1 MiB leaves room and keeps YAML parsing fast
RESULTS_LIMIT = 256 << 20  # a results file of a 100,000-trial search is about 100 MiB


class NotReadable(Exception):
    """Why `read_text` refused or failed: `reason` is one line without the path."""

    def __init__(self, reason: str, missing: bool = False):
        super().__init__(reason)
        self.reason, self.missing = reason, missing


def kind(mode: int) -> str:
    return ("a folder" if stat.S_ISDIR(mode) else "a FIFO (named pipe)" if stat.S_ISFIFO(mode) else
            "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "a socket" if stat.S_ISSOCK(mode)
            else "not a regular file")


def read_text(path, limit: int) -> str:
    """The UTF-8 text of the regular file `path`, at most `limit` bytes; NotReadable otherwise."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # a FIFO must not block the open
    except FileNotFoundError:
        raise NotReadable("no such file", missing=True) from None
    except IsADirectoryError:
        raise NotReadable("is a folder") from None
    except OSError as e:
        raise NotReadable(f"cannot read ({e.strerror})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotReadable(f"is {kind(st.st_mode)}, not a regular file")
        if st.st_size > limit:
            raise NotReadable(f"is {st.st_size:,} bytes, more than the {limit:,} allowed")
        data = os.read(fd, limit + 1)
        chunks = [data]
        while data and sum(map(len, chunks)) <= limit:
            data = os.read(fd, limit + 1)
            chunks.append(data)
        raw = b"".join(chunks)
        if len(raw) > limit:
            raise NotReadable(f"is more than the {limit:,} bytes allowed")
    except OSError as e:
        raise NotReadable(f"cannot read ({e.strerror})") from None
    finally:
        os.close(fd)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise NotReadable("is not UTF-8 text") from None


def check_output(path) -> None:
    """`path` may be written (replaced atomically): a new path, or an existing regular file that is not a
    symlink; raises NotReadable (reason) otherwise, so that a device or a link is never replaced."""
    try:
        st = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):  # a new path (a missing folder is the caller's to report)
        return
    except OSError as e:
        raise NotReadable(f"cannot check ({e.strerror})") from None
    if stat.S_ISLNK(st.st_mode):
        raise NotReadable("is a symbolic link (it would be replaced by a file)")
    if not stat.S_ISREG(st.st_mode):
        raise NotReadable(f"is {kind(st.st_mode)} (only a regular file or a new path can be written)")


def write_atomic(path, write, binary: bool = False) -> None:
    """Write the regular file `path` atomically: `write(f)` fills a temporary file beside it, which is fsync'd and
    then renamed over `path` (os.replace), so a reader sees the old file or the whole new one, never a part. A new
    file gets what open() gives (the umask applies, not mkstemp's 0600), an existing one keeps its mode; an existing
    file this process may not write is refused (PermissionError), as open() would. On failure nothing is left
    behind and the old file is intact. Raises OSError. (For a device, a FIFO or a link, write to it directly.)"""
    import secrets

    path = os.fspath(path)
    folder, name = os.path.dirname(path) or ".", os.path.basename(path)
    try:
        old = os.stat(path).st_mode & 0o777
    except FileNotFoundError:
        old = None
    if old is not None and not os.access(path, os.W_OK):
        raise PermissionError(13, "Permission denied", path)
    for _ in range(100):
        tmp = os.path.join(folder, f".{name[:64]}.{secrets.token_hex(4)}.tmp")  # (a long name stays valid)
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
            break
        except FileExistsError:
            continue
    else:
        raise FileExistsError(17, "no free temporary name", folder)
    try:
        if old is not None:
            os.chmod(tmp, old)
        with os.fdopen(fd, "wb" if binary else "w", **({} if binary else {"encoding": "utf-8", "newline": ""})) as f:
            fd = None
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        tmp = None
    finally:
        if fd is not None:
            os.close(fd)
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
