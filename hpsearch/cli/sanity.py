"""`hpsearch sanity`: the pre-flight gate. Exit 0 when no check failed, 1 when one did, 2 for bad input."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from hpsearch.cli import options as O
from hpsearch.cli.output import console, emit_json, err_console, show_progress

# SanityOptions key -> the flag that sets it, so errors name the flag the user typed
_FLAGS = {"only": "--only", "skip": "--skip", "loss_tolerance": "--loss-tolerance", "subset": "--subset",
          "overfit_epochs": "--overfit-epochs"}


@O.with_data_flags
@O.with_model_flags
def sanity(
    data_flags: dict = None,  # the data flags, declared by O.with_data_flags
    epochs: O.Epochs = None,
    model: dict = None,  # the model flags, declared by O.with_model_flags
    loss_tolerance: Annotated[float, typer.Option(
        "--loss-tolerance", help="initial_loss passes within this relative distance of ln C.")] = 0.10,
    subset: Annotated[int, typer.Option(
        "--subset", help="Samples overfit_small_subset must learn to 100% train accuracy.")] = 20,
    overfit_epochs: Annotated[int, typer.Option(
        "--overfit-epochs", help="Epoch budget of overfit_small_subset (it stops as soon as it passes).")] = 1000,
    only: Annotated[Optional[list[str]], typer.Option(
        "--only", metavar="NAME", help="Run only this check (repeatable, or comma-separated).")] = None,
    skip: Annotated[Optional[list[str]], typer.Option(
        "--skip", metavar="NAME", help="Leave this check out (repeatable, or comma-separated).")] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Count warnings as failures (exit 1).")] = False,
    seed: O.Seed = 0,
    json_out: O.Json = False,
    quiet: O.Quiet = False,
) -> None:
    """Pre-flight gate: check the model, loss and gradients are wired correctly before a search.

    Checks: initial_loss, regularization_raises_loss, gradient_check, overfit_small_subset,
    activation_stats, update_ratio. Takes the data and model flags of `hpsearch train` (--epochs is
    accepted for symmetry and unused). Exit 0 when no check failed, 1 when one did (or warned, under
    --strict), 2 for bad input.
    """
    from hpsearch.errors import ConfigError
    from hpsearch.sanity import SanityOptions, run_checks

    try:
        opts = SanityOptions(loss_tolerance=loss_tolerance, subset=subset, overfit_epochs=overfit_epochs,
                             only=_names(only), skip=_names(skip), strict=strict, seed=seed)
    except ConfigError as e:
        raise _flagged(e) from None
    cfg = O.build_config(**model, **O.model_overrides(epochs=epochs))
    split = O.load_spec(data_flags, cfg.dtype)

    try:
        if show_progress(quiet):
            with err_console().status("sanity", spinner="dots") as status:
                report = run_checks(split, cfg, opts, on_check=lambda name: status.update(f"sanity: {name}"))
        else:
            report = run_checks(split, cfg, opts)
    except ConfigError as e:
        raise _flagged(e) from None

    if json_out:
        emit_json(report.to_dict())
    if not quiet:
        from hpsearch.report_sanity import sanity_table

        console(json_out).print(sanity_table(report, strict))
    if not report.passed:
        raise typer.Exit(1)


def _names(values: list[str] | None) -> tuple[str, ...]:
    """['a,b', 'c'] -> ('a', 'b', 'c'): --only/--skip repeat or take comma lists."""
    return tuple(n.strip() for v in values or () for n in v.split(",") if n.strip())


def _flagged(e):
    flag = _FLAGS.get(e.key or "")
    if flag and e.message.startswith(e.key):
        return type(e)(flag + e.message[len(e.key):], e.hint, key=e.key)
    return O.flagged(e)


def register(app: typer.Typer) -> None:
    app.command(
        "sanity",
        epilog="Example: hpsearch sanity --data digits --hidden 100 --activation relu --strict --json",
    )(sanity)
