"""`hpsearch export --storage URL --study NAME --out results.json`: a study's results file, from the study alone.

The file is the one the coordinator writes at the end of a local run (same trials, values, best and
warnings), so `fine --from` and `report` take it. A study still running exports what has finished.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from hpsearch.cli import command, flags
from hpsearch.cli.worker import StorageReq, StudyReq


def export(
    study: StudyReq,
    storage: StorageReq = None,
    out: Annotated[str, typer.Option("--out", rich_help_panel=flags.OUTPUT,
                                     help="Results file to write (JSON, atomically).")] = "results.json",
    show: Annotated[int, typer.Option("--show", rich_help_panel=flags.OUTPUT, help="Rows of the table.")] = 10,
    json_out: flags.Json = False,
    quiet: flags.Quiet = False,
) -> None:
    """Write the results file of a study (one run by 'hpsearch worker' processes on several machines, say)."""
    from hpsearch.cli.stage import gate, render
    from hpsearch.engine import document, storage as study_storage
    from hpsearch.errors import ConfigError
    from hpsearch.results import file as results_file

    if not storage:
        raise ConfigError("export: --storage is required", "pass the study's --storage (or set HPSEARCH_STORAGE)",
                          key="storage")
    results_file.check_writable(out)
    study_storage.check_out_is_not_study(out, storage, None)
    h = study_storage.open_study(storage, None, study, create=False)
    doc = document.export(h)
    results_file.write(out, doc)
    p = doc["progress"]
    if p["done"] < p["requested"]:
        sys.stderr.write(f"hpsearch: note: {p['done']} of {p['requested']} trials done (the study is still "
                         "running, or was interrupted: run a worker to finish it)\n")
    render(doc, out, show, quiet, json_out)
    # every trial diverged (or failed): exit 1, as the search itself does; not while trials remain to run
    raise typer.Exit(gate(doc, out) if p["done"] >= p["requested"] else 0)


def register(app: typer.Typer) -> None:
    command.register(app, "export", export, epilog="Example: hpsearch export --storage postgresql://me@db.lan/hp "
                     "--study coarse-lr --out results.json (then: hpsearch fine --from results.json)")
