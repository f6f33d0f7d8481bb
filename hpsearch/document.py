"""A stage's results document, built from its study: by the command that ran it, or later by an export.

The study holds two user attrs: `hpsearch` (identity: what is searched; a resumed run must match it) and
`hpsearch_meta` (how to describe it: data, parent, narrowing). With them, any process that can open the
study rebuilds the plan (configurations derive from (seed, number)) and writes the same results file a
local run writes (issue 5's `hpsearch export`).
"""

from __future__ import annotations

from hpsearch import search as E
from hpsearch.plan import Plan, make_plan
from hpsearch import storage as ST
from hpsearch import study as S
from hpsearch.boundary import all_diverged_warning, edge_warnings
from hpsearch.config import TrainConfig
from hpsearch.errors import StorageError
from hpsearch.results import SCHEMA_VERSION, strict
from hpsearch.space import Space, parse_space

META_ATTR = S.META_ATTR
IDENTITY_DATA = ("fingerprint", "val_fraction", "split_seed", "max_samples", "flatten", "preprocess")


def identity(command: str, plan: Plan, base: TrainConfig, data: dict, parent: dict | None) -> dict:
    """What makes two runs the same search (compared on resume; `trials` may grow)."""
    space = {k: v for k, v in plan.space.to_dict().items() if k != "trials"}
    return {"command": command, "seed": plan.seed, "trials": len(plan.trials), "space": space,
            "fixed": base.to_dict(), "data": {k: data.get(k) for k in IDENTITY_DATA},
            "parent": (parent or {}).get("fingerprint")}


def meta(data: dict, parent: dict | None, narrowed: dict | None, space_file: str | None) -> dict:
    return {"data": data, "parent": parent, "narrowed": narrowed, "space_file": space_file}


def save_meta(h, m: dict) -> None:
    with ST.faults(h.where):
        h.storage.set_study_user_attr(h.study_id, META_ATTR, strict(m))


def warnings_for(space: Space, records: list[E.TrialRecord]) -> list[dict]:
    best = E.best(records)
    if best is not None:
        return edge_warnings(space, best.params, [r.to_dict() for r in records])
    if records and all(r.status == "diverged" for r in records):
        return [all_diverged_warning(space)]
    return []


def build(h, plan: Plan, ident: dict, m: dict, records: list[E.TrialRecord], progress: dict) -> dict:
    """The results document (DESIGN.md §3) of `records`, strict JSON."""
    best = E.best(records)
    searched = {n for n, _ in plan.space.params}
    space = plan.space
    settings = {"seed": plan.seed, "sampler": space.sampler, "trials": len(plan.trials), "epochs": space.epochs,
                "space_file": m.get("space_file"), "storage": h.where, "study": h.name}
    if m.get("narrowed"):
        settings["narrowed"] = m["narrowed"]
    return strict({
        "schema_version": SCHEMA_VERSION,
        "command": ident["command"],
        "settings": settings,
        "data": m["data"],
        "space": space.to_dict(),
        "fixed": {k: v for k, v in ident["fixed"].items() if k not in searched},
        "parent": m.get("parent"),
        "progress": {"requested": len(plan.trials), "done": len(records), **progress},
        "summary": {s: sum(r.status == s for r in records) for s in ("complete", "diverged", "failed")},
        "trials": [r.to_dict() for r in records],
        "best": None if best is None else {"number": best.number, "params": best.params, "val_acc": best.val_acc,
                                           "train_acc": best.train_acc},
        "warnings": warnings_for(space, records),
    })


def plan_of(h) -> tuple[Plan, dict, dict]:
    """Rebuild (plan, identity, meta) from a study written by hpsearch."""
    with ST.faults(h.where), h.lock():  # not halfway through a coordinator's prepare
        attrs = h.storage.get_study_user_attrs(h.study_id)
    ident, m = attrs.get(S.PLAN_ATTR), attrs.get(META_ATTR)
    if not ident or not m:
        raise StorageError(f"study {h.name!r} in {h.where} was not written by hpsearch coarse/fine",
                           "check --study (hpsearch studies carry the 'hpsearch' user attribute)")
    space = parse_space({**ident["space"], "trials": ident["trials"]}, f"study {h.name}")
    base = TrainConfig.from_dict(ident["fixed"])
    return make_plan(space, ident["seed"], base), ident, m


def export(h) -> dict:
    """The results document of a study as it stands (for `hpsearch export`, issue 5)."""
    plan, ident, m = plan_of(h)
    records = E.collect(h, plan)
    return build(h, plan, ident, m, records, {"interrupted": len(records) < len(plan.trials)})
