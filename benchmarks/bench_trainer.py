"""Trainer benchmark: one trial of `hpsearch.trainer.fit.fit` on named reference shapes, against the same nets in
scikit-learn (MLPClassifier) and PyTorch CPU when they are installed (`pip install -e .[bench]`).

    python benchmarks/bench_trainer.py                         # every shape, every installed contender
    python benchmarks/bench_trainer.py --shapes digits --rounds 21
    python benchmarks/bench_trainer.py --threads 1 --json bench.json

A trial is what the search pays for: build the model, train every epoch (the divergence check reads the loss
each step) and measure train/validation accuracy after each epoch. The PyTorch loop does the same work;
scikit-learn's `fit` trains without per-epoch evaluation (its figure is flattered slightly by that).

Each contender (and the matmul peak) runs in its own worker process, so one library's idle spinning threads
never share a process with another's; the parent interleaves them round by round (A B C, B C A, ...; one
warm-up call each, a short pause between calls) and reports medians, with times measured inside the workers.
Figures: median ms per trial (each timed call runs a shape's `repeat` trials back to back and keeps
their median, so short trials are measured warm);
GFLOP/s counts the training GEMMs the way the issue does, 2*N*D*M for the forward and for each of the two
backward GEMMs of every layer (6*N*D*M per layer and sample pass; the input layer's dX GEMM is counted
although no contender computes it); "% peak" divides by this run's best float32 np.matmul rate on
2048x2048 matrices, measured once per round and reduced by the median.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness as H  # noqa: E402


@dataclass(frozen=True)
class Shape:
    name: str
    data: str  # digits | synthetic (float32 Gaussian classes, CIFAR-10's 3,072 features)
    hidden: tuple[int, ...]
    n_train: int
    n_val: int
    epochs: int
    optimizer: str  # sgd_momentum | adam
    lr: float
    batchnorm: bool = False
    batch: int = 100
    reg: float = 1e-4
    features: int = 3072
    classes: int = 10
    repeat: int = 1  # trials back to back per timed call, median taken (warm caches, short trials)

    def dims(self, features: int) -> list[int]:
        return [features, *self.hidden, self.classes]

    def train_flops(self, features: int) -> float:
        """6*N*D*M per layer per sample pass (forward + two backward GEMMs), over every training step."""
        d = self.dims(features)
        per_sample = sum(6 * a * b for a, b in zip(d[:-1], d[1:]))
        steps = self.epochs * (self.n_train // self.batch)
        return float(per_sample * steps * self.batch)


SHAPES = {
    "digits": Shape("digits", "digits", (100,), 1500, 297, 5, "sgd_momentum", 0.05, features=64, repeat=7),
    "cifar-like": Shape("cifar-like", "synthetic", (100,), 10_000, 1000, 2, "sgd_momentum", 0.01, repeat=3),
    "deep-bn-adam": Shape("deep-bn-adam", "synthetic", (256, 128, 64), 10_000, 1000, 2, "adam", 1e-3, batchnorm=True,
                          repeat=2),
}


# --- data -----------------------------------------------------------------------------------------


def make_split(shape: Shape):
    import numpy as np

    from hpsearch.data.split import Split

    if shape.data == "digits":
        from hpsearch.data.builtin import digits

        X, y = digits()
        order = np.random.default_rng(0).permutation(len(y))
        X, y = X[order], y[order]
    else:
        rng = np.random.default_rng(0)
        n = shape.n_train + shape.n_val
        y = rng.integers(0, shape.classes, n)
        means = rng.standard_normal((shape.classes, shape.features), dtype=np.float32) * 0.05
        X = rng.standard_normal((n, shape.features), dtype=np.float32)
        X += means[y]
    tr, va = slice(0, shape.n_train), slice(shape.n_train, shape.n_train + shape.n_val)
    mean = X[tr].mean(axis=0)
    std = X[tr].std(axis=0)
    std[std < 1e-8] = 1.0
    X = ((X - mean) / std).astype(np.float32)
    return Split(X[tr], y[tr], X[va], y[va], shape.classes, shape.name, "bench", mean, std)


# --- contenders -----------------------------------------------------------------------------------


def hpsearch_contender(shape: Shape, split):
    from hpsearch.config.train import TrainConfig
    from hpsearch.trainer.fit import fit

    cfg = TrainConfig(hidden=shape.hidden, batchnorm=shape.batchnorm, lr=shape.lr, reg=shape.reg,
                      optimizer=shape.optimizer, epochs=shape.epochs, batch_size=shape.batch)

    def trial(seed: int) -> None:
        res = fit(split, cfg, seed)
        if res.status != "complete":
            raise SystemExit(f"{shape.name}: hpsearch trial {seed} diverged; the benchmark needs complete trials")

    return trial


def torch_contender(shape: Shape, split, threads: int):
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(threads)
    Xt, yt = torch.from_numpy(split.X_train), torch.from_numpy(split.y_train)
    Xv, yv = torch.from_numpy(split.X_val), torch.from_numpy(split.y_val)
    n, B = Xt.shape[0], shape.batch
    dims = shape.dims(Xt.shape[1])

    def build():
        layers = []
        for a, b in zip(dims[:-2], dims[1:-1]):
            layers.append(torch.nn.Linear(a, b))
            if shape.batchnorm:
                layers.append(torch.nn.BatchNorm1d(b, momentum=0.1, eps=1e-5))
            layers.append(torch.nn.ReLU())
        layers.append(torch.nn.Linear(dims[-2], dims[-1]))
        return torch.nn.Sequential(*layers)

    def accuracy(model, X, y):
        with torch.no_grad():
            return float((model(X).argmax(1) == y).float().mean())

    def trial(seed: int) -> None:
        torch.manual_seed(seed)
        model = build()
        decay = [p for name, p in model.named_parameters() if name.endswith("weight") and p.ndim == 2]
        rest = [p for name, p in model.named_parameters() if not (name.endswith("weight") and p.ndim == 2)]
        groups = [{"params": decay, "weight_decay": shape.reg}, {"params": rest, "weight_decay": 0.0}]
        if shape.optimizer == "adam":
            opt = torch.optim.Adam(groups, lr=shape.lr)
        else:
            opt = torch.optim.SGD(groups, lr=shape.lr, momentum=0.9)
        gen = torch.Generator().manual_seed(seed)
        sub = torch.randperm(n, generator=gen)[:1000]
        first = None
        for _ in range(shape.epochs):
            model.train()
            perm = torch.randperm(n, generator=gen)
            for b in range(n // B):
                idx = perm[b * B:(b + 1) * B]
                loss = F.cross_entropy(model(Xt.index_select(0, idx)), yt.index_select(0, idx))
                opt.zero_grad(set_to_none=True)
                loss.backward()
                value = loss.item()  # the per-step divergence check every search trial makes
                first = value if first is None else first
                if not math.isfinite(value) or value > 3 * first:
                    raise SystemExit(f"{shape.name}: torch trial {seed} diverged")
                opt.step()
            model.eval()
            accuracy(model, Xt[sub], yt[sub])
            accuracy(model, Xv, yv)

    return trial


def sklearn_contender(shape: Shape, split):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    def trial(seed: int) -> None:
        clf = MLPClassifier(hidden_layer_sizes=shape.hidden, activation="relu", solver="adam" if shape.optimizer == "adam" else "sgd",
                            alpha=shape.reg, batch_size=shape.batch, learning_rate_init=shape.lr, max_iter=shape.epochs,
                            momentum=0.9, nesterovs_momentum=False, tol=0.0, n_iter_no_change=shape.epochs + 1,
                            shuffle=True, random_state=seed, early_stopping=False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(split.X_train, split.y_train)

    return trial


def available(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


# --- main -----------------------------------------------------------------------------------------


TARGETS = {  # the goals, checked on this run's ratios
    ("digits", "torch"): ("ratio", 3.0),
    ("digits", "sklearn"): ("ratio", 8.0),
    ("cifar-like", "torch"): ("ratio", 1.3),
    ("cifar-like", "hpsearch"): ("ms", 200.0),
    ("cifar-like", "hpsearch%"): ("pct", 60.0),
}


def build(spec: str, threads: int):
    """The callable a worker process serves: `contender:shape` -> run(seed) -> seconds (peak -> GFLOP/s)."""
    if spec == "peak":
        return lambda seed: H.matmul_gflops()
    who, name = spec.split(":")
    shape = SHAPES[name]
    split = make_split(shape)
    if who == "hpsearch":
        return H.timed(hpsearch_contender(shape, split), shape.repeat)
    if who == "torch":
        return H.timed(torch_contender(shape, split, threads), shape.repeat)
    return H.timed(sklearn_contender(shape, split), shape.repeat)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shapes", default=",".join(SHAPES), help=f"comma-separated, from: {', '.join(SHAPES)}")
    ap.add_argument("--contenders", default="hpsearch,torch,sklearn", help="comma-separated subset of hpsearch,torch,sklearn")
    ap.add_argument("--rounds", type=int, default=7, help="interleaved timed rounds per shape (median reported)")
    ap.add_argument("--threads", type=int, default=None, help="BLAS/torch threads (default: every available core)")
    ap.add_argument("--json", dest="json_path", default=None, help="also write the figures to this JSON file")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    threads = H.set_threads(args.threads)  # before numpy/torch are imported
    if args.worker:
        H.serve(build(args.worker, threads))
        return 0

    shapes = [SHAPES[s.strip()] for s in args.shapes.split(",") if s.strip()]
    wanted = [c.strip() for c in args.contenders.split(",") if c.strip()]
    skipped = [c for c in wanted if c != "hpsearch" and not available(c)]
    wanted = [c for c in wanted if c not in skipped]

    print(f"# hpsearch trainer benchmark\n{H.machine_line(threads)}")
    if skipped:
        print(f"not installed (pip install -e .[bench]): {', '.join(skipped)}")
    print(f"command: {H.command_line()}\n", flush=True)
    report: dict = {"machine": H.machine_line(threads), "threads": threads, "command": H.command_line(), "shapes": {}}
    rows, checks = [], []
    for shape in shapes:
        workers = {who: H.Worker(__file__, f"{who}:{shape.name}", threads) for who in wanted}
        workers["peak"] = H.Worker(__file__, "peak", threads)
        try:
            times = H.interleave(workers, args.rounds)
        finally:
            for w in workers.values():
                w.close()
        peak = H.median(times.pop("peak"))
        features = 64 if shape.data == "digits" else shape.features
        flops = shape.train_flops(features)
        base = H.median(times["hpsearch"]) if "hpsearch" in times else None
        entry = {"peak_gflops": round(peak, 1), "train_gflop": round(flops / 1e9, 3), "contenders": {}}
        dims = "-".join(map(str, shape.dims(features)))
        for name, ts in times.items():
            sec = H.median(ts)
            gf = flops / sec / 1e9
            ratio = sec / base if base else float("nan")
            entry["contenders"][name] = {"ms": round(sec * 1e3, 2), "gflops": round(gf, 1),
                                         "pct_peak": round(100 * gf / peak, 1), "x_hpsearch_time": round(ratio, 2),
                                         "ms_rounds": [round(t * 1e3, 2) for t in ts]}
            rows.append([f"{shape.name} ({dims})" if name == next(iter(times)) else "", name, f"{sec * 1e3:.1f}",
                         f"{gf:.1f}", f"{100 * gf / peak:.0f}%", "1.00" if name == "hpsearch" else f"{ratio:.2f}"])
        report["shapes"][shape.name] = entry
        checks += check_targets(shape.name, entry)
    print(H.table(["shape", "contender", "ms/trial", "GFLOP/s", "% peak", "time / hpsearch"], rows))
    peaks = ", ".join(f"{k} {v['peak_gflops']:.0f}" for k, v in report["shapes"].items())
    print(f"\nfloat32 matmul peak (2048^3, median of rounds), GFLOP/s: {peaks}")
    if checks:
        print("\ntargets (issue 6):")
        for line in checks:
            print(f"  {line}")
    if args.json_path:
        Path(args.json_path).write_text(json.dumps(report, indent=2) + "\n")
    return 0


def check_targets(shape: str, entry: dict) -> list[str]:
    c = entry["contenders"]
    out = []
    hp = c.get("hpsearch")
    if hp is None:
        return out
    for (s, who), (kind, goal) in TARGETS.items():
        if s != shape:
            continue
        if kind == "ratio" and who in c:
            got = c[who]["x_hpsearch_time"]
            out.append(f"{shape}: {got:.2f}x faster than {who} (goal >= {goal:g}x) {'ok' if got >= goal else 'MISSED'}")
        elif kind == "ms":
            out.append(f"{shape}: {hp['ms']:.1f} ms per trial (goal <= {goal:g} ms) {'ok' if hp['ms'] <= goal else 'MISSED'}")
        elif kind == "pct":
            out.append(f"{shape}: {hp['pct_peak']:.0f}% of matmul peak (goal >= {goal:g}%) "
                       f"{'ok' if hp['pct_peak'] >= goal else 'MISSED'}")
    return out


if __name__ == "__main__":
    raise SystemExit(main())
