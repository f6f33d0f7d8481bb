"""A trial is a configuration plus a seed, both derived from (study seed, trial number).

Trial k's values come from np.random.SeedSequence([seed, k]) alone (random mode) or from its place in
the cartesian product (grid mode), so results do not depend on how many workers ran or in which order,
a resumed or repeated run is identical, and growing `trials` keeps the first ones. With successive halving
(engine/halving.py) the plan holds every configuration once per rung, numbered rung * configs + config, each
trained with its configuration's seed.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from hpsearch.config.plain import plain
from hpsearch.config.space import Choice, Range, Space, grid_values
from hpsearch.config.train import TrainConfig
from hpsearch.engine.halving import Halving, Rung, check, schedule
from hpsearch.errors import DataError


@dataclass(frozen=True)
class TrialPlan:
    number: int  # position in the plan; Optuna's user_attrs["hp_number"]
    params: dict  # searched values, JSON-native (hidden as a list)
    config: TrainConfig  # base settings with params applied: exactly what trains


@dataclass(frozen=True)
class Plan:
    space: Space  # what is searched (after CLI overrides)
    seed: int  # study seed: trial k uses SeedSequence([seed, k])
    trials: tuple[TrialPlan, ...]  # all of them, in number order
    halving: Halving | None = None  # successive halving (engine/halving.py): trials then hold every (rung, config)
    rungs: tuple[Rung, ...] = ()  # halving: its schedule

    @property
    def configs(self) -> int:
        """Configurations searched (with halving, rung 0's trials)."""
        return self.rungs[0].count if self.rungs else len(self.trials)

    @property
    def requested(self) -> int:
        """Trials the stage means to run (with halving, the schedule's: later rungs may promote fewer)."""
        return sum(r.count for r in self.rungs) if self.rungs else len(self.trials)

    def config_of(self, k: int) -> int:
        """The configuration trial k trains (with halving, number k = rung * configs + config)."""
        return k % self.configs if self.rungs else k

    def rung_of(self, k: int) -> int:
        return k // self.configs if self.rungs else 0

    def seed_of(self, k: int) -> np.random.SeedSequence:
        """Trial k's training seed: its configuration's, in every rung."""
        return trial_seeds(self.seed, self.config_of(k))[1]


def trial_seeds(seed: int, k: int) -> tuple[np.random.SeedSequence, np.random.SeedSequence]:
    """(configuration stream, training seed) of trial k."""
    a, b = np.random.SeedSequence([seed, k]).spawn(2)
    return a, b


def sample(space: Space, seed: int, k: int) -> dict:
    """Trial k's values in random mode: log-uniform for log ranges, uniform otherwise, uniform choices."""
    rng = np.random.default_rng(trial_seeds(seed, k)[0])
    out = {}
    for name, p in space.params:
        if isinstance(p, Choice):
            out[name] = p.choices[int(rng.integers(len(p.choices)))]
        elif p.values_only:
            out[name] = p.values[int(rng.integers(len(p.values)))]
        elif p.log:
            out[name] = _clip(10 ** rng.uniform(math.log10(p.low), math.log10(p.high)), p)
        else:
            out[name] = _clip(rng.uniform(p.low, p.high), p)
    return out


def _clip(v: float, p: Range):
    v = min(max(float(v), p.low), p.high)
    return int(round(v)) if p.integer else v


def grid(space: Space) -> list[dict]:
    """Every combination, first parameter slowest: trial k is the k-th."""
    names = [n for n, _ in space.params]
    axes = [grid_values(p) for _, p in space.params]
    return [dict(zip(names, combo)) for combo in itertools.product(*axes)]


def make_plan(space: Space, seed: int, base: TrainConfig | None = None, halving: Halving | None = None) -> Plan:
    """All trials up front (their configs are validated here, before any training). With `halving`, every
    configuration once per rung, at that rung's epochs (which of them run is decided rung by rung)."""
    base = base or space.base_config()
    values = grid(space) if space.sampler == "grid" else [sample(space, seed, k) for k in range(space.trials)]
    trials = tuple(TrialPlan(k, {n: plain(v) for n, v in p.items()}, base.with_(**p)) for k, p in enumerate(values))
    if halving is None:
        return Plan(space, seed, trials)
    check(halving, base.epochs)
    rungs = schedule(halving, len(trials), base.epochs)
    n = len(trials)
    trials = tuple(TrialPlan(k * n + t.number, t.params, t.config.with_(epochs=r.epochs))
                   for k, r in enumerate(rungs) for t in trials)
    return Plan(space, seed, trials, halving, rungs)


def check_data(plan: Plan, split) -> None:
    """Fail before training when no trial can run on this data."""
    n = split.X_train.shape[0]
    worst = max((t.config.batch_size for t in plan.trials), default=0)
    if worst > n:
        raise DataError(f"{split.name}: the training split has {n} samples, fewer than a batch of {worst}",
                        f"lower batch_size to at most {n} (space file or --batch-size)", key="batch_size")
    from hpsearch.trainer.reference import model  # the network's own memory check, before any trial allocates

    for cfg in {(t.config.hidden, t.config.batchnorm, t.config.dtype): t.config for t in plan.trials}.values():
        dims = [split.X_train.shape[1], *cfg.hidden, split.num_classes]
        model.check_memory(model.param_layout(dims, cfg.batchnorm)[-1][3], np.dtype(cfg.dtype), cfg)
