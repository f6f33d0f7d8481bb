"""Abort-rule benchmark (issue 13): false aborts when the lr cannot diverge, and how fast real explosions stop.

    python benchmarks/bench_abort.py                 # the full battery (about a minute)
    python benchmarks/bench_abort.py --trials 10     # quicker

Not a test and not part of the package.

1. False aborts. For each data set (digits, spiral), batch size (1, 2, 5, 10) and lr too small to diverge
   (1e-6, 1e-5; SGD momentum, 3 epochs, default init and reg), `--trials` seeds are trained with the real
   `fit()` (the new rule, trainer/fit.py's `Abort`). The old rule (each minibatch loss against the first
   minibatch's loss x abort_factor) is applied to the same run's full loss sequence (`old_rule` below; the
   run is retrained with abort_factor 1e300 when the new rule stopped it, so the sequence is complete).
   Every stop here is false: nothing can diverge at these rates. A sweep of ABORT_SAMPLES (the window k is
   ceil(S / batch), at most a quarter of an epoch; S=1 is the old rule) over the same sequences shows the choice.
2. Real explosions. lr 3, 10, 30, 100 (SGD momentum) at batch sizes 1, 10, 100, same data, 10 seeds: the share
   stopped, the epoch of the stop and the iteration of the stop as a fraction of an epoch (median and max),
   old rule beside.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness as H  # noqa: E402

FACTOR = 3.0


def old_rule(losses: list[float], factor: float = FACTOR) -> int | None:
    """The rule before issue 13: the 1-based iteration at which a loss exceeded factor x the first loss, or was
    not finite; None if it never did."""
    limit = factor * losses[0] if math.isfinite(losses[0]) else math.nan
    for i, v in enumerate(losses):
        if not v <= limit:
            return i + 1
    return None


def rule_k(losses: list[float], k: int, factor: float = FACTOR) -> int | None:
    """fit.Abort with window k on a recorded sequence (fit() runs k = fit.abort_window(batch, iterations))."""
    from hpsearch.trainer.fit import Abort

    a = Abort(factor, k)
    for i, v in enumerate(losses):
        if a.check(v) is not None:
            return i + 1
    return None


def splits() -> dict:
    from hpsearch.data import dataset, split

    return {name: split.split(dataset.load(name), 0.2, 0) for name in ("digits", "spiral")}


def false_aborts(data: dict, trials: int, epochs: int) -> None:
    from hpsearch.config.train import TrainConfig
    from hpsearch.trainer import fit as F

    fit = F.fit
    ks = (1, 2, 5, 10, 20, 50)
    rows, sweep = [], {k: 0 for k in ks}
    total = 0
    for name, sp in data.items():
        for lr in (1e-6, 1e-5):
            for B in (1, 2, 5, 10):
                cfg = TrainConfig(lr=lr, batch_size=B, epochs=epochs, abort_factor=FACTOR)
                iters = sp.X_train.shape[0] // B
                old = new = 0
                for seed in range(trials):
                    r = fit(sp, cfg, seed)
                    new += r.status == "diverged"
                    seq = r.history.loss if r.status == "complete" else \
                        fit(sp, cfg.with_(abort_factor=1e300), seed).history.loss
                    old += old_rule(seq) is not None
                    for S in ks:
                        sweep[S] += rule_k(seq, max(1, min(-(-S // B), iters // 4))) is not None
                    total += 1
                rows.append([name, f"{lr:g}", str(B), f"{old}/{trials}", str(F.abort_window(B, iters)),
                             f"{new}/{trials}"])
    print(f"False aborts (lr too small to diverge; sgd_momentum, {epochs} epochs, abort_factor {FACTOR:g}):")
    print(H.table(["data", "lr", "batch", "old rule (loss vs first loss)", "k", "new rule (fit())"], rows))
    print()
    print(f"ABORT_SAMPLES sweep over the same loss sequences (Abort offline; fit() uses {F.ABORT_SAMPLES}; "
          "1 is the old rule):")
    print(H.table(["ABORT_SAMPLES", "false aborts"], [[str(k), f"{sweep[k]}/{total}"] for k in ks]))
    print()


def explosions(data: dict, seeds: int, epochs: int) -> None:
    from hpsearch.config.train import TrainConfig
    from hpsearch.trainer.fit import fit

    rows = []
    worst = 0.0
    for name, sp in data.items():
        n = sp.X_train.shape[0]
        for lr in (3.0, 10.0, 30.0, 100.0):
            for B in (1, 10, 100):
                cfg = TrainConfig(lr=lr, batch_size=B, epochs=epochs)
                iters = n // B
                stops, fracs, epochs_at, old_fracs = 0, [], [], []
                for seed in range(seeds):
                    r = fit(sp, cfg, seed)
                    if r.status != "diverged":
                        continue
                    stops += 1
                    it = r.stopped_at["iteration"]
                    fracs.append(it / iters)
                    epochs_at.append(r.stopped_at["epoch"])
                    o = old_rule(r.history.loss)
                    old_fracs.append((o if o is not None else it) / iters)
                worst = max([worst, *fracs])
                rows.append([name, f"{lr:g}", str(B), f"{stops}/{seeds}",
                             f"{max(epochs_at)}" if epochs_at else "-",
                             f"{statistics.median(fracs):.3f} / {max(fracs):.3f}" if fracs else "-",
                             f"{statistics.median(old_fracs):.3f} / {max(old_fracs):.3f}" if old_fracs else "-"])
    print(f"Real explosions (sgd_momentum, {epochs} epochs): stop iteration as a fraction of an epoch")
    print(H.table(["data", "lr", "batch", "stopped", "latest epoch", "new: median / max", "old: median / max"],
                  rows))
    print(f"latest stop of any run: {worst:.3f} of an epoch ({'within' if worst <= 1 else 'NOT within'} the first)")
    print("(spiral at batch 100 has 2 iterations per epoch: k = 1 there, the stop at 1.0 is its second step)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=40, help="seeds per cell of the false-abort table")
    ap.add_argument("--seeds", type=int, default=10, help="seeds per cell of the explosion table")
    ap.add_argument("--epochs", type=int, default=3)
    args = ap.parse_args()
    threads = H.set_threads(1)
    print(H.machine_line(threads))
    print(H.command_line())
    print()
    data = splits()
    false_aborts(data, args.trials, args.epochs)
    explosions(data, args.seeds, args.epochs)


if __name__ == "__main__":
    main()
