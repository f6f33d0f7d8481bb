"""Readers for user data files, chosen by suffix. Each returns raw (X, y); data.make_dataset validates them.

Pickle is never loaded: np.load always runs with allow_pickle=False.
"""

from __future__ import annotations

import csv
import zipfile
from pathlib import Path

import numpy as np

from hpsearch.errors import DataError


def load_npz(path: Path, label_column: str | None = None):
    """An .npz archive holding arrays `X` (N, D) and `y` (N,)."""
    if not zipfile.is_zipfile(path):
        raise DataError(f"{path}: not a readable .npz file (not a zip archive)", "save with np.savez(path, X=X, y=y)")
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in ("X", "y") if k not in z.files]
            if missing:
                raise DataError(f"{path}: missing array {missing[0]!r} (found {', '.join(z.files) or 'none'})",
                                "save with np.savez(path, X=X, y=y)")
            return z["X"], z["y"]
    except DataError:
        raise
    except ValueError as e:  # object arrays need pickle, which we refuse
        raise DataError(f"{path}: cannot read without pickle ({e})", "save plain numeric arrays with np.savez") from None
    except (OSError, zipfile.BadZipFile, EOFError) as e:
        raise DataError(f"{path}: not a readable .npz file ({e})", "save with np.savez(path, X=X, y=y)") from None


def load_csv(path: Path, label_column: str | None = None):
    """A CSV with a header row; the label column is the last one unless `label_column` names another."""
    try:
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
    except UnicodeDecodeError:
        raise DataError(f"{path}: not a text CSV file", "save the data as UTF-8 CSV with a header row") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror})", "check the path and permissions") from None
    rows = [r for r in rows if r and any(c.strip() for c in r)]
    if len(rows) < 2:
        raise DataError(f"{path}: needs a header row and at least one data row", "add a header like x1,x2,label")
    header = [h.strip() for h in rows[0]]
    if label_column is None:
        li = len(header) - 1
    elif label_column in header:
        li = header.index(label_column)
    else:
        raise DataError(f"{path}: no column {label_column!r} (columns: {', '.join(header)})", "fix --label-column")
    if len(header) < 2:
        raise DataError(f"{path}: needs at least one feature column and a label column", "add feature columns")
    feats = [i for i in range(len(header)) if i != li]
    X = np.empty((len(rows) - 1, len(feats)), dtype=np.float64)
    labels = []
    for r, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise DataError(f"{path}: line {r} has {len(row)} fields, the header has {len(header)}",
                            "every row needs one value per column")
        for j, i in enumerate(feats):
            try:
                X[r - 2, j] = float(row[i])
            except ValueError:
                raise DataError(f"{path}: line {r}, column {header[i]!r}: {row[i]!r} is not a number",
                                "features must be numeric") from None
        labels.append(row[li].strip())
    try:
        y = np.array([float(v) for v in labels])
    except ValueError:
        bad = next(v for v in labels if not _is_float(v))
        raise DataError(f"{path}: labels in column {header[li]!r} must be integers, got {bad!r}",
                        "encode classes as 0..C-1 or pick the label column with --label-column") from None
    return X, y


def _is_float(v: str) -> bool:
    try:
        float(v)
        return True
    except ValueError:
        return False


LOADERS = {".npz": load_npz, ".csv": load_csv}


def load_file(path: Path, label_column: str | None = None):
    loader = LOADERS.get(path.suffix.lower())
    if loader is None:
        raise DataError(f"{path}: unsupported file type {path.suffix!r}", f"use one of {', '.join(LOADERS)}")
    return loader(path, label_column)
