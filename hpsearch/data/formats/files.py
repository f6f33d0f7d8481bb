"""Readers for user data, chosen by suffix, folder contents or leading bytes; data.make_dataset validates.

`read(spec)` takes a file, a folder, or a comma-separated list of files (X.npy,y.npy; IMAGES,LABELS;
data_batch_1.bin,data_batch_2.bin) and returns a `Raw`. Pickle is never loaded: np.load always runs with
allow_pickle=False, and pickle files are recognised by their bytes and refused.
"""

from __future__ import annotations

import csv
import zipfile
from pathlib import Path

import numpy as np

from hpsearch.data.formats import cifar, idx, npy
from hpsearch.data.formats.common import GZIP_MAGIC, Raw, check_exists, head, is_pickle, refuse_pickle
from hpsearch.errors import DataError

FORMATS = (".npz, .csv, X.npy + y.npy, MNIST IDX files or folder (plain or .gz), "
           "CIFAR-10 binary batches (.bin) or folder")


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
            with zipfile.ZipFile(path) as zf:
                for name in ("X", "y"):
                    _check_npz_member(path, zf, name)
            return z["X"], z["y"]
    except DataError:
        raise
    except ValueError as e:  # object arrays need pickle, which we refuse
        raise DataError(f"{path}: cannot read without pickle ({e})", "save plain numeric arrays with np.savez") from None
    except (OSError, zipfile.BadZipFile, EOFError) as e:
        raise DataError(f"{path}: not a readable .npz file ({e})", "save with np.savez(path, X=X, y=y)") from None


def _check_npz_member(path: Path, zf: zipfile.ZipFile, name: str) -> None:
    """An .npz member is a plain .npy array whose header fits in memory, read before anything is allocated
    (a header may claim 10^12 values; a member may be a raw pickle)."""
    from hpsearch.config.runtime import available_memory

    with zf.open(name + ".npy") as f:
        try:
            version = np.lib.format.read_magic(f)
            shape, _, dtype = (np.lib.format.read_array_header_1_0(f) if version == (1, 0)
                               else np.lib.format.read_array_header_2_0(f))
        except ValueError as e:
            raise DataError(f"{path}: member {name!r} is not a .npy array ({e})",
                            "save plain numeric arrays with np.savez(path, X=X, y=y)") from None
    if dtype.hasobject:
        raise DataError(f"{path}: member {name!r} holds Python objects, which need pickle (refused)",
                        "save plain numeric arrays with np.savez")
    need = int(np.prod(shape, dtype=object)) * dtype.itemsize
    avail = available_memory()
    if avail is not None and need > avail:
        raise DataError(f"{path}: member {name!r} has shape {shape} ({need / 2**30:.1f} GiB), more than the "
                        f"{avail / 2**30:.1f} GiB of memory available", "use a smaller file, or X.npy + y.npy "
                        "(memory-mapped)")


def load_csv(path: Path, label_column: str | None = None):
    """A CSV with a header row; the label column is the last one unless `label_column` names another."""
    try:
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
    except csv.Error as e:
        raise DataError(f"{path}: not a CSV file the reader accepts ({e}; fields are limited to "
                        f"{csv.field_size_limit():,} characters)", "save one sample per line, numbers separated by "
                        "commas") from None
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
    if "" in labels:
        raise DataError(f"{path}: line {labels.index('') + 2}, column {header[li]!r}: the label is empty",
                        "give every row a label, or pick the label column with --label-column")
    values = [_as_float(v) for v in labels]  # each label parsed once: None where it is not a number
    numeric = [v is not None for v in values]
    if any(numeric) and not all(numeric):  # "NA" or a typo among integers: not a class of its own
        odd = numeric.index(True) if sum(numeric) * 2 < len(numeric) else numeric.index(False)  # the minority
        raise DataError(f"{path}: labels in column {header[li]!r} mix numbers and text (line {odd + 2}: "
                        f"{labels[odd]!r})", "give every row an integer class or every row a class name; drop "
                        "or fix the others, or pick the label column with --label-column")
    if not any(numeric):  # class names ("cat", "dog"): y holds their index, in sorted order
        names = sorted(set(labels))
        index = {n: i for i, n in enumerate(names)}
        return Raw(X, np.array([index[v] for v in labels], dtype=np.int64), files=(str(path),),
                   text_labels=tuple(names))
    y = np.array(values)
    odd = [v for v, f in zip(labels, y) if not (np.isfinite(f) and f == int(f) and abs(f) < 2**53)]
    if odd:
        raise DataError(f"{path}: labels in column {header[li]!r} must be integers of ordinary size, got {odd[0]!r}",
                        "encode classes as 0..C-1 or pick the label column with --label-column")
    return X, y


def _as_float(v: str) -> float | None:
    try:
        return float(v)
    except ValueError:
        return None


def load_npy(path: Path, label_column: str | None = None) -> Raw:
    """X.npy (memory-mapped) with its labels file next to it (y.npy, y_train.npy for X_train.npy, ...)."""
    npy.open_npy(path, mmap=True)  # a bad X file is named before a missing labels file
    return npy.load_pair(path, npy.labels_for(path))


def load_cifar(path: Path, label_column: str | None = None) -> Raw:
    """One CIFAR-10 binary batch (data_batch_1.bin ... test_batch.bin)."""
    return cifar.load_batches([path])


def load_idx(path: Path, label_column: str | None = None) -> Raw:
    """An MNIST IDX images file (plain or gzip) with its labels file next to it."""
    name = path.name.lower()
    if name.endswith((".tar.gz", ".tgz", ".tar", ".zip")):
        raise DataError(f"{path}: an archive, not a data file", f"unpack it first (tar xzf {path.name}) and pass the folder")
    return idx.load_single(path)


LOADERS = {".npz": load_npz, ".csv": load_csv, ".npy": load_npy, ".bin": load_cifar, ".gz": load_idx,
           ".idx3-ubyte": load_idx}


def read(spec: str, label_column: str | None = None) -> Raw:
    """A file, a folder or a comma-separated list of files, as a Raw (X may stay memory-mapped)."""
    path = Path(spec)
    if not path.exists() and "," in spec:
        return read_many([Path(s.strip()) for s in spec.split(",") if s.strip()])
    check_exists(path)
    if path.is_dir():
        return read_folder(path)
    loader = LOADERS.get(path.suffix.lower()) or _sniff(path)
    out = loader(path, label_column)
    return out if isinstance(out, Raw) else Raw(out[0], out[1], files=(str(path),))


def _sniff(path: Path):
    """A loader chosen from the leading bytes (IDX files usually have no suffix)."""
    start = head(path, 8)
    if is_pickle(start) or path.suffix.lower() in (".pkl", ".pickle", ".p"):
        raise refuse_pickle(path)
    if idx.looks_like_idx(start) or start[:2] == GZIP_MAGIC or "idx" in path.name.lower() or \
            "ubyte" in path.name.lower():
        return load_idx
    raise DataError(f"{path}: unsupported file type {path.suffix or '(no suffix)'!r}", f"use one of: {FORMATS}")


def read_test(spec: str, label_column: str | None = None) -> Raw:
    """The test part of `spec`: a folder's test files (MNIST t10k-*, CIFAR-10 test_batch.bin), else what
    read() reads (a file or a list of files is taken as given)."""
    path = Path(spec)
    if not path.is_dir():
        return read(spec, label_column)
    for sub in ("cifar-10-batches-bin",):
        if (path / sub).is_dir():
            path = path / sub
    if (path / "test_batch.bin").is_file():
        return cifar.load_batches([path / "test_batch.bin"])
    files = idx.folder_files(path, part="test")
    if files:
        return idx.load_pair(*files)
    raise DataError(f"{spec}: no test files in this folder (MNIST t10k-images/t10k-labels, CIFAR-10 test_batch.bin)",
                    "pass the test file(s) themselves: --data FILE")


def read_folder(folder: Path) -> Raw:
    """X.npy + y.npy, MNIST's training IDX files, or CIFAR-10's training batches, found in `folder`."""
    files = npy.folder_files(folder)
    if files:
        return npy.load_pair(*files)
    files = cifar.folder_files(folder)
    if files:
        return cifar.load_batches(files)
    files = idx.folder_files(folder)
    if files:
        return idx.load_pair(*files)
    raise DataError(f"{folder}: no data files found in this folder",
                    "expected X.npy + y.npy, MNIST train-images/train-labels IDX files, or CIFAR-10 data_batch_*.bin")


def read_many(paths: list[Path]) -> Raw:
    """Two .npy files (X,y), two IDX files (images,labels) or several CIFAR-10 .bin batches."""
    for p in paths:
        check_exists(p)
    suffixes = {p.suffix.lower() for p in paths}
    if suffixes == {".bin"}:
        return cifar.load_batches(paths)
    if len(paths) == 2 and suffixes == {".npy"}:
        return npy.load_pair(*paths)
    if len(paths) == 2 and all(idx.looks_like_idx(head(p)) or head(p, 2) == GZIP_MAGIC for p in paths):
        return idx.load_pair(*paths)
    raise DataError(f"{','.join(map(str, paths))}: cannot tell what these files are",
                    "a comma list takes X.npy,y.npy, or IMAGES,LABELS IDX files, or CIFAR-10 .bin batches")


def load_file(path: Path, label_column: str | None = None):
    """(X, y) as read from one file (kept for callers of the first version; `read` is the full interface)."""
    raw = read(str(path), label_column)
    return raw.X, raw.y
