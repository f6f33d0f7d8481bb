"""Where studies live: a journal file (default, beside --out) or any Optuna storage URL (sqlite, postgresql).

Every storage fault (I/O, database, corrupt journal, missing driver) becomes StorageError (exit 3), with
the storage named and its password masked.

Several processes (and machines) may share a study. What must happen once (creating the tables and the
study, recording what it searches, enqueueing the plan, failing a dead worker's trial) runs under
`Handle.lock()`: Optuna's own journal lock for a journal file (engine/journal.py), a PostgreSQL advisory lock
for PostgreSQL.
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from hpsearch.engine.journal import (OWNER_BYTES, journal_backend, owned_lock,  # noqa: F401
                                    repair_journal)  # (re-exported: the storage layer's names)
from hpsearch.errors import ConfigError, StorageError


@contextlib.contextmanager
def faults(where: str):
    """Storage faults (I/O, database, corrupt journal, missing driver) become StorageError (exit 3)."""
    import optuna

    try:
        yield
    except StorageError:
        raise
    except (OSError, ValueError, ImportError, optuna.exceptions.OptunaError, _sqlalchemy_error()) as e:
        what, hint = explain(e)
        raise StorageError(f"storage {where}: {what}", hint) from e


# What a database driver's message means, for one line that says what happened: (needles, what, hint)
DB_FAULTS = (
    (("no space left on device",), "the disk is full",
     "free some space and run the same command again (what finished is saved)"),
    (("read-only file system",), "the file system is read-only", "put --out (and --storage) on a writable disk"),
    (("password authentication failed", "authentication failed"), "authentication failed",
     "check the user, and the password in ~/.pgpass or PGPASSWORD"),
    (("role", "does not exist"), "the database user does not exist", "check the user name in the URL"),
    (("database", "does not exist"), "the database does not exist", "create it, or check its name in the URL"),
    (("server closed the connection",), "the connection to the database was lost",
     "what finished is saved: run the same command again once the server is back"),
    (("terminating connection",), "the database server shut the connection down",
     "what finished is saved: run the same command again once the server is back"),
    (("consuming input failed",), "the connection to the database was lost",
     "what finished is saved: run the same command again once the server is back"),
    (("connection refused",), "the database server refused the connection (not running, or another port?)",
     "check the host and port in the URL, and that the server runs"),
    (("could not translate host name",), "the database host name does not resolve", "check the host in the URL"),
    (("invalid port",), "the port in the URL is not valid", "check the port in the URL"),
    (("timeout expired",), "the database server did not answer in time", "check the host, port and network"),
)


def explain(e: BaseException) -> tuple[str, str]:
    """(what happened, how to fix it) for a storage fault, from the deepest cause in its chain: one line, the
    password scrubbed. Optuna's own wrapper texts ("... e.g. exceeding max length") are looked through."""
    chain, seen = [], set()
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        chain.append(e)
        e = e.__cause__ or e.__context__
    texts = [" ".join(str(x).split()) for x in chain]
    low = " | ".join(t.lower() for t in texts)
    for needles, what, hint in DB_FAULTS:
        if all(n in low for n in needles):
            return what, hint
    text = scrub(next((t for t in reversed(texts) if t), type(chain[0]).__name__))[:300]
    return text, "check --storage (a journal file path, sqlite:///file.db or postgresql://...)"


def on_handle(fn):
    """Run a Handle operation under faults(h.where)."""

    @functools.wraps(fn)
    def wrapper(h, *args, **kwargs):
        with faults(h.where):
            return fn(h, *args, **kwargs)

    return wrapper


def _sqlalchemy_error():
    try:
        from sqlalchemy.exc import SQLAlchemyError

        return SQLAlchemyError
    except ImportError:  # pragma: no cover
        return OSError


SECRET_KEYS = ("password", "passfile", "sslpassword")  # libpq / SQLAlchemy query parameters that carry secrets
_SECRETS: set[str] = set()  # every secret seen in a storage URL: scrubbed from any message (scrub)


def describe(url: str) -> str:
    """A storage URL safe to print and store: the password (user:PASSWORD@, ?password=, passfile=...) masked.
    The secrets are remembered, so that scrub() removes them from driver messages too."""
    import re

    if "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    head, sep, tail = rest.partition("/")  # the authority (user:password@host:port), then path and query
    if "@" in head:
        cred, host = head.rsplit("@", 1)
        if ":" in cred:
            user, secret = cred.split(":", 1)
            _remember(secret)
            head = f"{user}:***@{host}"
    keys = "|".join(SECRET_KEYS)

    def mask(m: re.Match) -> str:
        _remember(m.group(2))
        return f"{m.group(1)}***"

    tail = re.sub(rf"((?:^|[?&;])(?:{keys})=)([^&;#]*)", mask, tail, flags=re.IGNORECASE)
    return f"{scheme}://{head}{sep}{tail}"


def _remember(secret: str) -> None:
    from urllib.parse import unquote

    for s in (secret, unquote(secret)):
        if len(s) >= 3:
            _SECRETS.add(s)


def scrub(text: str) -> str:
    """`text` with every remembered storage secret replaced by ***."""
    for s in sorted(_SECRETS, key=len, reverse=True):
        text = text.replace(s, "***")
    return text


def normalise_url(url: str) -> str:
    """`postgresql://` (and `postgres://`) use psycopg 3 when psycopg2 is absent: SQLAlchemy would ask for
    psycopg2, while `pip install hpsearch[postgres]` installs psycopg."""
    import importlib.util

    scheme, sep, rest = url.partition("://")
    if sep and scheme in ("postgresql", "postgres"):
        if importlib.util.find_spec("psycopg2") is None and importlib.util.find_spec("psycopg") is not None:
            return f"postgresql+psycopg://{rest}"
        return f"postgresql://{rest}"
    return url


def check_url(url: str) -> None:
    """A database URL SQLAlchemy can open: a known dialect with its driver installed, else ConfigError
    (exit 2: the flag is wrong, or a package is missing; nothing was opened yet)."""
    import sqlalchemy
    from sqlalchemy.engine import make_url

    shown = describe(url)
    try:
        dialect = make_url(url).get_dialect()
    except sqlalchemy.exc.NoSuchModuleError as e:  # (an ArgumentError: caught first)
        scheme = url.split("://", 1)[0]
        raise ConfigError(f"--storage {shown}: unknown database kind {scheme!r}",
                          "pass a journal file path, sqlite:///file.db or postgresql://user@host/db",
                          key="storage") from e
    except (sqlalchemy.exc.ArgumentError, ValueError) as e:  # ValueError: a port that is not a number
        raise ConfigError(f"--storage {shown}: not a database URL ({scrub(' '.join(str(e).split()))[:120]})",
                          "pass a journal file path, sqlite:///file.db or postgresql://user@host/db",
                          key="storage") from e
    try:
        dialect.import_dbapi()
    except ImportError as e:
        hint = ("pip install 'hpsearch[postgres]'" if dialect.driver in ("psycopg", "psycopg2")
                else f"install the Python package of the {dialect.driver} driver")
        raise ConfigError(f"--storage {shown}: the {dialect.name} driver {dialect.driver!r} is not installed",
                          hint, key="storage") from e


def join_url(url: str | None, journal: Path | None) -> str:
    """What another process opens to join the study: the journal file's absolute path, or the URL."""
    if url and "://" in url:
        return normalise_url(url)
    return str(Path(url or journal).resolve())


def check_out_is_not_study(out: str, url: str | None, journal: Path | None) -> None:
    """`--out` must not name the journal file that holds the study: writing results there destroys every trial."""
    target = Path(url) if url and "://" not in url else (journal if not url else None)
    if target is not None and Path(out).resolve() == Path(target).resolve():
        raise ConfigError(f"--out {out}: is the study's journal file; writing results there would destroy the study",
                          "choose another --out (results are JSON) or another --storage", key="out")


def is_sqlite(url: str | None) -> bool:
    return bool(url) and url.split("://", 1)[0].split("+", 1)[0] == "sqlite"


def refuse_shared_sqlite(url: str | None, what: str) -> None:
    """SQLite cannot take writes from several processes at once (Optuna's docs say so): refuse early."""
    if is_sqlite(url):
        raise ConfigError(f"{what}: SQLite storage cannot be shared by several worker processes",
                          "use a journal file (--storage path/to/study.journal, the default) or PostgreSQL "
                          "(--storage postgresql://user@host/db), as Optuna advises")


def _pg_locker(url: str) -> Callable[[str], Any]:
    """lock(name): a PostgreSQL session advisory lock, held on a connection of its own (released by the
    server if the process dies)."""
    import sqlalchemy

    engine = sqlalchemy.create_engine(url, pool_size=1, max_overflow=2, pool_pre_ping=True)

    def key(name: str) -> int:  # signed 64-bit key from the name
        k = (zlib.crc32(b"hpsearch") << 32) | zlib.crc32(name.encode())
        return k - (1 << 64) if k >= 1 << 63 else k

    @contextlib.contextmanager
    def lock(name: str):
        with engine.connect() as conn:
            conn.execute(sqlalchemy.text("SELECT pg_advisory_lock(:k)"), {"k": key(name)})
            conn.commit()
            try:
                yield
            finally:
                conn.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:k)"), {"k": key(name)})
                conn.commit()

    return lock


@dataclass
class Handle:
    """An open study: what the engine needs to enqueue, claim and finish trials."""

    study: Any  # optuna.Study
    storage: Any  # optuna BaseStorage
    study_id: int
    name: str  # study name
    where: str  # storage description for messages and results (password masked)
    backend: Any = None  # the journal backend when the storage is a journal file (synced at the end)
    url: str | None = None  # what another process opens to join: the journal's absolute path, or the URL
    locker: Callable[[str], Any] | None = None  # PostgreSQL: advisory lock by name
    _owner: int | None = field(default=None, repr=False)  # thread holding lock()

    def notes(self) -> list[str]:
        """Repairs made to the journal so far (a cut-off last record set aside), each once."""
        if self.backend is None:
            return []
        out, self.backend.hp_notes[:] = list(self.backend.hp_notes), []
        return out

    def sync(self) -> None:
        if self.backend is not None:
            with contextlib.suppress(OSError):
                self.backend.sync()

    @contextlib.contextmanager
    def batch(self):
        """A journal file: the records this thread writes inside become one append, made at the end under the
        journal's lock, which is held throughout (what was read inside is still true when they land; an
        exception writes none of them). Other storages write each at once (engine/update.py gives a database
        one transaction per trial update instead)."""
        if self.backend is None:
            yield
            return
        with self.backend.batch():
            yield

    @contextlib.contextmanager
    def lock(self):
        """Mutual exclusion with every other process working on this study, re-entrant within a thread (a
        no-op for other databases: there the claim protocol in study.py still keeps a number from running
        twice)."""
        me = threading.get_ident()
        if self._owner == me or (self.backend is not None and self.backend.hp_holder == me):  # in lock() or batch()
            yield
            return
        if self.backend is not None:
            guard = self.backend.hold()
        elif self.locker is not None:
            guard = self.locker(self.name)
        else:
            guard = contextlib.nullcontext()
        with guard:
            self._owner = me
            try:
                yield
            finally:
                self._owner = None


def _check_journal_kind(path: Path, where: str) -> None:
    """A journal is a regular file or a new path: a device, a FIFO or a folder is refused (exit 2), never
    opened (a FIFO would block, a device is not a log)."""
    import stat

    from hpsearch.config.files import kind

    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return
    except OSError as e:
        raise StorageError(f"storage {where}: cannot check the journal ({e.strerror})", "check --storage") from None
    if not stat.S_ISREG(mode):
        raise ConfigError(f"--storage {where}: is {kind(mode)}, not a journal file",
                          "pass a journal file path (a new one is created), sqlite:///file.db or postgresql://...",
                          key="storage")


def open_study(url: str | None, journal: Path | None, name: str, fresh: bool = False, create: bool = True) -> Handle:
    """Open (or create) study `name` in `url` (default: the journal file `journal`).

    `fresh` deletes an existing study of that name first. `create=False` (a worker joining) requires the
    study to exist: ConfigError (exit 2) otherwise. Errors: StorageError.
    """
    import optuna
    from optuna.storages.journal import JournalStorage

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    url = normalise_url(url) if url and "://" in url else url
    journal_path = Path(url) if url and "://" not in url else (journal if not url else None)
    where = str(journal_path) if journal_path is not None else describe(url)
    with faults(where):
        backend = locker = None
        if journal_path is not None:
            _check_journal_kind(journal_path, where)
            if not create and not journal_path.is_file():
                raise ConfigError(f"--storage {where}: no such journal file",
                                  "pass the journal the coordinator writes (by default beside its --out file)")
            if not journal_path.parent.is_dir():
                raise StorageError(f"storage {where}: folder {journal_path.parent} does not exist",
                                   "create it, or pass --storage PATH")
            if fresh and not url and journal_path.is_file() and \
                    {st.study_name for st in JournalStorage(journal_backend(str(journal_path))).get_all_studies()} <= {name}:
                journal_path.unlink()  # our own journal holds only this study: a new file, not a longer log
            backend = journal_backend(str(journal_path))  # Optuna reads past a cut-off last record; the
            guard = backend.hold()  # first append sets it aside (repair_journal): read-only opens write nothing
        else:
            check_url(url)
            locker = _pg_locker(url) if url.split("://", 1)[0].split("+", 1)[0] == "postgresql" else None
            guard = locker("hpsearch-schema") if locker else contextlib.nullcontext()
        with guard:  # concurrent first use of a database races on its tables, of a study on its name
            if journal_path is not None:
                storage = JournalStorage(backend)
                backend.hp_storage = storage  # its own appends go straight into this storage (journal.py)
            else:
                storage = optuna.storages.RDBStorage(url)
            names = {s.study_name for s in storage.get_all_studies()}
            if not create and name not in names:
                listed = ", ".join(sorted(names)[:5]) or "none"
                raise ConfigError(f"--study {name}: no such study in {where} (studies there: {listed})",
                                  "start it first with hpsearch coarse --storage ... --study NAME")
            if fresh and name in names:
                optuna.delete_study(study_name=name, storage=storage)
                names.discard(name)
            sampler = optuna.samplers.RandomSampler(seed=0)
            if name in names:  # load, not create_study(load_if_exists=True): that one appends a record first
                study = optuna.load_study(study_name=name, storage=storage, sampler=sampler)
            else:
                study = optuna.create_study(storage=storage, study_name=name, direction="maximize", sampler=sampler)
        return Handle(study, storage, storage.get_study_id_from_name(name), name, where, backend,
                      join_url(url, journal_path), locker)
