"""results.json: a versioned, strict-JSON record of one search stage (DESIGN.md §3): write, read, fingerprint.

Written atomically (a temporary file in the same folder, then os.replace: a reader never sees half a
file, a crash leaves the old one). NaN and infinities are not JSON: they become null (the trial's
`status` says why). `read` validates (validate.py) everything `fine --from` and `report` rely on and raises
ResultsError (exit 2) with the file and the key otherwise.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path

from hpsearch.config.plain import strict
from hpsearch.errors import OutputError, ResultsError
from hpsearch.results.validate import validate


def dumps(doc: dict) -> str:
    return json.dumps(strict(doc), allow_nan=False, indent=1) + "\n"


def write(path: str | Path, doc: dict) -> None:
    """Write `doc` to `path` atomically. Errors: OutputError (exit 3)."""
    write_text(path, dumps(doc))


def write_text(path: str | Path, text: str, flag: str = "--out") -> None:
    """Write `text` to `path` atomically (also a report page). Errors: OutputError (exit 3) naming `flag`."""
    from hpsearch.config.files import write_atomic

    try:
        write_atomic(path, lambda f: f.write(text))
    except OSError as e:
        raise OutputError(f"{flag} {path}: cannot write ({e.strerror or e})", "choose a writable path") from None


def check_writable(path: str | Path) -> None:
    """Fail before searching, not after, when --out cannot be written."""
    from hpsearch.config import files
    from hpsearch.errors import ConfigError

    p = Path(path)
    folder = p.parent if str(p.parent) else Path(".")
    if p.is_dir():
        raise OutputError(f"--out {path}: is a folder", "give a file name, e.g. --out results.json")
    if not folder.is_dir():
        raise OutputError(f"--out {path}: folder {folder} does not exist", "create it or choose another path")
    try:
        files.check_output(p)
    except files.NotReadable as e:
        raise ConfigError(f"--out {path}: {e.reason}", "give a new file name, e.g. --out results.json",
                          key="out") from None
    if not os.access(folder, os.W_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise OutputError(f"--out {path}: not writable", "choose a writable path")
    try:  # the permission bits do not tell everything (root, /proc, a read-only mount): make a file there
        fd, probe = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".probe", dir=folder)
    except OSError as e:
        raise OutputError(f"--out {path}: cannot create files in {folder} ({e.strerror})",
                          "choose a writable path") from None
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(probe)


SETTINGS_NOT_FINGERPRINTED = ("storage", "study")  # where the study lives, not what it searched


def doc_fingerprint(doc: dict) -> str:
    """sha256 (16 hex digits) of what a (validated) results document found, canonical JSON (sorted keys).

    Ties a fine stage to its parent. Leaves out progress (seconds, ran_now ...), per-trial timings and
    where the study is stored: a no-op rerun of a finished stage rewrites those, and must not stop its
    fine stage from resuming. Changed trials, space, fixed settings or data do change it.
    """
    trials = sorted(({k: t.get(k) for k in ("number", "params", "status", "val_acc")} for t in doc["trials"]),
                    key=lambda t: t["number"])
    core = {
        "command": doc["command"], "space": doc["space"], "fixed": doc["fixed"], "data": doc["data"],
        "settings": {k: v for k, v in doc["settings"].items() if k not in SETTINGS_NOT_FINGERPRINTED},
        "parent": (doc.get("parent") or {}).get("fingerprint"), "trials": trials, "best": doc["best"],
    }
    text = json.dumps(strict(core), sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def read(path: str | Path) -> dict:
    """Read and validate a results file. Errors: ResultsError naming the file and key (exit 2)."""
    from hpsearch.config import files

    try:
        text = files.read_text(path, files.RESULTS_LIMIT)
    except files.NotReadable as e:
        if e.missing:
            raise ResultsError(f"{path}: no such results file", "run `hpsearch coarse` first, or pass its --out") from None
        raise ResultsError(f"{path}: {e.reason}", "pass the results.json file a search wrote") from None
    try:
        doc = json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise ResultsError(f"{path}: nested too deeply to be a results file", "pass the results.json file a search "
                           "wrote") from None
    except (json.JSONDecodeError, ValueError) as e:
        where = f" at line {e.lineno}, column {e.colno}" if isinstance(e, json.JSONDecodeError) else ""
        raise ResultsError(f"{path}: not valid JSON{where} (truncated or edited?)",
                           "rerun the search that wrote it") from None
    validate(doc, str(path))
    return doc


def _no_constant(name: str):
    raise ValueError(f"{name} is not strict JSON")
