"""Validation of a results document: everything `fine --from`, `report` and `export` rely on, each problem a
ResultsError naming the file and the key path."""

from __future__ import annotations

from typing import Any

from hpsearch.config.data import PREPROCESS
from hpsearch.config.plain import is_number, plain
from hpsearch.config.space import Choice
from hpsearch.config.space_file import parse_space
from hpsearch.config.train import TrainConfig
from hpsearch.errors import ConfigError, ResultsError, SpaceError

SCHEMA_VERSION = 2  # results files this hpsearch writes (2: stage verdicts, trial scores; see CHANGELOG)
HALVING_SCHEMA = 3  # ... after `coarse --halving` (3: several trials per configuration, one per rung)
READS = (1, 2, 3)  # versions it reads
STATUSES = ("complete", "diverged", "failed")
COMMANDS = ("coarse", "fine")  # the stages that write a results file
REQUIRED = {  # key -> JSON type(s) it must have
    "schema_version": int, "command": str, "settings": dict, "data": dict, "space": dict, "fixed": dict,
    "progress": dict, "trials": list, "best": (dict, type(None)), "warnings": list,
}
TRIAL_REQUIRED = {"number": int, "params": dict, "status": str, "val_acc": (int, float, type(None)),
                  "epochs_run": int}


def validate(doc: Any, source: str) -> None:
    def bad(key: str, problem: str, hint: str | None = None):
        raise ResultsError(f"{source}: {key} {problem}", hint or "rerun the search that wrote it", key=key)

    if not isinstance(doc, dict):
        bad("top level", "is not a JSON object: not an hpsearch results file")
    if "schema_version" not in doc:
        bad("schema_version", "is missing: not an hpsearch results file", "pass a file written by hpsearch coarse/fine")
    v = doc["schema_version"]
    if v not in READS or isinstance(v, bool):
        bad("schema_version", f"{v!r} is not supported (this hpsearch reads versions {', '.join(map(str, READS))})",
            "use the hpsearch version that wrote it, or rerun the search")
    for key, typ in REQUIRED.items():
        if key not in doc:
            bad(key, "is missing")
        if not isinstance(doc[key], typ) or isinstance(doc[key], bool):
            bad(key, f"has the wrong type ({type(doc[key]).__name__})")
    if doc["command"] not in COMMANDS:
        bad("command", f"must be one of {', '.join(COMMANDS)}, got {doc['command']!r}")
    parent = doc.get("parent")  # fine reads its fingerprint (results/file.py doc_fingerprint)
    if parent is not None and not isinstance(parent, dict):
        bad("parent", f"must be an object or null, got {type(parent).__name__}")
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
        if t.get("score") is not None and (not is_number(t["score"]) or not 0 <= t["score"] <= 1):
            bad(f"{where}.score", f"must be a number in [0, 1] or null, got {t['score']!r}")
        if t["status"] == "complete" and t["val_acc"] is None:
            bad(f"{where}.val_acc", "is null for a complete trial")
        if set(t["params"]) != names:
            bad(f"{where}.params", f"has keys {sorted(t['params'])}, the space searches {sorted(names)}")
        _validate_params(t["params"], space, f"{where}.params", bad)
        if t["number"] in numbers:
            bad(f"{where}.number", f"{t['number']} appears twice")
        numbers.add(t["number"])
    _validate_progress(doc["progress"], bad)
    _validate_narrowed(doc["settings"].get("narrowed"), bad)
    _validate_halving(doc["settings"].get("halving"), bad)
    for i, t in enumerate(doc["trials"]):
        _validate_trial_extras(t, f"trials[{i}]", bad)
    for i, w in enumerate(doc["warnings"]):
        if not isinstance(w, dict) or not isinstance(w.get("kind"), str) or not isinstance(w.get("message"), str):
            bad(f"warnings[{i}]", "must be an object with a string kind and message")
    if doc["best"] is not None and doc["best"].get("number") not in numbers:
        bad("best.number", "names no trial in the file")
    if doc["best"] is not None:
        if not isinstance(doc["best"].get("params"), dict) or set(doc["best"]["params"]) != names:
            bad("best.params", f"is missing or does not have the keys the space searches ({sorted(names)})")
        _validate_params(doc["best"]["params"], space, "best.params", bad)
        for key in ("val_acc", "train_acc", "score"):
            v = doc["best"].get(key)
            if v is not None and not (is_number(v) and 0 <= v <= 1):
                bad(f"best.{key}", f"must be a number in [0, 1] or null, got {v!r}")


def _validate_progress(p: dict, bad) -> None:
    """progress: `requested` and `done` (counts the commands compare), `interrupted` a bool if present."""
    for key in ("requested", "done"):
        if key not in p:
            bad(f"progress.{key}", "is missing")
        if not (_is_int(p[key]) and p[key] >= 0):
            bad(f"progress.{key}", f"must be an integer >= 0, got {p[key]!r}")
    if "interrupted" in p and not isinstance(p["interrupted"], bool):
        bad("progress.interrupted", f"must be true or false, got {p['interrupted']!r}")


def _validate_narrowed(n: Any, bad) -> None:
    """settings.narrowed (fine): how report shows it."""
    if n is None:
        return
    if not isinstance(n, dict) or not _is_int(n.get("top_k")) or not isinstance(n.get("params"), dict):
        bad("settings.narrowed", "must be an object with an integer top_k and a params object")
    for name, ch in n["params"].items():
        if not isinstance(ch, dict) or ch.get("kind") not in ("range", "choice", "fixed") or "from" not in ch \
                or "to" not in ch:
            bad(f"settings.narrowed.params.{name}", "must be an object with kind range|choice|fixed, from and to")
        if ch["kind"] == "range" and not (isinstance(ch["to"], list) and len(ch["to"]) == 2):
            bad(f"settings.narrowed.params.{name}.to", "must be [low, high] for a range")


def _validate_halving(hv: Any, bad) -> None:
    """settings.halving (coarse --halving): the rung schedule report shows."""
    if hv is None:
        return
    if not isinstance(hv, dict) or not _is_int(hv.get("rate")) or not _is_int(hv.get("min_epochs")) \
            or not isinstance(hv.get("rungs"), list):
        bad("settings.halving", "must be an object with integer rate and min_epochs and a rungs list")
    for i, r in enumerate(hv["rungs"]):
        if not isinstance(r, dict) or not all(_is_int(r.get(k)) and r[k] >= 1 for k in ("epochs", "count")):
            bad(f"settings.halving.rungs[{i}]", "must be an object with integer epochs and count >= 1")


def _validate_trial_extras(t: dict, where: str, bad) -> None:
    """The optional fields of a trial that report and fine read: diagnosis, train_acc, seconds, stopped_at and
    the curves (val_curve, train_curve, loss_curve; files from before 0.x have only val_curve or none)."""
    diag = t.get("diagnosis", [])
    if not isinstance(diag, list) or not all(isinstance(d, dict) and isinstance(d.get("kind"), str)
                                             and isinstance(d.get("message", ""), str) for d in diag):
        bad(f"{where}.diagnosis", "must be a list of objects with a string kind and message")
    for key in ("train_acc", "val_last"):
        v = t.get(key)
        if v is not None and not (is_number(v) and 0 <= v <= 1):
            bad(f"{where}.{key}", f"must be a number in [0, 1] or null, got {v!r}")
    if t.get("seconds") is not None and not (is_number(t["seconds"]) and t["seconds"] >= 0):
        bad(f"{where}.seconds", f"must be a number >= 0, got {t['seconds']!r}")
    for key in ("rung", "config"):  # coarse --halving
        if key in t and not (_is_int(t[key]) and t[key] >= 0):
            bad(f"{where}.{key}", f"must be an integer >= 0, got {t[key]!r}")
    if "promoted" in t and not isinstance(t["promoted"], bool):
        bad(f"{where}.promoted", f"must be true or false, got {t['promoted']!r}")
    if t.get("stopped_at") is not None and not isinstance(t["stopped_at"], dict):
        bad(f"{where}.stopped_at", "must be an object or null")
    if "val_curve" in t and not (isinstance(t["val_curve"], list) and all(
            v is None or (is_number(v) and 0 <= v <= 1) for v in t["val_curve"])):
        bad(f"{where}.val_curve", "must be a list of numbers in [0, 1]")
    if "train_curve" in t and not (isinstance(t["train_curve"], list) and all(
            v is None or (is_number(v) and 0 <= v <= 1) for v in t["train_curve"])):
        bad(f"{where}.train_curve", "must be a list of numbers in [0, 1] or null")
    if "loss_curve" in t and not (isinstance(t["loss_curve"], list) and all(
            v is None or is_number(v) for v in t["loss_curve"])):
        bad(f"{where}.loss_curve", "must be a list of finite numbers or null")


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _validate_params(params: dict, space, where: str, bad) -> None:
    """Searched values as `fine --from` and `report` use them: a range's value is a finite number (> 0 on
    a log range), a choice's value one of its choices. Trials store their planned params whatever their
    status (a diverged or failed trial still had values), so null is never valid here."""
    for name, p in space.params:
        v = params[name]
        if isinstance(p, Choice):
            if not any(plain(c) == plain(v) for c in p.choices):
                bad(f"{where}.{name}", f"{v!r} is not one of the space's choices "
                    f"{[plain(c) for c in p.choices]}")
        elif not is_number(v):
            bad(f"{where}.{name}", f"must be a finite number, got {v!r}")
        elif p.log and v <= 0:
            bad(f"{where}.{name}", f"must be > 0 on a log range, got {v!r}")


def _validate_data(d: dict, bad) -> None:
    """The split settings `fine --from` reloads the data with (absent keys take their defaults)."""
    checks = {
        "val_fraction": (lambda v: is_number(v) and 0 < v < 1, "must be a number in (0, 1)"),
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
        if d["preprocess"] not in PREPROCESS:
            bad("data.preprocess", f"must be one of {', '.join(PREPROCESS)}, got {d['preprocess']!r}")


def _validate_fixed(fixed: dict, bad) -> None:
    """`fixed` must make a TrainConfig (what every fine trial starts from); the error names the key."""
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
