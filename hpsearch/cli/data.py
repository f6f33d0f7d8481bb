"""`hpsearch data PATH|NAME`: what the tool will train on (sizes, classes, value ranges, NaN/inf, duplicates).

Exit 0 when the data can be trained on, 1 when it cannot (NaN/inf values, a single class: the problems are
listed), 2 when the files cannot be read (the one-line error names the file and what is wrong).
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from hpsearch.cli import options as O
from hpsearch.cli.output import console, emit_json


def data(
    spec: Annotated[Optional[str], typer.Argument(metavar="PATH|NAME", show_default=False,
                                                  help="Built-in name, file, folder or comma list (as --data).")] = None,
    data_opt: Annotated[Optional[str], typer.Option("--data", help="Same as PATH|NAME, for symmetry with the other commands.")] = None,
    label_column: O.LabelColumn = None,
    flatten: O.Flatten = False,
    val_fraction: O.ValFraction = 0.2,
    max_samples: O.MaxSamples = None,
    preprocess: O.Preprocess = "standardize",
    seed: O.Seed = 0,
    json_out: O.Json = False,
    quiet: O.Quiet = False,
) -> None:
    """Inspect a data set: samples, features, classes with counts, value ranges, NaN/inf, duplicated rows."""
    from hpsearch import data as D
    from hpsearch.datasets.summary import summarize
    from hpsearch.errors import ConfigError, DataError

    if spec and data_opt and spec != data_opt:
        raise ConfigError(f"two data sets given: {spec} and --data {data_opt}", "give one")
    spec = spec or data_opt
    if not spec:
        raise ConfigError("no data set given", "e.g. hpsearch data digits, or hpsearch data path/to/mnist/")
    if preprocess not in D.PREPROCESS:
        raise ConfigError(f"--preprocess must be one of {', '.join(D.PREPROCESS)}, got {preprocess!r}",
                          "standardize is the default", key="preprocess")
    ds = D.load(spec, label_column, flatten=flatten, check=False)
    try:
        if preprocess == "center-channel":
            D.channel_means(ds.X[:1].mean(axis=0), ds)  # same error as training would give
        tr, va = D.split_indices(ds.y, val_fraction, seed, max_samples) if ds.num_classes > 1 else (None, None)
    except DataError as e:
        raise O.flagged(e) from None
    summary = summarize(ds, tr, va)
    summary["settings"] = {"val_fraction": val_fraction, "max_samples": max_samples, "preprocess": preprocess,
                           "seed": seed, "flatten": flatten}
    if json_out:
        emit_json(summary)
    if not quiet:
        console(json_out).print(render(summary))
    if not summary["usable"]:
        raise typer.Exit(1)


def _mb(n: int) -> str:
    return f"{n / 1e6:,.1f} MB" if n >= 1e5 else f"{n / 1e3:,.1f} kB"


def render(s: dict):
    """A Rich renderable of a summary (pure)."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    from hpsearch.report import fmt

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


def register(app: typer.Typer) -> None:
    app.command(
        "data",
        epilog="Example: hpsearch data ./mnist --max-samples 10000 --json   (also: X.npy,y.npy; cifar-10-batches-bin/)",
    )(data)
