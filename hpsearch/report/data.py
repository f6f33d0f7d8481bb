"""Rich renderable for `hpsearch data`. Pure: builds objects from a data summary, never prints."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text

from hpsearch.config.plain import fmt


def _mb(n: int) -> str:
    return f"{n / 1e6:,.1f} MB" if n >= 1e5 else f"{n / 1e3:,.1f} kB"


def data_report(s: dict):
    """A summary (data/summary.py) as a table of facts, a table of classes, and its problems and warnings."""
    t = Table(title=f"hpsearch data: {s['name']}", show_header=False)
    t.add_column("what", style="bold")
    t.add_column("value")
    if s["files"]:
        t.add_row("files", "\n".join(s["files"]))
    shape = f" (images {'x'.join(map(str, s['image_shape']))}, flattened)" if s["image_shape"] else ""
    t.add_row("samples", f"{s['samples']:,}")
    t.add_row("features", f"{s['features']:,}{shape}")
    mapped = ", memory-mapped" if s["memory_mapped"] else ""
    t.add_row("stored as", f"{s['dtype']}, {_mb(s['bytes'])}{mapped}; training copy {_mb(s['float32_bytes'])} float32")
    v = s["values"]
    scaled = " (uint8 pixels: scaled to [0, 1] for training)" if s["pixels_scaled"] else ""
    t.add_row("values", f"min {fmt(v['min'])}  max {fmt(v['max'])}  mean {fmt(v['mean'])}  std {fmt(v['std'])}{scaled}")
    t.add_row("NaN / inf", f"{v['nan']:,} / {v['inf']:,}")
    t.add_row("constant features", f"{v['constant_features']:,}")
    t.add_row("duplicated rows", f"{s['duplicated_rows']:,} ({s['conflicting_labels']:,} with a different label)")
    b = s["balance"]
    t.add_row("class balance", f"smallest {b['smallest']:,}, largest {b['largest']:,} (ratio {fmt(b['ratio'], '.2f')})")
    if "split" in s:
        st = s["settings"]
        sub = f", subset of {st['max_samples']:,}" if st["max_samples"] else ""
        t.add_row("split", f"train {s['split']['train']:,}, validation {s['split']['val']:,}"
                           f" (val-fraction {st['val_fraction']:g}{sub}, seed {st['seed']}); {st['preprocess']} "
                           "fitted on train")
    t.add_row("fingerprint", s["fingerprint"])
    c = Table(title=f"{s['num_classes']} classes", show_header=True, header_style="bold")
    c.add_column("label", justify="right")
    if any(k["name"] for k in s["classes"]):
        c.add_column("name")
    c.add_column("count", justify="right")
    c.add_column("share", justify="right")
    for k in s["classes"]:
        name = [k["name"] or ""] if len(c.columns) == 4 else []
        c.add_row(str(k["label"]), *name, f"{k['count']:,}", f"{100 * k['fraction']:.1f}%")
    lines = [Text(f"problem: {p}", style="red") for p in s["problems"]]
    lines += [Text(f"warning: {w}", style="yellow") for w in s["warnings"]]
    if s["usable"]:
        lines.append(Text("ready to train", style="green"))
    return Group(t, c, *lines)
