"""The search space as frozen records (Space, Range, Choice), validated on construction; the YAML form is
read in config/space_file.py.

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
from typing import Any

import numpy as np

from hpsearch.config.plain import plain
from hpsearch.config.train import TrainConfig
from hpsearch.errors import SpaceError

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
        need(self.sampler in SAMPLERS, src, "sampler", f"must be one of {', '.join(SAMPLERS)}, got {self.sampler!r}")
        need(isinstance(self.trials, int) and self.trials >= 1, src, "trials", f"must be an integer >= 1, got {self.trials!r}")
        need(isinstance(self.epochs, int) and self.epochs >= 1, src, "epochs", f"must be an integer >= 1, got {self.epochs!r}")
        need(math.isfinite(self.abort_factor) and self.abort_factor > 1, src, "abort_factor",
              f"must be > 1, got {self.abort_factor}", "CS231n uses 3")
        need(self.trials <= MAX_TRIALS, src, "trials", f"must be at most {MAX_TRIALS:,}, got {self.trials:,}",
              "every trial is planned up front; split the search into stages")
        if self.sampler == "grid":
            for name, p in self.params:
                need(isinstance(p, Choice) or p.points is not None or p.values is not None, src, f"params.{name}",
                      "is a range without `points` or `values`, which grid mode needs",
                      f"add e.g. `points: 5` to params.{name}, or use sampler: random")
            sizes = [(name, _axis_len(p)) for name, p in self.params]
            total = math.prod(n for _, n in sizes)
            biggest = max(sizes, key=lambda t: t[1])[0] if sizes else "points"
            need(total <= MAX_TRIALS, src, "params", f"grid has {total:,} combinations, more than {MAX_TRIALS:,}",
                  f"reduce `points` (params.{biggest} has the most) or use sampler: random")

    @property
    def param_dict(self) -> dict[str, Range | Choice]:
        return dict(self.params)

    @property
    def fixed_dict(self) -> dict[str, Any]:
        return dict(self.fixed)

    def grid_size(self) -> int:
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
        params.update({k: plain(v) for k, v in self.fixed})
        return {"sampler": self.sampler, "trials": self.size, "epochs": self.epochs,
                "abort_factor": self.abort_factor, "params": params}


def grid_values(p: Range | Choice) -> list:
    """The values a grid takes along one parameter, in order."""
    if isinstance(p, Choice):
        return list(p.choices)
    if p.values is not None:
        return list(p.values)
    n = p.points or 2
    pts = np.logspace(math.log10(p.low), math.log10(p.high), n) if p.log else np.linspace(p.low, p.high, n)
    out = [float(v) for v in pts]
    out[0], out[-1] = p.low, p.high  # exact ends: no 1.0000000000000002
    if p.integer:
        out = list(dict.fromkeys(int(round(v)) for v in out))
    return out


def need(ok: bool, source: str, path: str, problem: str, hint: str | None = None) -> None:
    if not ok:
        raise SpaceError(f"{source}: {path} {problem}", hint, key=path)
