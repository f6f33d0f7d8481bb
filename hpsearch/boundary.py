"""Judgement about ranges: edge warnings, and the narrowed space of a fine stage.

Distances are measured in log10 units for log parameters (a range of 1e-7..1e-4 is three decades wide,
and 9e-5 sits in its top 2 %), in plain units otherwise.
"""

from __future__ import annotations

import math
from typing import Any

from hpsearch.errors import ResultsError
from hpsearch.space import Choice, Range, Space, parse_space

EDGE = 0.10  # the best value in the outer 10 % of a range is "on the edge"
PAD_SPREAD = 0.25  # fine range = the top trials' spread, padded by a quarter of it on each side ...
PAD_MIN = 0.05  # ... but at least 5 % of the parent range's width
MAX_REACH = 2.0  # a suggestion reaches at most this many decades past a log range's edge
# hard limits of each numeric key (value, inclusive?) so suggestions stay valid configurations
LOWER = {"lr": (0.0, False), "init_scale": (0.0, False), "lr_decay": (0.0, False), "reg": (0.0, True),
         "dropout": (0.0, True), "batch_size": (1, True), "step_size": (1, True)}
UPPER = {"dropout": (1.0, False)}


def _to(p: Range, v: float) -> float:
    return math.log10(v) if p.log else float(v)


def _back(p: Range, x: float) -> float:
    return 10.0 ** x if p.log else x


def _domain(name: str, p: Range, low: float, high: float, old: tuple[float, float]) -> tuple[float, float]:
    """Clip a proposed [low, high] into what the key allows (an open bound is approached halfway)."""
    if name in LOWER:
        b, inclusive = LOWER[name]
        if low < b or (low == b and not inclusive):
            low = b if inclusive else (b + old[0]) / 2
    if name in UPPER:
        b, inclusive = UPPER[name]
        if high > b or (high == b and not inclusive):
            high = b if inclusive else (b + old[1]) / 2
    if p.integer:
        low, high = math.floor(low), math.ceil(high)
        low = max(low, LOWER.get(name, (low, True))[0])
    return low, high


def fmt(v: Any) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def edge_warnings(space: Space, best_params: dict | None, trials: list[dict] = ()) -> list[dict]:
    """A warning per range parameter whose best value lies in the outer EDGE of its range.

    No high-edge warning for lr when a trial with a higher lr diverged (`trials`: results-file trial
    dicts): the range already reaches where training blows up, so the best is not above it.
    """
    if not best_params:
        return []
    out = []
    for name, p in space.params:
        if not isinstance(p, Range) or name not in best_params:
            continue
        lo, hi, x = _to(p, p.low), _to(p, p.high), _to(p, best_params[name])
        width = hi - lo
        pos = (x - lo) / width
        if pos >= 1 - EDGE:
            edge, center = "high", hi
            if name == "lr" and any(t["status"] == "diverged" and t["params"].get("lr", 0) > best_params["lr"]
                                    for t in trials):
                continue
        elif pos <= EDGE:
            edge, center = "low", lo
        else:
            continue
        half = width / 2  # the suggestion keeps the width, centred on the edge: half inside, half beyond
        reach = min(half, MAX_REACH) if p.log else half
        lo_s, hi_s = (center - half, center + reach) if edge == "high" else (center - reach, center + half)
        s_lo, s_hi = _domain(name, p, _back(p, lo_s), _back(p, hi_s), (p.low, p.high))
        scale = " (log10 scale)" if p.log else ""
        where = "top" if edge == "high" else "bottom"
        out.append({
            "kind": "boundary", "param": name, "edge": edge, "value": best_params[name],
            "range": {"low": p.low, "high": p.high},
            "message": (f"best {name} {fmt(best_params[name])} lies in the {where} {EDGE:.0%} of its range "
                        f"[{fmt(p.low)}, {fmt(p.high)}]{scale}: the best value may lie "
                        f"{'above' if edge == 'high' else 'below'} the range; try {name} in "
                        f"[{fmt(s_lo)}, {fmt(s_hi)}] (fine --from extends past this edge)"),
            "suggested": {"low": s_lo, "high": s_hi},
        })
    return out


def all_diverged_warning(space: Space) -> dict:
    """Every trial diverged: the learning rate range is likely too high; suggest one a range-width lower."""
    p = space.param_dict.get("lr")
    if isinstance(p, Range):
        lo, hi = _to(p, p.low), _to(p, p.high)
        s_lo, s_hi = _domain("lr", p, _back(p, lo - (hi - lo)), p.low, (p.low, p.high))
        rng = f"[{fmt(p.low)}, {fmt(p.high)}]"
    else:
        lr = float(space.base_config().lr)
        s_lo, s_hi, rng = lr / 1000, lr / 10, f"(fixed at {fmt(lr)})"
    return {"kind": "all_diverged", "param": "lr", "edge": "high", "value": None, "range": None,
            "message": (f"every trial diverged: the lr range {rng} is likely too high; "
                        f"try lr in [{fmt(s_lo)}, {fmt(s_hi)}]"),
            "suggested": {"low": s_lo, "high": s_hi}}


def top_trials(doc: dict, top_k: int | None = None) -> list[dict]:
    """The best complete trials of a results document (val_acc descending, ties by number)."""
    done = [t for t in doc["trials"] if t["status"] == "complete" and t["val_acc"] is not None]
    done.sort(key=lambda t: (-t["val_acc"], t["number"]))
    k = top_k if top_k is not None else max(3, len(done) // 10)
    return done[:max(1, k)]


def narrow(doc: dict, *, top_k: int | None = None, trials: int = 30, epochs: int = 20, sampler: str = "random",
           source: str = "results.json") -> tuple[Space, dict]:
    """The fine stage's space from a (validated) results document, and what changed per parameter.

    Each range spans its top trials' values, padded (log10 units for log ranges), inside the parent range;
    a parent edge the best trial touched is extended past (to the edge warning's suggestion). A choice
    keeps the options the top trials used. Fixed settings carry over.
    """
    parent = parse_space(doc["space"], f"{source}: space")
    top = top_trials(doc, top_k)
    if not top:
        raise ResultsError(f"{source}: no complete trial to narrow around (every trial diverged or failed)",
                           "rerun coarse with a lower lr range")
    edges = {w["param"]: w for w in edge_warnings(parent, top[0]["params"], doc["trials"])}
    searched = {n for n, _ in parent.params}
    fixed = {k: v for k, v in doc["fixed"].items() if k not in searched and k not in ("epochs", "abort_factor")}
    params, changes = [], {}
    for name, p in parent.params:
        used = [t["params"][name] for t in top]
        if isinstance(p, Choice):
            keep = tuple(c for c in p.choices if any(_same(c, u) for u in used))
            if len(keep) == 1:
                fixed[name] = keep[0]
            else:
                params.append((name, Choice(keep)))
            changes[name] = {"kind": "choice" if len(keep) > 1 else "fixed", "from": p.to_dict()["choices"],
                             "to": [_plain(c) for c in keep] if len(keep) > 1 else _plain(keep[0])}
            continue
        xs = [_to(p, v) for v in used]
        lo_p, hi_p = _to(p, p.low), _to(p, p.high)
        pad = max(PAD_SPREAD * (max(xs) - min(xs)), PAD_MIN * (hi_p - lo_p))
        lo, hi = max(min(xs) - pad, lo_p), min(max(xs) + pad, hi_p)
        low = p.low if lo == lo_p else _back(p, lo)
        high = p.high if hi == hi_p else _back(p, hi)
        extended = None
        if name in edges:
            extended = edges[name]["edge"]
            s = edges[name]["suggested"]
            low, high = (low, max(high, s["high"])) if extended == "high" else (min(low, s["low"]), high)
        low, high = _domain(name, p, low, high, (p.low, p.high))
        if p.integer and low >= high:
            fixed[name] = int(low)
            changes[name] = {"kind": "fixed", "from": [p.low, p.high], "to": int(low), "extended": extended}
            continue
        points = p.points or (len(p.values) if p.values else None) or (5 if sampler == "grid" else None)
        params.append((name, Range(low=low, high=high, log=p.log, integer=p.integer, points=points)))
        changes[name] = {"kind": "range", "from": [p.low, p.high], "to": [low, high], "extended": extended}
    space = Space(params=tuple(params), fixed=tuple(fixed.items()), sampler=sampler, trials=trials, epochs=epochs,
                  abort_factor=parent.abort_factor, source=f"fine space from {source}")
    return space, {"top_k": len(top), "top_numbers": [t["number"] for t in top], "params": changes}


def _same(choice, used) -> bool:
    return _plain(choice) == _plain(used)


def _plain(v):
    return list(v) if isinstance(v, (tuple, list)) else v
