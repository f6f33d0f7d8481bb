"""How --help looks: the panels flags are grouped in, how a list of choices reads, and on/off flags shown
without a type."""

from __future__ import annotations

# the --help panels, in the order commands declare their flags
SEARCH, DATA, MODEL, STORAGE, OUTPUT = "Search", "Data", "Model and training", "Storage and workers", "Output"


def one_of(names) -> str:
    """('a', 'b', 'c') -> 'a, b or c'."""
    return ", ".join(names[:-1]) + " or " + names[-1] if len(names) > 1 else names[0]


class UntypedFlags:
    """A Typer command or group mixin: --help shows no `<bool>` after an on/off flag (--help, --json,
    --install-completion...); such a flag left out is False, not None, which Typer passes through as it is
    instead of building a pydantic validator for it (that import made every `COMMAND --help` ~0.1 s slower)."""

    def get_params(self, ctx):
        params = super().get_params(ctx)
        for p in params:
            if getattr(p, "is_bool_flag", False):
                if p.metavar is None:
                    p.metavar = ""
                if p.default is None and not p.secondary_opts:
                    p.default = False
        return params
