"""`hpsearch coarse`: a wide, short search (random over log ranges by default) from a space file."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from hpsearch.cli import options as O

Space = Annotated[str, typer.Option("--space", help="Search-space YAML file, or the built-in 'coarse' "
                                    "(lr 1e-6..1, reg 1e-5..1e5, log, random, 5 epochs).")]
Trials = Annotated[Optional[int], typer.Option("--trials", help="Number of random trials (default: the space file's).")]
Sampler = Annotated[Optional[str], typer.Option("--sampler", help="random or grid (default: the space file's).")]
Out = Annotated[str, typer.Option("--out", help="Results file (JSON, written atomically).")]
Storage = Annotated[Optional[str], typer.Option("--storage", help="Optuna storage: a journal file path, sqlite:///x.db "
                                                "or postgresql://... (default: a journal file beside --out).")]
Study = Annotated[Optional[str], typer.Option("--study", help="Study name (default: '<command>-<out stem>').")]
Fresh = Annotated[bool, typer.Option("--fresh", help="Delete the study's earlier trials and start over "
                                     "(default: resume it).")]
Strict = Annotated[bool, typer.Option("--strict", help="Exit 1 when a warning is raised (best value on a range edge).")]
TopK = Annotated[int, typer.Option("--show", help="Rows of the final table.")]
Jobs = Annotated[int, typer.Option("--jobs", "-j", help="Worker processes on this machine, this one included, "
                                   "each on one BLAS thread (one per core). 0: only record and enqueue the plan "
                                   "in --storage for 'hpsearch worker' processes on other machines.")]
Grace = Annotated[Optional[float], typer.Option("--grace", help="Seconds without a heartbeat after which a "
                                                "worker's trial is run again by another (default: HPSEARCH_GRACE "
                                                "or 30; stored in the study for every worker).")]

# The flags of a search run that coarse and fine share: declared once, handed to cli.stage.Stage as they are
# (--show is its top_k; fine has a --top-k of its own).
RUN_FLAGS = {"storage": (Storage, None), "study": (Study, None), "fresh": (Fresh, False), "jobs": (Jobs, 1),
             "grace": (Grace, None), "strict": (Strict, False), "show": (TopK, 10), "json_out": (O.Json, False),
             "quiet": (O.Quiet, False)}
with_run_flags = O.flag_group("run", RUN_FLAGS, lambda given, _: {"top_k": given.pop("show"), **given})


@O.with_data_flags
@O.with_model_flags
@with_run_flags
def coarse(
    space: Space = "coarse",
    epochs: O.Epochs = None,
    trials: Trials = None,
    sampler: Sampler = None,
    data_flags: dict = None,  # the data flags, declared by O.with_data_flags
    model: dict = None,  # the model flags, declared by O.with_model_flags
    seed: O.Seed = 0,
    out: Out = "results.json",
    run: dict = None,  # the run flags, declared by with_run_flags (Stage's storage, study, ..., top_k, quiet)
) -> None:
    """Coarse search: many short trials over wide log ranges; the cost-explosion rule aborts hopeless ones.

    Model flags fix a setting for every trial (a flag for a searched key stops searching it). Ctrl-C saves
    what finished (exit 130); the same command resumes. Prints warnings when the best value sits on a
    range edge. --jobs N runs N worker processes on this machine; with --storage postgresql://... and
    --study NAME, 'hpsearch worker' processes on other machines join the same study.
    """
    from hpsearch.cli.stage import Stage, released_on_error, run_stage, start_workers

    pool = start_workers("coarse", run["jobs"], run["storage"], run["study"], out)  # first: they import meanwhile
    with released_on_error(pool):
        sp = apply_flags(load(space), model, epochs=epochs, trials=trials, sampler=sampler)
        run_stage(Stage(command="coarse", space=sp, seed=seed, data=O.recorded_spec(data_flags), out=out,
                        space_file=space, **run), pool)


# identical in meaning to search_spaces/coarse.yaml (a test checks); built in so a fresh install has it
BUILTIN_SPACES = {
    "coarse": """\
sampler: random
trials: 50
epochs: 5
abort_factor: 3.0
params:
  lr:  {low: 1.0e-6, high: 1.0, log: true}
  reg: {low: 1.0e-5, high: 1.0e+5, log: true}
  hidden: [100]
  optimizer: sgd_momentum
  batch_size: 100
""",
}


def load(spec: str):
    """`--space`: a built-in name (coarse) or a path to a YAML file."""
    from pathlib import Path

    from hpsearch.space import load_space, parse_yaml

    if spec in BUILTIN_SPACES and not Path(spec).exists():
        return parse_yaml(BUILTIN_SPACES[spec], f"built-in space {spec!r}")
    return load_space(spec)


def apply_flags(sp, overrides: dict, *, epochs=None, trials=None, sampler=None):
    """Flags override the space: model flags become fixed values; --epochs/--trials/--sampler replace the file's."""
    from hpsearch.errors import ConfigError, SpaceError

    O.build_config(**overrides)  # a bad flag value is reported with its flag name
    changes = {}
    if epochs is not None:
        changes["epochs"] = epochs
    if sampler is not None:
        changes["sampler"] = sampler
    if trials is not None:
        changes["trials"] = trials
    try:
        sp = sp.fix(overrides).with_(**changes)
        sp.base_config()
    except SpaceError as e:
        raise _as_flag(e, changes) from None
    except ConfigError as e:
        raise O.flagged(e) from None
    if sp.sampler == "grid" and trials is not None and trials != sp.grid_size():
        raise ConfigError(f"--trials {trials}: grid mode runs every combination ({sp.grid_size()})",
                          "drop --trials, or use --sampler random", key="trials")
    return sp


def _as_flag(e, changes: dict):
    """'<space>: trials must be ...' -> '--trials must be ...' when the value came from a flag."""
    from hpsearch.errors import ConfigError

    key = (e.key or "").split(".")[0]
    if key in changes:
        return ConfigError(f"--{key} {e.message.split(f'{e.key} ', 1)[-1]}", e.hint, key=key)
    return e


def register(app: typer.Typer) -> None:
    app.command(
        "coarse",
        epilog="Example: hpsearch coarse --epochs 5 --trials 50 --jobs 2 --out results.json "
               "(then: hpsearch fine --from results.json)",
    )(coarse)
