"""A small random search space and a coarse stage run in-process, shared by the tests that read a finished
stage (tests/ is on sys.path under pytest: `import stages`)."""

from __future__ import annotations

from hpsearch.config.data import DataSpec
from hpsearch.config.runtime import Runtime
from hpsearch.config.space_file import parse_space
from hpsearch.engine import stage


def space(trials: int, epochs: int, *, lr=(1e-3, 30.0), reg=(1e-5, 1e-1), hidden: int = 16, batch_size: int = 50,
          **params):
    """A random space over log lr and reg, `hidden` units in one layer; `params`: more searched or fixed keys."""
    return parse_space({"sampler": "random", "trials": trials, "epochs": epochs,
                        "params": {"lr": {"low": lr[0], "high": lr[1], "log": True},
                                   "reg": {"low": reg[0], "high": reg[1], "log": True},
                                   "hidden": [hidden], "batch_size": batch_size, **params}}, "test space")


def run(out, sp, seed: int, data: str = "spiral", storage: str | None = None):
    """Run the coarse stage of space `sp` writing results file `out`: (its request, its outcome)."""
    req = stage.StageRequest(command="coarse", space=sp, seed=seed, data=DataSpec(data), out=str(out),
                             storage=storage)
    return req, stage.run_stage(req, Runtime())
