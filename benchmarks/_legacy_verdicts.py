"""The verdicts and narrowing of hpsearch 0.x before issue 13 (argmax edge warnings, top-10 % narrowing), kept
only so that benchmarks/bench_verdicts.py can compare the recipe before and after on the same trials."""
from __future__ import annotations

import math

from hpsearch.config.plain import short
from hpsearch.config.space import Range, Space

EDGE = 0.10  # the best value in the outer 10 % of a range is "on the edge"
MAX_REACH = 2.0  # a suggestion reaches at most this many decades past a log range's edge
# hard limits of each numeric key (value, inclusive?) so suggestions stay valid configurations
LOWER = {"lr": (0.0, False), "init_scale": (0.0, False), "lr_decay": (0.0, False), "reg": (0.0, True),
         "dropout": (0.0, True), "batch_size": (1, True), "step_size": (1, True)}
UPPER = {"dropout": (1.0, False)}


def to_axis(p: Range, v: float) -> float:
    """A value in the range's units: log10 for a log range."""
    return math.log10(v) if p.log else float(v)


def from_axis(p: Range, x: float) -> float:
    """Back from the range's units to a value."""
    return 10.0 ** x if p.log else x


def clip_to_domain(name: str, p: Range, low: float, high: float, old: tuple[float, float]) -> tuple[float, float]:
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
        lo, hi, x = to_axis(p, p.low), to_axis(p, p.high), to_axis(p, best_params[name])
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
        s_lo, s_hi = clip_to_domain(name, p, from_axis(p, lo_s), from_axis(p, hi_s), (p.low, p.high))
        scale = " (log10 scale)" if p.log else ""
        where = "top" if edge == "high" else "bottom"
        out.append({
            "kind": "boundary", "param": name, "edge": edge, "value": best_params[name],
            "range": {"low": p.low, "high": p.high},
            "message": (f"best {name} {short(best_params[name])} lies in the {where} {EDGE:.0%} of its range "
                        f"[{short(p.low)}, {short(p.high)}]{scale}: the best value may lie "
                        f"{'above' if edge == 'high' else 'below'} the range; try {name} in "
                        f"[{short(s_lo)}, {short(s_hi)}] (fine --from extends past this edge)"),
            "suggested": {"low": s_lo, "high": s_hi},
        })
    return out


def all_diverged_warning(space: Space) -> dict:
    """Every trial diverged: the learning rate range is likely too high; suggest one a range-width lower."""
    p = space.param_dict.get("lr")
    if isinstance(p, Range):
        lo, hi = to_axis(p, p.low), to_axis(p, p.high)
        s_lo, s_hi = clip_to_domain("lr", p, from_axis(p, lo - (hi - lo)), p.low, (p.low, p.high))
        rng = f"[{short(p.low)}, {short(p.high)}]"
    else:
        lr = float(space.base_config().lr)
        s_lo, s_hi, rng = lr / 1000, lr / 10, f"(fixed at {short(lr)})"
    return {"kind": "all_diverged", "param": "lr", "edge": "high", "value": None, "range": None,
            "message": (f"every trial diverged: the lr range {rng} is likely too high; "
                        f"try lr in [{short(s_lo)}, {short(s_hi)}]"),
            "suggested": {"low": s_lo, "high": s_hi}}


def best(trials: list[dict]) -> dict | None:
    """Highest val_acc among complete trials (diverged and failed never win); ties go to the lower number."""
    ok = [t for t in trials if t["status"] == "complete" and t["val_acc"] is not None]
    return max(ok, key=lambda t: (t["val_acc"], -t["number"])) if ok else None


def warnings(space: Space, trials: list[dict]) -> list[dict]:
    """The warnings of a stage: edge warnings around its best trial, or the all-diverged warning."""
    top = best(trials)
    if top is not None:
        return edge_warnings(space, top["params"], trials)
    if trials and all(t["status"] == "diverged" for t in trials):
        return [all_diverged_warning(space)]
    return []


def gate_failure(doc: dict, out: str) -> str | None:
    """Why a stage's gate fails (exit 1), when its results hold trials but none completed: every one
    diverged, or failed; else None."""
    for w in doc["warnings"]:
        if w["kind"] == "all_diverged":
            return w["message"]
    if doc["best"] is None and doc["trials"]:
        return "no trial completed (see the trials' errors in " + out + ")"
    return None

from hpsearch.config.plain import plain
from hpsearch.config.records import Narrowing
from hpsearch.config.space import Choice, Range, Space
from hpsearch.config.space_file import parse_space
from hpsearch.errors import ResultsError

PAD_SPREAD = 0.25  # fine range = the top trials' spread, padded by a quarter of it on each side ...
PAD_MIN = 0.05  # ... but at least 5 % of the parent range's width


def top_trials(doc: dict, top_k: int | None = None) -> list[dict]:
    """The best complete trials of a results document (val_acc descending, ties by number)."""
    done = [t for t in doc["trials"] if t["status"] == "complete" and t["val_acc"] is not None]
    done.sort(key=lambda t: (-t["val_acc"], t["number"]))
    k = top_k if top_k is not None else max(3, len(done) // 10)
    return done[:max(1, k)]


def narrow(doc: dict, *, top_k: int | None = None, trials: int = 30, epochs: int = 20, sampler: str = "random",
           source: str = "results.json") -> tuple[Space, Narrowing]:
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
                             "to": [plain(c) for c in keep] if len(keep) > 1 else plain(keep[0])}
            continue
        xs = [to_axis(p, v) for v in used]
        lo_p, hi_p = to_axis(p, p.low), to_axis(p, p.high)
        pad = max(PAD_SPREAD * (max(xs) - min(xs)), PAD_MIN * (hi_p - lo_p))
        lo, hi = max(min(xs) - pad, lo_p), min(max(xs) + pad, hi_p)
        low = p.low if lo == lo_p else from_axis(p, lo)
        high = p.high if hi == hi_p else from_axis(p, hi)
        extended = None
        if name in edges:
            extended = edges[name]["edge"]
            s = edges[name]["suggested"]
            low, high = (low, max(high, s["high"])) if extended == "high" else (min(low, s["low"]), high)
        low, high = clip_to_domain(name, p, low, high, (p.low, p.high))
        if p.integer and low >= high:
            fixed[name] = int(low)
            changes[name] = {"kind": "fixed", "from": [p.low, p.high], "to": int(low), "extended": extended}
            continue
        points = p.points or (len(p.values) if p.values else None) or (5 if sampler == "grid" else None)
        params.append((name, Range(low=low, high=high, log=p.log, integer=p.integer, points=points)))
        changes[name] = {"kind": "range", "from": [p.low, p.high], "to": [low, high], "extended": extended}
    space = Space(params=tuple(params), fixed=tuple(fixed.items()), sampler=sampler, trials=trials, epochs=epochs,
                  abort_factor=parent.abort_factor, source=f"fine space from {source}")
    return space, Narrowing(len(top), tuple(t["number"] for t in top), changes)


def _same(choice, used) -> bool:
    return plain(choice) == plain(used)
