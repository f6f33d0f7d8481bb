"""Data: load a built-in set or a user file, validate it, split it (stratified) and preprocess it.

Everything downstream sees a `Split`: float arrays, integer labels 0..C-1, statistics fitted on the
training part only. A memory-mapped X is read block by block and copied once, into the split's arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from hpsearch.datasets import BUILTIN, chunks, load_builtin
from hpsearch.datasets.files import FORMATS, read
from hpsearch.errors import DataError

PREPROCESS = ("standardize", "center", "center-channel", "none")
PIXEL_SCALE = 1 / 255  # uint8 X is taken as pixels and scaled to [0, 1] before preprocessing

# Allocator for split(): {"X_train": (shape, dtype), "X_val": (shape, dtype)} -> {name: empty array}, asked once
# for both so it can place them together (hpsearch/shared_split.py: memory-mapped files other processes share).
Alloc = Callable[[dict], dict]


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


@dataclass(frozen=True)
class Split:
    X_train: np.ndarray  # (N_train, D) preprocessed: (raw - mean) / std
    y_train: np.ndarray  # (N_train,)
    X_val: np.ndarray  # (N_val, D) preprocessed with the training statistics
    y_val: np.ndarray  # (N_val,)
    num_classes: int
    name: str
    fingerprint: str
    mean: np.ndarray | None = None  # (D,) subtracted from raw features (training-split statistics; 0 for none)
    std: np.ndarray | None = None  # (D,) divided out after it (1 for constant features; 255 for unit-scaled pixels)
    preprocess: str = "standardize"  # which of PREPROCESS produced mean and std
    max_samples: int | None = None  # size of the stratified subset the split was drawn from (None: all samples)

    @property
    def num_features(self) -> int:
        return self.X_train.shape[1]

    def info(self) -> dict:
        """What results files record about the data."""
        return {"name": self.name, "fingerprint": self.fingerprint, "train_samples": int(self.X_train.shape[0]),
                "val_samples": int(self.X_val.shape[0]), "features": self.num_features,
                "preprocess": self.preprocess, "max_samples": self.max_samples}


def load(spec: str, label_column: str | None = None, *, flatten: bool = False, check: bool = True) -> Dataset:
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
    raw = read(spec, label_column)
    X, image_shape, channel_axis = raw.X, None, None
    if X.ndim > 2:
        if not (flatten or raw.image):
            raise DataError(f"{spec}: X has shape {X.shape}, {X.ndim - 1}-D samples (images?)",
                            "pass --flatten to use each sample's values as one feature vector")
        image_shape = tuple(int(d) for d in X.shape[1:])
        channel_axis = raw.channel_axis if raw.channel_axis is not None else guess_channel_axis(image_shape)
        X = X.reshape(X.shape[0], int(np.prod(image_shape)))  # a view for C-ordered X (a memmap stays one)
    return make_dataset(X, raw.y, spec, image_shape=image_shape, channel_axis=channel_axis, files=raw.files,
                        label_names=raw.label_names, check=check)


def guess_channel_axis(image_shape: tuple[int, ...]) -> int | None:
    """(H, W) is grey; (H, W, C) channels last unless only the first axis looks like channels (C, H, W)."""
    if len(image_shape) != 3:
        return None
    looks = (1, 2, 3, 4)
    return 0 if image_shape[0] in looks and image_shape[2] not in looks else 2


def make_dataset(X: np.ndarray, y: np.ndarray, name: str, *, image_shape=None, channel_axis=None, files=(),
                 label_names=None, check: bool = True) -> Dataset:
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
    return Dataset(X=X, y=y_idx.astype(np.int64), classes=tuple(int(c) for c in classes), name=name,
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


def subset_quota(counts: np.ndarray, max_samples: int) -> np.ndarray:
    """Samples per class for a stratified subset of `max_samples`: proportional (largest remainder), and at
    least min(count, 2) per class so every class keeps a training and a validation sample."""
    floor_ = np.minimum(counts, 2)
    if max_samples < floor_.sum():
        raise DataError(f"max_samples must be at least {int(floor_.sum())} (2 per class), got {max_samples}",
                        "raise --max-samples", key="max_samples")
    exact = max_samples * counts / counts.sum()
    q = np.floor(exact).astype(np.int64)
    order = np.argsort(-(exact - q), kind="stable")
    q[order[:max_samples - int(q.sum())]] += 1
    while (short := np.flatnonzero(q < floor_)).size:
        rich = np.argmax(np.where(q > floor_, q, -1))
        q[short[0]] += 1
        q[rich] -= 1
    return q


def split_indices(y: np.ndarray, val_fraction: float = 0.2, seed: int = 0, max_samples: int | None = None):
    """(train rows, validation rows) into X: a stratified split of all rows, or of a stratified random subset
    of `max_samples` rows. Without max_samples the split is the one earlier versions drew from the same seed."""
    if not 0 < val_fraction < 1:
        raise DataError(f"val_fraction must be in (0, 1), got {val_fraction}", "e.g. 0.2", key="val_fraction")
    rows = np.arange(y.size)
    if max_samples is not None and max_samples < y.size:
        pick = np.random.default_rng(np.random.SeedSequence([seed, 0x5B1E]))
        counts = np.bincount(y)
        quota = subset_quota(counts[counts > 0], max_samples)
        parts = [pick.permutation(np.flatnonzero(y == c))[:q] for c, q in zip(np.flatnonzero(counts), quota)]
        rows = np.sort(np.concatenate(parts))
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x5B1D]))
    tr, va = stratified_indices(y[rows], val_fraction, rng)
    return rows[tr], rows[va]


def split(ds: Dataset, val_fraction: float = 0.2, seed: int = 0, dtype: str = "float32", *,
          max_samples: int | None = None, preprocess: str = "standardize", alloc: Alloc | None = None) -> Split:
    """Stratified train/validation split from `seed`; preprocessing fitted on the training split.

    preprocess: standardize (per-feature mean and std), center (per-feature mean: the mean image),
    center-channel (one mean per colour channel), none. uint8 X is scaled to [0, 1] first (folded into std).
    Memory: the two output arrays are the only full-size allocations; X is read block by block. `alloc`
    (see Alloc) provides them, filled in place (default: np.empty).
    """
    if preprocess not in PREPROCESS:
        raise DataError(f"preprocess must be one of {', '.join(PREPROCESS)}, got {preprocess!r}",
                        "standardize is the default", key="preprocess")
    tr, va = split_indices(ds.y, val_fraction, seed, max_samples)
    if va.size == 0:
        raise DataError(f"{ds.name}: too few samples for a validation split", "add data or raise --val-fraction")
    scale = PIXEL_SCALE if ds.X.dtype == np.uint8 else 1.0
    D = ds.X.shape[1]
    shapes = {"X_train": ((tr.size, D), np.dtype(dtype)), "X_val": ((va.size, D), np.dtype(dtype))}
    outs = alloc(shapes) if alloc is not None else {k: np.empty(s, t) for k, (s, t) in shapes.items()}
    X_tr, mean_raw, var_raw = chunks.gather(ds.X, tr, dtype, moments=preprocess != "none", out=outs["X_train"])
    X_va, _, _ = chunks.gather(ds.X, va, dtype, out=outs["X_val"])
    std = np.full(D, 1 / scale)
    if preprocess == "none":
        mean = np.zeros(D)
    elif preprocess == "center-channel":
        mean = channel_means(mean_raw, ds)
    else:
        mean = mean_raw
    if preprocess == "standardize":
        std = np.sqrt(var_raw)
        std[std * scale < 1e-8] = 1 / scale  # constant features (digits' blank border pixels) stay at 0
    if preprocess != "none" or scale != 1.0:
        chunks.transform(X_tr, mean, std)
        chunks.transform(X_va, mean, std)
    return Split(X_tr, ds.y[tr], X_va, ds.y[va], ds.num_classes, ds.name, ds.fingerprint, mean, std,
                 preprocess, max_samples if max_samples is not None and max_samples < ds.y.size else None)


def channel_means(mean: np.ndarray, ds: Dataset) -> np.ndarray:
    """(D,) per-feature means averaged within each colour channel (over all of it for grey images)."""
    if ds.image_shape is None:
        raise DataError(f"{ds.name}: preprocess center-channel needs image data, X is plain (N, D) features",
                        "use center (per-feature means), or give images (N, H, W[, C]) with --flatten",
                        key="preprocess")
    img = mean.reshape(ds.image_shape)
    axes = tuple(a for a in range(img.ndim) if a != ds.channel_axis)
    return np.broadcast_to(img.mean(axis=axes, keepdims=True), img.shape).ravel().copy()
