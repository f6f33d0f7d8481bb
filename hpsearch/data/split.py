"""The split: stratified train/validation rows (optionally of a stratified subset), preprocessing fitted on
the training part, X copied once, block by block, into the split's float arrays.

Everything downstream sees a `Split`: float arrays, integer labels 0..C-1, statistics fitted on the
training part only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from hpsearch.config.data import PREPROCESS, DataSpec
from hpsearch.data import chunks
from hpsearch.data.dataset import Dataset, load
from hpsearch.errors import DataError

PIXEL_SCALE = 1 / 255  # uint8 X is taken as pixels and scaled to [0, 1] before preprocessing

# Allocator for split(): {"X_train": (shape, dtype), "X_val": (shape, dtype)} -> {name: empty array}, asked once
# for both so it can place them together (data/shared_split.py: memory-mapped files other processes share).
Alloc = Callable[[dict], dict]


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
    classes: tuple = ()  # the original label of each class index (CSV names, digits 0-9, ...)

    @property
    def num_features(self) -> int:
        return self.X_train.shape[1]

    def info(self) -> dict:
        """What results files record about the data."""
        return {"name": self.name, "fingerprint": self.fingerprint, "train_samples": int(self.X_train.shape[0]),
                "val_samples": int(self.X_val.shape[0]), "features": self.num_features,
                "preprocess": self.preprocess, "max_samples": self.max_samples}


def stratified_indices(y: np.ndarray, val_fraction: float, rng: np.random.Generator):
    """Train and validation indices with each class split in the same proportion (at least one each)."""
    train, val = [], []
    for c in np.unique(y, return_counts=True)[0]:  # (with counts, numpy 2.4 skips importing numpy.ma: 7 ms)
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
          max_samples: int | None = None, preprocess: str = "standardize", alloc: Alloc | None = None,
          final: bool = False) -> Split:
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
    if final:  # the validation split has done its job: train on every row, validate on none
        tr, va = np.sort(np.concatenate([tr, va])), va[:0]
    elif va.size == 0:
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
                 preprocess, max_samples if max_samples is not None and max_samples < ds.y.size else None,
                 tuple(ds.classes))


def channel_means(mean: np.ndarray, ds: Dataset) -> np.ndarray:
    """(D,) per-feature means averaged within each colour channel (over all of it for grey images)."""
    if ds.image_shape is None:
        raise DataError(f"{ds.name}: preprocess center-channel needs image data, X is plain (N, D) features",
                        "use center (per-feature means), or give images (N, H, W[, C]) with --flatten",
                        key="preprocess")
    img = mean.reshape(ds.image_shape)
    axes = tuple(a for a in range(img.ndim) if a != ds.channel_axis)
    return np.broadcast_to(img.mean(axis=axes, keepdims=True), img.shape).ravel().copy()


def load_split(spec: DataSpec, dtype: str | None = "float32", alloc: Alloc | None = None,
               final: bool = False) -> Split:
    """Load what `spec` names and split it as it says; `alloc`: where the split's arrays go (see Alloc);
    `final`: every row of the split (training and validation) for training, none for validation."""
    ds = load(spec.spec, spec.label_column, flatten=spec.flatten)
    return split(ds, spec.val_fraction, spec.split_seed, dtype or "float32", max_samples=spec.max_samples,
                 preprocess=spec.preprocess, alloc=alloc, final=final)
