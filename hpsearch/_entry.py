"""The `hpsearch` console script and `python -m hpsearch`: handle SIGTERM from the first moment (a SIGTERM while
the CLI still imports exits 143 with one line instead of killing the process), then run the CLI. Kept apart from
hpsearch.cli so that importing the CLI (tests, other programs) installs no signal handler."""

from __future__ import annotations

import signal
import sys
import threading


def _early_sigterm(signum, frame) -> None:  # until the command's own handling (cli.errors.HPSearchGroup.main)
    sys.stderr.write("hpsearch: interrupted by SIGTERM while starting (nothing had run yet)\n")
    raise SystemExit(143)


_early_sigterm.hpsearch_early = True  # cli.errors replaces this handler (not a user's) once the command starts


def main() -> None:
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _early_sigterm)
    from hpsearch.cli import main as cli_main

    cli_main()
