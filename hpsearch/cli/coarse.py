"""`hpsearch coarse`: a wide, short search (random over log ranges by default) from a space file."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from hpsearch.cli import command, flags

SPACE_FILES = "the space file's"
Space = Annotated[str, typer.Option("--space", rich_help_panel=flags.SEARCH, help="Search-space YAML file, or the "
                                    "built-in 'coarse' (lr 1e-6..1, reg 1e-5..1e5, log, random, 50 trials of 5 "
                                    "epochs).")]
Epochs = Annotated[Optional[int], typer.Option("--epochs", rich_help_panel=flags.SEARCH, show_default=SPACE_FILES,
                                               help="Passes over the training split per trial.")]
Trials = Annotated[Optional[int], typer.Option("--trials", rich_help_panel=flags.SEARCH, show_default=SPACE_FILES,
                                               help="Number of random trials.")]
Sampler = Annotated[flags.choice(flags.SAMPLERS), typer.Option(
    "--sampler", metavar="<name>", rich_help_panel=flags.SEARCH, show_default=SPACE_FILES,
    help=f"{flags.one_of(flags.SAMPLERS)} (grid: every combination of the space's points).")]
Seed = flags.in_panel(flags.Seed, flags.SEARCH, help="Study seed: the split, and each trial's configuration, "
                      "init, shuffling and dropout.")
Halve = Annotated[bool, typer.Option("--halving", metavar="", rich_help_panel=flags.SEARCH, help=(
    "Successive halving in synchronous rungs: every trial trains --min-epochs, then the best 1/rate of each "
    "rung trains rate times longer, until --epochs."))]
HalvingRate = Annotated[Optional[int], typer.Option("--halving-rate", rich_help_panel=flags.SEARCH,
                                                    show_default="3", help="With --halving: the rate (eta).")]
MinEpochs = Annotated[Optional[int], typer.Option("--min-epochs", rich_help_panel=flags.SEARCH, show_default="1",
                                                  help="With --halving: the first rung's epochs.")]
MODEL = "Model and training: fixed for every trial (unset: the space file's)"


@flags.with_data_flags
@flags.with_model_flags(MODEL, default="the space file's, else {}")
@flags.with_run_flags
def coarse(
    space: Space = "coarse",
    epochs: Epochs = None,
    trials: Trials = None,
    sampler: Sampler = None,
    seed: Seed = 0,
    halving: Halve = False,
    halving_rate: HalvingRate = None,
    min_epochs: MinEpochs = None,
    data_flags: flags.DataSpec = None,  # the data flags, declared by flags.with_data_flags
    model: dict = None,  # the model flags, declared by flags.with_model_flags
    run: flags.RunFlags = None,  # the run flags, declared by flags.with_run_flags
    out: flags.Out = "results.json",
) -> None:
    """Coarse search: many short trials over wide log ranges; the cost-explosion rule aborts hopeless ones.

    Model flags fix a setting for every trial (a flag for a searched key stops searching it); unset, the
    space file's value applies, else the default shown. Ctrl-C saves
    what finished (exit 130); the same command resumes. Prints warnings when the best value sits on a
    range edge. --jobs N runs N worker processes on this machine; with --storage postgresql://... and
    --study NAME, 'hpsearch worker' processes on other machines join the same study. --halving trains
    every trial --min-epochs, then only the best third (--halving-rate 3) three times longer, and so on
    up to --epochs.
    """
    from hpsearch.engine import workers  # light: the workers start before NumPy is imported here

    pool = workers.start_workers("coarse", run.jobs, run.storage, run.study, out)  # first: they import meanwhile
    with workers.released_on_error(pool):
        from hpsearch.cli import stage as cli_stage
        from hpsearch.config import space_file
        from hpsearch.engine import stage

        sp = override(space_file.resolve(space), model, epochs=epochs, trials=trials, sampler=sampler)
        request = stage.StageRequest(command="coarse", space=sp, seed=seed, data=data_flags.recorded(), out=out,
                                     storage=run.storage, study=run.study, fresh=run.fresh, jobs=run.jobs,
                                     grace=run.grace, space_file=space,
                                     halving=halving_of(halving, halving_rate, min_epochs, sp.epochs))
        cli_stage.run(request, run, pool)


def halving_of(on: bool, rate: int | None, min_epochs: int | None, epochs: int):
    """--halving and its settings as an engine record (None without --halving)."""
    from hpsearch.engine import halving
    from hpsearch.errors import ConfigError

    if not on:
        given = [f for f, v in (("--halving-rate", rate), ("--min-epochs", min_epochs)) if v is not None]
        if given:
            raise ConfigError(f"{' and '.join(given)} only apply with --halving", "add --halving", key="halving")
        return None
    h = halving.Halving(halving.RATE if rate is None else rate, halving.MIN_EPOCHS if min_epochs is None else min_epochs)
    halving.check(h, epochs)
    return h


def override(sp, model: dict, *, epochs=None, trials=None, sampler=None):
    """space_file.override, with errors naming the flags that set the values."""
    from hpsearch.config import space_file

    flags.build_config(**model)  # a bad flag value is reported with its flag name
    given = tuple(k for k, v in (("epochs", epochs), ("sampler", sampler), ("trials", trials)) if v is not None)
    with flags.naming_flags(given=given):
        return space_file.override(sp, model, epochs=epochs, trials=trials, sampler=sampler)


def register(app: typer.Typer) -> None:
    command.register(app, "coarse", coarse, epilog="Example: hpsearch coarse --epochs 5 --trials 50 --jobs 2 "
                     "--out results.json (then: hpsearch fine --from results.json)")
