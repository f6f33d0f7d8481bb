"""Writers of data files in each format the loader reads (MNIST IDX, CIFAR-10 binary, .npy pairs), byte by byte
from the format's definition: shared by tests/data/test_formats.py and tests/cli/test_data_command.py
(tests/ is on sys.path under pytest: `from datafiles import write_idx, ...`)."""

import gzip
import struct

import numpy as np


def idx_bytes(arr: np.ndarray, code: int = 0x08) -> bytes:
    """An IDX file: magic (0, 0, type, ndim), big-endian uint32 dims, big-endian values."""
    big = arr.astype(arr.dtype.newbyteorder(">")) if arr.dtype.itemsize > 1 else arr
    return bytes([0, 0, code, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape) + big.tobytes()


def write_idx(folder, X, y, prefix="train", gz=False):
    suffix = ".gz" if gz else ""
    ip = folder / f"{prefix}-images-idx3-ubyte{suffix}"
    lp = folder / f"{prefix}-labels-idx1-ubyte{suffix}"
    for p, a, code in ((ip, X, 0x08), (lp, y, 0x08)):
        raw = idx_bytes(a, code)
        p.write_bytes(gzip.compress(raw) if gz else raw)
    return ip, lp


def mnist_like(n=60, h=7, w=5, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, h, w), dtype=np.uint8), np.arange(n, dtype=np.uint8) % 10


def cifar_records(y, pixels):
    """CIFAR-10 binary records: one label byte then 3,072 pixel bytes each."""
    return np.column_stack([np.asarray(y, np.uint8), pixels]).tobytes()


def cifar_like(n, seed=0):
    rng = np.random.default_rng(seed)
    return np.arange(n, dtype=np.uint8) % 10, rng.integers(0, 256, (n, 3072), dtype=np.uint8)


def write_npy_pair(folder, X, y, xname="X.npy", yname="y.npy"):
    np.save(folder / xname, X)
    np.save(folder / yname, y)
    return folder / xname, folder / yname
