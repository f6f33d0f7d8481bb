"""`hpsearch report results.json...`: a finished search again (summary, warnings, top trials, slice plots and
the lr x reg map; `--curves N` the top trials' learning curves), and `--html FILE`: one self-contained page
of every stage given."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from hpsearch.cli import command, flags
from hpsearch.cli.errors import warn_line
from hpsearch.cli.output import console, emit_json

Results = Annotated[Optional[list[str]], typer.Argument(
    metavar="FILE", show_default="results.json",
    help="Results files written by coarse or fine (several: one after the other, and side by side in --html).")]
Show = Annotated[int, typer.Option("--show", rich_help_panel=flags.OUTPUT, help="Rows of the table.")]
Curves = Annotated[int, typer.Option(
    "--curves", min=0, metavar="N", rich_help_panel=flags.OUTPUT,
    help="Also draw the loss and train/val accuracy curves of the top N trials (0: none).")]
Html = Annotated[Optional[str], typer.Option(
    "--html", metavar="FILE", show_default="no page", rich_help_panel=flags.OUTPUT,
    help="Also write one self-contained HTML page (offline, no server) with the plots, verdicts and top trials "
         "of every results file given; hover a point to see its trial.")]


def report(
    paths: Results = None,
    show: Show = 10,
    curves: Curves = 0,
    html: Html = None,
    json_out: flags.Json = False,
    quiet: flags.Quiet = False,
) -> None:
    """Show a search's results again: summary, warnings, top trials, val_acc over each searched parameter and
    the lr x reg map; `--html` writes them as one page."""
    from hpsearch.report import search as search_report
    from hpsearch.results import file as results_file

    paths = paths or ["results.json"]
    if html is not None:
        _check_html(html, paths)
    docs = [(path, results_file.read(path)) for path in paths]  # every file read before anything is shown
    for path, doc in docs:
        for w in doc["warnings"]:
            warn_line(w["message"] if len(docs) == 1 else f"{path}: {w['message']}")
        if not quiet:
            console(json_out).print(search_report.report(doc, show, curves=curves))
    if html is not None:
        from hpsearch.report import html as html_report

        results_file.write_text(html, html_report.render(docs), flag="--html")
        if not quiet:
            console(json_out).print(f"report: {html}")
    if json_out:
        objs = [{"path": path, "command": doc["command"], "progress": doc["progress"],
                 "summary": search_report.counts(doc), "best": doc["best"],
                 "top": search_report.ranked(doc)[:show], "warnings": doc["warnings"]} for path, doc in docs]
        out = objs[0] if len(objs) == 1 else {"reports": objs}
        if html is not None:
            out["html"] = html
        emit_json(out)


def _check_html(path: str, inputs: list[str]) -> None:
    """--html may replace a regular file only (never a link or a device, nor one of the results files read),
    in a folder that exists: checked before any work."""
    import os

    from hpsearch.config import files
    from hpsearch.errors import ConfigError

    hint = "give a new file name, e.g. --html report.html"
    try:
        files.check_output(path)
    except files.NotReadable as e:
        raise ConfigError(f"--html {path}: {e.reason}", hint, key="html") from None
    folder = os.path.dirname(path) or "."
    if not os.path.isdir(folder):
        raise ConfigError(f"--html {path}: the folder {folder} does not exist", hint, key="html")
    for p in inputs:
        try:
            same = os.path.exists(path) and os.path.samefile(path, p)
        except OSError:
            same = False
        if same:
            raise ConfigError(f"--html {path}: is the results file {p} (it would be replaced by the page)", hint,
                              key="html")


def register(app: typer.Typer) -> None:
    command.register(app, "report", report,
                     epilog="Example: hpsearch report results.json results.fine.json --curves 3 --html report.html")
