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


def progress_bar(label: str, unit: str, console=None):
    """A transient Rich bar on stderr (or `console`): `label`, done/total, the bar, the task's `info` field, the
    rate in `unit`s per second and the time remaining (both once a unit is done); fits 80 columns."""
    from rich.console import Console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn,
                               TimeRemainingColumn)
    from rich.table import Column
    from rich.text import Text

    class Rate(ProgressColumn):
        def __init__(self):
            super().__init__(table_column=Column(no_wrap=True))

        def render(self, task) -> Text:
            speed = task.finished_speed or task.speed
            if not speed:
                return Text(f"- {unit}/s", style="progress.data.speed")
            if speed < 1:
                return Text(f"{1 / speed:.3g} s/{unit[:-1]}", style="progress.data.speed")
            rate = f"{speed:.0f}" if speed >= 100 else f"{speed:.3g}"
            return Text(f"{rate} {unit}/s", style="progress.data.speed")

    fixed = Column(no_wrap=True)  # a narrow terminal shortens the info (…), never wraps the bar onto two lines
    return Progress(TextColumn(label, table_column=fixed), MofNCompleteColumn(table_column=fixed),
                    BarColumn(bar_width=10), TextColumn("{task.fields[info]}", table_column=Column(
                        no_wrap=True, overflow="ellipsis", min_width=8)),
                    Rate(), TextColumn("eta", table_column=fixed),
                    TimeRemainingColumn(compact=True, table_column=fixed),
                    console=console or Console(stderr=True), transient=True)


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

        def info(records) -> str:
            ok = [r.val_acc for r in records if r.status == "complete" and r.val_acc is not None]
            best = f"{max(ok):.3f}" if ok else "-"
            return f"best val_acc {best} · {sum(r.status == 'diverged' for r in records)} diverged"

        records = poll()
        with progress_bar(command, "trials") as p:
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
