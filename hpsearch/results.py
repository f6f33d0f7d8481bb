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
    seed = doc["settings"].get("seed", 0)
    if not _is_int(seed) or seed < 0:
        bad("settings.seed", f"must be an integer >= 0, got {seed!r}")
    for key in ("spec", "fingerprint"):
        if not isinstance(doc["data"].get(key), str):
            bad(f"data.{key}", "is missing or not a string")
    _validate_data(doc["data"], bad)
    _validate_fixed(doc["fixed"], bad)
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
        _validate_params(t["params"], space, f"{where}.params", bad)
        if t["number"] in numbers:
            bad(f"{where}.number", f"{t['number']} appears twice")
        numbers.add(t["number"])
    if doc["best"] is not None and doc["best"].get("number") not in numbers:
        bad("best.number", "names no trial in the file")
    if doc["best"] is not None:
        if not isinstance(doc["best"].get("params"), dict) or set(doc["best"]["params"]) != names:
            bad("best.params", f"is missing or does not have the keys the space searches ({sorted(names)})")
        _validate_params(doc["best"]["params"], space, "best.params", bad)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _validate_params(params: dict, space, where: str, bad) -> None:
    """Searched values as `fine --from` and `report` use them: a range's value is a finite number (> 0 on
    a log range), a choice's value one of its choices. Trials store their planned params whatever their
    status (a diverged or failed trial still had values), so null is never valid here."""
    from hpsearch.space import Choice

    for name, p in space.params:
        v = params[name]
        if isinstance(p, Choice):
            if not any(_plain(c) == _plain(v) for c in p.choices):
                bad(f"{where}.{name}", f"{v!r} is not one of the space's choices "
                    f"{[_plain(c) for c in p.choices]}")
        elif not _is_number(v):
            bad(f"{where}.{name}", f"must be a finite number, got {v!r}")
        elif p.log and v <= 0:
            bad(f"{where}.{name}", f"must be > 0 on a log range, got {v!r}")


def _plain(v: Any) -> Any:
    return list(v) if isinstance(v, (tuple, list)) else v


def _validate_data(d: dict, bad) -> None:
    """The split settings `fine --from` reloads the data with (absent keys take their defaults)."""
    checks = {
        "val_fraction": (lambda v: _is_number(v) and 0 < v < 1, "must be a number in (0, 1)"),
        "split_seed": (lambda v: _is_int(v) and v >= 0, "must be an integer >= 0"),
        "max_samples": (lambda v: v is None or (_is_int(v) and v >= 1), "must be an integer >= 1 or null"),
        "flatten": (lambda v: isinstance(v, bool), "must be true or false"),
        "preprocess": (lambda v: isinstance(v, str), "must be a string"),
        "label_column": (lambda v: v is None or isinstance(v, str), "must be a string or null"),
    }
    for key, (ok, problem) in checks.items():
        if key in d and not ok(d[key]):
            bad(f"data.{key}", f"{problem}, got {d[key]!r}")
    if isinstance(d.get("preprocess"), str):
        from hpsearch.data import PREPROCESS

        if d["preprocess"] not in PREPROCESS:
            bad("data.preprocess", f"must be one of {', '.join(PREPROCESS)}, got {d['preprocess']!r}")


def _validate_fixed(fixed: dict, bad) -> None:
    """`fixed` must make a TrainConfig (what every fine trial starts from); the error names the key."""
    from hpsearch.config import TrainConfig
    from hpsearch.errors import ConfigError

    hidden = fixed.get("hidden", [])
    if not isinstance(hidden, list) or not all(_is_int(w) for w in hidden):
        bad("fixed.hidden", f"must be a list of integer widths, got {hidden!r}")
    try:
        TrainConfig.from_dict(fixed)
    except ConfigError as e:
        key = e.key or "?"
        problem = e.message[len(key) + 1:] if e.message.startswith(f"{key} ") else e.message
        if e.message.startswith("unknown setting"):
            problem = "is not a setting hpsearch knows"
        bad(f"fixed.{key}", problem)
    except (TypeError, ValueError) as e:
        for key, value in fixed.items():  # find the key: one at a time on the defaults
            try:
                TrainConfig.from_dict({key: value})
            except (ConfigError, TypeError, ValueError):
                bad(f"fixed.{key}", f"has an invalid value {value!r} ({e})")
        bad("fixed", f"is not a valid configuration ({e})")
