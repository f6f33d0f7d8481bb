"""Data: load a built-in set or a user file, validate it, split it (stratified) and standardize it.

Everything downstream sees a `Split`: float arrays, integer labels 0..C-1, statistics fitted on the
training part only.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hpsearch.datasets import BUILTIN, load_builtin
from hpsearch.datasets.files import LOADERS, load_file
from hpsearch.errors import DataError


@dataclass(frozen=True)
class Dataset:
    X: np.ndarray  # (N, D) features as read (any real dtype)
    y: np.ndarray  # (N,) int64 labels remapped to 0..C-1
    classes: tuple  # original label of each class index
    name: str  # built-in name or file path, for messages and results
    fingerprint: str = field(default="")  # sha256 prefix of X and y: ties results to their data

    @property
    def num_classes(self) -> int:
        return len(self.classes)


@dataclass(frozen=True)
class Split:
    X_train: np.ndarray  # (N_train, D) standardized
    y_train: np.ndarray  # (N_train,)
    X_val: np.ndarray  # (N_val, D) standardized with the training statistics
    y_val: np.ndarray  # (N_val,)
    num_classes: int
    name: str
    fingerprint: str
    mean: np.ndarray | None = None  # (D,) training-split feature means subtracted from every split
    std: np.ndarray | None = None  # (D,) training-split feature stds divided out (1 for constant features)

    @property
    def num_features(self) -> int:
        return self.X_train.shape[1]


def load(spec: str, label_column: str | None = None) -> Dataset:
    """`spec` is a built-in name (digits, spiral) or a path to a data file."""
    if spec in BUILTIN:
        X, y = load_builtin(spec)
        return make_dataset(X, y, spec)
    path = Path(spec)
    if not path.exists():
        raise DataError(
            f"--data {spec}: no such file or built-in data set",
            f"use one of {', '.join(BUILTIN)} or a path to a {'/'.join(LOADERS)} file",
        )
    X, y = load_file(path, label_column)
    return make_dataset(X, y, str(path))


def make_dataset(X: np.ndarray, y: np.ndarray, name: str) -> Dataset:
    """Validate raw arrays and remap the labels to 0..C-1."""
    X = np.asarray(X)
    y = np.asarray(y)
    if X.ndim != 2:
        raise DataError(f"{name}: X must be 2-D (samples, features), got shape {X.shape}", "flatten each sample into one row")
    if not (np.issubdtype(X.dtype, np.number) or X.dtype == np.bool_):
        raise DataError(f"{name}: X must be numeric, got dtype {X.dtype}", "convert features to numbers")
    if y.ndim != 1 or y.shape[0] != X.shape[0]:
        raise DataError(f"{name}: y must be 1-D with one label per row of X, got X {X.shape} and y {y.shape}",
                        "give exactly one label per sample")
    if X.shape[0] == 0:
        raise DataError(f"{name}: no samples", "provide a non-empty data set")
    if np.issubdtype(X.dtype, np.floating):
        bad = ~np.isfinite(X)
        if bad.any():
            n_nan = int(np.isnan(X).sum())
            n_inf = int(bad.sum()) - n_nan
            row = int(np.argwhere(bad)[0][0])
            raise DataError(f"{name}: X holds {n_nan} NaN and {n_inf} inf values (first in row {row})",
                            "impute or drop those rows before searching")
    y_int = labels_as_int(y, name)
    classes, y_idx = np.unique(y_int, return_inverse=True)
    if classes.size < 2:
        raise DataError(f"{name}: only one class ({classes[0]}) in the labels", "a classifier needs at least two classes")
    return Dataset(X=X, y=y_idx.astype(np.int64), classes=tuple(int(c) for c in classes), name=name,
                   fingerprint=fingerprint(X, y_idx))


def labels_as_int(y: np.ndarray, name: str) -> np.ndarray:
    if np.issubdtype(y.dtype, np.integer) or y.dtype == np.bool_:
        return y.astype(np.int64)
    if np.issubdtype(y.dtype, np.floating):
        ok = np.isfinite(y) & (y == np.round(y))
        if ok.all():
            return y.astype(np.int64)
        bad = y[~ok][0]
        raise DataError(f"{name}: labels must be integers, got {bad!r}", "encode classes as 0..C-1")
    raise DataError(f"{name}: labels must be integers, got dtype {y.dtype}", "encode classes as 0..C-1")


def fingerprint(X: np.ndarray, y: np.ndarray) -> str:
    h = hashlib.sha256()
    h.update(str((X.shape, X.dtype.str)).encode())
    h.update(np.ascontiguousarray(X).data)
    h.update(np.ascontiguousarray(y, dtype=np.int64).data)
    return h.hexdigest()[:16]


def stratified_indices(y: np.ndarray, val_fraction: float, rng: np.random.Generator):
    """Train and validation indices with each class split in the same proportion (at least one each)."""
    train, val = [], []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        idx = idx[rng.permutation(idx.size)]
        n_val = int(round(val_fraction * idx.size))
        if idx.size >= 2:
            n_val = min(max(n_val, 1), idx.size - 1)
        else:
            n_val = 0
        val.append(idx[:n_val])
        train.append(idx[n_val:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(val))


def split(ds: Dataset, val_fraction: float = 0.2, seed: int = 0, dtype: str = "float32") -> Split:
    """Stratified train/validation split from `seed`; standardization fitted on the training split."""
    if not 0 < val_fraction < 1:
        raise DataError(f"val_fraction must be in (0, 1), got {val_fraction}", "e.g. 0.2", key="val_fraction")
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x5B1D]))
    tr, va = stratified_indices(ds.y, val_fraction, rng)
    if va.size == 0:
        raise DataError(f"{ds.name}: too few samples for a validation split", "add data or raise --val-fraction")
    X_tr = ds.X[tr].astype(dtype)
    X_va = ds.X[va].astype(dtype)
    mean = X_tr.mean(axis=0, dtype=np.float64)
    std = X_tr.std(axis=0, dtype=np.float64)
    std[std < 1e-8] = 1.0  # constant features (digits' blank border pixels) stay at 0
    X_tr = ((X_tr - mean) / std).astype(dtype)
    X_va = ((X_va - mean) / std).astype(dtype)
    return Split(X_tr, ds.y[tr], X_va, ds.y[va], ds.num_classes, ds.name, ds.fingerprint, mean, std)
