"""A pair of .npy files: features X (N, D) or images (N, H, W[, C]) and labels y (N,).

X is opened memory-mapped (mmap_mode='r'): nothing is read until used, and the split copies only the rows it
needs, once. Pickle is never loaded (allow_pickle=False); a file without the NumPy header is refused up front
(np.load would otherwise take it for a pickle).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from hpsearch.data.formats.common import NPY_MAGIC, Raw, check_exists, head, is_pickle, refuse_pickle
from hpsearch.errors import DataError

SAVE_HINT = "save with np.save('X.npy', X) and np.save('y.npy', y)"


def open_npy(path: Path, mmap: bool) -> np.ndarray:
    """One .npy array; memory-mapped read-only when `mmap` (and the array is not empty)."""
    check_exists(path)
    start = head(path, 6)
    if start != NPY_MAGIC:
        if is_pickle(start):
            raise refuse_pickle(path)
        raise DataError(f"{path}: not a .npy file (no NumPy header)", SAVE_HINT)
    try:
        arr = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except ValueError as e:
        msg = str(e)
        if "pickle" in msg.lower() or "object" in msg.lower():
            raise DataError(f"{path}: holds Python objects, which need pickle (never loaded here)",
                            "save a plain numeric array") from None
        if "mmap length" in msg or "cannot reshape" in msg or "larger than" in msg:
            raise DataError(f"{path}: truncated .npy file ({msg})", "save it again") from None
        if "empty file" in msg and mmap:
            return np.load(path, allow_pickle=False)
        raise DataError(f"{path}: not a readable .npy file ({msg})", SAVE_HINT) from None
    except (OSError, EOFError) as e:
        raise DataError(f"{path}: not a readable .npy file ({e})", SAVE_HINT) from None
    return arr


def load_pair(x_path: Path, y_path: Path) -> Raw:
    """X and y in either order (the 1-D one is y); y is read into memory, X stays mapped."""
    X = open_npy(x_path, mmap=True)
    y = open_npy(y_path, mmap=True)
    if X.ndim == 1 and y.ndim >= 2:
        (x_path, X), (y_path, y) = (y_path, y), (x_path, X)
    y = np.array(y)
    if X.ndim == 0 or y.ndim != 1:
        raise DataError(f"{y_path}: labels must be 1-D, got shape {y.shape}" if X.ndim else
                        f"{x_path}: X must have one row per sample, got a scalar", SAVE_HINT)
    if X.shape[0] != y.shape[0]:
        raise DataError(f"{x_path} has {X.shape[0]:,} rows but {y_path} has {y.shape[0]:,} labels",
                        "X and y need one label per sample, in the same order")
    return Raw(X, y, files=(str(x_path), str(y_path)))


# X file stem -> labels file stem: X.npy -> y.npy, X_train -> y_train, train_x -> train_y, images -> labels
_X_TOKEN = re.compile(r"(?<![A-Za-z0-9])([Xx])(?![A-Za-z0-9])")
_NAMES = {"images": "labels", "features": "labels", "data": "labels", "inputs": "targets"}


def labels_for(x_path: Path) -> Path:
    stem = x_path.stem
    cands = []
    if _X_TOKEN.search(stem):
        cands += [_X_TOKEN.sub(c, stem) for c in ("y", "Y")]
    for a, b in _NAMES.items():
        if a in stem.lower():
            cands.append(re.sub(a, b, stem, flags=re.IGNORECASE))
    tried = [x_path.with_name(c + x_path.suffix) for c in dict.fromkeys(cands)]
    for p in tried:
        if p != x_path and p.is_file():
            return p
    names = ", ".join(p.name for p in tried) or "y.npy"
    raise DataError(f"{x_path}: no labels file next to it (tried {names})", "pass both: --data X.npy,y.npy")


def folder_files(folder: Path) -> list[Path] | None:
    """X.npy and y.npy (either case) in a folder, or None."""
    for xs, ys in (("X.npy", "y.npy"), ("x.npy", "y.npy"), ("X.npy", "Y.npy")):
        if (folder / xs).is_file() and (folder / ys).is_file():
            return [folder / xs, folder / ys]
    return None
