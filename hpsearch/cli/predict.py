"""`hpsearch predict MODEL... --data PATH`: predicted labels (as in the training data) and probabilities, as CSV."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from hpsearch.cli import command, flags
from hpsearch.cli.evaluate import Data, Models


def predict(
    models: Models,
    data: Data,
    label_column: flags.LabelColumn = None,
    flatten: flags.Flatten = False,
    out: Annotated[Optional[str], typer.Option("--out", rich_help_panel=flags.OUTPUT, show_default="stdout",
                                               help="CSV file to write.")] = None,
) -> None:
    """Predict with saved models (an ensemble when several): one CSV row per sample (row, label, p_<class> per class)."""
    import csv
    import io
    import sys

    from hpsearch.cli import models as model_files
    from hpsearch.errors import OutputError

    loaded = model_files.load_models(models)
    X, _ = model_files.load_data(data, label_column, flatten, loaded, labels=False)
    proba, _ = model_files.ensemble_proba(loaded, X)
    classes = list(loaded[0].classes)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["row", "label", *(f"p_{c}" for c in classes)])
    for i, (k, p) in enumerate(zip(proba.argmax(axis=1), proba)):
        w.writerow([i, classes[k], *(f"{v:.6g}" for v in p)])
    if out is None:
        sys.stdout.write(buf.getvalue())
        return
    import os
    import stat

    from hpsearch.config.files import write_atomic

    try:
        st = os.lstat(out) if os.path.lexists(out) else None
        if st is None or stat.S_ISREG(st.st_mode):  # a regular file: replaced whole or not at all
            write_atomic(out, lambda f: f.write(buf.getvalue()))
        else:  # a link, a device, a FIFO (/dev/stdout, >(gzip ...)): written into, never replaced
            with open(out, "w", newline="") as f:
                f.write(buf.getvalue())
    except OSError as e:
        raise OutputError(f"--out {out}: cannot write ({e.strerror})", "choose a writable path") from None


def register(app: typer.Typer) -> None:
    command.register(app, "predict", predict,
                     epilog="Example: hpsearch predict models/ --data new.csv --out predictions.csv")
