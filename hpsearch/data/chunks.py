"""Whole-array work done a block of rows at a time, so a memory-mapped X is never copied whole.

A block is about CHUNK_BYTES of float64 (16 MB): temporaries stay that small whatever N is.
"""

from __future__ import annotations

import hashlib
from typing import Iterator

import numpy as np

CHUNK_BYTES = 1 << 24


def step(X: np.ndarray) -> int:
    """Rows per block for X (N, D)."""
    return max(1, CHUNK_BYTES // (8 * max(1, int(np.prod(X.shape[1:], dtype=np.int64)))))


def blocks(X: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
    """(first row, X[first:first + step]) over X's rows; views, not copies."""
    k = step(X)
    for i in range(0, X.shape[0], k):
        yield i, X[i:i + k]


def sha256(X: np.ndarray, y: np.ndarray) -> str:
    """sha256 of shape, dtype and C-order bytes of X, then y as int64; the same digest as hashing one copy."""
    h = hashlib.sha256()
    h.update(str((X.shape, X.dtype.str)).encode())
    for _, b in blocks(X):
        h.update(np.ascontiguousarray(b).data)
    h.update(np.ascontiguousarray(y, dtype=np.int64).data)
    return h.hexdigest()[:16]


def nonfinite(X: np.ndarray) -> tuple[int, int, int | None]:
    """(NaN count, inf count, first row holding either); zeros for integer X."""
    if not np.issubdtype(X.dtype, np.floating):
        return 0, 0, None
    n_nan = n_inf = 0
    first = None
    for i, b in blocks(X):
        bad = ~np.isfinite(b)
        if bad.any():
            nan = int(np.isnan(b).sum())
            n_nan += nan
            n_inf += int(bad.sum()) - nan
            if first is None:
                first = i + int(np.argwhere(bad)[0][0])
    return n_nan, n_inf, first


def gather(X: np.ndarray, rows: np.ndarray, dtype, moments: bool = False, out: np.ndarray | None = None):
    """X[rows] as a new (len(rows), D) array of `dtype`, filled block by block (the only full-size allocation).

    `out`: fill this (len(rows), D) array of `dtype` instead (e.g. a memory-mapped file other processes share).

    With `moments`, also the per-feature mean and population variance (float64, (D,)) of the gathered rows,
    merged block by block (Chan et al.), so no float64 copy of the whole array is ever made.
    Returns (out, mean, var); mean and var are None without `moments`.
    """
    if out is None:
        out = np.empty((rows.size, X.shape[1]), dtype=dtype)
    elif out.shape != (rows.size, X.shape[1]) or out.dtype != np.dtype(dtype):
        raise ValueError(f"gather: out is {out.shape} {out.dtype}, need {(rows.size, X.shape[1])} {np.dtype(dtype)}")
    mean = var = None
    if moments:
        n, mean, m2 = 0, np.zeros(X.shape[1]), np.zeros(X.shape[1])
    k = step(X)
    for i in range(0, rows.size, k):
        blk = out[i:i + k]
        blk[...] = X[rows[i:i + k]]
        if moments:
            c = blk.astype(np.float64)
            nb = c.shape[0]
            mb = c.mean(axis=0)
            c -= mb
            m2b = np.einsum("ij,ij->j", c, c)
            delta = mb - mean
            tot = n + nb
            mean += delta * (nb / tot)
            m2 += m2b + delta * delta * (n * nb / tot)
            n = tot
    if moments:
        var = m2 / max(n, 1)
    return out, mean, var


def transform(A: np.ndarray, mean: np.ndarray, std: np.ndarray) -> None:
    """A = (A - mean) / std in place, computed in float64 block by block (as one float64 pass would round)."""
    for _, b in blocks(A):
        b[...] = (b - mean) / std
