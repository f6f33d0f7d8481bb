"""The `hpsearch` console script and `python -m hpsearch`: handle SIGTERM from the first moment (a SIGTERM while
the CLI still imports exits 143 with one line instead of killing the process), then run the CLI. Kept apart from
hpsearch.cli so that importing the CLI (tests, other programs) installs no signal handler.

Two start-up and exit costs are cut here, where the process is the command's own (never in a program that
imports hpsearch): `tqdm.auto` is imported only if something uses it (Optuna imports it for a progress bar this
CLI never shows; with it come asyncio and ssl), and a finished command leaves with os._exit once its output is
flushed, skipping the interpreter's teardown (every file the command wrote is closed and, for a journal, synced
by then: engine/stage.py)."""

from __future__ import annotations

import signal
import sys
import threading
import types


def _early_sigterm(signum, frame) -> None:  # until the command's own handling (cli.errors.HPSearchGroup.main)
    sys.stderr.write("hpsearch: interrupted by SIGTERM while starting (nothing had run yet)\n")
    raise SystemExit(143)


_early_sigterm.hpsearch_early = True  # cli.errors replaces this handler (not a user's) once the command starts


def _unraisable(hook):
    """sys.unraisablehook that delivers SIGTERM again when its handler's exception (cli.errors.Terminated, or
    _early_sigterm's SystemExit) was raised where no exception can propagate, e.g. in a weakref callback of the
    import machinery: Python would print "Exception ignored" with a traceback and go on. Sent again a moment
    later, the signal lands where it unwinds the command."""

    def handle(u) -> None:
        exc = u.exc_value
        if type(exc).__name__ == "Terminated" or (isinstance(exc, SystemExit) and exc.code == 143):
            import os

            again = threading.Timer(0.01, os.kill, (os.getpid(), signal.SIGTERM))
            again.daemon = True
            again.start()
            return
        hook(u)

    return handle


def main() -> None:
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _early_sigterm)
        sys.unraisablehook = _unraisable(sys.unraisablehook)
    lazy_tqdm_auto()
    from hpsearch.cli import main as cli_main

    try:
        cli_main()
        code = 0
    except SystemExit as e:
        code = e.code
    leave(code)


def leave(code) -> None:
    """Exit with `code`: at once (os._exit, no interpreter teardown) when the output is flushed and nothing
    else runs (no other non-daemon thread, no coverage measurement); else the ordinary way."""
    import os

    if code is None:
        code = 0
    quick = (isinstance(code, int) and "coverage" not in sys.modules and
             all(t.daemon or t is threading.main_thread() for t in threading.enumerate()))
    if quick:
        try:
            for stream in (sys.stdout, sys.stderr):
                if stream is not None:
                    stream.flush()
        except (OSError, ValueError):  # a closed pipe: let the ordinary exit report it
            quick = False
    if quick:
        os._exit(code & 0xFF if code >= 0 else 1)
    raise SystemExit(code)


class _LazyTqdm:
    """Stands for tqdm.auto.tqdm until used: the real class is imported on the first call."""

    def __new__(cls, *args, **kwargs):
        return _real_tqdm_auto().tqdm(*args, **kwargs)

    @staticmethod
    def write(*args, **kwargs):
        return _real_tqdm_auto().tqdm.write(*args, **kwargs)

    @staticmethod
    def format_interval(*args, **kwargs):
        return _real_tqdm_auto().tqdm.format_interval(*args, **kwargs)


def _real_tqdm_auto():
    """The real tqdm.auto module, imported now (replacing the stand-in in sys.modules)."""
    import importlib

    mod = sys.modules.get("tqdm.auto")
    if getattr(mod, "hpsearch_lazy", False):
        del sys.modules["tqdm.auto"]
        try:
            return importlib.import_module("tqdm.auto")
        except BaseException:
            sys.modules["tqdm.auto"] = mod
            raise
    return importlib.import_module("tqdm.auto")


def lazy_tqdm_auto() -> None:
    """Put a stand-in for `tqdm.auto` in sys.modules (unless tqdm is imported already): its `tqdm` imports the
    real one when called; any other attribute imports the real module at once."""
    if "tqdm" in sys.modules or "tqdm.auto" in sys.modules:
        return

    class Module(types.ModuleType):
        hpsearch_lazy = True

        def __getattr__(self, name):
            if name.startswith("__"):
                raise AttributeError(name)
            return getattr(_real_tqdm_auto(), name)

    mod = Module("tqdm.auto")
    mod.tqdm = _LazyTqdm
    sys.modules["tqdm.auto"] = mod
