"""A stage's results document (DESIGN.md §3), built from its study: by the command that ran it, or later by
`hpsearch export`."""

from __future__ import annotations

from hpsearch.config.plain import strict
from hpsearch.config.records import StudyIdentity, StudyMeta
from hpsearch.engine import halving, identity, trial
from hpsearch.engine.plan import Plan
from hpsearch.results import verdicts
from hpsearch.results.validate import HALVING_SCHEMA, SCHEMA_VERSION


def build(h, plan: Plan, ident: StudyIdentity, meta: StudyMeta, records: list[trial.TrialRecord],
          progress: dict) -> dict:
    """The results document of `records`, strict JSON."""
    trials = [r.to_dict() for r in records]
    # halving: each trial scored among its rung; the verdict counts each configuration's last rung
    counted = halving.annotate(plan, trials, meta.data) if plan.halving is not None else trials
    verdict = verdicts.judge(plan.space, counted, meta.data)
    for t in trials if plan.halving is None else ():
        t["score"] = verdict.scores.get(t["number"])
    best = verdicts.best(trials)
    searched = {n for n, _ in plan.space.params}
    space = plan.space
    settings = {"seed": plan.seed, "sampler": space.sampler, "trials": plan.configs, "epochs": space.epochs,
                "space_file": meta.space_file, "storage": h.where, "study": h.name}
    if meta.narrowed:
        settings["narrowed"] = meta.narrowed.to_dict()
    if plan.halving is not None:
        settings["halving"] = halving.to_settings(plan.halving, plan.rungs)
    return strict({
        "schema_version": SCHEMA_VERSION if plan.halving is None else HALVING_SCHEMA,
        "command": ident.command,
        "settings": settings,
        "data": meta.data,
        "space": space.to_dict(),
        "fixed": {k: v for k, v in ident.fixed.items() if k not in searched},
        "parent": meta.parent.to_dict() if meta.parent else None,
        "progress": {"requested": plan.requested if plan.halving is None else
                     halving.requested(plan, trials, meta.data), "done": len(records), **progress},
        "summary": {s: sum(r.status == s for r in records) for s in ("complete", "diverged", "failed")},
        "trials": trials,
        "best": None if best is None else {"number": best["number"], "params": best["params"],
                                           "val_acc": best["val_acc"], "train_acc": best["train_acc"],
                                           "score": best["score"]},
        "warnings": verdict.warnings,
    })


def export(h) -> dict:
    """The results document of a study as it stands."""
    plan, ident, meta = identity.plan_of(h)
    records = trial.collect(h, plan)
    if plan.halving is None:
        unfinished = len(records) < len(plan.trials)
    else:  # fewer than planned when a rung promotes fewer (diverged trials never go on)
        unfinished = len(records) < halving.requested(plan, [r.to_dict() for r in records], meta.data)
    return build(h, plan, ident, meta, records, {"interrupted": unfinished})
