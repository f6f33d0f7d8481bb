"""`hpsearch sanity`: the pre-flight gate. Exit 0 when no check failed, 1 when one did, 2 for bad input."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from hpsearch.cli import command, flags
from hpsearch.cli.output import console, emit_json, err_console, show_progress


CHECKS = "Checks"


def _check_names(incomplete: str) -> list[str]:
    """Shell completion of --only/--skip: the check names (imported only when completing)."""
    from hpsearch.sanity.types import CHECK_NAMES

    done, _, last = incomplete.rpartition(",")
    return [f"{done},{n}" if done else n for n in CHECK_NAMES if n.startswith(last)]


@flags.with_data_flags
@flags.with_model_flags(epochs="hidden")
def sanity(
    data_flags: flags.DataSpec = None,  # the data flags, declared by flags.with_data_flags
    model: dict = None,  # the model flags, declared by flags.with_model_flags (--epochs accepted, unused)
    loss_tolerance: Annotated[float, typer.Option(
        "--loss-tolerance", rich_help_panel=CHECKS,
        help="initial_loss passes within this relative distance of ln C.")] = 0.10,
    subset: Annotated[int, typer.Option(
        "--subset", rich_help_panel=CHECKS,
        help="Samples overfit_small_subset must learn to 100% train accuracy.")] = 20,
    overfit_epochs: Annotated[int, typer.Option(
        "--overfit-epochs", rich_help_panel=CHECKS,
        help="Epoch budget of overfit_small_subset (it stops as soon as it passes).")] = 1000,
    only: Annotated[Optional[list[str]], typer.Option(
        "--only", metavar="<check>", rich_help_panel=CHECKS, autocompletion=_check_names, show_default="all",
        help="Run only this check (repeatable, or comma-separated).")] = None,
    skip: Annotated[Optional[list[str]], typer.Option(
        "--skip", metavar="<check>", rich_help_panel=CHECKS, autocompletion=_check_names, show_default="none",
        help="Leave this check out (repeatable, or comma-separated).")] = None,
    strict: Annotated[bool, typer.Option("--strict", metavar="", rich_help_panel=flags.OUTPUT,
                                         help="Count warnings as failures (exit 1).")] = False,
    seed: flags.Seed = 0,
    json_out: flags.Json = False,
    quiet: flags.Quiet = False,
) -> None:
    """Pre-flight gate: check the model, loss and gradients are wired correctly before a search.

    Checks: initial_loss, regularization_raises_loss, gradient_check (on the reference model and on the
    fused step that trains), overfit_small_subset, activation_stats, update_ratio, softmax_stability,
    dropout_scaling. Takes the data and model flags of `hpsearch train` (--epochs is
    accepted for symmetry and unused). Exit 0 when no check failed, 1 when one did (or warned, under
    --strict), 2 for bad input.
    """
    from hpsearch.errors import ConfigError
    from hpsearch.sanity.gate import run_checks
    from hpsearch.sanity.types import SanityOptions

    with flags.naming_flags(ConfigError):
        opts = SanityOptions(loss_tolerance=loss_tolerance, subset=subset, overfit_epochs=overfit_epochs,
                             only=_names(only), skip=_names(skip), strict=strict, seed=seed)
    cfg = flags.build_config(**model)
    split = flags.load_split(data_flags, cfg.dtype)

    with flags.naming_flags(ConfigError):
        if show_progress(quiet):
            with err_console().status("sanity", spinner="dots") as status:
                report = run_checks(split, cfg, opts, on_check=lambda name: status.update(f"sanity: {name}"))
        else:
            report = run_checks(split, cfg, opts)

    if json_out:
        emit_json(report.to_dict())
    if not quiet:
        from hpsearch.report.sanity import sanity_table

        console(json_out).print(sanity_table(report, strict))
    if not report.passed:
        raise typer.Exit(1)


def _names(values: list[str] | None) -> tuple[str, ...]:
    """['a,b', 'c'] -> ('a', 'b', 'c'): --only/--skip repeat or take comma lists."""
    return tuple(n.strip() for v in values or () for n in v.split(",") if n.strip())


def register(app: typer.Typer) -> None:
    command.register(app, "sanity", sanity,
                     epilog="Example: hpsearch sanity --data digits --hidden 100 --activation relu --strict --json")
