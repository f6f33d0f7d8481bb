"""`hpsearch data PATH|NAME`: what the tool will train on (sizes, classes, value ranges, NaN/inf, duplicates).

Exit 0 when the data can be trained on, 1 when it cannot (NaN/inf values, a single class: the problems are
listed), 2 when the files cannot be read (the one-line error names the file and what is wrong).
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from hpsearch.cli import command, flags
from hpsearch.cli.output import console, emit_json


def data(
    spec: Annotated[Optional[str], typer.Argument(metavar="PATH|NAME", show_default=False,
                                                  help="Built-in name, file, folder or comma list (as --data).")] = None,
    data_opt: Annotated[Optional[str], typer.Option("--data", rich_help_panel=flags.DATA, show_default="PATH|NAME",
                                                    help="Same as PATH|NAME, "
                                                    "for symmetry with the other commands.")] = None,
    label_column: flags.LabelColumn = None,
    flatten: flags.Flatten = False,
    val_fraction: flags.ValFraction = 0.2,
    max_samples: flags.MaxSamples = None,
    preprocess: flags.Preprocess = "standardize",
    seed: Annotated[int, typer.Option("--seed", min=0, metavar="<int>", rich_help_panel=flags.DATA,
                                      help="Seed for the split.")] = 0,
    json_out: flags.Json = False,
    quiet: flags.Quiet = False,
) -> None:
    """Inspect a data set: samples, features, classes with counts, value ranges, NaN/inf, duplicated rows."""
    from hpsearch.data import dataset, split
    from hpsearch.data.summary import summarize
    from hpsearch.errors import ConfigError, DataError

    if spec and data_opt and spec != data_opt:
        raise ConfigError(f"two data sets given: {spec} and --data {data_opt}", "give one")
    spec = spec or data_opt
    if not spec:
        raise ConfigError("no data set given", "e.g. hpsearch data digits, or hpsearch data path/to/mnist/")
    ds = dataset.load(spec, label_column, flatten=flatten, check=False)
    with flags.naming_flags(DataError):
        if preprocess == "center-channel":
            split.channel_means(ds.X[:1].mean(axis=0), ds)  # same error as training would give
        tr, va = split.split_indices(ds.y, val_fraction, seed, max_samples) if ds.num_classes > 1 else (None, None)
    summary = summarize(ds, tr, va)
    summary["settings"] = {"val_fraction": val_fraction, "max_samples": max_samples, "preprocess": preprocess,
                           "seed": seed, "flatten": flatten}
    if json_out:
        emit_json(summary)
    if not quiet:
        from hpsearch.report.data import data_report

        console(json_out).print(data_report(summary))
    if not summary["usable"]:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    command.register(app, "data", data, epilog="Example: hpsearch data ./mnist --max-samples 10000 --json   "
                     "(also: X.npy,y.npy; cifar-10-batches-bin/)")
