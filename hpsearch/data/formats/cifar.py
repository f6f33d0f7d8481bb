"""CIFAR-10's binary version: data_batch_1.bin ... data_batch_5.bin, test_batch.bin.

Each record is 3,073 bytes: one label byte (0..9), then 3,072 pixel bytes (1,024 red, 1,024 green, 1,024 blue,
each 32x32 row-major), so a sample's shape is (3, 32, 32), channels first. One batch file is memory-mapped
(X is a strided view that skips the label bytes); several are read once, in 3 MB pieces, into one uint8 array
(150 MB for the five training batches). The python (pickle) version is refused with a pointer to this one.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from hpsearch.data.formats.common import CIFAR_URL, Raw, check_exists, head, is_pickle, refuse_pickle
from hpsearch.errors import DataError

PIXELS = 3072
RECORD = 1 + PIXELS
SHAPE = (3, 32, 32)
NUM_CLASSES = 10
PIECE = 1024  # records read at a time when several batches are stacked


def _records(path: Path) -> int:
    check_exists(path)
    if is_pickle(head(path, 2)):
        raise refuse_pickle(path)
    size = path.stat().st_size
    if size == 0 or size % RECORD:
        hint = ("a truncated file" if size % RECORD else "an empty file") + \
               "; CIFAR-100 records are 3,074 bytes (2 label bytes) and are not supported"
        raise DataError(f"{path}: record length off: {size:,} bytes is not a whole number of CIFAR-10 records "
                        f"of 3,073 bytes (1 label byte + 3,072 pixel bytes)", hint)
    return size // RECORD


def _check_labels(path: Path, labels: np.ndarray, first: int = 0) -> None:
    bad = np.flatnonzero(labels >= NUM_CLASSES)
    if bad.size:
        raise DataError(f"{path}: record {first + int(bad[0])} has label {int(labels[bad[0]])}, "
                        f"CIFAR-10 labels are 0..{NUM_CLASSES - 1}",
                        "not a CIFAR-10 binary batch (CIFAR-100 has 3,074-byte records); re-download it")


def load_batches(paths: list[Path]) -> Raw:
    """One or more batch files stacked in order: X (N, 3, 32, 32) uint8, y (N,) uint8."""
    counts = [_records(p) for p in paths]
    names = _label_names(paths[0].parent)
    files = tuple(str(p) for p in paths)
    if len(paths) == 1:
        mm = np.memmap(paths[0], dtype=np.uint8, mode="r", shape=(counts[0], RECORD))
        y = np.array(mm[:, 0])
        _check_labels(paths[0], y)
        return Raw(mm[:, 1:].reshape(-1, *SHAPE), y, files, image=True, channel_axis=0, label_names=names)
    X = np.empty((sum(counts), PIXELS), dtype=np.uint8)
    y = np.empty(sum(counts), dtype=np.uint8)
    piece = np.empty((PIECE, RECORD), dtype=np.uint8)
    row = 0
    for p, n in zip(paths, counts):
        with open(p, "rb") as f:
            for start in range(0, n, PIECE):
                k = min(PIECE, n - start)
                got = f.readinto(memoryview(piece[:k]).cast("B"))
                if got != k * RECORD:
                    raise DataError(f"{p}: file shrank while reading", "is another program writing it?")
                _check_labels(p, piece[:k, 0], start)
                y[row:row + k] = piece[:k, 0]
                X[row:row + k] = piece[:k, 1:]
                row += k
    return Raw(X.reshape(-1, *SHAPE), y, files, image=True, channel_axis=0, label_names=names)


def _label_names(folder: Path) -> tuple[str, ...] | None:
    """Class names from batches.meta.txt (one per line) when it sits next to the batches."""
    meta = folder / "batches.meta.txt"
    try:
        names = tuple(line.strip() for line in meta.read_text().splitlines() if line.strip())
    except (OSError, UnicodeDecodeError):
        return None
    return names if len(names) == NUM_CLASSES else None


def _batch_number(p: Path) -> int:
    m = re.search(r"(\d+)", p.stem)
    return int(m.group(1)) if m else 0


def folder_files(folder: Path) -> list[Path] | None:
    """The training batches (data_batch_*.bin, by number) of a CIFAR-10 binary folder, or None.

    A folder that holds the unpacked archive's cifar-10-batches-bin folder is looked into. The test batch is
    left out on purpose: tune on the validation split, keep test_batch.bin for the end.
    """
    for sub in ("cifar-10-batches-bin", "cifar-10-batches-py"):
        if (folder / sub).is_dir():
            folder = folder / sub
            break
    if folder.name == "cifar-10-batches-py" or (folder / "data_batch_1").is_file() or \
            (folder / "batches.meta").is_file():
        raise DataError(f"{folder}: this is CIFAR-10's python (pickle) version, which hpsearch never loads "
                        "(pickle can run code)",
                        f"download the binary version (cifar-10-binary.tar.gz) from {CIFAR_URL} and pass its folder")
    batches = sorted(folder.glob("data_batch_*.bin"), key=_batch_number)
    if batches:
        return batches
    if (folder / "test_batch.bin").is_file():
        raise DataError(f"{folder}: only test_batch.bin, no data_batch_*.bin training batches",
                        f"pass the file itself to use it: --data {folder / 'test_batch.bin'}")
    return None
