"""What `hpsearch data` reports about a Dataset: sizes, classes, value ranges, NaN/inf, duplicates, balance.

One pass over X block by block (a memmap is read, never copied); rows are hashed one by one for duplicates.
The result is a plain dict, ready for JSON (no NaN: missing values are None).
"""

from __future__ import annotations

import hashlib
import math
import warnings

import numpy as np

from hpsearch.data import chunks

IMBALANCE_WARN = 3.0  # largest class / smallest class above this: accuracy alone can mislead


def _num(v):
    """A JSON-safe number: int stays int, non-finite floats become None."""
    if v is None:
        return None
    if isinstance(v, (int, np.integer)):
        return int(v)
    v = float(v)
    return v if math.isfinite(v) else None


def value_stats(X: np.ndarray) -> dict:
    """Min, max, mean, std of the finite values; NaN and inf counts; features constant over all rows."""
    n_nan = n_inf = count = 0
    mean = m2 = 0.0
    fmin = fmax = None
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
        for _, b in chunks.blocks(X):
            vals = b.astype(np.float64)  # a copy of one block (X may be a read-only map)
            finite = np.isfinite(vals)
            if not finite.all():
                nan = int(np.isnan(vals).sum())
                n_nan += nan
                n_inf += int((~finite).sum()) - nan
                vals[~finite] = np.nan
            bmin, bmax = np.nanmin(vals, axis=0), np.nanmax(vals, axis=0)
            fmin = bmin if fmin is None else np.fmin(fmin, bmin)
            fmax = bmax if fmax is None else np.fmax(fmax, bmax)
            nb = int(finite.sum())
            if nb:
                mb = float(np.nansum(vals)) / nb
                vals -= mb
                m2b = float(np.nansum(vals * vals))
                delta, tot = mb - mean, count + nb
                mean += delta * nb / tot
                m2 += m2b + delta * delta * count * nb / tot
                count = tot
        vmin = float(np.nanmin(fmin)) if count else None
        vmax = float(np.nanmax(fmax)) if count else None
    constant = int(np.count_nonzero(fmin == fmax)) if fmin is not None else 0
    return {"min": _num(vmin), "max": _num(vmax), "mean": _num(mean) if count else None,
            "std": _num(math.sqrt(m2 / count)) if count else None,
            "nan": n_nan, "inf": n_inf, "constant_features": constant}


def duplicates(X: np.ndarray, y: np.ndarray) -> dict:
    """Rows equal (byte for byte) to an earlier row, and how many of those carry a different label."""
    seen: dict[bytes, int] = {}
    dup = conflict = 0
    for i, b in chunks.blocks(X):
        b = np.ascontiguousarray(b)
        for r in range(b.shape[0]):
            key = hashlib.blake2b(b[r], digest_size=16).digest()
            first = seen.setdefault(key, i + r)
            if first != i + r:
                dup += 1
                conflict += int(y[first] != y[i + r])
    return {"duplicated_rows": dup, "conflicting_labels": conflict}


def summarize(ds, train_rows: np.ndarray | None = None, val_rows: np.ndarray | None = None) -> dict:
    """The report for a Dataset (see data.Dataset); with split rows, the train/validation sizes too."""
    X, y = ds.X, ds.y
    counts = np.bincount(y, minlength=ds.num_classes)
    classes = [{"label": lab, "name": ds.label_names[i] if ds.label_names else None, "count": int(c),
                "fraction": round(float(c) / y.size, 6)} for i, (lab, c) in enumerate(zip(ds.classes, counts))]
    ratio = float(counts.max() / counts.min()) if counts.min() > 0 else None
    values = value_stats(X)
    dups = duplicates(X, y)
    problems, warnings = [], []
    if values["nan"] or values["inf"]:
        problems.append(f"X holds {values['nan']} NaN and {values['inf']} inf values: impute or drop those rows")
    if ds.num_classes < 2:
        problems.append("only one class: a classifier needs at least two")
    if val_rows is not None and val_rows.size == 0:
        problems.append("too few samples for a validation split: add data or raise --val-fraction")
    if dups["conflicting_labels"]:
        warnings.append(f"{dups['conflicting_labels']} duplicated rows carry a different label than their first copy")
    if ratio is not None and ratio > IMBALANCE_WARN:
        warnings.append(f"classes are imbalanced (largest/smallest = {ratio:.1f}): accuracy alone can mislead")
    if values["constant_features"]:
        warnings.append(f"{values['constant_features']} features are constant (they carry no information)")
    out = {
        "name": ds.name, "files": list(ds.files), "fingerprint": ds.fingerprint,
        "samples": int(X.shape[0]), "features": int(X.shape[1]), "dtype": X.dtype.name,
        "image_shape": list(ds.image_shape) if ds.image_shape else None,
        "memory_mapped": isinstance(X, np.memmap),
        "bytes": int(X.nbytes), "float32_bytes": int(X.shape[0]) * int(X.shape[1]) * 4,
        "pixels_scaled": X.dtype == np.uint8,
        "num_classes": ds.num_classes, "classes": classes,
        "balance": {"smallest": int(counts.min()), "largest": int(counts.max()),
                    "ratio": round(ratio, 4) if ratio is not None else None},
        "values": values, **dups,
    }
    if train_rows is not None:
        out["split"] = {"train": int(train_rows.size), "val": int(val_rows.size)}
    out["usable"] = not problems
    out["problems"] = problems
    out["warnings"] = warnings
    return out
