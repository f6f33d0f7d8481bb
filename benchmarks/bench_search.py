"""Search benchmark: a 100-trial coarse search on digits, end to end, against the same search written as an
Optuna + scikit-learn loop (when the `bench` extra is installed).

    python benchmarks/bench_search.py                 # 3 interleaved rounds of each
    python benchmarks/bench_search.py --rounds 5 --trials 200 --json search.json
    python benchmarks/bench_search.py --compare /tmp/old --no-peer   # this tree against another copy of hpsearch

hpsearch: `hpsearch coarse --trials N --epochs 5 --out DIR/r.json --quiet` in a fresh process and folder
(random search, lr 1e-6..1 and reg 1e-5..1e5 log-uniform, 64-100-10 ReLU, SGD momentum, batch 100, the
journal-file study the command keeps by default). Its trainer time is the sum of the trials' `seconds`
(measured inside `fit`); its search phase is the results file's `progress.seconds`. Engine overhead is the
search phase's time outside the trainer (per-trial work: claims, heartbeats, recording results, diagnosis),
as a percentage of the search phase and of the trainer time (issue 18's target: <= 5 % of trainer time at
100 trials); start-up is the rest of the wall time (interpreter start and imports,
data loading and split, the study's set-up, the results file and its report), paid once per command.

Optuna + scikit-learn: the same ranges and trials as a plain `study.optimize` loop (RandomSampler,
in-memory storage: lighter than hpsearch's journal file), each trial an MLPClassifier of the same shape
(sgd, momentum 0.9, batch 100, max_iter = epochs, no early stop) on the same split, scored on the
validation part. Also a fresh process; its trainer time is the sum of the `fit` + `score` calls.
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

HERE = Path(__file__).resolve()

OPTUNA_LOOP = r'''
import json, sys, time, warnings
t_start = time.perf_counter()
import numpy as np, optuna
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier
from hpsearch.data import dataset, split
trials, epochs, seed = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
sp = split.split(dataset.load("digits"), 0.2, seed)
fit_seconds = []
optuna.logging.set_verbosity(optuna.logging.WARNING)

def objective(trial):
    lr = trial.suggest_float("lr", 1e-6, 1.0, log=True)
    reg = trial.suggest_float("reg", 1e-5, 1e5, log=True)
    t = time.perf_counter()
    try:
        clf = MLPClassifier(hidden_layer_sizes=(100,), solver="sgd", momentum=0.9, nesterovs_momentum=False,
                            learning_rate_init=lr, alpha=reg, batch_size=100, max_iter=epochs, tol=0.0,
                            n_iter_no_change=epochs + 1, random_state=trial.number)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            clf.fit(sp.X_train, sp.y_train)
            score = float(clf.score(sp.X_val, sp.y_val))
    except (ValueError, FloatingPointError):  # diverged: non-finite weights
        score = 0.0
    fit_seconds.append(time.perf_counter() - t)
    return score

t_search = time.perf_counter()
study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=seed))
study.optimize(objective, n_trials=trials)
print(json.dumps({"trainer": sum(fit_seconds), "best": study.best_value, "trials": len(study.trials),
                  "search": time.perf_counter() - t_search, "in_process": time.perf_counter() - t_start}))
'''


def run_hpsearch(trials: int, epochs: int, seed: int, package: str | None = None) -> dict:
    """`package`: a folder holding another copy of the `hpsearch` package, run instead of the installed one."""
    exe = Path(sys.executable).with_name("hpsearch")
    cmd = [str(exe)] if exe.exists() and package is None else [sys.executable, "-m", "hpsearch"]
    env = {**os.environ, "PYTHONPATH": package} if package else None
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "r.json"
        t = time.perf_counter()
        p = subprocess.run(cmd + ["coarse", "--trials", str(trials), "--epochs", str(epochs), "--seed", str(seed),
                                  "--out", str(out), "--quiet"], cwd=d, capture_output=True, text=True, env=env)
        wall = time.perf_counter() - t
        if p.returncode not in (0, 1) or not out.exists():  # 1: a gate (e.g. a warning under --strict)
            raise SystemExit(f"hpsearch coarse failed ({p.returncode}): {p.stderr.strip()}")
        res = json.loads(out.read_text())
    ts = res["trials"]
    best = res.get("best") or {}
    same = json.dumps([[t["number"], t["status"], t["val_acc"], t["val_curve"]] for t in ts])  # must not vary
    return {"wall": wall, "search": res["progress"]["seconds"], "trainer": sum(t["seconds"] for t in ts),
            "trials": len(ts), "best": best.get("val_acc"), "outcomes": same}


def run_optuna_sklearn(trials: int, epochs: int, seed: int) -> dict:
    t = time.perf_counter()
    p = subprocess.run([sys.executable, "-c", OPTUNA_LOOP, str(trials), str(epochs), str(seed)],
                       capture_output=True, text=True)
    wall = time.perf_counter() - t
    if p.returncode != 0:
        raise SystemExit(f"optuna + scikit-learn loop failed: {p.stderr.strip()[-500:]}")
    res = json.loads(p.stdout.strip().splitlines()[-1])
    return {"wall": wall, "search": res["search"], "trainer": res["trainer"], "trials": res["trials"],
            "best": res["best"]}


def help_seconds() -> float:
    exe = Path(sys.executable).with_name("hpsearch")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "hpsearch"]
    t = time.perf_counter()
    subprocess.run(cmd + ["--help"], capture_output=True)
    return time.perf_counter() - t


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trials", type=int, default=100)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds (median reported)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", dest="json_path", default=None)
    ap.add_argument("--compare", metavar="DIR", default=None,
                    help="also run the hpsearch package found in DIR (e.g. a copy of an older tree), interleaved")
    ap.add_argument("--no-peer", action="store_true", help="skip the Optuna + scikit-learn loop")
    args = ap.parse_args(argv)
    import functools
    import importlib.util

    runners = {"hpsearch coarse": run_hpsearch}
    if args.compare:
        runners[f"hpsearch coarse ({args.compare})"] = functools.partial(run_hpsearch, package=args.compare)
    if not args.no_peer and importlib.util.find_spec("optuna") and importlib.util.find_spec("sklearn"):
        runners["optuna + sklearn"] = run_optuna_sklearn
    print(f"# hpsearch search benchmark: {args.trials}-trial coarse search on digits, {args.epochs} epochs")
    print(f"{H.machine_line(len(os.sched_getaffinity(0)))}\ncommand: {H.command_line()}\n", flush=True)
    results: dict[str, list[dict]] = {k: [] for k in runners}
    helps = []
    names = list(runners)
    for r in range(args.rounds):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            results[name].append(runners[name](args.trials, args.epochs, args.seed))
        helps.append(help_seconds())
    rows, report = [], {"trials": args.trials, "epochs": args.epochs, "contenders": {}}
    base = None
    for name, runs in results.items():
        wall = H.median([x["wall"] for x in runs])
        search = H.median([x["search"] for x in runs])
        trainer = H.median([x["trainer"] for x in runs])
        engine = H.median([(x["search"] - x["trainer"]) / x["search"] for x in runs])
        of_trainer = H.median([(x["search"] - x["trainer"]) / x["trainer"] for x in runs])
        per_trial = H.median([(x["search"] - x["trainer"]) / x["trials"] for x in runs])
        start = H.median([x["wall"] - x["search"] for x in runs])
        base = base or wall
        report["contenders"][name] = {"wall_s": round(wall, 3), "search_s": round(search, 3),
                                      "trainer_s": round(trainer, 3), "startup_s": round(start, 3),
                                      "engine_overhead_pct": round(100 * engine, 1),
                                      "engine_overhead_pct_of_trainer": round(100 * of_trainer, 1),
                                      "engine_ms_per_trial": round(1e3 * per_trial, 3),
                                      "overhead_pct_of_wall": round(100 * (wall - trainer) / wall, 1),
                                      "best_val_acc": runs[0]["best"], "rounds": runs}
        rows.append([name, f"{wall:.2f}", f"{start:.2f}", f"{search:.2f}", f"{trainer:.2f}",
                     f"{100 * engine:.1f}%", f"{100 * of_trainer:.1f}%", f"{1e3 * per_trial:.2f}",
                     f"{100 * (wall - trainer) / wall:.0f}%",
                     f"{1e3 * trainer / runs[0]['trials']:.1f}", f"{wall / base:.2f}", f"{runs[0]['best']:.3f}"])
    print(H.table(["search", "wall s", "start-up s", "search s", "trainer s", "engine overhead (% of search)",
                   "engine overhead (% of trainer)", "engine ms/trial", "all overhead (% of wall)", "ms/trial (trainer)", "wall / hpsearch", "best val_acc"], rows))
    outcomes = {x["outcomes"] for runs in results.values() for x in runs if "outcomes" in x}
    if outcomes:
        print(f"hpsearch runs with identical trials (number, status, val_acc, val_curve): {len(outcomes) == 1}")
    for runs in results.values():
        for x in runs:
            x.pop("outcomes", None)
    print("\nstart-up: interpreter, imports, data, study set-up and the results file (wall - search);"
          "\nengine overhead: the search phase's time outside the trainer (claims, heartbeats, results, diagnosis)")
    hs = H.median(helps)
    report["help_s"] = round(hs, 3)
    print(f"\n`hpsearch --help`: {hs:.2f} s (process start + CLI import; part of every command's overhead)")
    if args.json_path:
        Path(args.json_path).write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
