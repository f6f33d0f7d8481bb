"""Rich renderable for `hpsearch evaluate`. Pure: builds objects from the evaluation document, never prints."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text


def evaluation(doc: dict) -> Group:
    """The accuracy (ensemble or single model), each member's, per-class accuracy and the confusion matrix."""
    n = len(doc["members"])
    head = Text(f"{'ensemble of ' + str(n) + ' models' if n > 1 else doc['models'][0]}: accuracy "
                f"{doc['accuracy']:.4f} on {doc['samples']} samples of {doc['data']}", style="bold")
    parts = [head]
    if n > 1:
        t = Table(title="members", title_justify="left", header_style="bold")
        t.add_column("model")
        t.add_column("accuracy", justify="right")
        for m in doc["members"]:
            t.add_row(m["model"], f"{m['accuracy']:.4f}")
        parts.append(t)
    labels = doc["confusion"]["labels"]
    c = Table(title="confusion (rows: true, columns: predicted)", title_justify="left", header_style="bold")
    c.add_column("true", justify="right")
    for lab in labels:
        c.add_column(str(lab), justify="right")
    c.add_column("accuracy", justify="right")
    for lab, row in zip(labels, doc["confusion"]["matrix"]):
        acc = doc["per_class"][str(lab)]
        c.add_row(str(lab), *(str(v) for v in row), "-" if acc is None else f"{acc:.3f}")
    parts.append(c)
    return Group(*parts)
