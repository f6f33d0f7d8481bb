"""Where output goes: JSON on stdout, human tables on stdout (stderr under --json), progress on a TTY's stderr."""

from __future__ import annotations

import json
import sys


def emit_json(obj) -> None:
    """Exactly one strict JSON object on stdout (NaN is not JSON: callers turn it into null first)."""
    sys.stdout.write(json.dumps(obj, allow_nan=False) + "\n")
    sys.stdout.flush()


def console(json_mode: bool):
    """The console for human-readable output: stderr when stdout carries JSON."""
    from rich.console import Console

    return Console(stderr=json_mode, highlight=False)


def err_console():
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def show_progress(quiet: bool) -> bool:
    """A live progress bar only for a person at a terminal: never in CI logs or pipes."""
    return not quiet and sys.stderr.isatty()
