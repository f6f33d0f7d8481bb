"""`hpsearch report results.json`: the summary, top-k table and (lr, reg) scatter of a finished search."""

from __future__ import annotations

from typing import Annotated

import typer

from hpsearch.cli import options as O
from hpsearch.cli.output import console, emit_json


def report(
    path: Annotated[str, typer.Argument(help="A results file written by coarse or fine.")] = "results.json",
    show: Annotated[int, typer.Option("--show", help="Rows of the table.")] = 10,
    json_out: O.Json = False,
    quiet: O.Quiet = False,
) -> None:
    """Show a search's results again: summary, warnings, top trials and the val_acc scatter."""
    import sys

    from hpsearch import results as R
    from hpsearch.report_search import counts, ranked
    from hpsearch.report_search import report as render

    doc = R.read(path)
    for w in doc["warnings"]:
        sys.stderr.write(f"hpsearch: warning: {w['message']}\n")
    if not quiet:
        console(json_out).print(render(doc, show))
    if json_out:
        emit_json({"path": path, "command": doc["command"], "progress": doc["progress"], "summary": counts(doc),
                   "best": doc["best"], "top": ranked(doc)[:show], "warnings": doc["warnings"]})


def register(app: typer.Typer) -> None:
    app.command("report", epilog="Example: hpsearch report results.fine.json --show 5")(report)
