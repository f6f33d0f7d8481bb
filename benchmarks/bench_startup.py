"""Start-up benchmark: where a short `hpsearch coarse --quiet` spends the time outside its trials (not a test).

    python benchmarks/bench_startup.py                      # 50 digits trials of 5 epochs, 5 rounds
    python benchmarks/bench_startup.py --compare /tmp/old   # also another copy of the hpsearch package, interleaved

Each run is the real command in a fresh process and folder, started through a small driver that times, inside
that process, every import (outermost imports only, so nothing is counted twice) and the stage's phases (space
file, plan, data, study set-up, enqueueing, the search, collecting, the results document and file, rendering):
a phase's figure excludes the imports made inside it, which are counted under "imports". "interpreter" is the
time from the spawn to the driver's first line (Python and site start-up); "rest" is the wall time nobody
above claims (parsing the command line, the interpreter's teardown at exit). "outside the trials" = wall - the search phase (issue 18's
target: <= 0.35 s for 50 digits trials). `hpsearch --help` is timed too (target <= 0.2 s).
Runs of each contender are interleaved; medians over the rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness as H  # noqa: E402

# module -> {function name: phase}: wrapped in the child as soon as the module is imported
PHASES = {
    "hpsearch.config.space_file": {"resolve": "space file"},
    "hpsearch.engine.workers": {"start_workers": "start workers", "run": "search"},
    "hpsearch.engine.stage": {"make_plan": "plan", "stage_split": "data (load, split)"},
    "hpsearch.engine.storage": {"open_study": "open study"},
    "hpsearch.engine.enqueue": {"prepare": "enqueue"},
    "hpsearch.engine.trial": {"preload": "preload", "collect": "collect"},
    "hpsearch.engine.document": {"build": "results document"},
    "hpsearch.results.file": {"write": "results file"},
    "hpsearch.cli.stage": {"render": "render"},
}

DRIVER = r'''
import json, sys, time
spawned, out_path, phases = float(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3])
t_start, started = time.perf_counter(), time.time()
import functools, importlib.abc, importlib.machinery, os

spent = {"imports": 0.0}
depth = [0]  # imports in progress
inner = [0.0]  # import time inside the phase being timed (a phase's own figure excludes it)

class Timed(importlib.abc.Loader):
    def __init__(self, loader):
        self.loader = loader
    def create_module(self, spec):
        return self.loader.create_module(spec)
    def exec_module(self, module):
        t = time.perf_counter()
        depth[0] += 1
        try:
            self.loader.exec_module(module)
        finally:
            depth[0] -= 1
            if depth[0] == 0:
                dt = time.perf_counter() - t
                spent["imports"] += dt
                inner[0] += dt
        for name, phase in phases.get(module.__name__, {}).items():
            if hasattr(module, name):
                setattr(module, name, timed(getattr(module, name), phase))
    def __getattr__(self, name):
        return getattr(self.loader, name)

class Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        for f in sys.meta_path:
            if f is self or not hasattr(f, "find_spec"):
                continue
            spec = f.find_spec(name, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = Timed(spec.loader)
                return spec
        return None

def timed(fn, phase):
    @functools.wraps(fn)
    def wrapper(*a, **k):
        saved, inner[0] = inner[0], 0.0
        t = time.perf_counter()
        try:
            return fn(*a, **k)
        finally:
            own = time.perf_counter() - t - inner[0]
            spent[phase] = spent.get(phase, 0.0) + own
            inner[0] = saved + (time.perf_counter() - t)  # the enclosing phase excludes this one entirely
    return wrapper

sys.meta_path.insert(0, Finder())
def report():
    if "interpreter" in spent:
        return
    spent["interpreter"] = started - spawned
    spent["in_process"] = time.perf_counter() - t_start
    with open(out_path, "w") as f:
        json.dump(spent, f)
import atexit
atexit.register(report)
sys.argv = ["hpsearch"] + sys.argv[4:]
import hpsearch._entry as entry
if hasattr(entry, "leave"):  # it may end the process with os._exit: no atexit
    leave = entry.leave
    def leaving(code):
        report()
        leave(code)
    entry.leave = leaving
entry.main()
'''


def run_once(args, package: str | None) -> dict:
    env = {**os.environ, "PYTHONPATH": package} if package else None
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as d:
        out, split = Path(d) / "r.json", Path(d) / "split.json"
        cmd = ["coarse", "--trials", str(args.trials), "--epochs", str(args.epochs), "--data", args.data,
               "--seed", str(args.seed), "--out", str(out), "--quiet"]
        t = time.perf_counter()
        p = subprocess.run([sys.executable, "-c", DRIVER, repr(time.time()), str(split), json.dumps(PHASES)] + cmd,
                           cwd=d, capture_output=True, text=True, env=env)
        wall = time.perf_counter() - t
        if p.returncode not in (0, 1) or not out.exists():
            raise SystemExit(f"hpsearch coarse failed ({p.returncode}): {p.stderr.strip()[-800:]}")
        doc = json.loads(out.read_text())
        spent = json.loads(split.read_text())
    search = doc["progress"]["seconds"]
    trainer = sum(t["seconds"] for t in doc["trials"])
    spent.pop("in_process", None)
    spent["search"] = spent.get("search", search)
    claimed = sum(spent.values())
    return {"wall": wall, "outside": wall - search, "search": search, "trainer": trainer,
            "phases": {**spent, "rest": wall - claimed}, "stderr": p.stderr.strip()[-300:],
            "outcome": json.dumps([[t["number"], t["status"], t["val_acc"]] for t in doc["trials"]])}


def help_once(package: str | None) -> float:
    env = {**os.environ, "PYTHONPATH": package} if package else None
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "hpsearch", "--help"], capture_output=True, env=env)
    return time.perf_counter() - t


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trials", type=int, default=50)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--data", default="digits")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds (median reported)")
    ap.add_argument("--compare", metavar="DIR", default=None,
                    help="also run the hpsearch package found in DIR (e.g. a copy of an older tree), interleaved")
    ap.add_argument("--json", dest="json_path", default=None)
    args = ap.parse_args(argv)
    contenders = {"this tree": None}
    if args.compare:
        contenders[args.compare] = args.compare
    print(f"# hpsearch start-up benchmark: {args.trials}-trial coarse --quiet on {args.data}, {args.epochs} epochs")
    print(f"{H.machine_line(len(os.sched_getaffinity(0)))}\ncommand: {H.command_line()}\n", flush=True)
    runs: dict[str, list[dict]] = {k: [] for k in contenders}
    helps: dict[str, list[float]] = {k: [] for k in contenders}
    names = list(contenders)
    for r in range(args.rounds):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            runs[name].append(run_once(args, contenders[name]))
            helps[name].append(help_once(contenders[name]))
    phases = [p for p in ("interpreter", "imports", "space file", "start workers", "plan", "data (load, split)",
                          "open study", "enqueue", "preload", "search", "collect", "results document",
                          "results file", "render", "rest") if any(p in x["phases"] for rs in runs.values() for x in rs)]
    header = ["phase (ms, median)"] + names
    rows = []
    for p in phases:
        rows.append([p] + [f"{1e3 * H.median([x['phases'].get(p, 0.0) for x in runs[n]]):.0f}" for n in names])
    rows.append(["wall"] + [f"{1e3 * H.median([x['wall'] for x in runs[n]]):.0f}" for n in names])
    rows.append(["outside the trials (wall - search)"] +
                [f"{1e3 * H.median([x['outside'] for x in runs[n]]):.0f}" for n in names])
    rows.append(["trainer (sum of trial seconds)"] +
                [f"{1e3 * H.median([x['trainer'] for x in runs[n]]):.0f}" for n in names])
    rows.append(["`hpsearch --help`"] + [f"{1e3 * H.median(helps[n]):.0f}" for n in names])
    print(H.table(header, rows))
    if len(names) > 1:
        base = H.median([x["outside"] for x in runs[names[1]]])
        print(f"\noutside the trials, this tree / {names[1]}: {H.median([x['outside'] for x in runs[names[0]]]) / base:.2f}")
    outcomes = {x["outcome"] for rs in runs.values() for x in rs}
    print(f"runs with identical trials (number, status, val_acc): {len(outcomes) == 1}")
    if args.json_path:
        for rs in runs.values():
            for x in rs:
                x.pop("outcome", None)
        Path(args.json_path).write_text(json.dumps({"runs": runs, "help": helps}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
