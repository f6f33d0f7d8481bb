"""Benchmark: trials per second of `hpsearch coarse --jobs 1` against `--jobs 2` (not a test).

    python benchmarks/bench_jobs.py                 # 200 digits trials, 5 epochs, 3 rounds
    python benchmarks/bench_jobs.py --trials 1000 --rounds 3 --json /tmp/jobs.json
    python benchmarks/bench_jobs.py --trials 400 --compare /tmp/old   # this tree against another copy, interleaved

Each run is the real command in a fresh process and folder (`hpsearch coarse --trials T --epochs E --jobs N
--out DIR/r.json --quiet`, the default journal-file study beside it). Two rates per run:
- end to end: trials / wall time of the whole command (process start, imports, data, study, workers' start);
- search: trials / the span from the first trial's start to the last trial's end, read from the study
  (what a longer search approaches: the fixed costs above do not grow with the number of trials).
Runs of --jobs 1 and --jobs 2 are interleaved (1 2, 2 1, 1 2, ...) so a neighbour's load on this shared
machine hits both alike; medians over the rounds, ratios of the medians. Every run's trials are checked to
be the same (same seed: same configurations and values whatever the number of workers).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _harness  # noqa: E402


def hpsearch_cmd() -> list[str]:
    exe = Path(sys.executable).with_name("hpsearch")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "hpsearch"]


def span_of(journal: Path, study: str) -> tuple[float, dict[str, int]]:
    """(seconds from the first trial's start to the last trial's end, trials per worker)."""
    import optuna
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    trials = optuna.load_study(study_name=study, storage=JournalStorage(JournalFileBackend(str(journal)))).get_trials()
    done = [t for t in trials if t.datetime_complete is not None and t.datetime_start is not None]
    span = (max(t.datetime_complete for t in done) - min(t.datetime_start for t in done)).total_seconds()
    per: dict[str, int] = {}
    for t in done:
        w = str(t.user_attrs.get("worker"))
        per[w] = per.get(w, 0) + 1
    return span, per


def run_once(jobs: int, args, package: str | None = None) -> dict:
    """`package`: a folder holding another copy of the `hpsearch` package, run instead (its workers too)."""
    env = {**os.environ, "PYTHONPATH": package} if package else None
    with tempfile.TemporaryDirectory(prefix="bench-jobs-") as d:
        out = Path(d) / "r.json"
        cmd = ([sys.executable, "-m", "hpsearch"] if package else hpsearch_cmd()) + ["coarse", "--trials", str(args.trials), "--epochs", str(args.epochs),
                                "--data", args.data, "--seed", str(args.seed), "--jobs", str(jobs),
                                "--out", str(out), "--quiet"]
        if args.hidden:
            cmd += ["--hidden", args.hidden]
        t = time.perf_counter()
        p = subprocess.run(cmd, cwd=d, capture_output=True, text=True, env=env)
        wall = time.perf_counter() - t
        if p.returncode not in (0, 1) or not out.exists():  # 1: e.g. every trial diverged
            raise SystemExit(f"hpsearch coarse --jobs {jobs} failed ({p.returncode}): {p.stderr.strip()[-500:]}")
        doc = json.loads(out.read_text())
        span, per = span_of(Path(d) / "r.journal", "coarse-r")
    n = len(doc["trials"])
    outcome = [(t["number"], t["status"], t["val_acc"], t["final_loss"]) for t in doc["trials"]]
    return {"jobs": jobs, "trials": n, "wall": wall, "span": span, "trainer": sum(t["seconds"] for t in doc["trials"]),
            "per_worker": sorted(per.values(), reverse=True), "outcome": outcome}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trials", type=int, default=200)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--data", default="digits")
    ap.add_argument("--hidden", default=None, help="e.g. 256,256 for longer trials (default: the space's 100)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", dest="json_out", default=None, help="also write the figures to this file")
    ap.add_argument("--compare", metavar="DIR", default=None,
                    help="also run the hpsearch package found in DIR (e.g. a copy of an older tree), interleaved")
    args = ap.parse_args()
    if args.compare:
        return compare(args)

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"# hpsearch --jobs benchmark: {args.trials}-trial coarse search on {args.data}, {args.epochs} epochs, "
          f"{args.rounds} rounds, {cores} cores, load before {os.getloadavg()[0]:.2f}")
    print(f"# {_harness.machine_line(1)}")
    subprocess.run(hpsearch_cmd() + ["--help"], capture_output=True)  # warm the page cache
    runs: dict[int, list[dict]] = {1: [], 2: []}
    reference = None
    for r in range(args.rounds):
        for jobs in ((1, 2) if r % 2 == 0 else (2, 1)):
            res = run_once(jobs, args)
            if reference is None:
                reference = res["outcome"]
            if res["outcome"] != reference:
                raise SystemExit(f"--jobs {jobs} gave other trials or values than the first run")
            runs[jobs].append(res)
            print(f"round {r + 1} --jobs {jobs}: wall {res['wall']:.3f} s, search {res['span']:.3f} s, "
                  f"trainer {res['trainer']:.3f} s, trials per worker {res['per_worker']}", flush=True)

    med = {j: {k: statistics.median(x[k] for x in rs) for k in ("wall", "span", "trainer")} for j, rs in runs.items()}
    n = args.trials
    rate = {j: {"end_to_end": n / m["wall"], "search": n / m["span"]} for j, m in med.items()}
    ratio = {k: rate[2][k] / rate[1][k] for k in ("end_to_end", "search")}
    print()
    print(f"{'':10} {'wall s':>8} {'trials/s':>9} {'search s':>9} {'trials/s':>9}")
    for j in (1, 2):
        print(f"--jobs {j:<3} {med[j]['wall']:8.3f} {rate[j]['end_to_end']:9.1f} {med[j]['span']:9.3f} "
              f"{rate[j]['search']:9.1f}")
    print(f"ratio      {'':8} {ratio['end_to_end']:8.2f}x {'':9} {ratio['search']:8.2f}x")
    print(f"(medians of {args.rounds}; same trials and values in every run: yes; load after "
          f"{os.getloadavg()[0]:.2f})")
    # the summed training time of --jobs 2 exceeds --jobs 1's when something else took a core meanwhile
    contention = [b["trainer"] / a["trainer"] for a, b in zip(runs[1], runs[2])]
    per_round = [(a["span"] / b["span"], a["wall"] / b["wall"]) for a, b in zip(runs[1], runs[2])]
    print("per round (search ratio, end-to-end ratio, --jobs 2 trainer time / --jobs 1's): " + ", ".join(
        f"{r[0]:.2f}x {r[1]:.2f}x {c:.2f}" for r, c in zip(per_round, contention)))
    if max(contention) > 1.1:
        print("note: in some rounds another process used a core while --jobs 2 ran (trainer time up by more "
              "than 10 %): those rounds understate the ratio")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps({"args": vars(args), "cores": cores, "median": med, "rate": rate,
                                                   "ratio": ratio, "contention": contention, "runs": {j: [{k: v for k, v in x.items()
                                                                                  if k != "outcome"} for x in rs]
                                                                              for j, rs in runs.items()}}, indent=1))


def compare(args) -> None:
    """This tree and another copy of the package, --jobs 1 and 2 each, interleaved round by round."""
    trees = {"this tree": None, args.compare: args.compare}
    print(f"# hpsearch --jobs benchmark: {args.trials}-trial coarse search on {args.data}, {args.epochs} epochs, "
          f"{args.rounds} rounds, this tree against {args.compare}")
    print(f"# {_harness.machine_line(1)}")
    runs: dict[tuple[str, int], list[dict]] = {(t, j): [] for t in trees for j in (1, 2)}
    keys = list(runs)
    for r in range(args.rounds):
        k = r % len(keys)
        for key in keys[k:] + keys[:k]:
            runs[key].append(run_once(key[1], args, trees[key[0]]))
    outcomes = {json.dumps(x["outcome"]) for rs in runs.values() for x in rs}
    print(f"\n{'':28} {'--jobs 1 wall s':>16} {'--jobs 2 wall s':>16} {'whole command':>14} {'search':>8}")
    for t in trees:
        w1, w2 = (statistics.median(x["wall"] for x in runs[(t, j)]) for j in (1, 2))
        s1, s2 = (statistics.median(x["span"] for x in runs[(t, j)]) for j in (1, 2))
        print(f"{t:28} {w1:16.3f} {w2:16.3f} {w1 / w2:13.2f}x {s1 / s2:7.2f}x")
    print(f"(medians of {args.rounds}; ratios are --jobs 1 / --jobs 2; same trials and values in every run: "
          f"{len(outcomes) == 1}; load after {os.getloadavg()[0]:.2f})")


if __name__ == "__main__":
    main()
