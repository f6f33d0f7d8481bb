"""The one map from errors to exit codes (DESIGN.md §3): one line on stderr, a traceback only with --debug.

0 ok · 1 a gate failed · 2 bad input or usage · 3 I/O or storage error · 130 interrupted.
"""

from __future__ import annotations

import os
import sys

from typer.core import TyperGroup

try:  # Typer >= 0.29 vendors click; its usage errors derive from typer.TyperException
    from typer import Abort as _Abort
    from typer import TyperException as _UsageFailure
except ImportError:  # pragma: no cover - older Typer on top of click
    from click.exceptions import Abort as _Abort
    from click.exceptions import ClickException as _UsageFailure

from hpsearch.cli.panels import UntypedFlags
from hpsearch.errors import HPSearchError

state = {"debug": bool(os.environ.get("HPSEARCH_DEBUG"))}  # --debug or HPSEARCH_DEBUG: tracebacks for bug reports


def fail_line(message: str) -> None:
    """The one line a failing command prints on stderr."""
    sys.stderr.write(f"hpsearch: error: {' '.join(message.split())}\n")
    sys.stderr.flush()


def warn_line(message: str) -> None:
    """A warning on stderr (never on stdout, which may carry JSON)."""
    sys.stderr.write(f"hpsearch: warning: {message}\n")


class Terminated(BaseException):
    """SIGTERM before a command installs its own handling (the search loop's Stopper): unwind (not an Exception,
    so no `except Exception` swallows it; not a KeyboardInterrupt, which click turns into exit 130), so every
    `finally` runs (locks released), and exit 143."""


def _on_sigterm(signum, frame):
    raise Terminated()



def _choice_message(e) -> str | None:
    """'--activation must be one of relu, tanh; got 'swish'' for a value outside a flag's choices (Literal),
    the wording of the configuration's own checks; None for other usage errors."""
    param = getattr(e, "param", None)
    desc = getattr(param, "type_descriptor", None)
    if desc is None or not desc.is_choice or not getattr(param, "opts", None):
        return None
    cause = e.__cause__  # pydantic's ValidationError: its `input` is the value as typed
    try:
        value = cause.errors()[0]["input"]
    except (AttributeError, IndexError, KeyError, TypeError):
        return None
    names = ", ".join(str(getattr(c, "value", c)) for c in desc.choices)
    return f"{param.opts[0]} must be one of {names}; got {value!r}"


def _number_message(e) -> str | None:
    """'--epochs must be an integer; got 'five'' for a value that is not a number of the flag's type (Pydantic's
    own text names neither the value nor a fix); None for other usage errors."""
    param = getattr(e, "param", None)
    desc = getattr(param, "type_descriptor", None)
    kind = {int: "an integer", float: "a number"}.get(getattr(desc, "annotation", None))
    if kind is None or not getattr(param, "opts", None):
        return None
    try:
        err = e.__cause__.errors()[0]
    except (AttributeError, IndexError, KeyError, TypeError):
        return None
    if not str(err.get("type", "")).endswith("_parsing"):  # a range check (min/max) keeps its own message
        return None
    return f"{param.opts[0]} must be {kind}; got {err.get('input')!r}"


class PipeSafe:
    """sys.stdout (and stderr) for a reader that may go away early (`hpsearch coarse | head -2`, `2>&1 | head`):
    the first BrokenPipeError points the descriptor at /dev/null and the rest of the output is dropped, so the
    command still finishes (its results file is written before its report anyway) and exits with its own code
    (0, or 1 for a failed gate), not click's 1 for a broken pipe. Everything else is the wrapped stream's."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text):
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            self._gone()
            return len(text)

    def flush(self):
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._gone()

    def _gone(self) -> None:
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._stream.fileno())
            os.close(devnull)
        except (OSError, ValueError, AttributeError):
            pass

    def __getattr__(self, name):
        return getattr(self._stream, name)


class HPSearchGroup(UntypedFlags, TyperGroup):
    """Maps every error to one line on stderr and its exit code; a traceback only with --debug. SIGTERM is
    handled from the first moment (a search replaces the handler with its own while it runs)."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        import signal
        import threading

        args = list(sys.argv[1:] if args is None else args)
        # (set before the SIGTERM handler: nothing runs between it and the try below)
        streams = {name: getattr(sys, name) for name in ("stdout", "stderr")}
        for name, stream in streams.items():
            if stream is not None and not isinstance(stream, PipeSafe):
                setattr(sys, name, PipeSafe(stream))
        before = state["debug"]  # per call: a caller in the same process (tests) is not left in debug mode
        state["debug"] = before or "--debug" in args
        previous = None
        current = signal.getsignal(signal.SIGTERM)
        if threading.current_thread() is threading.main_thread() and (
                current == signal.SIG_DFL or getattr(current, "hpsearch_early", False)):
            previous = signal.signal(signal.SIGTERM, _on_sigterm)
        try:
            rv = self._run(args, prog_name, complete_var, extra)
        finally:
            state["debug"] = before
            for name, stream in streams.items():  # what is still buffered goes out through the wrapper first
                current = getattr(sys, name)
                if isinstance(current, PipeSafe) and current._stream is stream:
                    current.flush()
                setattr(sys, name, stream)
            if previous is not None:  # a caller in the same process (tests, another program) gets its own back
                signal.signal(signal.SIGTERM, previous)
        code = rv if isinstance(rv, int) else 0
        if standalone_mode:
            sys.exit(code)
        return code

    def _run(self, args, prog_name, complete_var, extra):
        try:
            rv = super().main(args=args, prog_name=prog_name or "hpsearch", complete_var=complete_var,
                              standalone_mode=False, **extra)
        except HPSearchError as e:
            if state["debug"]:
                raise
            if not (e.exit_code == 3 and os.environ.get("HPSEARCH_PARENT_PID")):
                fail_line(str(e))  # a --jobs child's storage fault is its coordinator's to report: once
            rv = e.exit_code
        except _UsageFailure as e:  # usage errors: unknown flag, bad value type
            if type(e).__name__ == "NoArgsIsHelpError":  # bare `hpsearch`: the help is printed (stdout); not an error
                return 0
            if state["debug"]:
                raise
            cmd = f" {e.ctx.command_path}" if getattr(e, "ctx", None) is not None else ""
            message = _choice_message(e) or _number_message(e) or e.format_message()
            fail_line(f"{message} (see 'hpsearch{cmd.replace('hpsearch', '', 1)} --help')")
            rv = e.exit_code
        except _Abort:
            rv = 130
        except Terminated:
            if not os.environ.get("HPSEARCH_PARENT_PID"):  # a --jobs child is stopped by its coordinator, which
                # says so once for every process (the child shares its stderr)
                sys.stderr.write("hpsearch: interrupted by SIGTERM (what finished is saved; run the same command "
                                 "again to resume)\n")
            rv = 143
        except KeyboardInterrupt:
            rv = 130
        return rv
