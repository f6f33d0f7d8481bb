"""Rich renderable for `hpsearch sanity`. Pure: builds objects from a SanityReport, never prints."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text

from hpsearch.config.plain import fmt

STYLE = {"pass": "green", "warn": "yellow", "fail": "bold red"}


def _activations(m: dict) -> str:
    parts = []
    for layer, row in m.items():
        extra = next((f" {k} {row[k]:.0%}" for k in ("dead", "saturated") if k in row), "")
        parts.append(f"{layer} std {fmt(row['std'], '.2g')}{extra}")
    return "; ".join(parts) or "-"


# the one or two numbers of each check's `measured` worth a table cell
SUMMARY = {
    "initial_loss": lambda m: f"{fmt(m['loss'], '.4g')} (ln C {fmt(m['ln_C'], '.4g')}); at init "
                              f"{fmt(m.get('loss_at_init'), '.4g')}",
    "regularization_raises_loss": lambda m: f"{fmt(m['loss_reg0'], '.4g')} -> {fmt(m['loss_big_reg'], '.4g')}",
    "gradient_check": lambda m: f"{fmt(m['max_rel_error'], '.1e')} (max |diff| {fmt(m['max_abs_diff'], '.0e')})",
    "overfit_small_subset": lambda m: f"acc {fmt(m['train_acc'], '.0%')}, {m['epochs']} epochs, "
                                      f"loss {fmt(m['initial_loss'], '.3g')} -> {fmt(m['final_loss'], '.3g')}",
    "activation_stats": _activations,
    "update_ratio": lambda m: f"median {fmt(m['median'], '.1e')}",
    "softmax_stability": lambda m: f"loss {fmt(m['training_loss'], '.6g')} at scores ~{m['score_scale']:g}",
    "dropout_scaling": lambda m: f"train/test {fmt(m['training_step_ratio'], '.3f')} (p {m['p']:g})",
    "training_step": lambda m: f"{fmt(m['max_rel_diff'], '.1e')} of the update ({m['worst']})",
}


def summarize(check) -> str:
    """A short text for `check.measured` (falls back to the raw value)."""
    try:
        return SUMMARY[check.name](check.measured)
    except (KeyError, TypeError, ValueError):
        return str(check.measured)


def sanity_table(report, strict: bool = False):
    """report: hpsearch.sanity.types.SanityReport -> table of checks, then each check's message, then the verdict."""
    t = Table(title="hpsearch sanity", show_header=True, header_style="bold")
    t.add_column("check", no_wrap=True)
    t.add_column("status", no_wrap=True)
    t.add_column("measured")
    t.add_column("expected")
    for c in report.checks:
        t.add_row(c.name, Text(c.status, style=STYLE.get(c.status, "")), summarize(c), c.expected)
    notes = [Text.assemble((f"{c.name}: ", "bold"), (c.message, STYLE.get(c.status, "") if c.status != "pass" else ""))
             for c in report.checks]
    counts = {s: sum(c.status == s for c in report.checks) for s in ("pass", "warn", "fail")}
    tally = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    verdict = Text(f"{'PASSED' if report.passed else 'FAILED'} ({tally}){' under --strict' if strict else ''}",
                   style="bold green" if report.passed else "bold red")
    return Group(t, *notes, verdict)
