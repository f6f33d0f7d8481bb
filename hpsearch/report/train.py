"""Rich renderable for `hpsearch train`. Pure: builds objects from a fit's result, never prints."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text

from hpsearch.config.plain import fmt


def train_table(result, cfg, diagnosis: list[dict], width: int | None = None):
    """The run's numbers, its curves (report/plots.py: at the console's width unless `width`) and its
    diagnosis, which reads those curves."""
    from hpsearch.report import plots

    t = Table(title="hpsearch train", show_header=True, header_style="bold")
    t.add_column("metric")
    t.add_column("value", justify="right")
    status_style = "green" if result.status == "complete" else "red"
    t.add_row("status", Text(result.status, style=status_style))
    if result.val_acc is None and result.history.train_acc:  # a final fit: no validation rows
        t.add_row("val_acc", "- (final fit: no validation rows)")
        t.add_row("train_acc (last epoch)", fmt(result.train_acc, ".4f"))
    else:
        t.add_row("val_acc (best epoch)", fmt(result.val_acc, ".4f"))
        t.add_row("train_acc (same epoch)", fmt(result.train_acc, ".4f"))
    t.add_row("initial_loss", fmt(result.initial_loss))
    t.add_row("final_loss", fmt(result.final_loss))
    t.add_row("epochs_run", f"{result.epochs_run}/{cfg.epochs}")
    t.add_row("seconds", f"{result.seconds:.2f}")
    if result.history.update_ratio and result.history.update_ratio[-1]:
        ratios = ", ".join(f"{k} {fmt(v, '.1e')}" for k, v in result.history.update_ratio[-1].items())
        t.add_row("update/weight (last epoch)", ratios)
    lines = [Text(f"- {d['message']}", style="yellow" if d["kind"] != "healthy" else "green") for d in diagnosis]
    return Group(t, plots.train_figure(result, width), Text("diagnosis:", style="bold"), *lines)
