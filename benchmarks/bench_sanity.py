"""Where the sanity gate's bands come from (issue 14): GRAD_PASS / GRAD_FAIL and INIT_FAIL in
hpsearch/sanity/model_checks.py, measured on correct code and on injected faults.

1. gradient_check on correct code: activations x hidden (100,), (50,50) x batchnorm x dropout 0/0.3 x reg
   0/0.1 x seeds; the distribution of the relative error (worse path, reference path, and the two paths'
   disagreement) and the false alarms (warn/fail). TUNE: digits, spiral, seeds 0-1. HELD-OUT: digits,
   spiral and a constructed 20-feature 5-class Gaussian mixture (gauss20), seeds 2-4.
2. gradient_check on injected backward errors of 0.1 %, 1 %, 10 % (monkeypatched, restored afterwards): the
   reference affine dW, the reference activation backward, the fused step's activation backward.
3. initial_loss's init_ratio (loss at the configured init / ln C) at correct inits against inits whose std
   is scaled x3 and x10 (xavier/he only: the check's own small-weights reference is left alone).
4. The wall time of a whole default `hpsearch sanity --quiet` on digits (a subprocess, median of 3).

    python benchmarks/bench_sanity.py            # a sampled grid (~5 min on 2 cores when alone)
    python benchmarks/bench_sanity.py --full     # the whole grid in part 1 (1040 checks, ~12 min)
    python benchmarks/bench_sanity.py --quick    # a few runs per cell, to try the script
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _harness

THREADS = _harness.set_threads(1)

import numpy as np

from hpsearch.config.data import DataSpec
from hpsearch.config.train import TrainConfig
from hpsearch.data.dataset import make_dataset
from hpsearch.data.split import load_split
from hpsearch.data.split import split as make_split
from hpsearch.sanity import model_checks
from hpsearch.sanity.types import SanityOptions
from hpsearch.trainer.fast import inplace
from hpsearch.trainer.reference import layers
from hpsearch.trainer.reference import model as ref_model

ACTS = ("relu", "leaky_relu", "elu", "tanh", "sigmoid")
HIDDEN = ((100,), (50, 50))
STATUSES = ("fail", "warn", "pass")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# ---- data ------------------------------------------------------------------------------------------------

def gauss20(seed: int = 3, n: int = 1000, classes: int = 5, dim: int = 20):
    """A constructed 20-feature, 5-class Gaussian mixture (two unit-variance clusters per class, means
    drawn with std 1.2 per feature): overlapping classes, never used to choose a threshold."""
    rng = np.random.default_rng(seed)
    means = rng.standard_normal((classes, 2, dim)) * 1.2
    y = rng.integers(0, classes, n)
    comp = rng.integers(0, 2, n)
    X = means[y, comp] + rng.standard_normal((n, dim))
    return make_split(make_dataset(X, y, "gauss20"), 0.2, 0)


_SPLITS: dict = {}


def data(name: str):
    if name not in _SPLITS:
        _SPLITS[name] = gauss20() if name == "gauss20" else load_split(DataSpec(spec=name))
    return _SPLITS[name]


# ---- helpers ---------------------------------------------------------------------------------------------

def grad_run(name: str, cfg: TrainConfig, seed: int) -> dict:
    r = model_checks.gradient_check(data(name), cfg, SanityOptions(seed=seed), np.random.default_rng(seed))
    m = r.measured
    return {"status": r.status, "err": m["max_rel_error"], "ref": m["reference_max_rel_error"],
            "paths": m["training_path_vs_reference"], "kinks": m["kink_entries"], "data": name, "seed": seed,
            "cfg": cfg}


def band(err: float) -> str:
    """The status the relative error alone gives (without the two paths' agreement test)."""
    if err <= model_checks.GRAD_PASS:
        return "pass"
    return "fail" if err > model_checks.GRAD_FAIL else "warn"


def e(x: float) -> str:
    return "nan" if math.isnan(x) else ("0" if x == 0 else f"{x:.1e}")


def pct(k: int, n: int) -> str:
    return f"{100 * k / n:.0f}%" if n else "-"


def describe(cfg: TrainConfig) -> str:
    parts = [cfg.activation, "x".join(map(str, cfg.hidden)), cfg.init or f"({cfg.resolved_init})"]
    if cfg.batchnorm:
        parts.append("bn")
    if cfg.dropout:
        parts.append(f"drop {cfg.dropout:g}")
    if cfg.reg:
        parts.append(f"reg {cfg.reg:g}")
    return " ".join(parts)


def header(title: str) -> None:
    print(f"\n## {title}\n\nMachine: {_harness.machine_line(THREADS)}\n", flush=True)


# ---- 1. correct code -------------------------------------------------------------------------------------

def correct_grid(groups: dict[str, list[tuple[str, int]]], per_act: int | None) -> dict[str, list[dict]]:
    """Per group, per (data, seed): for each activation `per_act` configurations drawn from its 16
    (hidden x batchnorm x dropout x reg) combinations (all of them when per_act is None)."""
    combos = list(itertools.product(HIDDEN, (False, True), (0.0, 0.3), (0.0, 0.1)))
    out: dict[str, list[dict]] = {}
    for group, cells in groups.items():
        runs = []
        for name, seed in cells:
            pick = np.random.default_rng(1000 + seed)
            for act in ACTS:
                idx = range(len(combos)) if per_act is None else pick.choice(len(combos), per_act, replace=False)
                for i in sorted(idx):
                    h, bn, p, reg = combos[i]
                    cfg = TrainConfig(hidden=h, activation=act, batchnorm=bn, dropout=p, reg=reg)
                    runs.append(grad_run(name, cfg, seed))
        out[group] = runs
    return out


def report_correct(results: dict[str, list[dict]]) -> None:
    for group, runs in results.items():
        cells = sorted({(r["data"], r["seed"]) for r in runs})
        print(f"### {group}: {len(runs)} checks ({', '.join(f'{d} s{s}' for d, s in cells)})\n")
        rows = []
        for act in (*ACTS, "all"):
            rs = [r for r in runs if act in ("all", r["cfg"].activation)]
            err = np.array([r["err"] for r in rs])
            ref = np.array([r["ref"] for r in rs])
            paths = np.array([r["paths"] for r in rs])
            st = [r["status"] for r in rs]
            rows.append([act, str(len(rs)), e(err.max()), e(np.percentile(err, 99)), e(np.median(err)),
                         e(ref.max()), e(paths.max()), str(sum(r["kinks"] > 0 for r in rs)),
                         str(st.count("warn")), str(st.count("fail"))])
        print(_harness.table(["activation", "checks", "max_rel_error max", "p99", "median", "reference max",
                              "paths differ max", "with kinks left out", "warn", "fail"], rows))
        alarms = [r for r in runs if r["status"] != "pass"]
        for r in alarms[:10]:
            print(f"  false alarm: {r['status']} {r['data']} s{r['seed']} {describe(r['cfg'])}: "
                  f"err {e(r['err'])}, reference {e(r['ref'])}, paths {e(r['paths'])}")
        top = sorted(runs, key=lambda r: -r["err"])[:3]
        print("  largest: " + "; ".join(f"{e(r['err'])} ({r['data']} s{r['seed']} {describe(r['cfg'])})"
                                       for r in top if r["err"] > 0) or "  largest: all 0")
        print()


# ---- 2. injected faults ----------------------------------------------------------------------------------

class Fault:
    """A backward scaled by (1 + size), by plain attribute assignment; `undo` restores the original."""

    def __init__(self, kind: str, act: str, size: float):
        self.kind, self.act, self.size = kind, act, size
        self.undo = lambda: None

    def __enter__(self):
        k = 1.0 + self.size
        if self.kind == "reference affine dW":
            orig = layers.affine_backward

            def affine_backward(dout, cache):
                dx, dw, db = orig(dout, cache)
                return dx, dw * k, db
            layers.affine_backward = affine_backward
            self.undo = lambda: setattr(layers, "affine_backward", orig)
        elif self.kind == "reference activation backward":
            fwd, bwd = layers.ACTIVATIONS[self.act]
            layers.ACTIVATIONS[self.act] = (fwd, lambda dout, cache: bwd(dout, cache) * k)
            self.undo = lambda: layers.ACTIVATIONS.__setitem__(self.act, (fwd, bwd))
        elif self.kind == "fused activation backward":
            orig = inplace.act_backward

            def act_backward(name, layer, dh):
                orig(name, layer, dh)
                dh *= k
            inplace.act_backward = act_backward
            self.undo = lambda: setattr(inplace, "act_backward", orig)
        else:
            raise ValueError(self.kind)
        return self

    def __exit__(self, *exc):
        self.undo()
        return False


FAULTS = ("reference affine dW", "reference activation backward", "fused activation backward")
SIZES = (0.001, 0.01, 0.1)
# the configurations each (fault, size, activation) cell is checked on: data, seed, hidden, batchnorm, dropout, reg
FAULT_RUNS = (("digits", 0, (100,), False, 0.0, 0.0), ("spiral", 1, (50, 50), True, 0.0, 0.0),
              ("gauss20", 2, (100,), False, 0.3, 0.0), ("digits", 3, (50, 50), False, 0.0, 0.1),
              ("spiral", 4, (100,), True, 0.3, 0.1), ("gauss20", 5, (50, 50), False, 0.0, 0.0))


def faults(n_runs: int) -> list[dict]:
    out = []
    for kind, size, act in itertools.product(FAULTS, SIZES, ACTS):
        for name, seed, h, bn, p, reg in FAULT_RUNS[:n_runs]:
            cfg = TrainConfig(hidden=h, activation=act, batchnorm=bn, dropout=p, reg=reg)
            with Fault(kind, act, size):  # restores the original in __exit__ (a try/finally)
                r = grad_run(name, cfg, seed)
            out.append({**r, "kind": kind, "size": size})
    return out


def report_faults(runs: list[dict]) -> None:
    rows = []
    for kind, size, act in itertools.product(FAULTS, SIZES, ACTS):
        rs = [r for r in runs if (r["kind"], r["size"], r["cfg"].activation) == (kind, size, act)]
        st = [r["status"] for r in rs]
        bd = [band(r["err"]) for r in rs]
        err = [r["err"] for r in rs]
        rows.append([kind, f"{size:.1%}", act, str(len(rs)), *(pct(st.count(s), len(rs)) for s in STATUSES),
                     e(min(err)), e(statistics.median(err)), e(max(err)), e(max(r["paths"] for r in rs)),
                     pct(bd.count("fail"), len(rs))])
    print(_harness.table(["fault", "size", "activation", "runs", "fail", "warn", "pass", "err min", "err median",
                          "err max", "paths differ max", "fail by band alone"], rows))
    print()
    for size in SIZES:
        rs = [r for r in runs if r["size"] == size]
        nf = sum(r["status"] == "fail" for r in rs)
        nb = sum(band(r["err"]) == "fail" for r in rs)
        print(f"{size:.1%} error: gradient_check fails {nf}/{len(rs)} runs "
              f"({'always' if nf == len(rs) else 'NOT always'}); the relative-error band alone fails "
              f"{nb}/{len(rs)}; smallest error read {e(min(r['err'] for r in rs))} "
              f"(GRAD_FAIL {model_checks.GRAD_FAIL:g})")
    print()


# ---- 3. initial loss -------------------------------------------------------------------------------------

def init_runs(seeds: tuple[int, ...]) -> list[dict]:
    out = []
    orig = ref_model.init_std
    for k in (1, 3, 10):
        def scaled(init, fan_in, scale, k=k):
            std = orig(init, fan_in, scale)
            return std if init == "small" else std * k
        ref_model.init_std = scaled
        try:
            for name, seed, init, act, h, bn in itertools.product(
                    ("digits", "spiral", "gauss20"), seeds, (None, "xavier", "he"), ACTS,
                    ((100,), (100, 100), (50,) * 5), (False, True)):
                cfg = TrainConfig(hidden=h, activation=act, init=init, batchnorm=bn, reg=0.0)  # the check uses 0
                r = model_checks.initial_loss(data(name), cfg, SanityOptions(seed=seed), np.random.default_rng(seed))
                out.append({"k": k, "status": r.status, "ratio": r.measured["init_ratio"],
                            "by_ratio": not r.measured["init_ratio"] <= model_checks.INIT_FAIL,
                            "data": name, "seed": seed, "cfg": cfg})
        finally:
            ref_model.init_std = orig
    return out


def report_init(runs: list[dict]) -> None:
    lim = model_checks.INIT_FAIL
    rows = []
    for k in (1, 3, 10):
        for act in (*ACTS, "all"):
            rs = [r for r in runs if r["k"] == k and act in ("all", r["cfg"].activation)]
            ratio = np.array([r["ratio"] for r in rs])
            rows.append([f"x{k}" + (" (correct)" if k == 1 else ""), act, str(len(rs)), f"{ratio.min():.3g}",
                         f"{np.median(ratio):.3g}", f"{ratio.max():.3g}",
                         pct(sum(r["by_ratio"] for r in rs), len(rs)),
                         pct(sum(r["status"] == "fail" for r in rs), len(rs))])
    print(_harness.table(["init std", "activation", "configs", "init_ratio min", "median", "max",
                          f"> INIT_FAIL {lim:g}", "status fail"], rows))
    print()
    correct = sorted((r for r in runs if r["k"] == 1), key=lambda r: -r["ratio"])
    sweep = []
    for lim_ in (2.0, 2.5, 3.0, 4.0, 5.0):
        sweep.append([f"{lim_:g}" + (" (INIT_FAIL)" if lim_ == lim else "")]
                     + [pct(sum(r["ratio"] > lim_ for r in runs if r["k"] == k), sum(r["k"] == k for r in runs))
                        for k in (1, 3, 10)])
    print(_harness.table(["threshold", "correct above (false alarms)", "x3 caught", "x10 caught"], sweep))
    print()
    print(f"Correct inits: max init_ratio {correct[0]['ratio']:.3f} (INIT_FAIL {lim:g}); closest to the threshold:")
    for r in correct[:5]:
        print(f"  {r['ratio']:.3f}  {r['data']} s{r['seed']} {describe(r['cfg'])}")
    for k in (3, 10):
        missed = sorted((r for r in runs if r["k"] == k and not r["by_ratio"]), key=lambda r: -r["ratio"])
        n = sum(r["k"] == k for r in runs)
        print(f"x{k}: caught {n - len(missed)}/{n}; missed by batchnorm: {sum(r['cfg'].batchnorm for r in missed)}, "
              f"without: {sum(not r['cfg'].batchnorm for r in missed)}"
              + ("; lowest missed without batchnorm: " + ", ".join(
                  f"{r['ratio']:.2f} ({r['data']} {describe(r['cfg'])})"
                  for r in sorted((m for m in missed if not m["cfg"].batchnorm), key=lambda r: r["ratio"])[:3])
                 if any(not m["cfg"].batchnorm for m in missed) else ""))
    print()


# ---- 4. the whole gate -----------------------------------------------------------------------------------

def sanity_time(reps: int = 3) -> tuple[list[float], list[int]]:
    times, codes = [], []
    env = {**os.environ, "PYTHONPATH": REPO + os.pathsep + os.environ.get("PYTHONPATH", "")}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(reps):
            t = time.perf_counter()
            p = subprocess.run([sys.executable, "-m", "hpsearch", "sanity", "--data", "digits", "--quiet"],
                               cwd=tmp, env=env, capture_output=True, text=True, check=False)
            times.append(time.perf_counter() - t)
            codes.append(p.returncode)
            if p.returncode:
                print(f"  sanity exited {p.returncode}: {p.stderr.strip()[-300:]}")
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import hpsearch.cli"], cwd=tmp, env=env, capture_output=True, check=False)
        times.append(time.perf_counter() - t)  # last entry: the import alone
    return times, codes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--full", action="store_true", help="the whole part-1 grid (16 configurations per activation)")
    ap.add_argument("--quick", action="store_true", help="a few runs per cell")
    args = ap.parse_args()
    print(f"# Sanity gate bands (issue 14)\n\n`{_harness.command_line()}`\n\nGRAD_PASS {model_checks.GRAD_PASS:g}, "
          f"GRAD_FAIL {model_checks.GRAD_FAIL:g}, PATHS_AGREE {model_checks.PATHS_AGREE:g}, "
          f"INIT_FAIL {model_checks.INIT_FAIL:g}")
    t0 = time.perf_counter()

    t = time.perf_counter()
    tune = [(d, s) for d in ("digits", "spiral") for s in (0, 1)]
    held = [(d, s) for d in ("digits", "spiral", "gauss20") for s in (2, 3, 4)]
    per_tune, per_held = (None, None) if args.full else ((2, 1) if args.quick else (8, 3))
    res = correct_grid({"TUNE": tune, "HELD-OUT": held}, None if args.full else per_tune)
    if not args.full and per_held != per_tune:
        res["HELD-OUT"] = correct_grid({"HELD-OUT": held}, per_held)["HELD-OUT"]
    header(f"1. gradient_check on correct code ({time.perf_counter() - t:.0f} s)")
    print(f"Grid: {', '.join(ACTS)} x hidden {HIDDEN} x batchnorm off/on x dropout 0/0.3 x reg 0/0.1; "
          + ("all 16 per activation" if args.full else
             f"{per_tune} (TUNE) / {per_held} (HELD-OUT) of the 16 per activation and (data, seed), seeded") + ".\n"
          "max_rel_error is the worse of the two paths; 'paths differ' is training_path_vs_reference "
          f"(fails above PATHS_AGREE {model_checks.PATHS_AGREE:g}).\n")
    report_correct(res)

    t = time.perf_counter()
    fr = faults(2 if args.quick else 4)
    header(f"2. gradient_check on injected backward errors ({time.perf_counter() - t:.0f} s)")
    print("Each backward's output scaled by 1 + size. 'fail by band alone': max_rel_error > GRAD_FAIL, without "
          "the paths' agreement test. The fused step's elu/sigmoid backward calls the reference layer, so the "
          "reference activation fault reaches both paths there.\nRuns per cell: "
          + "; ".join(f"{d} s{s} {'x'.join(map(str, h))}{' bn' if bn else ''}{f' drop {p:g}' if p else ''}"
                      f"{f' reg {g:g}' if g else ''}" for d, s, h, bn, p, g in FAULT_RUNS[:2 if args.quick else 4])
          + "\n")
    report_faults(fr)

    t = time.perf_counter()
    ir = init_runs((0,) if args.quick else (0, 1, 2))
    header(f"3. initial_loss init_ratio at the configured init ({time.perf_counter() - t:.0f} s)")
    print("init None/xavier/he x activations x hidden (100,), (100,100), (50,)*5 x batchnorm off/on x digits, "
          "spiral, gauss20 x seeds; xN: xavier/he std scaled N-fold (model.init_std patched).\n")
    report_init(ir)

    times, codes = sanity_time()
    header("4. a whole default `hpsearch sanity --data digits --quiet` (subprocess, 1 BLAS thread)")
    runs = times[:-1]
    print(f"median {statistics.median(runs):.2f} s over {len(runs)} runs ({', '.join(f'{x:.2f}' for x in runs)} s; "
          f"exit codes {codes}); `import hpsearch.cli` alone {times[-1]:.2f} s")
    print(f"\nTotal {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
