"""The `hpsearch` command line: one thin file per command (parse flags, call the library, render, exit code).

Heavy modules (numpy, optuna, rich) are imported inside the commands so `hpsearch --help` stays fast.
"""

from __future__ import annotations

from typing import Annotated

import typer

from hpsearch import __version__
from hpsearch.cli import coarse, data, errors, evaluate, export, fine, flags, predict, report, sanity, train, worker
from hpsearch.cli import coerce

coerce.install()  # plain flag values without importing Pydantic (cli/coerce.py)

app = typer.Typer(
    cls=errors.HPSearchGroup,
    name="hpsearch",
    help="Sanity-check an MLP, then search learning rate and regularization coarse-to-fine (the CS231n recipe).",
    epilog="Example: hpsearch sanity && hpsearch coarse --epochs 5 && hpsearch fine --from results.json\n\n"
           "Environment: HPSEARCH_STORAGE (the default --storage), HPSEARCH_THREADS (BLAS lanes per fit, 1 or 2), "
           "HPSEARCH_GRACE (the default --grace), HPSEARCH_SHARE_SPLIT=0 (--jobs workers load the data "
           "themselves), HPSEARCH_DEBUG=1 (as --debug).",
    no_args_is_help=True,  # bare `hpsearch`: the help on stdout, exit 0 (cli.errors)
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",  # reflow docstring paragraphs in --help instead of keeping source line breaks
    add_completion=True,  # --install-completion / --show-completion; completes commands, flags and choices
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"hpsearch {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: flags.in_panel(flags.Debug, rich_help_panel=None) = False,
    version: Annotated[bool, typer.Option("--version", metavar="", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """--debug is read by HPSearchGroup.main from the arguments (before parsing, so usage errors see it too)."""


for command in (sanity, coarse, fine, train, evaluate, predict, report, data, worker, export):  # --help: the recipe's order
    command.register(app)


def main() -> None:
    app()
