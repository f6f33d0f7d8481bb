"""A Dataset: a built-in set or a user file, loaded and validated, labels remapped to 0..C-1, fingerprinted.

X is kept as read (a memory map stays one); data/split.py turns a Dataset into the arrays that train.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hpsearch.config.data import BUILTIN
from hpsearch.data import chunks
from hpsearch.data.builtin import load_builtin
from hpsearch.data.formats.files import FORMATS, read, read_test
from hpsearch.errors import DataError


@dataclass(frozen=True)
class Dataset:
    X: np.ndarray  # (N, D) features as read (any real dtype; may be a read-only np.memmap)
    y: np.ndarray  # (N,) int64 labels remapped to 0..C-1
    classes: tuple  # original label of each class index
    name: str  # built-in name or file path, for messages and results
    fingerprint: str = field(default="")  # sha256 prefix of X and y: ties results to their data
    image_shape: tuple[int, ...] | None = None  # one sample's shape before flattening, e.g. (28, 28), (3, 32, 32)
    channel_axis: int | None = None  # axis of image_shape holding the colour channels (None: grey or not images)
    files: tuple[str, ...] = ()  # files read (a folder expands to its files); () for built-ins
    label_names: tuple[str, ...] | None = None  # class names by class index, when the format has them

    @property
    def num_classes(self) -> int:
        return len(self.classes)


def load(spec: str, label_column: str | None = None, *, flatten: bool = False, check: bool = True,
         test: bool = False) -> Dataset:
    """`spec` is a built-in name (digits, spiral), a file, a folder, or comma-separated files.

    Image arrays (N, H, W[, C]) are flattened to (N, D): always for IDX and CIFAR files, with `flatten` for
    .npy/.npz. `check=False` keeps NaN/inf and single-class data (for `hpsearch data` to report).
    """
    if spec in BUILTIN:
        X, y = load_builtin(spec)
        return make_dataset(X, y, spec, check=check)
    if not Path(spec).exists() and "," not in spec:
        raise DataError(f"--data {spec}: no such file or built-in data set",
                        f"use one of {', '.join(BUILTIN)} or a path: {FORMATS}")
    raw = read_test(spec, label_column) if test else read(spec, label_column)
    X, image_shape, channel_axis = raw.X, None, None
    if X.ndim > 2:
        if not (flatten or raw.image):
            raise DataError(f"{spec}: X has shape {X.shape}, {X.ndim - 1}-D samples (images?)",
                            "pass --flatten to use each sample's values as one feature vector")
        image_shape = tuple(int(d) for d in X.shape[1:])
        channel_axis = raw.channel_axis if raw.channel_axis is not None else guess_channel_axis(image_shape)
        X = X.reshape(X.shape[0], int(np.prod(image_shape)))  # a view for C-ordered X (a memmap stays one)
    return make_dataset(X, raw.y, spec, image_shape=image_shape, channel_axis=channel_axis, files=raw.files,
                        label_names=raw.label_names, check=check, text_labels=raw.text_labels)


def guess_channel_axis(image_shape: tuple[int, ...]) -> int | None:
    """(H, W) is grey; (H, W, C) channels last unless only the first axis looks like channels (C, H, W)."""
    if len(image_shape) != 3:
        return None
    looks = (1, 2, 3, 4)
    return 0 if image_shape[0] in looks and image_shape[2] not in looks else 2


def make_dataset(X: np.ndarray, y: np.ndarray, name: str, *, image_shape=None, channel_axis=None, files=(),
                 label_names=None, check: bool = True, text_labels: tuple[str, ...] | None = None) -> Dataset:
    """Validate raw arrays and remap the labels to 0..C-1. X is kept as given (no copy of a memmap)."""
    if not isinstance(X, np.ndarray):
        X = np.asarray(X)
    y = np.asarray(y)
    if X.ndim != 2:
        raise DataError(f"{name}: X must be 2-D (samples, features), got shape {X.shape}", "flatten each sample into one row")
    if not (np.issubdtype(X.dtype, np.number) or X.dtype == np.bool_) or np.issubdtype(X.dtype, np.complexfloating):
        raise DataError(f"{name}: X must be real numbers, got dtype {X.dtype}", "convert features to numbers")
    if y.ndim != 1 or y.shape[0] != X.shape[0]:
        raise DataError(f"{name}: y must be 1-D with one label per row of X, got X {X.shape} and y {y.shape}",
                        "give exactly one label per sample")
    if X.shape[0] == 0:
        raise DataError(f"{name}: no samples", "provide a non-empty data set")
    if check:
        n_nan, n_inf, row = chunks.nonfinite(X)
        if n_nan or n_inf:
            raise DataError(f"{name}: X holds {n_nan} NaN and {n_inf} inf values (first in row {row})",
                            "impute or drop those rows before searching")
    y_int = labels_as_int(y, name)
    classes, y_idx = np.unique(y_int, return_inverse=True)
    if check and classes.size < 2:
        raise DataError(f"{name}: only one class ({classes[0]}) in the labels", "a classifier needs at least two classes")
    names = None
    if label_names is not None and classes.size and classes[0] >= 0 and classes[-1] < len(label_names):
        names = tuple(label_names[c] for c in classes)
    # the labels as they appear in the data: integers, or the text a CSV gave them (y then indexes text_labels)
    labels = tuple(text_labels[c] for c in classes) if text_labels else tuple(int(c) for c in classes)
    return Dataset(X=X, y=y_idx.astype(np.int64), classes=labels, name=name,
                   fingerprint=fingerprint(X, y_idx), image_shape=image_shape, channel_axis=channel_axis,
                   files=tuple(files), label_names=names)


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
    """sha256 prefix of X (shape, dtype, bytes) and y, hashed block by block: a memmap is never copied."""
    return chunks.sha256(X, y)
