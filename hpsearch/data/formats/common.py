"""What every reader returns (`Raw`), and the byte sniffing shared by the readers.

Readers only read and check the file format; data.make_dataset validates the arrays for classification.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hpsearch.errors import DataError

GZIP_MAGIC = b"\x1f\x8b"
NPY_MAGIC = b"\x93NUMPY"
CIFAR_URL = "https://www.cs.toronto.edu/~kriz/cifar.html"


@dataclass(frozen=True)
class Raw:
    X: np.ndarray  # (N, D) or (N, *image_shape); may be a read-only np.memmap (never copied here)
    y: np.ndarray  # (N,) labels as stored (any integer or float dtype)
    files: tuple[str, ...] = ()  # the files actually read, in order (a folder expands to its files)
    image: bool = False  # the format defines X as images (IDX, CIFAR): flattened without --flatten
    channel_axis: int | None = None  # channel axis within one sample's shape, when the format fixes it
    label_names: tuple[str, ...] | None = field(default=None)  # class names in label order (CIFAR's batches.meta.txt)
    text_labels: tuple[str, ...] | None = None  # labels written as text (a CSV's "cat", "dog"): y holds their indices


def head(path: Path, n: int = 8) -> bytes:
    """The first `n` bytes of a file (fewer for a short file)."""
    try:
        with open(path, "rb") as f:
            return f.read(n)
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror})", "check the path and permissions") from None


def is_pickle(start: bytes) -> bool:
    """Python pickle protocol 2+ starts with 0x80 and the protocol number."""
    return len(start) >= 2 and start[0] == 0x80 and 2 <= start[1] <= 5


def refuse_pickle(path: Path) -> DataError:
    """The error for a pickle file; CIFAR-10's python version gets a pointer to the binary version."""
    name = path.name.lower()
    if name.startswith(("data_batch", "test_batch", "batches.meta")) or "cifar" in str(path).lower():
        return DataError(
            f"{path}: this is CIFAR-10's python (pickle) version, which hpsearch never loads (pickle can run code)",
            f"download the binary version (cifar-10-binary.tar.gz, data_batch_1.bin ... test_batch.bin) from "
            f"{CIFAR_URL} and pass its folder",
        )
    return DataError(f"{path}: a Python pickle file, which hpsearch never loads (pickle can run code)",
                     "save the arrays with np.save (X.npy + y.npy) or np.savez instead")


def check_exists(path: Path) -> None:
    """The path exists and is a folder or a regular file (a FIFO or a device would hang or never end)."""
    import stat

    from hpsearch.config.files import kind

    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise DataError(f"{path}: no such file", "check the path") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror})", "check the path") from None
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise DataError(f"{path}: is {kind(mode)}, not a data file", "pass a regular file or a folder")
