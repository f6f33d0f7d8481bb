"""The search-space YAML of DESIGN.md §3 (and a results file's `space`), parsed into a validated Space;
the built-in spaces; CLI-style overrides of a space.

yaml.safe_load only: a space file never runs code.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from hpsearch.config.plain import as_written
from hpsearch.config.space import (DEFAULTS, KINDS, NUMERIC, RANGE_KEYS, SAMPLERS, TOP_KEYS, TOP_LEVEL_ONLY, Choice,
                                   Range, Space, need)
from hpsearch.config.train import TrainConfig, parse_hidden
from hpsearch.errors import ConfigError, SpaceError

# identical in meaning to search_spaces/coarse.yaml (a test checks); built in so a fresh install has it, and as
# Python values, so the default command neither imports nor runs a YAML parser (about 10 ms of its start-up)
BUILTIN_SPACES = {
    "coarse": {
        "sampler": "random",
        "trials": 50,
        "epochs": 5,
        "abort_factor": 3.0,
        "params": {
            "lr": {"low": 1.0e-6, "high": 1.0, "log": True},
            "reg": {"low": 1.0e-5, "high": 1.0e+5, "log": True},
            "hidden": [100],
            "optimizer": "sgd_momentum",
            "batch_size": 100,
        },
    },
}


def resolve(spec: str) -> Space:
    """`--space`: a built-in name (coarse) or a path to a YAML file."""
    if spec in BUILTIN_SPACES and not Path(spec).exists():
        import copy

        return parse_space(copy.deepcopy(BUILTIN_SPACES[spec]), f"built-in space {spec!r}")
    return load_space(spec)


def load_space(path: str | Path) -> Space:
    """Read a YAML space file (yaml.safe_load only: a space file never runs code)."""
    from hpsearch.config import files

    try:
        text = files.read_text(path, files.SPACE_LIMIT)
    except files.NotReadable as e:
        if e.missing:
            raise SpaceError(f"--space {path}: no such file", "give a YAML space file (search_spaces/*.yaml "
                             "in the source tree) or the built-in --space coarse") from None
        raise SpaceError(f"--space {path}: {e.reason}", "pass a YAML space file") from None
    return parse_yaml(text, str(path))


def parse_yaml(text: str, source: str) -> Space:
    import yaml

    try:
        obj = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise SpaceError(f"{source}: not valid YAML{where} ({getattr(e, 'problem', None) or 'syntax error'})",
                         "check indentation and quoting") from None
    _check_expansion(obj, source)
    return parse_space(obj, source)


MAX_VALUES = 100_000  # values a space may expand to: YAML aliases can make a 1 kB file a billion values


def _check_expansion(obj: Any, source: str) -> None:
    """Refuse a document whose aliases expand past MAX_VALUES (billion laughs, or a cycle) before any step
    walks or prints it; counts with an early stop, so the check itself stays cheap."""
    stack, count = [obj], 0
    while stack:
        v = stack.pop()
        count += 1
        if count > MAX_VALUES:
            raise SpaceError(f"{source}: expands to more than {MAX_VALUES:,} values (YAML anchors and aliases?)",
                             "write the space out without aliases")
        if isinstance(v, dict):
            stack.extend(v.keys())
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)


def parse_space(obj: Any, source: str = "<space>") -> Space:
    """A Space from the loaded YAML (or a results file's `space`), validated."""
    if not isinstance(obj, dict):
        raise SpaceError(f"{source}: must be a mapping with keys {', '.join(TOP_KEYS)}, got {type(obj).__name__}",
                         "see search_spaces/coarse.yaml")
    for key in obj:
        need(key in TOP_KEYS, source, str(key), f"is not a known key (known: {', '.join(TOP_KEYS)})")
    top = {**DEFAULTS, **{k: v for k, v in obj.items() if k != "params"}}
    sampler = top["sampler"]
    need(isinstance(sampler, str), source, "sampler", f"must be one of {', '.join(SAMPLERS)}, got {sampler!r}")
    trials = _int(top["trials"], source, "trials")
    epochs = _int(top["epochs"], source, "epochs")
    abort_factor = _float(top["abort_factor"], source, "abort_factor")
    raw = obj.get("params")
    need(isinstance(raw, dict), source, "params", f"must be a mapping of TrainConfig keys, got {type(raw).__name__}",
          "e.g. params: {lr: {low: 1e-6, high: 1, log: true}}")
    params, fixed = [], []
    for name, spec in raw.items():
        path = f"params.{name}"
        need(isinstance(name, str) and name in KINDS, source, path,
              f"is not a training setting (known: {', '.join(k for k in KINDS if k not in TOP_LEVEL_ONLY)})")
        need(name not in TOP_LEVEL_ONLY, source, path, "is set at the top level of the file",
              f"move it out of params: `{name}: ...`")
        if isinstance(spec, dict):
            params.append((name, _param(name, spec, source, path)))
        else:
            fixed.append((name, _value(name, spec, source, path)))
    space = Space(params=tuple(params), fixed=tuple(fixed), sampler=sampler, trials=trials, epochs=epochs,
                  abort_factor=abort_factor, source=source)
    try:  # the fixed keys together must make a valid configuration
        space.base_config()
    except ConfigError as e:
        raise SpaceError(f"{source}: params.{e}", key=f"params.{e.key}") from None
    return space


def _param(name: str, spec: dict, source: str, path: str) -> Range | Choice:
    if "choices" in spec:
        extra = sorted(set(spec) - {"choices"})
        need(not extra, source, path, f"mixes choices with {', '.join(map(str, extra))}",
              "use either choices or low/high, not both")
        raw = spec["choices"]
        need(isinstance(raw, list) and len(raw) >= 1, source, f"{path}.choices", "must be a non-empty list")
        choices = tuple(_value(name, c, source, f"{path}.choices[{i}]") for i, c in enumerate(raw))
        need(len(set(map(repr, choices))) == len(choices), source, f"{path}.choices", "has duplicates")
        return Choice(choices)
    for key in spec:
        need(key in RANGE_KEYS, source, f"{path}.{key}",
              f"is not a known key (a range has {', '.join(RANGE_KEYS)}; a categorical has choices)")
    need(name in NUMERIC, source, path, "is not numeric, so it cannot be a range",
          f"use {path}: {{choices: [...]}} or a plain value")
    integer = KINDS[name] == "int"
    log = spec.get("log", False)
    need(isinstance(log, bool), source, f"{path}.log", f"must be true or false, got {log!r}")
    values = None
    values_only = "values" in spec and "low" not in spec and "high" not in spec
    if "values" in spec:
        raw = spec["values"]
        need(isinstance(raw, list) and len(raw) >= 1, source, f"{path}.values", "must be a non-empty list")
        values = tuple(_value(name, v, source, f"{path}.values[{i}]", check=False) for i, v in enumerate(raw))
        need(len(set(values)) == len(values), source, f"{path}.values", "has duplicates")
        for i, v in enumerate(values):
            if log:
                need(v > 0, source, f"{path}.values[{i}]", f"must be > 0 for a log range, got {as_written(v)}")
            _value(name, v, source, f"{path}.values[{i}]")
    if not values_only:
        for key in ("low", "high"):
            need(key in spec, source, f"{path}.{key}", "is missing", f"a range needs low and high, e.g. "
                  f"{path}: {{low: 1e-6, high: 1, log: true}}")
        low = _value(name, spec["low"], source, f"{path}.low", check=False)
        high = _value(name, spec["high"], source, f"{path}.high", check=False)
        if log:
            need(low > 0, source, f"{path}.low", f"must be > 0 for a log range, got {as_written(low)}")
        need(low < high, source, path, f"low must be < high, got low {as_written(low)} >= high {as_written(high)}")
        _value(name, low, source, f"{path}.low")
        _value(name, high, source, f"{path}.high")
        for i, v in enumerate(values or ()):
            need(low <= v <= high, source, f"{path}.values[{i}]", f"{as_written(v)} is outside [low, high] = [{as_written(low)}, {as_written(high)}]")
    else:
        low, high = min(values), max(values)
    points = spec.get("points")
    if points is not None:
        points = _int(points, source, f"{path}.points")
        need(points >= 2, source, f"{path}.points", f"must be >= 2, got {points}")
    if values is not None and len(values) == 1:
        need(low < high, source, f"{path}.values", "has one value; a single value is a fixed setting",
              f"write {path}: {values[0]}")
    return Range(low=low, high=high, log=log, integer=integer, points=points, values=values, values_only=values_only)


def _value(name: str, v: Any, source: str, path: str, check: bool = True) -> Any:
    """One value of key `name`, coerced to its type ('1e-5' is a number) and (`check`) checked by TrainConfig."""
    kind = KINDS[name]
    if kind == "float":
        v = _float(v, source, path)
    elif kind == "int":
        v = _int(v, source, path)
    elif kind == "bool":
        need(isinstance(v, bool), source, path, f"must be true or false, got {v!r}")
    elif kind == "hidden":
        v = _hidden(v, source, path)
    else:
        need(isinstance(v, str) or (name == "init" and v is None), source, path, f"must be a string, got {v!r}")
    if not check:
        return v
    try:
        TrainConfig().with_(**{name: v})
    except ConfigError as e:
        raise SpaceError(f"{source}: {path}{e.message[len(name):]}", e.hint, key=path) from None
    return v


def _float(v: Any, source: str, path: str) -> float:
    if isinstance(v, str):  # PyYAML reads 1e-5 (no dot) as a string
        try:
            v = float(v.strip())
        except ValueError:
            raise SpaceError(f"{source}: {path} must be a number, got {v!r}", "e.g. 1e-5", key=path) from None
    need(isinstance(v, (int, float)) and not isinstance(v, bool), source, path, f"must be a number, got {v!r}")
    need(math.isfinite(v), source, path, f"must be finite, got {v}")
    return float(v)


def _int(v: Any, source: str, path: str) -> int:
    if isinstance(v, (str, float)) and not isinstance(v, bool):
        f = _float(v, source, path)
        need(f == int(f), source, path, f"must be an integer, got {v!r}")
        return int(f)
    need(isinstance(v, int) and not isinstance(v, bool), source, path, f"must be an integer, got {v!r}")
    return v


def _hidden(v: Any, source: str, path: str) -> tuple[int, ...]:
    if isinstance(v, str):
        try:
            return parse_hidden(v)
        except ConfigError:
            pass
    elif isinstance(v, int) and not isinstance(v, bool):
        v = [v]
    if isinstance(v, list) and all(isinstance(h, int) and not isinstance(h, bool) and h >= 1 for h in v):
        return tuple(v)
    raise SpaceError(f"{source}: {path} must be a list of layer widths, got {v!r}", "e.g. [100] or [100, 50]", key=path)


def override(space: Space, fixed: dict[str, Any], *, epochs: int | None = None, trials: int | None = None,
             sampler: str | None = None) -> Space:
    """`space` with keys set for every trial (`fixed`: a searched key stops being searched) and its epochs,
    trials or sampler replaced. Errors carry the key (ConfigError/SpaceError) so the CLI can name its flag."""
    TrainConfig().with_(**fixed)  # a bad value is reported with its key alone
    changes: dict[str, Any] = {}
    if epochs is not None:
        changes["epochs"] = epochs
    if sampler is not None:
        changes["sampler"] = sampler
    if trials is not None:
        changes["trials"] = trials
    out = space.fix(fixed).with_(**changes)
    out.base_config()
    if out.sampler == "grid" and trials is not None and trials != out.grid_size():
        raise ConfigError(f"trials {trials}: grid mode runs every combination ({out.grid_size()})",
                          "drop --trials, or use --sampler random", key="trials")
    return out
