"""MNIST's IDX format (also Fashion-MNIST, KMNIST): an images file and a labels file, plain or gzip-compressed.

An IDX file is a 4-byte magic number (0, 0, type code, number of dimensions), one big-endian uint32 per
dimension, then the values in C order, big-endian. MNIST images: magic 0x00000803, dims (N, 28, 28), uint8;
labels: 0x00000801, dims (N,). Plain files are memory-mapped; gzip files are decompressed once, straight into
a preallocated array (gzip cannot be mapped). Compression is detected from the bytes, not the suffix.
"""

from __future__ import annotations

import gzip
import math
import struct
import zlib
from pathlib import Path

import numpy as np

from hpsearch.data.formats.common import GZIP_MAGIC, Raw, check_exists, head
from hpsearch.errors import DataError

# IDX type code -> dtype (values are big-endian)
TYPES = {0x08: np.dtype("u1"), 0x09: np.dtype("i1"), 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
         0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
DEFLATE_MAX_RATIO = 1032  # deflate cannot expand data more than this: a header promising more is corrupt
MAX_LABEL = 9  # MNIST-style sets have 10 classes, 0..9; anything else means a wrong or corrupt labels file
HINT = "MNIST images files start with 0x00000803, labels files with 0x00000801"


def looks_like_idx(start: bytes) -> bool:
    return len(start) >= 4 and start[0] == 0 and start[1] == 0 and start[2] in TYPES and start[3] >= 1


def _header(f, path: Path) -> tuple[np.dtype, tuple[int, ...], int]:
    """Read the magic number and dims; return (dtype, dims, header size in bytes)."""
    magic = f.read(4)
    if len(magic) < 4:
        raise DataError(f"{path}: truncated IDX file ({len(magic)} bytes; the magic number alone needs 4)",
                        "re-download the file")
    if not looks_like_idx(magic):
        raise DataError(f"{path}: wrong magic number 0x{magic.hex()}: not an IDX file", HINT)
    ndim = magic[3]
    raw = f.read(4 * ndim)
    if len(raw) < 4 * ndim:
        raise DataError(f"{path}: truncated IDX file (the header promises {ndim} dimensions, the file ends first)",
                        "re-download the file")
    return TYPES[magic[2]], struct.unpack(f">{ndim}I", raw), 4 + 4 * ndim


def read_idx(path: Path) -> np.ndarray:
    """One IDX file as an array of shape `dims` (a read-only np.memmap for a plain file)."""
    check_exists(path)
    if head(path, 2) == GZIP_MAGIC:
        return _read_gzip(path)
    if path.suffix.lower() == ".gz":
        raise DataError(f"{path}: unreadable gzip: the file does not start with the gzip signature 1f8b",
                        "re-download it, or drop the .gz suffix if it is a plain IDX file")
    with open(path, "rb") as f:
        dtype, dims, start = _header(f, path)
    count = math.prod(dims)
    expected, size = start + count * dtype.itemsize, path.stat().st_size
    shape = "x".join(map(str, dims))
    if size < expected:
        raise DataError(f"{path}: truncated IDX file: the header promises {shape} values ({expected:,} bytes), "
                        f"the file has {size:,} bytes", "re-download the file")
    if size > expected:
        raise DataError(f"{path}: {size - expected:,} bytes after the {shape} values the header promises",
                        "not a single IDX file; re-download it")
    if count == 0:
        return np.empty(dims, dtype)
    return np.memmap(path, dtype=dtype, mode="r", offset=start, shape=dims)


def _read_gzip(path: Path) -> np.ndarray:
    try:
        with gzip.open(path, "rb") as f:
            dtype, dims, _ = _header(f, path)
            nbytes = math.prod(dims) * dtype.itemsize
            if nbytes > DEFLATE_MAX_RATIO * path.stat().st_size + 4096:
                raise DataError(f"{path}: corrupt IDX header: it promises {'x'.join(map(str, dims))} values "
                                f"({nbytes:,} bytes), more than {path.stat().st_size:,} gzip bytes can hold",
                                "re-download the file")
            arr = np.empty(dims, dtype)
            buf = memoryview(arr.reshape(-1).view(np.uint8))
            pos = 0
            while pos < len(buf):
                n = f.readinto(buf[pos:])
                if not n:
                    shape = "x".join(map(str, dims))
                    raise DataError(f"{path}: truncated IDX file: the header promises {shape} values "
                                    f"({len(buf):,} bytes), the data end after {pos:,}", "re-download the file")
                pos += n
            if f.read(1):
                raise DataError(f"{path}: bytes after the values the header promises", "not a single IDX file")
    except EOFError:
        raise DataError(f"{path}: truncated gzip file (the compressed stream ends early)",
                        "re-download the file, or test it with gunzip -t") from None
    except (OSError, zlib.error) as e:
        raise DataError(f"{path}: unreadable gzip ({e})", "re-download the file, or test it with gunzip -t") from None
    return arr


def load_pair(a: Path, b: Path) -> Raw:
    """An images file and a labels file, in either order. Checks counts and the 0..9 label range."""
    arrays = sorted([(a, read_idx(a)), (b, read_idx(b))], key=lambda t: t[1].ndim == 1)  # images first
    return _pair(*arrays[0], *arrays[1])


def load_single(path: Path) -> Raw:
    """An images file given alone: its labels file is found next to it."""
    X = read_idx(path)
    if X.ndim == 1:
        raise DataError(f"{path}: a labels file (magic 0x00000801) given alone",
                        "pass the images file, or both: --data IMAGES,LABELS")
    lp = labels_for(path)
    return _pair(path, X, lp, read_idx(lp))


def _pair(ip: Path, X: np.ndarray, lp: Path, y: np.ndarray) -> Raw:
    if X.ndim < 2:
        raise DataError(f"{ip}, {lp}: both are labels files (1 dimension)", f"pair an images file ({HINT}) with one")
    if y.ndim != 1:
        raise DataError(f"{ip}, {lp}: both are images files ({X.ndim} and {y.ndim} dimensions)",
                        "pair an images file with a labels file (magic 0x00000801)")
    if X.shape[0] != y.shape[0]:
        raise DataError(f"{ip} has {X.shape[0]:,} images but {lp} has {y.shape[0]:,} labels",
                        "pair files of the same set (train-images with train-labels, t10k with t10k)")
    labels = np.asarray(y)
    bad = np.flatnonzero((labels < 0) | (labels > MAX_LABEL))
    if bad.size:
        raise DataError(f"{lp}: label {labels[bad[0]]} at index {bad[0]} is out of range 0..{MAX_LABEL}",
                        "a corrupt or wrong labels file; for other label sets save X.npy + y.npy")
    return Raw(X, labels, files=(str(ip), str(lp)), image=True, channel_axis=2 if X.ndim == 4 else None)


def _role(name: str) -> tuple[str | None, str | None]:
    """('train'|'test', 'images'|'labels') from a file name like train-images-idx3-ubyte.gz."""
    n = name.lower()
    if "idx" not in n and "ubyte" not in n:
        return None, None
    part = "test" if ("t10k" in n or "test" in n) else "train" if "train" in n else None
    kind = "images" if ("images" in n or "idx3" in n) else "labels" if ("labels" in n or "idx1" in n) else None
    return part, kind


def folder_files(folder: Path, part: str = "train") -> list[Path] | None:
    """The training (or, part="test", the t10k test) images and labels files in an MNIST folder (plain preferred
    over .gz), or None."""
    found: dict[tuple, list[Path]] = {}
    for p in sorted(folder.iterdir()):
        if p.is_file():
            found.setdefault(_role(p.name), []).append(p)
    if not any(role[0] for role in found):
        return None
    pick = []
    for kind in ("images", "labels"):
        paths = found.get((part, kind), [])
        if not paths:
            have = ", ".join(p.name for role, ps in found.items() if role[0] for p in ps)
            name = "train" if part == "train" else "t10k"
            raise DataError(f"{folder}: no MNIST {part} {kind} file ({name}-{kind}-idx...) among {have}",
                            "pass the files directly: --data IMAGES,LABELS")
        pick.append(sorted(paths, key=lambda p: p.suffix.lower() == ".gz")[0])
    return pick


def labels_for(images: Path) -> Path:
    """The labels file next to an images file (train-images-idx3-ubyte[.gz] -> train-labels-idx1-ubyte[.gz])."""
    name = images.name.replace("images", "labels").replace("idx3", "idx1")
    base = name[:-3] if name.lower().endswith(".gz") else name
    tried = [images.with_name(n) for n in (name, base, base + ".gz")]
    for p in tried:
        if p != images and p.is_file():
            return p
    raise DataError(f"{images}: no labels file next to it (tried {', '.join(dict.fromkeys(p.name for p in tried))})",
                    "pass both files: --data IMAGES,LABELS")
