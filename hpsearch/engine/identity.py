"""What a study records about itself, so any process can rebuild its plan and its results file.

The study holds two user attrs: `hpsearch` (StudyIdentity: what is searched; a resumed run must match it) and
`hpsearch_meta` (StudyMeta: how to describe it: data, parent, narrowing). With them, any process that can open
the study rebuilds the plan (configurations derive from (seed, number)) and writes the same results file a
local run writes (`hpsearch export`, `hpsearch worker`).
"""

from __future__ import annotations

from hpsearch.config.records import IDENTITY_DATA, ParentRef, StudyIdentity, StudyMeta
from hpsearch.config.space_file import parse_space
from hpsearch.config.train import TrainConfig
from hpsearch.engine import study
from hpsearch.engine.halving import Halving
from hpsearch.engine.plan import Plan, make_plan
from hpsearch.engine.storage import faults
from hpsearch.errors import StorageError


def identity(command: str, plan: Plan, base: TrainConfig, data: dict, parent: ParentRef | None) -> StudyIdentity:
    """What makes two runs the same search (compared on resume; `trials` may grow)."""
    space = {k: v for k, v in plan.space.to_dict().items() if k != "trials"}
    if plan.halving is not None:  # (configs: a grown --trials would change every rung, so it must not resume)
        space["halving"] = {**plan.halving.to_dict(), "configs": plan.configs}
    return StudyIdentity(command, plan.seed, plan.configs, space, base.to_dict(),
                         {k: data.get(k) for k in IDENTITY_DATA}, parent.fingerprint if parent else None)


def plan_of(h) -> tuple[Plan, StudyIdentity, StudyMeta]:
    """Rebuild (plan, identity, meta) from a study written by hpsearch."""
    with faults(h.where), h.lock():  # not halfway through a coordinator's prepare
        attrs = h.storage.get_study_user_attrs(h.study_id)
    ident, meta = attrs.get(study.PLAN_ATTR), attrs.get(study.META_ATTR)
    if not ident or not meta:
        raise StorageError(f"study {h.name!r} in {h.where} was not written by hpsearch coarse/fine",
                           "check --study (hpsearch studies carry the 'hpsearch' user attribute)")
    recorded = dict(ident["space"])
    halving = recorded.pop("halving", None)
    space = parse_space({**recorded, "trials": ident["trials"]}, f"study {h.name}")
    base = TrainConfig.from_dict(ident["fixed"])
    plan = make_plan(space, ident["seed"], base, Halving.from_dict(halving) if halving else None)
    return plan, StudyIdentity.from_dict(ident), StudyMeta.from_dict(meta)
