"""DataSpec: what data to load and how to split it, as results files and studies record it."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, replace
from typing import Any

BUILTIN = ("digits", "spiral")  # built-in data set names (data/builtin.py)
PREPROCESS = ("standardize", "center", "center-channel", "none")  # fitted on the training split (data/split.py)


@dataclass(frozen=True)
class DataSpec:
    spec: str = "digits"  # a built-in name, a file, a folder or a comma list of files (--data)
    label_column: str | None = None  # CSV label column (None: the last)
    val_fraction: float = 0.2  # share of each class held out for validation
    split_seed: int = 0  # the split's seed: a fine stage reuses its parent's, so it sees the same rows
    max_samples: int | None = None  # a stratified subset of this many rows (None: all)
    flatten: bool = False  # flatten (N, H, W[, C]) arrays from .npy/.npz into feature rows
    preprocess: str = "standardize"  # one of PREPROCESS
    fingerprint: str | None = None  # the data's fingerprint when it was first used: a reload must match it

    def to_dict(self) -> dict[str, Any]:
        """The recorded form (results' `data`, the study's meta); `fingerprint` only when known."""
        d = asdict(self)
        if d["fingerprint"] is None:
            del d["fingerprint"]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "DataSpec":
        """From a recorded `data` dict (other keys, such as the split's sizes, are left out; absent keys take
        their defaults)."""
        defaults = cls()
        return cls(**{k: d.get(k, getattr(defaults, k)) for k in asdict(defaults)})

    def with_(self, **changes) -> "DataSpec":
        return replace(self, **changes)

    def recorded(self) -> "DataSpec":
        """File paths made absolute (built-in names kept), so a later stage reloads the same files from anywhere."""

        def absolute(part: str) -> str:
            return part if part in BUILTIN or not os.path.exists(part) else os.path.abspath(part)

        return replace(self, spec=",".join(absolute(p) for p in self.spec.split(",")))
