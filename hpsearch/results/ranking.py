"""How a stage ranks its trials. Light (no NumPy): `report` uses it too.

Since schema 2 each complete trial carries `score`, the smoothed val_acc of its configuration (results/surface.py):
picking the best configuration by it, rather than by the single noisiest-high val_acc, chose configurations
that scored better on held-out test data (benchmarks/bench_verdicts.py). Version-1 files rank by val_acc.
"""

from __future__ import annotations


def rank_key(t: dict) -> tuple:
    """Sort key, best first: the score (else val_acc) descending, ties to the lower number."""
    s = t.get("score")
    return (-(s if s is not None else t["val_acc"]), t["number"])


def best(trials: list[dict]) -> dict | None:
    """The best complete trial (diverged and failed never win)."""
    ok = [t for t in trials if t["status"] == "complete" and t["val_acc"] is not None]
    return min(ok, key=rank_key) if ok else None
