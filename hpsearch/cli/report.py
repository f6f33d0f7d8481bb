"""`hpsearch report results.json`: the summary, top-k table and (lr, reg) scatter of a finished search."""

from __future__ import annotations

from typing import Annotated

import typer

from hpsearch.cli import flags
from hpsearch.cli.errors import warn_line
from hpsearch.cli.output import console, emit_json


def report(
    path: Annotated[str, typer.Argument(help="A results file written by coarse or fine.")] = "results.json",
    show: Annotated[int, typer.Option("--show", help="Rows of the table.")] = 10,
    json_out: flags.Json = False,
    quiet: flags.Quiet = False,
) -> None:
    """Show a search's results again: summary, warnings, top trials and the val_acc scatter."""
    from hpsearch.report import search as search_report
    from hpsearch.results import file as results_file

    doc = results_file.read(path)
    for w in doc["warnings"]:
        warn_line(w["message"])
    if not quiet:
        console(json_out).print(search_report.report(doc, show))
    if json_out:
        emit_json({"path": path, "command": doc["command"], "progress": doc["progress"], "summary": search_report.counts(doc),
                   "best": doc["best"], "top": search_report.ranked(doc)[:show], "warnings": doc["warnings"]})


def register(app: typer.Typer) -> None:
    app.command("report", epilog="Example: hpsearch report results.fine.json --show 5")(report)
