"""How every command is registered: `--debug` after the command name as well as before it, and --help in the
Output panel without a type (the other flags are grouped into panels by cli.flags)."""

from __future__ import annotations

import functools
import inspect

import typer
from typer.core import TyperCommand

from hpsearch.cli import flags, panels


class HPSearchCommand(panels.UntypedFlags, TyperCommand):
    """A command whose --help flag sits with the other output flags; no `<bool>` after its on/off flags."""

    def get_help_option(self, ctx):
        option = super().get_help_option(ctx)
        if option is not None:
            option.rich_help_panel = panels.OUTPUT
        return option


def with_debug(command):
    """The command also takes --debug (cli.errors reads it from the arguments before parsing, so a usage error
    shows its traceback too; here it only has to be accepted)."""
    sig = inspect.signature(command, eval_str=True)

    @functools.wraps(command)
    def wrapper(**kwargs):
        kwargs.pop("debug")  # read by HPSearchGroup.main from the arguments already
        return command(**kwargs)

    debug = inspect.Parameter("debug", inspect.Parameter.KEYWORD_ONLY, default=False, annotation=flags.Debug)
    params = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in sig.parameters.values()]
    wrapper.__signature__ = sig.replace(parameters=[*params, debug])
    return wrapper


def register(app: typer.Typer, name: str, command, epilog: str) -> None:
    """Add `command` to `app` as `name`, with --debug and the example that ends its --help."""
    app.command(name, cls=HPSearchCommand, epilog=epilog)(with_debug(command))
