"""How a stage ranks its trials. Light (no NumPy): `report` uses it too.

Since schema 2 each complete trial carries `score`, the smoothed val_acc of its configuration (results/surface.py):
picking the best configuration by it, rather than by the single noisiest-high val_acc, chose configurations
that scored better on held-out test data (benchmarks/bench_verdicts.py). Version-1 files rank by val_acc.
"""

from __future__ import annotations


def rank_key(t: dict) -> tuple:
    """Sort key, best first: the score (else val_acc) descending, ties to the lower number. With successive
    halving (schema 3: trials carry `rung`), a configuration that reached a later rung ranks above those that
    stopped earlier (it beat them in the rungs they shared), and a trial whose configuration trained again in
    a later rung (`promoted`) ranks after all the others: that later trial stands for it."""
    s = t.get("score")
    return (bool(t.get("promoted")), -(t.get("rung") or 0), -(s if s is not None else t["val_acc"]), t["number"])


def ranked(doc: dict) -> list[dict]:
    """A stage's trials in its ranking: complete ones best first (rank_key), then diverged and failed ones."""
    done = sorted((t for t in doc["trials"] if t["status"] == "complete"), key=rank_key)
    return done + [t for t in doc["trials"] if t["status"] != "complete"]


def current(trials: list[dict]) -> list[dict]:
    """The trials that stand for their configuration: all of them, except (halving) those `promoted` to a
    later rung."""
    return [t for t in trials if not t.get("promoted")]


def best(trials: list[dict]) -> dict | None:
    """The best complete trial (diverged and failed never win)."""
    ok = [t for t in current(trials) if t["status"] == "complete" and t["val_acc"] is not None]
    return min(ok, key=rank_key) if ok else None
