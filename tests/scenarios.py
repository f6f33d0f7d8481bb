"""Synthetic stages as results documents: a known val_acc surface over lr and reg, sampled the way a random
stage samples it, with the validation set's binomial noise. The verdict tests assert on these."""

from __future__ import annotations

import math

import numpy as np

from hpsearch.config.space_file import parse_space
from hpsearch.engine.plan import make_plan
from hpsearch.results.validate import validate

CHANCE, TOP = 0.1, 0.95
VAL = 360  # validation samples (digits' split)


def space(lr=(1e-6, 1.0), reg=(1e-5, 1e5), trials=50, epochs=5):
    return parse_space({"sampler": "random", "trials": trials, "epochs": epochs,
                        "params": {"lr": {"low": lr[0], "high": lr[1], "log": True},
                                   "reg": {"low": reg[0], "high": reg[1], "log": True}, "hidden": [16]}},
                       "scenario.yaml")


def truth(lr: float, reg: float, lr_half: float = 3e-3, lr_div: float = 2.0,
          reg_half: float = 0.3) -> tuple[str, float, str]:
    """(status, expected val_acc, diagnosis): learning rises over ~1.5 decades around lr_half, a strong reg
    (around reg_half) pulls accuracy to chance, lr above lr_div or lr * reg above 2 diverges. The diagnosis is
    what the curves would say (trainer/diagnosis.py)."""
    if lr > lr_div or lr * reg > 2:
        return "diverged", CHANCE, "lr_too_high"
    learn = 1 / (1 + math.exp(-3 * (math.log10(lr) - math.log10(lr_half))))
    keep = 1 / (1 + math.exp(2.5 * (math.log10(reg) - math.log10(reg_half))))
    near = 0.03 * max(0.0, math.log10(lr) - math.log10(lr_div / 5))  # a little worse just below divergence
    # a trial whose lr let it close less than 80 % of the way to the top in the stage's epochs has a train accuracy
    # well below 0.9, which diagnosis.py never calls healthy: its loss was still falling when the stage stopped
    kind = ("reg_too_strong" if keep < 0.5 else "lr_too_low" if learn < 0.3 else "still_learning" if learn < 0.8
            else "healthy")
    return "complete", CHANCE + (TOP - CHANCE) * learn * keep - near, kind


def doc(sp, seed: int = 0, **surface) -> dict:
    """A validated results document of the stage `sp` over the surface `truth(**surface)`."""
    rng = np.random.default_rng(seed)
    trials = []
    for tp in make_plan(sp, seed).trials:
        status, p, kind = truth(tp.params["lr"], tp.params["reg"], **surface)
        val = float(rng.binomial(VAL, min(max(p, 0.0), 1.0)) / VAL) if status == "complete" else None
        trials.append({"number": tp.number, "params": tp.params, "status": status, "val_acc": val,
                       "epochs_run": sp.epochs, "diagnosis": [{"kind": kind, "message": kind}]})
    searched = {n for n, _ in sp.params}
    done = [t for t in trials if t["status"] == "complete"]
    best = max(done, key=lambda t: (t["val_acc"], -t["number"])) if done else None
    out = {"schema_version": 2, "command": "coarse", "settings": {"seed": seed},
           "data": {"spec": "digits", "fingerprint": "f", "classes": round(1 / CHANCE), "val_samples": VAL},
           "space": sp.to_dict(), "parent": None, "progress": {"requested": len(trials), "done": len(trials)},
           "fixed": {k: v for k, v in make_plan(sp, 0).trials[0].config.to_dict().items() if k not in searched},
           "trials": trials, "best": best and {"number": best["number"], "params": best["params"],
                                               "val_acc": best["val_acc"]}, "warnings": []}
    validate(out, "scenario")
    return out
