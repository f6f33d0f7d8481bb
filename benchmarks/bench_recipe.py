"""The whole hpsearch recipe against the search a user would write by hand (issue 15, "Benchmark").

For each data set and seed a stratified 25 % test split is carved off (seeded) and written, with the training
part, as .npz files (X, y) in a temp folder. Then, on the training part only:

  hpsearch  (through the CLI, as a user runs it; one subprocess per command)
      sanity --data TRAIN.npz --quiet
      coarse --data TRAIN.npz --epochs 5 --trials 50 --seed S --quiet --out coarse.json
      fine --from coarse.json --trials 30 --epochs 20 --quiet --out fine.json
      train --from fine.json --top 5 --final --save models/ --quiet   ->  evaluate models/ --data TEST.npz --json
      train --from fine.json --top 5 --seeds 2 --final --save top5x2/ --quiet  ->  evaluate top5x2/ ...
      train --from fine.json --seeds 5 --final --save seeds/ --quiet  ->  evaluate seeds/ --data TEST.npz --json
      train --from fine.json --final --save best.npz --quiet         ->  evaluate best.npz --data TEST.npz --json
  peers     (Optuna TPESampler / RandomSampler + scikit-learn MLPClassifier, one subprocess each)
      lr (learning_rate_init) 1e-6..1 log, reg (alpha) 1e-5..1e5 log; hidden (100,), solver sgd, momentum 0.9
      (not Nesterov), batch 100, StandardScaler fitted on the rows being trained on; one study of 85 trials x
      max_iter=10 (850 epoch-equivalents, hpsearch's 50x5 + 30x20), validated on a stratified 20 % of the
      training part; a non-finite loss prunes the trial; the best params are refit on the whole training part
      for 20 epochs and scored once on the test split.

  oracle    (a reference, not a contender) hpsearch's own net trained --final for 20 epochs at every cell of a
      fixed log grid (lr 10^-2.5..1, 4 a decade; reg 1e-5..1, 2 a decade), scored on the test split: "oracle" is
      the best cell of each seed, chosen by looking at the test set (no lr/reg search ending in one such model
      can expect more); "best fixed cell" is the one cell with the best mean over the seeds, as if it had been
      known in advance. It runs in this process, outside every CPU figure.

CPU seconds are the children's user+sys CPU (resource.getrusage(RUSAGE_CHILDREN) deltas) for both sides, so
both include interpreter start-up and imports. "top-5 ensemble" = the recipe ending in the top-5 --final
ensemble; "top-5 x 2 seeds" = in those five configurations each trained from 2 seeds (--seeds 2: 10 models);
"best config x 5 seeds" = in the best configuration trained from 5 seeds (--seeds 5); "best config" =
in the single best configuration (sanity + coarse + fine are shared, and counted in full in every row).
scikit-learn is a benchmark-only dependency (pip install scikit-learn).

    python benchmarks/bench_recipe.py                 # digits + blobs40, seeds 0-9 (~6 min on 2 cores)
    python benchmarks/bench_recipe.py --seeds 0,1,2 --data digits
    python benchmarks/bench_recipe.py --halving 50x5/3/1,150x5/3/1   # plain coarse against coarse --halving
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import _harness

THREADS = _harness.set_threads(1)

import numpy as np

PEER_TRIALS = 85        # x PEER_EPOCHS = 850 epoch-equivalents = hpsearch's coarse 50x5 + fine 30x20
PEER_EPOCHS = 10
CONSTRUCTED = ("blobs40", "xor20", "waves", "rings", "cells", "stripes", "sectors")  # bench_verdicts' sets
FINALS = {  # the recipe's last step: key -> (row label, train --from flags, --save target)
    "ensemble": ("hpsearch recipe, top-5 ensemble", ["--top", "5"], "models/"),
    "top5x2": ("hpsearch recipe, top-5 x 2 seeds", ["--top", "5", "--seeds", "2"], "top5x2/"),
    "seeds": ("hpsearch recipe, best config x 5 seeds", ["--seeds", "5"], "seeds/"),
    "best": ("hpsearch recipe, best config", [], "best.npz"),
}
RECIPES = tuple((key, label) for key, (label, _, _) in FINALS.items())
SHORT = {**{label: key for key, label in RECIPES},
         "Optuna TPE + sklearn MLP": "tpe", "Optuna random + sklearn MLP": "random"}
REFIT_EPOCHS = 20       # = hpsearch fine's epochs, which train --final uses
TEST_FRACTION = 0.25
VAL_FRACTION = 0.2      # hpsearch's default --val-fraction


# ----------------------------------------------------------------------------------------------- data

def load(name: str):
    if name == "digits":
        from hpsearch.data.builtin import digits
        return digits()
    if name in CONSTRUCTED:
        import bench_verdicts
        return getattr(bench_verdicts, name)()
    raise SystemExit(f"unknown data set {name!r}: digits or one of bench_verdicts' {', '.join(CONSTRUCTED)}")


def stratified_split(y: np.ndarray, fraction: float, rng: np.random.Generator):
    """Indices (rest, held) with `fraction` of each class held out."""
    held = []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        held.extend(idx[: round(fraction * len(idx))])
    held = np.sort(np.array(held))
    rest = np.setdiff1d(np.arange(len(y)), held)
    return rest, held


def write_split(name: str, seed: int, folder: str) -> tuple[str, str, int, int]:
    X, y = load(name)
    train, test = stratified_split(y, TEST_FRACTION, np.random.default_rng([seed, 15]))
    train_path, test_path = os.path.join(folder, "train.npz"), os.path.join(folder, "test.npz")
    np.savez(train_path, X=X[train], y=y[train])
    np.savez(test_path, X=X[test], y=y[test])
    return train_path, test_path, len(train), len(test)


# ----------------------------------------------------------------------------------------------- measuring

def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run(cmd: list[str], cwd: str, log: list[str]) -> tuple[int, str, float]:
    """Run cmd; returns (exit code, stdout, children CPU seconds it used). Non-empty stderr goes to `log`."""
    before = children_cpu()
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    cpu = children_cpu() - before
    if p.stderr.strip() or p.returncode != 0:
        short = " ".join(c if "/" not in c else os.path.basename(c) for c in cmd[2:])
        log.append(f"[exit {p.returncode}] {short}: {p.stderr.strip()}")
    return p.returncode, p.stdout, cpu


# ----------------------------------------------------------------------------------------------- hpsearch

PLAIN_COARSE = ["--epochs", "5", "--trials", "50"]


def coarse_args(spec: str | None) -> list[str]:
    """The recipe's coarse flags: plain (None), or successive halving from a --halving SPEC
    'TRIALSxEPOCHS/RATE/MIN_EPOCHS' (e.g. 50x5/3/1: 50 configurations, rungs of 1, 3 and 5 epochs)."""
    if spec is None:
        return PLAIN_COARSE
    size, rate, low = spec.split("/")
    trials, epochs = size.split("x")
    return ["--epochs", epochs, "--trials", trials, "--halving", "--halving-rate", rate, "--min-epochs", low]


def hpsearch_recipe(train: str, test: str, seed: int, folder: str, log: list[str],
                    halving: str | None = None, hidden: str | None = None, finals=tuple(FINALS)) -> dict:
    hp = [sys.executable, "-m", "hpsearch"]
    cpu_shared = 0.0
    out: dict = {"sanity_rc": None}
    rc, _, cpu = run(hp + ["sanity", "--data", train, "--quiet"], folder, log)
    out["sanity_rc"], cpu_shared = rc, cpu_shared + cpu
    out["sanity_cpu"] = cpu
    model = ["--hidden", hidden] if hidden else []  # fixed in coarse: fine and train --from carry it over
    rc, _, cpu = run(hp + ["coarse", "--data", train, *coarse_args(halving), *model, "--seed", str(seed),
                           "--quiet", "--out", "coarse.json"], folder, log)
    cpu_shared += cpu
    out["coarse_cpu"] = cpu
    if rc != 0:
        return {**out, "error": f"coarse exit {rc}"}
    rc, _, cpu = run(hp + ["fine", "--from", "coarse.json", "--trials", "30", "--epochs", "20", "--quiet",
                           "--out", "fine.json"], folder, log)
    cpu_shared += cpu
    if rc != 0:
        return {**out, "error": f"fine exit {rc}"}
    out["search_cpu"] = cpu_shared
    for key in finals:
        _, top, save = FINALS[key]
        rc1, _, cpu1 = run(hp + ["train", "--from", "fine.json", *top, "--final", "--save", save, "--quiet"],
                           folder, log)
        rc2, stdout, cpu2 = run(hp + ["evaluate", save, "--data", test, "--json", "--quiet"], folder, log)
        if rc1 != 0 or rc2 != 0:
            out[key] = {"error": f"train exit {rc1}, evaluate exit {rc2}"}
            continue
        doc = json.loads(stdout)
        out[key] = {"acc": doc["accuracy"], "members": [m["accuracy"] for m in doc["members"]],
                    "cpu": cpu_shared + cpu1 + cpu2, "final_cpu": cpu1 + cpu2}
    with open(os.path.join(folder, "coarse.json")) as f:
        coarse = json.load(f)
    with open(os.path.join(folder, "fine.json")) as f:
        fine = json.load(f)
    out["diverged"] = (sum(t["status"] == "diverged" for t in coarse["trials"]),
                       sum(t["status"] == "diverged" for t in fine["trials"]))
    out["epochs_run"] = sum(t["epochs_run"] for t in coarse["trials"] + fine["trials"])
    out["best_params"] = fine["best"]["params"]
    return out


# ----------------------------------------------------------------------------------------------- oracle

ORACLE_LR = np.logspace(-2.5, 0, 11)
ORACLE_REG = np.logspace(-5, 0, 11)


def oracle_grid(train: str, test: str) -> np.ndarray:
    """Test accuracy (len(ORACLE_LR), len(ORACLE_REG)) of hpsearch's default net (the recipe's fixed settings)
    trained on every training row for REFIT_EPOCHS epochs at each grid cell; 0 where it diverged."""
    from hpsearch.config.train import TrainConfig
    from hpsearch.data.dataset import make_dataset
    from hpsearch.data.split import split
    from hpsearch.trainer.fit import fit
    from hpsearch.trainer.saved import SavedModel

    tr, te = np.load(train), np.load(test)
    sp = split(make_dataset(tr["X"], tr["y"], "train"), final=True)
    grid = np.zeros((ORACLE_LR.size, ORACLE_REG.size))
    for i, lr in enumerate(ORACLE_LR):
        for j, reg in enumerate(ORACLE_REG):
            cfg = TrainConfig(lr=float(lr), reg=float(reg), epochs=REFIT_EPOCHS)
            r = fit(sp, cfg, seed=0, threads=1)
            if r.status == "complete" and r.model is not None:  # scored as a saved model reads the raw test file
                model = SavedModel(r.model, cfg, sp.classes, sp.mean, sp.std, header={})
                grid[i, j] = float((model.predict(te["X"]) == te["y"]).mean())
    return grid


# ----------------------------------------------------------------------------------------------- peers

def peer(sampler_name: str, train: str, test: str, seed: int, trials: int, epochs: int) -> dict:
    """The hand-written search (runs in a child process: `--peer NAME ...`)."""
    import warnings

    import optuna
    try:
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPClassifier
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
    except ImportError:
        raise SystemExit("scikit-learn is not installed; it is a benchmark-only dependency: "
                         "pip install scikit-learn") from None

    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    warnings.filterwarnings("ignore", category=RuntimeWarning)   # overflow in the diverging trials
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    d = np.load(train)
    X, y = d["X"], d["y"]
    fit_idx, val_idx = stratified_split(y, VAL_FRACTION, np.random.default_rng([seed, 20]))

    def model(lr: float, alpha: float, max_iter: int, random_state: int):
        return make_pipeline(StandardScaler(), MLPClassifier(
            hidden_layer_sizes=(100,), solver="sgd", momentum=0.9, nesterovs_momentum=False, batch_size=100,
            learning_rate_init=lr, alpha=alpha, max_iter=max_iter, early_stopping=False,
            random_state=random_state))

    def finite(m) -> bool:
        return math.isfinite(m[-1].loss_)

    pruned = 0

    def objective(trial: optuna.Trial) -> float:
        nonlocal pruned
        lr = trial.suggest_float("lr", 1e-6, 1.0, log=True)
        alpha = trial.suggest_float("alpha", 1e-5, 1e5, log=True)
        m = model(lr, alpha, epochs, seed * 1000 + trial.number)
        try:
            m.fit(X[fit_idx], y[fit_idx])
        except (ValueError, FloatingPointError):      # "Solver produced non-finite parameter weights"
            pruned += 1
            raise optuna.TrialPruned()
        if not finite(m):
            pruned += 1
            raise optuna.TrialPruned()
        return float(m.score(X[val_idx], y[val_idx]))

    sampler = {"tpe": optuna.samplers.TPESampler, "random": optuna.samplers.RandomSampler}[sampler_name](seed=seed)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(objective, n_trials=trials)
    best = study.best_params
    m = model(best["lr"], best["alpha"], REFIT_EPOCHS, seed)
    t = np.load(test)
    try:
        m.fit(X, y)
        acc = float(m.score(t["X"], t["y"])) if finite(m) else 0.0
    except (ValueError, FloatingPointError):
        acc = 0.0
    return {"acc": acc, "val_acc": study.best_value, "params": best, "pruned": pruned}


def run_peer(name: str, train: str, test: str, seed: int, folder: str, log: list[str], args) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), "--peer", name, "--train", train, "--test", test,
           "--seed", str(seed), "--peer-trials", str(args.peer_trials), "--peer-epochs", str(args.peer_epochs)]
    rc, stdout, cpu = run(cmd, folder, log)
    if rc != 0:
        return {"error": f"exit {rc}"}
    return {**json.loads(stdout), "cpu": cpu}


# ----------------------------------------------------------------------------------------------- report

def pct(xs: list[float]) -> str:
    if not xs:
        return "n/a"
    sd = statistics.stdev(xs) if len(xs) > 1 else 0.0
    return f"{100 * statistics.mean(xs):.1f} ± {100 * sd:.1f} ({100 * min(xs):.1f}–{100 * max(xs):.1f})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="digits,blobs40", help="comma list: digits, " + ", ".join(CONSTRUCTED))
    ap.add_argument("--seeds", default="0,1,2,3,4,5,6,7,8,9")
    ap.add_argument("--peer-trials", type=int, default=PEER_TRIALS)
    ap.add_argument("--peer-epochs", type=int, default=PEER_EPOCHS)
    ap.add_argument("--keep", action="store_true", help="keep the temp folders (their path is printed)")
    # the child side of a peer run
    ap.add_argument("--peer", choices=["tpe", "random"], help=argparse.SUPPRESS)
    ap.add_argument("--train", help=argparse.SUPPRESS)
    ap.add_argument("--test", help=argparse.SUPPRESS)
    ap.add_argument("--seed", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--halving", metavar="SPEC,...", help="compare the recipe with plain coarse (50x5) against "
                    "coarse --halving variants, each 'TRIALSxEPOCHS/RATE/MIN_EPOCHS' (e.g. 50x5/3/1,150x5/3/1); "
                    "no peers in this mode")
    ap.add_argument("--hidden", help="with --halving: hidden widths for the whole recipe (e.g. 512,512: costlier "
                    "epochs; default: the space's 100)")
    args = ap.parse_args()

    if args.peer:
        print(json.dumps(peer(args.peer, args.train, args.test, args.seed, args.peer_trials, args.peer_epochs)))
        return
    if args.halving:
        compare_halving(args)
        return

    try:
        import sklearn  # noqa: F401
    except ImportError:
        raise SystemExit("scikit-learn is not installed; it is a benchmark-only dependency: "
                         "pip install scikit-learn") from None

    seeds = [int(s) for s in args.seeds.split(",")]
    names = args.data.split(",")
    root = tempfile.mkdtemp(prefix="bench_recipe_")
    print(_harness.machine_line(THREADS))
    print(_harness.command_line())
    print(f"peers: {args.peer_trials} trials x {args.peer_epochs} epochs, refit {REFIT_EPOCHS} epochs; "
          f"hpsearch: coarse 50x5, fine 30x20, final {REFIT_EPOCHS} epochs; test split {TEST_FRACTION:.0%}, "
          f"seeds {args.seeds}", flush=True)
    log: list[str] = []
    verdicts = []
    t0 = time.perf_counter()
    for name in names:
        rows: dict[str, dict[str, list[float]]] = {}
        details = []
        grids: list[np.ndarray] = []
        for seed in seeds:
            folder = os.path.join(root, f"{name}-{seed}")
            os.makedirs(folder)
            train, test, n_train, n_test = write_split(name, seed, folder)
            log.append(f"--- {name} seed {seed} ({n_train} train / {n_test} test rows)")
            hp = hpsearch_recipe(train, test, seed, folder, log)
            results = {}
            for key, label in RECIPES:
                if key in hp and "acc" in hp[key]:
                    results[label] = hp[key]
            for pname, label in (("tpe", "Optuna TPE + sklearn MLP"), ("random", "Optuna random + sklearn MLP")):
                r = run_peer(pname, train, test, seed, folder, log, args)
                if "acc" in r:
                    results[label] = r
            for label, r in results.items():
                row = rows.setdefault(label, {"acc": [], "cpu": []})
                row["acc"].append(r["acc"])
                row["cpu"].append(r["cpu"])
            line = f"{name} seed {seed}: " + ", ".join(f"{SHORT[k]} {100 * v['acc']:.1f}% {v['cpu']:.1f}s"
                                                      for k, v in results.items())
            if "error" in hp:
                line += f"  [hpsearch: {hp['error']}]"
            else:
                line += (f"  [hpsearch sanity exit {hp['sanity_rc']}, diverged coarse/fine {hp['diverged']}, "
                         f"epochs run {hp['epochs_run']}, best {fmt_params(hp['best_params'])}; CPU sanity "
                         f"{hp['sanity_cpu']:.1f}s + coarse/fine {hp['search_cpu'] - hp['sanity_cpu']:.1f}s + "
                         "final/evaluate " + " ".join(f"{hp[k].get('final_cpu', math.nan):.1f}s ({k})"
                                                      for k, _ in RECIPES) +
                         "; members " + " ".join(f"{100 * a:.1f}" for a in hp["ensemble"].get("members", [])) + "]")
            for pname, label in (("tpe", "Optuna TPE + sklearn MLP"), ("random", "Optuna random + sklearn MLP")):
                if label in results:
                    r = results[label]
                    line += f"  [{pname}: val {100 * r['val_acc']:.1f}, pruned {r['pruned']}, {fmt_params(r['params'])}]"
            grid = oracle_grid(train, test)
            grids.append(grid)
            i, j = np.unravel_index(grid.argmax(), grid.shape)
            line += f"  [oracle {100 * grid.max():.1f}% at lr={ORACLE_LR[i]:.3g} reg={ORACLE_REG[j]:.3g}]"
            details.append(line)
            print(line, flush=True)
        mean_grid = np.mean(grids, axis=0)
        i, j = np.unravel_index(mean_grid.argmax(), mean_grid.shape)
        references = [["oracle: the best grid cell of each seed, chosen on the test set",
                       pct([float(g.max()) for g in grids]), "-", str(len(grids))],
                      [f"best fixed cell (lr={ORACLE_LR[i]:.3g}, reg={ORACLE_REG[j]:.3g}), known in advance",
                       pct([float(g[i, j]) for g in grids]), "-", str(len(grids))]]
        print()
        print(f"{name}: test accuracy over seeds {args.seeds} (mean ± sd (min–max), %) and CPU seconds per run")
        table_rows = [[label, pct(r["acc"]), f"{statistics.mean(r['cpu']):.1f}", str(len(r["acc"]))]
                      for label, r in rows.items()]
        print(_harness.table(["method", "test accuracy %", "CPU s (mean)", "runs"], table_rows + references))
        print()
        peers = {k: v for k, v in rows.items() if "Optuna" in k}
        for _, recipe in RECIPES:
            if recipe not in rows or not peers:
                continue
            best_peer = max(peers, key=lambda k: statistics.mean(peers[k]["acc"]))
            a, b = rows[recipe], peers[best_peer]
            acc_win = statistics.mean(a["acc"]) > statistics.mean(b["acc"])
            cpu_ok = statistics.mean(a["cpu"]) <= statistics.mean(b["cpu"])
            diffs = [100 * (x - z) for x, z in zip(a["acc"], b["acc"])]
            per_seed = sum(d > 0 for d in diffs)
            ties = sum(x == z for x, z in zip(a["acc"], b["acc"]))
            verdicts.append((name, recipe, acc_win and cpu_ok))
            print(f"  {recipe} vs the best peer ({best_peer}): accuracy "
                  f"{100 * statistics.mean(a['acc']):.1f} vs {100 * statistics.mean(b['acc']):.1f} "
                  f"({'higher' if acc_win else 'NOT higher'}; ahead on {per_seed}/{len(a['acc'])} seeds, "
                  f"{ties} ties; paired difference {statistics.mean(diffs):+.1f} ± "
                  f"{statistics.stdev(diffs) if len(diffs) > 1 else 0.0:.1f} points), CPU {statistics.mean(a['cpu']):.1f} vs {statistics.mean(b['cpu']):.1f} s "
                  f"({'no more' if cpu_ok else 'MORE'})")
        print(flush=True)
    print("Target (issue 15): hpsearch's recipe beats the best peer's test accuracy on every data set at no more CPU.")
    for _, recipe in RECIPES:
        vs = [v for v in verdicts if v[1] == recipe]
        if vs:
            met = all(v[2] for v in vs)
            print(f"  {recipe}: {'MET' if met else 'NOT MET'} "
                  f"({', '.join(n + (': yes' if ok else ': no') for n, _, ok in vs)})")
    print(f"wall time {time.perf_counter() - t0:.0f} s; work folders: {root if args.keep else '(deleted)'}")
    if any(not m.startswith("---") for m in log):
        print("\nstderr of the commands (warnings are normal for coarse/fine; an exit code != 0 is not):")
        for i, m in enumerate(log):
            if m.startswith("---") and (i + 1 == len(log) or log[i + 1].startswith("---")):
                continue
            print("  " + m.replace("\n", "\n    "))
    if not args.keep:
        import shutil
        shutil.rmtree(root, ignore_errors=True)


def compare_halving(args) -> None:
    """The whole recipe with plain coarse against coarse --halving variants, per data set and seed, the
    variants' order rotated from seed to seed (CPU time shares the machine alike): test accuracy reached and
    CPU spent by each, and the paired differences to plain."""
    variants = [None, *args.halving.split(",")]
    label = {v: "plain coarse 50x5" if v is None else f"halving {v}" for v in variants}
    seeds = [int(s) for s in args.seeds.split(",")]
    root = tempfile.mkdtemp(prefix="bench_recipe_halving_")
    print(_harness.machine_line(THREADS))
    print(_harness.command_line())
    print(f"recipe: sanity, coarse (below), fine 30x20, train --final (best config; top-5 ensemble) {REFIT_EPOCHS} "
          f"epochs, evaluate on a {TEST_FRACTION:.0%} test split; hidden {args.hidden or 100}; seeds {args.seeds}; "
          "halving SPEC = "
          "TRIALSxEPOCHS/RATE/MIN_EPOCHS", flush=True)
    log: list[str] = []
    t0 = time.perf_counter()
    for name in args.data.split(","):
        rows: dict = {v: {"best": [], "ensemble": [], "cpu": [], "coarse_cpu": [], "epochs": []} for v in variants}
        for i, seed in enumerate(seeds):
            base = os.path.join(root, f"{name}-{seed}")
            os.makedirs(base)
            train, test, n_train, n_test = write_split(name, seed, base)
            order = variants[i % len(variants):] + variants[:i % len(variants)]
            line = []
            for v in order:
                folder = os.path.join(base, "plain" if v is None else v.replace("/", "_"))
                os.makedirs(folder)
                log.append(f"--- {name} seed {seed} {label[v]}")
                hp = hpsearch_recipe(train, test, seed, folder, log, v, args.hidden, finals=("ensemble", "best"))
                if "error" in hp or "acc" not in hp.get("best", {}) or "acc" not in hp.get("ensemble", {}):
                    line.append(f"{label[v]}: {hp.get('error') or 'failed'}")
                    continue
                r = rows[v]
                r["best"].append(hp["best"]["acc"])
                r["ensemble"].append(hp["ensemble"]["acc"])
                r["cpu"].append(hp["best"]["cpu"])
                r["coarse_cpu"].append(hp["coarse_cpu"])
                r["epochs"].append(hp["epochs_run"])
                line.append(f"{label[v]}: best {100 * hp['best']['acc']:.1f}% ensemble "
                            f"{100 * hp['ensemble']['acc']:.1f}% CPU {hp['best']['cpu']:.1f}s (coarse "
                            f"{hp['coarse_cpu']:.1f}s, {hp['epochs_run']} epochs coarse+fine)")
            print(f"{name} seed {seed}: " + "; ".join(line), flush=True)
        print()
        print(f"{name}: test accuracy (mean ± sd (min–max), %), CPU seconds of the recipe ending in the best config "
              f"and of its coarse stage (means), epochs trained in coarse + fine (mean)")
        table = [[label[v], pct(r["best"]), pct(r["ensemble"]), f"{statistics.mean(r['cpu']):.1f}",
                  f"{statistics.mean(r['coarse_cpu']):.1f}", f"{statistics.mean(r['epochs']):.0f}"]
                 for v, r in rows.items() if r["cpu"]]
        print(_harness.table(["coarse", "best config %", "ensemble %", "recipe CPU s", "coarse CPU s", "epochs"],
                             table))
        plain = rows[None]
        for v in variants[1:]:
            r = rows[v]
            n = min(len(r["best"]), len(plain["best"]))
            if n == 0:
                continue
            for key in ("best", "ensemble"):
                d = [100 * (a - b) for a, b in zip(r[key], plain[key])]
                print(f"  {label[v]} - plain, {key}: {statistics.mean(d):+.1f} ± "
                      f"{statistics.stdev(d) if n > 1 else 0.0:.1f} points (ahead on {sum(x > 0 for x in d)}, "
                      f"behind on {sum(x < 0 for x in d)} of {n} seeds)")
            ratio = [a / b for a, b in zip(r["cpu"], plain["cpu"])]
            cratio = [a / b for a, b in zip(r["coarse_cpu"], plain["coarse_cpu"])]
            print(f"  {label[v]} / plain, CPU: recipe x{statistics.mean(ratio):.2f}, coarse stage "
                  f"x{statistics.mean(cratio):.2f}")
        print(flush=True)
    print(f"wall time {time.perf_counter() - t0:.0f} s")
    if any(m.startswith("[exit") and not m.startswith("[exit 0]") for m in log):
        print("\nfailed commands:")
        for m in log:
            if m.startswith("[exit") and not m.startswith("[exit 0]"):
                print("  " + m.replace("\n", "\n    "))
    import shutil
    shutil.rmtree(root, ignore_errors=True)


def fmt_params(p: dict) -> str:
    return " ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in p.items())


if __name__ == "__main__":
    main()
