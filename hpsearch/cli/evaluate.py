"""`hpsearch evaluate MODEL... --data PATH`: accuracy, per-class accuracy and the confusion matrix of one model or
of an ensemble (the mean of the members' probabilities, and each member alone), on test data the search never saw."""

from __future__ import annotations

from typing import Annotated

import typer

from hpsearch.cli import command, flags
from hpsearch.cli.output import console, emit_json

Models = Annotated[list[str], typer.Argument(help="Model files, or folders of them (an ensemble when several).")]
Data = Annotated[str, typer.Option("--data", rich_help_panel=flags.DATA, help="Test data: a file, or a folder "
                                   "whose test files are used (MNIST t10k-*, CIFAR-10 test_batch.bin).")]


def evaluate(
    models: Models,
    data: Data,
    label_column: flags.LabelColumn = None,
    flatten: flags.Flatten = False,
    json_out: flags.Json = False,
    quiet: flags.Quiet = False,
) -> None:
    """Evaluate saved models on test data: accuracy, per-class accuracy, confusion matrix; an ensemble of
    several models averages their softmax probabilities and each member is also scored alone."""
    import numpy as np

    from hpsearch.cli import models as model_files

    loaded = model_files.load_models(models)
    X, y = model_files.load_data(data, label_column, flatten, loaded)
    proba, each = model_files.ensemble_proba(loaded, X)
    pred = proba.argmax(axis=1)
    classes = list(loaded[0].classes)
    C = len(classes)
    confusion = np.zeros((C, C), dtype=np.int64)
    np.add.at(confusion, (y, pred), 1)
    per_class = {str(c): (float(confusion[i, i] / confusion[i].sum()) if confusion[i].sum() else None)
                 for i, c in enumerate(classes)}
    members = [{"model": m.path, "accuracy": float((p.argmax(axis=1) == y).mean())} for m, p in zip(loaded, each)]
    doc = {"accuracy": float((pred == y).mean()), "samples": int(y.size), "models": [m.path for m in loaded],
           "data": data, "per_class": per_class, "confusion": {"labels": classes, "matrix": confusion.tolist()},
           "members": members}
    if not quiet:
        from hpsearch.report.evaluate import evaluation

        console(json_out).print(evaluation(doc))
    if json_out:
        emit_json(doc)


def register(app: typer.Typer) -> None:
    command.register(app, "evaluate", evaluate, epilog="Example: hpsearch evaluate models/ --data test.npz --json")
