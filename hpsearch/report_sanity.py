"""Rich renderable for `hpsearch sanity`. Pure: builds objects from a SanityReport, never prints."""

from __future__ import annotations

import math

from rich.console import Group
from rich.table import Table
from rich.text import Text

STYLE = {"pass": "green", "warn": "yellow", "fail": "bold red"}


def _g(v, spec: str = ".3g") -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    return format(v, spec)


def _activations(m: dict) -> str:
    parts = []
    for layer, row in m.items():
        extra = next((f" {k} {row[k]:.0%}" for k in ("dead", "saturated") if k in row), "")
        parts.append(f"{layer} std {_g(row['std'], '.2g')}{extra}")
    return "; ".join(parts) or "-"


# the one or two numbers of each check's `measured` worth a table cell
SUMMARY = {
    "initial_loss": lambda m: f"{_g(m['loss'], '.4g')} (ln C {_g(m['ln_C'], '.4g')})",
    "regularization_raises_loss": lambda m: f"{_g(m['loss_reg0'], '.4g')} -> {_g(m['loss_big_reg'], '.4g')}",
    "gradient_check": lambda m: f"{_g(m['max_rel_error'], '.1e')} (max |diff| {_g(m['max_abs_diff'], '.0e')})",
    "overfit_small_subset": lambda m: f"acc {_g(m['train_acc'], '.0%')}, {m['epochs']} epochs, "
                                      f"loss {_g(m['initial_loss'])} -> {_g(m['final_loss'])}",
    "activation_stats": _activations,
    "update_ratio": lambda m: f"median {_g(m['median'], '.1e')}",
}


def summarize(check) -> str:
    """A short text for `check.measured` (falls back to the raw value)."""
    try:
        return SUMMARY[check.name](check.measured)
    except (KeyError, TypeError, ValueError):
        return str(check.measured)


def sanity_table(report, strict: bool = False):
    """report: hpsearch.sanity.SanityReport -> table of checks, then each check's message, then the verdict."""
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
