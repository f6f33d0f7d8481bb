"""results.json: a versioned, strict-JSON record of one search stage (DESIGN.md §3).

Written atomically (a temporary file in the same folder, then os.replace: a reader never sees half a
file, a crash leaves the old one). NaN and infinities are not JSON: they become null (the trial's
`status` says why). `read` validates everything `fine --from` and `report` rely on and raises
ResultsError (exit 2) with the file and the key otherwise.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

from hpsearch.errors import OutputError, ResultsError, SpaceError

SCHEMA_VERSION = 1
STATUSES = ("complete", "diverged", "failed")
REQUIRED = {  # key -> JSON type(s) it must have
    "schema_version": int, "command": str, "settings": dict, "data": dict, "space": dict, "fixed": dict,
    "progress": dict, "trials": list, "best": (dict, type(None)), "warnings": list,
}
TRIAL_REQUIRED = {"number": int, "params": dict, "status": str, "val_acc": (int, float, type(None)),
                  "epochs_run": int}


def strict(obj: Any) -> Any:
    """A copy with every non-finite float replaced by None (strict JSON)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): strict(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [strict(v) for v in obj]
    if hasattr(obj, "item") and callable(obj.item):  # numpy scalars
        return strict(obj.item())
    return obj


def dumps(doc: dict) -> str:
    return json.dumps(strict(doc), allow_nan=False, indent=1) + "\n"


def write(path: str | Path, doc: dict) -> None:
    """Write `doc` to `path` atomically. Errors: OutputError (exit 3)."""
    path = Path(path)
    text = dumps(doc)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent if str(path.parent) else ".", prefix=f".{path.name}.",
                                   suffix=".tmp")
        os.chmod(tmp, _file_mode(path))
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        tmp = None
    except OSError as e:
        raise OutputError(f"--out {path}: cannot write ({e.strerror or e})", "choose a writable path") from None
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def _file_mode(path: Path) -> int:
    """The old file's mode, or what open() would give a new file (mkstemp makes 0600)."""
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        mask = os.umask(0)
        os.umask(mask)
        return 0o666 & ~mask


def check_writable(path: str | Path) -> None:
    """Fail before searching, not after, when --out cannot be written."""
    p = Path(path)
    folder = p.parent if str(p.parent) else Path(".")
    if p.is_dir():
        raise OutputError(f"--out {path}: is a folder", "give a file name, e.g. --out results.json")
    if not folder.is_dir():
        raise OutputError(f"--out {path}: folder {folder} does not exist", "create it or choose another path")
    if not os.access(folder, os.W_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise OutputError(f"--out {path}: not writable", "choose a writable path")


def file_fingerprint(path: str | Path) -> str:
    """sha256 of the file's bytes (16 hex digits): ties a fine stage to its exact parent file."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def read(path: str | Path) -> dict:
    """Read and validate a results file. Errors: ResultsError naming the file and key (exit 2)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ResultsError(f"{path}: no such results file", "run `hpsearch coarse` first, or pass its --out") from None
    except IsADirectoryError:
        raise ResultsError(f"{path}: is a folder, not a results file", "pass the results.json file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ResultsError(f"{path}: cannot read ({getattr(e, 'strerror', None) or e})", "check the path") from None
    try:
        doc = json.loads(text, parse_constant=_no_constant)
    except (json.JSONDecodeError, ValueError) as e:
        where = f" at line {e.lineno}, column {e.colno}" if isinstance(e, json.JSONDecodeError) else ""
        raise ResultsError(f"{path}: not valid JSON{where} (truncated or edited?)",
                           "rerun the search that wrote it") from None
    validate(doc, str(path))
    return doc


def _no_constant(name: str):
    raise ValueError(f"{name} is not strict JSON")


def validate(doc: Any, source: str) -> None:
    def bad(key: str, problem: str, hint: str | None = None):
        raise ResultsError(f"{source}: {key} {problem}", hint or "rerun the search that wrote it", key=key)

    if not isinstance(doc, dict):
        bad("top level", "is not a JSON object: not an hpsearch results file")
    if "schema_version" not in doc:
        bad("schema_version", "is missing: not an hpsearch results file", "pass a file written by hpsearch coarse/fine")
    v = doc["schema_version"]
    if v != SCHEMA_VERSION or isinstance(v, bool):
        bad("schema_version", f"{v!r} is not supported (this hpsearch reads version {SCHEMA_VERSION})",
            "use the hpsearch version that wrote it, or rerun the search")
    for key, typ in REQUIRED.items():
        if key not in doc:
            bad(key, "is missing")
        if not isinstance(doc[key], typ) or isinstance(doc[key], bool):
            bad(key, f"has the wrong type ({type(doc[key]).__name__})")
    from hpsearch.space import parse_space

    try:
        space = parse_space(doc["space"], f"{source}: space")
    except SpaceError as e:
        raise ResultsError(str(e), key="space") from None
    names = {n for n, _ in space.params}
    if not isinstance(doc["settings"].get("seed", 0), int) or isinstance(doc["settings"].get("seed"), bool):
        bad("settings.seed", "must be an integer")
    for key in ("spec", "fingerprint"):
        if not isinstance(doc["data"].get(key), str):
            bad(f"data.{key}", "is missing or not a string")
    numbers = set()
    for i, t in enumerate(doc["trials"]):
        where = f"trials[{i}]"
        if not isinstance(t, dict):
            bad(where, "is not an object")
        for key, typ in TRIAL_REQUIRED.items():
            if key not in t:
                bad(f"{where}.{key}", "is missing")
            if not isinstance(t[key], typ) or isinstance(t[key], bool):
                bad(f"{where}.{key}", f"has the wrong type ({type(t[key]).__name__})")
        if t["status"] not in STATUSES:
            bad(f"{where}.status", f"must be one of {', '.join(STATUSES)}, got {t['status']!r}")
        if t["val_acc"] is not None and not (0 <= t["val_acc"] <= 1):
            bad(f"{where}.val_acc", f"must be in [0, 1], got {t['val_acc']}")
        if t["status"] == "complete" and t["val_acc"] is None:
            bad(f"{where}.val_acc", "is null for a complete trial")
        if set(t["params"]) != names:
            bad(f"{where}.params", f"has keys {sorted(t['params'])}, the space searches {sorted(names)}")
        if t["number"] in numbers:
            bad(f"{where}.number", f"{t['number']} appears twice")
        numbers.add(t["number"])
    if doc["best"] is not None and doc["best"].get("number") not in numbers:
        bad("best.number", "names no trial in the file")
