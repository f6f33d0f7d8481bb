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


def search_progress(command: str, quiet: bool):
    """An engine.stage Progress for a person at a terminal: a Rich bar on stderr (trials done, diverged so far,
    best so far), polled twice a second from the study, so trials finished by other processes and machines
    count too. None (no bar) otherwise."""
    if not show_progress(quiet):
        return None
    from contextlib import contextmanager

    @contextmanager
    def bar(total: int, poll):
        import threading

        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        def info(records) -> str:
            ok = [r.val_acc for r in records if r.status == "complete" and r.val_acc is not None]
            best = f"{max(ok):.3f}" if ok else "-"
            return f"diverged {sum(r.status == 'diverged' for r in records)} · best val_acc {best}"

        records = poll()
        with Progress(TextColumn(command), MofNCompleteColumn(), BarColumn(), TextColumn("{task.fields[info]}"),
                      TimeElapsedColumn(), console=Console(stderr=True), transient=True) as p:
            task = p.add_task(command, total=total, completed=len(records), info=info(records))
            stop = threading.Event()

            def update() -> None:
                while not stop.wait(0.5):
                    try:
                        rs = poll()
                    except Exception:  # noqa: BLE001 - the search itself reports storage faults
                        continue
                    p.update(task, completed=len(rs), info=info(rs))

            t = threading.Thread(target=update, name="hpsearch-progress", daemon=True)
            t.start()
            try:
                yield
            finally:
                stop.set()
                t.join()

    return bar
