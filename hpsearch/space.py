"""Search spaces: the YAML format of DESIGN.md §3, parsed into frozen dataclasses and validated.

Every error names the file and the key path ("search_spaces/x.yaml: params.lr.low must be > 0 for a
log range, got 0"). Parameter names are TrainConfig keys. A parameter is one of:
  - a plain value: fixed for every trial (`hidden: [100]`, `optimizer: adam`);
  - a range `{low, high, log, points, values}`: sampled (random) or enumerated (grid: `points` spaced
    evenly, in log10 units when `log`, or the explicit `values`);
  - a choice `{choices: [...]}`: one option per trial (random) or every option (grid).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from hpsearch.config import TrainConfig
from hpsearch.errors import ConfigError, SpaceError

SAMPLERS = ("random", "grid")
TOP_KEYS = ("sampler", "trials", "epochs", "abort_factor", "params")
RANGE_KEYS = ("low", "high", "log", "points", "values")
TOP_LEVEL_ONLY = ("epochs", "abort_factor")  # set once, at the top of the file
DEFAULTS = {"sampler": "random", "trials": 20, "epochs": 5, "abort_factor": 3.0}
MAX_TRIALS = 100_000  # every trial is planned and enqueued up front: a larger plan is a typo, not a search


def _kinds() -> dict[str, str]:
    """TrainConfig key -> int | float | bool | str | hidden, from the defaults (init's default is None)."""
    out = {}
    for f in fields(TrainConfig):
        v = getattr(TrainConfig(), f.name)
        out[f.name] = ("hidden" if f.name == "hidden" else "str" if v is None else type(v).__name__)
    return out


KINDS = _kinds()
NUMERIC = {k for k, kind in KINDS.items() if kind in ("int", "float")}


@dataclass(frozen=True)
class Range:
    low: float  # smallest value (inclusive); for `values`-only ranges, the smallest value
    high: float  # largest value (inclusive); low < high always
    log: bool = False  # sample and measure in log10 units: lr and reg span decades (CS231n)
    integer: bool = False  # the key is an int (batch_size): draws are rounded, grid points deduplicated
    points: int | None = None  # grid mode: this many evenly spaced points from low to high
    values: tuple | None = None  # grid mode: these exact values (take precedence over points)
    values_only: bool = False  # no low/high given: random mode also picks among `values`

    def to_dict(self) -> dict:
        d: dict[str, Any] = {} if self.values_only else {"low": self.low, "high": self.high}
        d["log"] = self.log
        if self.points is not None:
            d["points"] = self.points
        if self.values is not None:
            d["values"] = list(self.values)
        return d


@dataclass(frozen=True)
class Choice:
    choices: tuple  # the options, each a valid value of the key (hidden options are tuples of widths)

    def to_dict(self) -> dict:
        return {"choices": [list(c) if isinstance(c, tuple) else c for c in self.choices]}


def _axis_len(p: "Range | Choice") -> int:
    """Grid points along one parameter, counted without building them."""
    if isinstance(p, Choice):
        return len(p.choices)
    return len(p.values) if p.values is not None else (p.points or 2)


@dataclass(frozen=True)
class Space:
    params: tuple[tuple[str, Range | Choice], ...]  # searched keys in file order (grid order: first is slowest)
    fixed: tuple[tuple[str, Any], ...] = ()  # keys set to one value for every trial
    sampler: str = "random"  # random (CS231n's advice for a coarse stage) or grid (every combination)
    trials: int = 20  # number of random trials; grid mode runs the whole grid instead
    epochs: int = 5  # training length of each trial: short for coarse, longer for fine
    abort_factor: float = 3.0  # a trial whose cost exceeds this x its initial cost is aborted (diverged)
    source: str = "<space>"  # file name used in error messages

    def __post_init__(self) -> None:
        src = self.source
        _need(self.sampler in SAMPLERS, src, "sampler", f"must be one of {', '.join(SAMPLERS)}, got {self.sampler!r}")
        _need(isinstance(self.trials, int) and self.trials >= 1, src, "trials", f"must be an integer >= 1, got {self.trials!r}")
        _need(isinstance(self.epochs, int) and self.epochs >= 1, src, "epochs", f"must be an integer >= 1, got {self.epochs!r}")
        _need(math.isfinite(self.abort_factor) and self.abort_factor > 1, src, "abort_factor",
              f"must be > 1, got {self.abort_factor}", "CS231n uses 3")
        _need(self.trials <= MAX_TRIALS, src, "trials", f"must be at most {MAX_TRIALS:,}, got {self.trials:,}",
              "every trial is planned up front; split the search into stages")
        if self.sampler == "grid":
            for name, p in self.params:
                _need(isinstance(p, Choice) or p.points is not None or p.values is not None, src, f"params.{name}",
                      "is a range without `points` or `values`, which grid mode needs",
                      f"add e.g. `points: 5` to params.{name}, or use sampler: random")
            sizes = [(name, _axis_len(p)) for name, p in self.params]
            total = math.prod(n for _, n in sizes)
            biggest = max(sizes, key=lambda t: t[1])[0] if sizes else "points"
            _need(total <= MAX_TRIALS, src, "params", f"grid has {total:,} combinations, more than {MAX_TRIALS:,}",
                  f"reduce `points` (params.{biggest} has the most) or use sampler: random")

    @property
    def param_dict(self) -> dict[str, Range | Choice]:
        return dict(self.params)

    @property
    def fixed_dict(self) -> dict[str, Any]:
        return dict(self.fixed)

    def grid_size(self) -> int:
        from hpsearch.plan import grid_values

        return math.prod(len(grid_values(p)) for _, p in self.params)

    @property
    def size(self) -> int:
        """Trials this space asks for: `trials` in random mode, the grid's size in grid mode."""
        return self.grid_size() if self.sampler == "grid" else self.trials

    def with_(self, **changes) -> "Space":
        return replace(self, **changes)

    def fix(self, values: dict[str, Any]) -> "Space":
        """Set keys to one value (CLI model flags): a searched key given a flag stops being searched."""
        params = tuple((k, p) for k, p in self.params if k not in values)
        fixed = {**self.fixed_dict, **values}
        return replace(self, params=params, fixed=tuple(fixed.items()))

    def base_config(self) -> TrainConfig:
        """Defaults + fixed keys + epochs and abort_factor: what every trial starts from."""
        return TrainConfig().with_(**self.fixed_dict, epochs=self.epochs, abort_factor=self.abort_factor)

    def to_dict(self) -> dict:
        """The YAML/JSON form; parse_space(space.to_dict()) gives an equal Space back."""
        params: dict[str, Any] = {k: p.to_dict() for k, p in self.params}
        params.update({k: _plain(v) for k, v in self.fixed})
        return {"sampler": self.sampler, "trials": self.size, "epochs": self.epochs,
                "abort_factor": self.abort_factor, "params": params}


def _plain(v):
    return list(v) if isinstance(v, tuple) else v


def _s(v) -> str:
    """Numbers in messages as the user wrote them: 0 not 0.0, 1e-05 not 0.00001."""
    return f"{v:g}" if isinstance(v, float) else str(v)


def _need(ok: bool, source: str, path: str, problem: str, hint: str | None = None) -> None:
    if not ok:
        raise SpaceError(f"{source}: {path} {problem}", hint, key=path)


# ---------------------------------------------------------------------------- reading


def load_space(path: str | Path) -> Space:
    """Read a YAML space file (yaml.safe_load only: a space file never runs code)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpaceError(f"--space {path}: no such file", "e.g. --space search_spaces/coarse.yaml") from None
    except (OSError, UnicodeDecodeError) as e:
        raise SpaceError(f"--space {path}: cannot read ({getattr(e, 'strerror', None) or e})",
                         "pass a readable YAML file") from None
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
    return parse_space(obj, source)


def parse_space(obj: Any, source: str = "<space>") -> Space:
    """A Space from the loaded YAML (or a results file's `space`), validated."""
    if not isinstance(obj, dict):
        raise SpaceError(f"{source}: must be a mapping with keys {', '.join(TOP_KEYS)}, got {type(obj).__name__}",
                         "see search_spaces/coarse.yaml")
    for key in obj:
        _need(key in TOP_KEYS, source, str(key), f"is not a known key (known: {', '.join(TOP_KEYS)})")
    top = {**DEFAULTS, **{k: v for k, v in obj.items() if k != "params"}}
    sampler = top["sampler"]
    _need(isinstance(sampler, str), source, "sampler", f"must be one of {', '.join(SAMPLERS)}, got {sampler!r}")
    trials = _int(top["trials"], source, "trials")
    epochs = _int(top["epochs"], source, "epochs")
    abort_factor = _float(top["abort_factor"], source, "abort_factor")
    raw = obj.get("params")
    _need(isinstance(raw, dict), source, "params", f"must be a mapping of TrainConfig keys, got {type(raw).__name__}",
          "e.g. params: {lr: {low: 1e-6, high: 1, log: true}}")
    params, fixed = [], []
    for name, spec in raw.items():
        path = f"params.{name}"
        _need(isinstance(name, str) and name in KINDS, source, path,
              f"is not a training setting (known: {', '.join(k for k in KINDS if k not in TOP_LEVEL_ONLY)})")
        _need(name not in TOP_LEVEL_ONLY, source, path, "is set at the top level of the file",
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
        _need(not extra, source, path, f"mixes choices with {', '.join(map(str, extra))}",
              "use either choices or low/high, not both")
        raw = spec["choices"]
        _need(isinstance(raw, list) and len(raw) >= 1, source, f"{path}.choices", "must be a non-empty list")
        choices = tuple(_value(name, c, source, f"{path}.choices[{i}]") for i, c in enumerate(raw))
        _need(len(set(map(repr, choices))) == len(choices), source, f"{path}.choices", "has duplicates")
        return Choice(choices)
    for key in spec:
        _need(key in RANGE_KEYS, source, f"{path}.{key}",
              f"is not a known key (a range has {', '.join(RANGE_KEYS)}; a categorical has choices)")
    _need(name in NUMERIC, source, path, "is not numeric, so it cannot be a range",
          f"use {path}: {{choices: [...]}} or a plain value")
    integer = KINDS[name] == "int"
    log = spec.get("log", False)
    _need(isinstance(log, bool), source, f"{path}.log", f"must be true or false, got {log!r}")
    values = None
    values_only = "values" in spec and "low" not in spec and "high" not in spec
    if "values" in spec:
        raw = spec["values"]
        _need(isinstance(raw, list) and len(raw) >= 1, source, f"{path}.values", "must be a non-empty list")
        values = tuple(_value(name, v, source, f"{path}.values[{i}]", check=False) for i, v in enumerate(raw))
        _need(len(set(values)) == len(values), source, f"{path}.values", "has duplicates")
        for i, v in enumerate(values):
            if log:
                _need(v > 0, source, f"{path}.values[{i}]", f"must be > 0 for a log range, got {_s(v)}")
            _value(name, v, source, f"{path}.values[{i}]")
    if not values_only:
        for key in ("low", "high"):
            _need(key in spec, source, f"{path}.{key}", "is missing", f"a range needs low and high, e.g. "
                  f"{path}: {{low: 1e-6, high: 1, log: true}}")
        low = _value(name, spec["low"], source, f"{path}.low", check=False)
        high = _value(name, spec["high"], source, f"{path}.high", check=False)
        if log:
            _need(low > 0, source, f"{path}.low", f"must be > 0 for a log range, got {_s(low)}")
        _need(low < high, source, path, f"low must be < high, got low {_s(low)} >= high {_s(high)}")
        _value(name, low, source, f"{path}.low")
        _value(name, high, source, f"{path}.high")
        for i, v in enumerate(values or ()):
            _need(low <= v <= high, source, f"{path}.values[{i}]", f"{_s(v)} is outside [low, high] = [{_s(low)}, {_s(high)}]")
    else:
        low, high = min(values), max(values)
    points = spec.get("points")
    if points is not None:
        points = _int(points, source, f"{path}.points")
        _need(points >= 2, source, f"{path}.points", f"must be >= 2, got {points}")
    if values is not None and len(values) == 1:
        _need(low < high, source, f"{path}.values", "has one value; a single value is a fixed setting",
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
        _need(isinstance(v, bool), source, path, f"must be true or false, got {v!r}")
    elif kind == "hidden":
        v = _hidden(v, source, path)
    else:
        _need(isinstance(v, str) or (name == "init" and v is None), source, path, f"must be a string, got {v!r}")
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
    _need(isinstance(v, (int, float)) and not isinstance(v, bool), source, path, f"must be a number, got {v!r}")
    _need(math.isfinite(v), source, path, f"must be finite, got {v}")
    return float(v)


def _int(v: Any, source: str, path: str) -> int:
    if isinstance(v, (str, float)) and not isinstance(v, bool):
        f = _float(v, source, path)
        _need(f == int(f), source, path, f"must be an integer, got {v!r}")
        return int(f)
    _need(isinstance(v, int) and not isinstance(v, bool), source, path, f"must be an integer, got {v!r}")
    return v


def _hidden(v: Any, source: str, path: str) -> tuple[int, ...]:
    if isinstance(v, str):
        from hpsearch.config import parse_hidden

        try:
            return parse_hidden(v)
        except ConfigError:
            pass
    elif isinstance(v, int) and not isinstance(v, bool):
        v = [v]
    if isinstance(v, list) and all(isinstance(h, int) and not isinstance(h, bool) and h >= 1 for h in v):
        return tuple(v)
    raise SpaceError(f"{source}: {path} must be a list of layer widths, got {v!r}", "e.g. [100] or [100, 50]", key=path)
