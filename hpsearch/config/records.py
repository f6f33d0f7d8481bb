"""Records a stage keeps about itself: its parent stage, and what its Optuna study stores (identity, meta)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hpsearch.config.data import DataSpec

IDENTITY_DATA = ("fingerprint", "val_fraction", "split_seed", "max_samples", "flatten", "preprocess")


@dataclass(frozen=True)
class ParentRef:
    """The results file a fine stage was narrowed from."""

    path: str  # absolute path of the parent results file
    fingerprint: str  # results.file.doc_fingerprint of it: ties the stage to what its parent found
    command: str  # coarse | fine

    def to_dict(self) -> dict[str, str]:
        return {"path": self.path, "fingerprint": self.fingerprint, "command": self.command}

    @classmethod
    def from_dict(cls, d: dict | None) -> "ParentRef | None":
        return None if not d else cls(d["path"], d["fingerprint"], d["command"])


@dataclass(frozen=True)
class Narrowing:
    """How a fine stage's space was narrowed from its parent's top trials (results.narrow)."""

    top_k: int  # how many top trials the ranges span
    top_numbers: tuple[int, ...]  # their numbers in the parent, best first
    # per searched parameter of the parent, as results record it: {"kind": "range" | "choice" | "fixed",
    # "from": ..., "to": ..., "extended"/"moved": "low" | "high" | None (ranges and integer fixings only)}
    params: dict[str, dict]
    basis: str = "top_k"  # "verdict": ranges from the parent's modelled good regions; "top_k": the top trials' spread

    def to_dict(self) -> dict[str, Any]:
        return {"top_k": self.top_k, "top_numbers": list(self.top_numbers), "params": self.params,
                "basis": self.basis}

    @classmethod
    def from_dict(cls, d: dict | None) -> "Narrowing | None":
        return None if not d else cls(d["top_k"], tuple(d["top_numbers"]), d["params"], d.get("basis", "top_k"))


@dataclass(frozen=True)
class StudyIdentity:
    """What makes two runs the same search (study user attr `hpsearch`): compared on resume; only `trials`
    may grow. Space and settings are held in their JSON form, as stored."""

    command: str  # coarse | fine
    seed: int  # study seed: trial k derives from SeedSequence([seed, k])
    trials: int  # trials planned
    space: dict  # Space.to_dict() without `trials`
    fixed: dict  # the base TrainConfig.to_dict() every trial starts from
    data: dict  # the IDENTITY_DATA keys of the recorded data
    parent: str | None  # the parent's fingerprint (fine), else None

    def to_dict(self) -> dict[str, Any]:
        return {"command": self.command, "seed": self.seed, "trials": self.trials, "space": self.space,
                "fixed": self.fixed, "data": self.data, "parent": self.parent}

    @classmethod
    def from_dict(cls, d: dict) -> "StudyIdentity":
        return cls(d["command"], d["seed"], d["trials"], d["space"], d["fixed"], d["data"], d.get("parent"))


@dataclass(frozen=True)
class StudyMeta:
    """How to describe a study (study user attr `hpsearch_meta`): enough for any process to rebuild its
    results file, and for a worker to load its data."""

    data: dict  # the recorded data: DataSpec.to_dict() + the split's sizes and fingerprint + classes
    parent: ParentRef | None = None  # fine: the parent results file
    narrowed: Narrowing | None = None  # fine: what changed per parameter
    space_file: str | None = None  # coarse: where the space came from

    @property
    def data_spec(self) -> DataSpec:
        return DataSpec.from_dict(self.data)

    def to_dict(self) -> dict[str, Any]:
        return {"data": self.data, "parent": self.parent.to_dict() if self.parent else None,
                "narrowed": self.narrowed.to_dict() if self.narrowed else None, "space_file": self.space_file}

    @classmethod
    def from_dict(cls, d: dict) -> "StudyMeta":
        return cls(d["data"], ParentRef.from_dict(d.get("parent")), Narrowing.from_dict(d.get("narrowed")),
                   d.get("space_file"))
