"""The `hpsearch` command line. One thin file per command; errors are mapped to exit codes here, once.

Heavy modules (numpy, optuna, rich) are imported inside the commands so `hpsearch --help` stays fast.
"""

from __future__ import annotations

import os
import sys

import typer
from typer.core import TyperGroup

try:  # Typer >= 0.29 vendors click; its usage errors derive from typer.TyperException
    from typer import Abort as _Abort
    from typer import TyperException as _UsageFailure
except ImportError:  # pragma: no cover - older Typer on top of click
    from click.exceptions import Abort as _Abort
    from click.exceptions import ClickException as _UsageFailure

from hpsearch import __version__
from hpsearch.errors import HPSearchError

_state = {"debug": bool(os.environ.get("HPSEARCH_DEBUG"))}


def fail_line(message: str) -> None:
    """The one line a failing command prints on stderr."""
    sys.stderr.write(f"hpsearch: error: {' '.join(message.split())}\n")
    sys.stderr.flush()


class HPSearchGroup(TyperGroup):
    """Maps every error to one line on stderr and its exit code (DESIGN.md §3); a traceback only with --debug."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        args = list(sys.argv[1:] if args is None else args)
        if "--debug" in args:
            _state["debug"] = True
        try:
            rv = super().main(args=args, prog_name=prog_name or "hpsearch", complete_var=complete_var,
                              standalone_mode=False, **extra)
        except HPSearchError as e:
            if _state["debug"]:
                raise
            fail_line(str(e))
            rv = e.exit_code
        except _UsageFailure as e:  # usage errors: unknown flag, bad value type
            if _state["debug"]:
                raise
            cmd = f" {e.ctx.command_path}" if getattr(e, "ctx", None) is not None else ""
            fail_line(f"{e.format_message()} (see 'hpsearch{cmd.replace('hpsearch', '', 1)} --help')")
            rv = e.exit_code
        except _Abort:
            rv = 130
        except KeyboardInterrupt:
            rv = 130
        code = rv if isinstance(rv, int) else 0
        if standalone_mode:
            sys.exit(code)
        return code


app = typer.Typer(
    cls=HPSearchGroup,
    name="hpsearch",
    help="Sanity-check an MLP, then search learning rate and regularization coarse-to-fine (the CS231n recipe).",
    epilog="Example: hpsearch sanity && hpsearch coarse --epochs 5 && hpsearch fine --from results.json",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",  # reflow docstring paragraphs in --help instead of keeping source line breaks
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"hpsearch {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show a traceback on errors (for bug reports)."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    _state["debug"] = _state["debug"] or debug


from hpsearch.cli import train as _train  # noqa: E402  (registers the command)

_train.register(app)
from hpsearch.cli import sanity as _sanity  # noqa: E402

_sanity.register(app)
from hpsearch.cli import data as _data  # noqa: E402

_data.register(app)
from hpsearch.cli import coarse as _coarse  # noqa: E402

_coarse.register(app)
from hpsearch.cli import fine as _fine  # noqa: E402

_fine.register(app)
from hpsearch.cli import report as _report  # noqa: E402

_report.register(app)
from hpsearch.cli import worker as _worker  # noqa: E402

_worker.register(app)
from hpsearch.cli import export as _export  # noqa: E402

_export.register(app)


def main() -> None:
    app()
