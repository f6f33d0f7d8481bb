"""The fine stage's space from a (validated) results document, following the stage's verdict (verdicts.judge):
each range becomes its modelled good region, padded; a range whose verdict moves it (nothing learned, mostly or
all diverged) moves as suggested; a range whose good region leaves an edge is extended past it."""

from __future__ import annotations

from hpsearch.config.plain import plain
from hpsearch.config.records import Narrowing
from hpsearch.config.space import Choice, Range, Space
from hpsearch.config.space_file import parse_space
from hpsearch.errors import ResultsError
from hpsearch.results.ranking import current, rank_key
from hpsearch.results.verdicts import clip_to_domain, from_axis, judge, to_axis

PAD_SPREAD = 0.25  # fine range = the good region, padded by a quarter of its width on each side ...
PAD_MIN = 0.05  # ... but at least 5 % of the parent range's width
MOVES = ("nothing_learned", "mostly_slow", "mostly_diverged", "all_diverged")  # warnings whose suggestion replaces the range
UNTRAINED = ("nothing_learned", "mostly_slow", "all_diverged")  # ... after which the other ranges stay as they were


def top_trials(doc: dict, top_k: int | None = None) -> list[dict]:
    """The best complete trials of a results document (the stage's ranking, results.ranking; with halving,
    each configuration's last rung): their choices carry over to the fine stage."""
    done = [t for t in current(doc["trials"]) if t["status"] == "complete" and t["val_acc"] is not None]
    done.sort(key=rank_key)
    k = top_k if top_k is not None else max(3, min(10, len(done) // 10))
    return done[:max(1, k)]


def narrow(doc: dict, *, top_k: int | None = None, trials: int = 30, epochs: int = 20, sampler: str = "random",
           source: str = "results.json") -> tuple[Space, Narrowing]:
    """The fine stage's space from a (validated) results document, and what changed per parameter.

    `top_k` (when given) makes each range span the top k trials' values instead of the modelled good region.
    A choice keeps the options the top trials used. After a verdict that nothing trained (nothing learned,
    mostly slow, all diverged) only lr moves; the other ranges and choices stay. Fixed settings carry over.
    """
    parent = parse_space(doc["space"], f"{source}: space")
    verdict = judge(parent, current(doc["trials"]), doc.get("data"))  # halving: each configuration's last rung
    moves = {w["param"]: w for w in verdict.warnings if w["kind"] in MOVES and w.get("suggested")}
    edges = {w["param"]: w for w in verdict.warnings if w["kind"] == "boundary"}
    untrained = any(w["kind"] in UNTRAINED for w in verdict.warnings)
    top = top_trials(doc, top_k)
    if not top and not moves:
        raise ResultsError(f"{source}: no complete trial to narrow around (every trial diverged or failed)",
                           "rerun coarse with a lower lr range")
    searched = {n for n, _ in parent.params}
    fixed = {k: v for k, v in doc["fixed"].items() if k not in searched and k not in ("epochs", "abort_factor")}
    was_fixed = None
    if "lr" in moves and "lr" not in searched:  # a fixed lr that the verdict moves becomes a range
        w = moves["lr"]
        was_fixed = fixed.pop("lr", doc["fixed"].get("lr"))
        grid_points = 5 if parent.sampler == "grid" else None
        parent = parent.with_(params=parent.params + (("lr", Range(low=w["suggested"]["low"],
                                                                   high=w["suggested"]["high"], log=True,
                                                                   points=grid_points)),))
    params, changes = [], {}
    for name, p in parent.params:
        used = [t["params"][name] for t in top if name in t["params"]]
        if isinstance(p, Choice) and name in moves:  # lr searched as values, moved: a log range now
            w = moves[name]
            params.append((name, Range(low=w["suggested"]["low"], high=w["suggested"]["high"], log=True,
                                       points=5 if sampler == "grid" else None)))
            changes[name] = {"kind": "range", "from": [min(p.choices), max(p.choices)],
                             "to": [w["suggested"]["low"], w["suggested"]["high"]], "extended": None,
                             "moved": w["edge"]}
            continue
        if isinstance(p, Choice):
            keep = p.choices if untrained and top_k is None else (
                tuple(c for c in p.choices if any(_same(c, u) for u in used)) or p.choices)
            if len(keep) == 1:
                fixed[name] = keep[0]
            else:
                params.append((name, Choice(keep)))
            changes[name] = {"kind": "choice" if len(keep) > 1 else "fixed", "from": p.to_dict()["choices"],
                             "to": [plain(c) for c in keep] if len(keep) > 1 else plain(keep[0])}
            continue
        lo_p, hi_p = to_axis(p, p.low), to_axis(p, p.high)
        extended = moved = None
        if name in moves:
            moved = moves[name]["edge"]
            low, high = moves[name]["suggested"]["low"], moves[name]["suggested"]["high"]
        elif untrained and top_k is None:  # nothing trained well: no good region to narrow to
            low, high = p.low, p.high
        else:
            if top_k is None and name in verdict.axes:
                xs = [to_axis(p, v) for v in verdict.axes[name].good]
            else:
                xs = [to_axis(p, v) for v in used] or [lo_p, hi_p]
            pad = max(PAD_SPREAD * (max(xs) - min(xs)), PAD_MIN * (hi_p - lo_p))
            lo, hi = max(min(xs) - pad, lo_p), min(max(xs) + pad, hi_p)
            low = p.low if lo == lo_p else from_axis(p, lo)
            high = p.high if hi == hi_p else from_axis(p, hi)
            if name in edges:
                extended = edges[name]["edge"]
                s = edges[name]["suggested"]
                low, high = (low, max(high, s["high"])) if extended == "high" else (min(low, s["low"]), high)
        low, high = clip_to_domain(name, p, low, high, (p.low, p.high))
        if p.integer and low >= high:
            fixed[name] = int(low)
            changes[name] = {"kind": "fixed", "from": [p.low, p.high], "to": int(low), "extended": extended,
                             "moved": moved}
            continue
        points = p.points or (len(p.values) if p.values else None) or (5 if sampler == "grid" else None)
        params.append((name, Range(low=low, high=high, log=p.log, integer=p.integer, points=points)))
        changes[name] = {"kind": "range", "from": [p.low, p.high], "to": [low, high], "extended": extended,
                         "moved": moved}
    if was_fixed is not None:
        changes["lr"]["from"] = [was_fixed, was_fixed]  # it was fixed in the parent
    space = Space(params=tuple(params), fixed=tuple(fixed.items()), sampler=sampler, trials=trials, epochs=epochs,
                  abort_factor=parent.abort_factor, source=f"fine space from {source}")
    return space, Narrowing(len(top), tuple(t["number"] for t in top), changes,
                            "top_k" if top_k is not None else "verdict")


def _same(choice, used) -> bool:
    return plain(choice) == plain(used)
