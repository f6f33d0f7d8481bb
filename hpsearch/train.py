"""The trainer: minibatch SGD-family training of an MLP with the early-abort rule.

`fit(split, cfg, seed)` -> `TrainResult`. Progress goes out through `callback(EpochStats)`; nothing prints.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from hpsearch.config import TrainConfig
from hpsearch.data import Split
from hpsearch.errors import DataError
from hpsearch.nn import lanes as lanes_mod
from hpsearch.nn.evaluate import CHUNK, HitCounter
from hpsearch.nn.fused import TrainStep, splits
from hpsearch.nn.lanes import Lanes
from hpsearch.nn.model import MLP
from hpsearch.nn.optim import OptimHyper, get_rule
from hpsearch.nn.schedules import lr_at

TRAIN_ACC_SAMPLES = 1000  # train accuracy is measured on a fixed subset this big (CS231n's Solver does the same)


@dataclass
class EpochStats:
    epoch: int  # 1-based epoch just finished
    epochs: int  # epochs planned
    lr: float  # learning rate used during this epoch
    loss: float  # mean minibatch loss over the epoch
    train_acc: float
    val_acc: float
    update_ratio: dict[str, float]  # per weight matrix: ||dW|| / ||W|| on the epoch's last step


@dataclass
class History:
    loss: list[float] = field(default_factory=list)  # every iteration's minibatch loss
    train_acc: list[float] = field(default_factory=list)  # per epoch
    val_acc: list[float] = field(default_factory=list)  # per epoch
    lr: list[float] = field(default_factory=list)  # per epoch
    update_ratio: list[dict[str, float]] = field(default_factory=list)  # per epoch

    def to_dict(self) -> dict:
        return {
            "loss": [_finite_or_none(v) for v in self.loss],
            "train_acc": list(self.train_acc),
            "val_acc": list(self.val_acc),
            "lr": list(self.lr),
            "update_ratio": [{k: _finite_or_none(v) for k, v in d.items()} for d in self.update_ratio],
        }


@dataclass
class TrainResult:
    status: str  # complete | diverged
    val_acc: float | None  # best validation accuracy over the epochs (None if no epoch finished)
    train_acc: float | None  # train accuracy at the epoch of the best validation accuracy
    initial_loss: float  # loss of the first minibatch, before any update
    final_loss: float | None  # mean minibatch loss of the last epoch run (None if not finite)
    epochs_run: int  # epochs started (a diverged run stops inside one)
    iterations: int  # minibatch steps taken
    seconds: float
    history: History
    stopped_at: dict | None = None  # for diverged runs: {"epoch", "iteration", "loss", "reason"}
    model: MLP | None = field(default=None, repr=False)  # holds the best-validation parameters

    def to_dict(self, history: bool = True) -> dict:
        d = {
            "status": self.status,
            "val_acc": self.val_acc,
            "train_acc": self.train_acc,
            "initial_loss": _finite_or_none(self.initial_loss),
            "final_loss": _finite_or_none(self.final_loss),
            "epochs_run": self.epochs_run,
            "iterations": self.iterations,
            "seconds": round(self.seconds, 4),
            "stopped_at": self.stopped_at,
        }
        if history:
            d["history"] = self.history.to_dict()
        return d


def _finite_or_none(v: float | None) -> float | None:
    return float(v) if v is not None and math.isfinite(v) else None


def fit(
    split: Split,
    cfg: TrainConfig,
    seed: int | np.random.SeedSequence = 0,
    callback: Callable[[EpochStats], None] | None = None,
) -> TrainResult:
    """Train one configuration. The seed fixes the init, the shuffling and the dropout masks.

    The data is never copied whole: each minibatch is gathered (and cast to cfg.dtype) from split.X_train,
    which may be a memory map. The steps run in nn/fused.py's preallocated buffers.
    """
    t0 = time.perf_counter()
    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    init_ss, shuffle_ss, drop_ss, eval_ss = ss.spawn(4)
    X = np.asarray(split.X_train)  # a memmap stays a (base-class) view of the same pages
    y = np.asarray(split.y_train)
    n = X.shape[0]
    if n < cfg.batch_size:
        raise DataError(
            f"{split.name}: the training split has {n} samples, fewer than one batch of {cfg.batch_size}",
            f"lower --batch-size to at most {n} or use more data", key="batch_size")
    model = MLP(split.num_features, split.num_classes, cfg, np.random.default_rng(init_ss))
    B = cfg.batch_size
    shuffle_rng = np.random.default_rng(shuffle_ss)
    drop_rng = np.random.default_rng(drop_ss)
    sub = np.random.default_rng(eval_ss).permutation(n)[:TRAIN_ACC_SAMPLES]
    X_sub, y_sub = X[sub].astype(model.dtype, copy=False), y[sub]

    hist = History()
    iters_per_epoch = n // B
    initial_loss = limit = math.nan
    best_val = -1.0
    best_state = None
    best_train = None
    status, stopped_at, it, epochs_run = "complete", None, 0, 0
    epoch_start = 0  # index in hist.loss of the current epoch's first iteration
    with contextlib.ExitStack() as stack:
        stack.enter_context(lanes_mod.single_threaded_blas())  # robust under contention (nn/lanes.py)
        # a diverging trial overflows on purpose: the abort rule reports it, numpy warnings would only be noise
        stack.enter_context(np.errstate(over="ignore", invalid="ignore", divide="ignore"))
        two = splits(model) and lanes_mod.threads() >= 2  # two lanes for a big first layer
        lanes = stack.enter_context(Lanes(2 if two else 1))
        step = TrainStep(model, B, get_rule(cfg.optimizer), OptimHyper(), X, lanes)
        rows = min(CHUNK, max(X_sub.shape[0], split.X_val.shape[0]))
        counters = [HitCounter(model, rows)] if not step.split else [HitCounter(model, rows // 2 + 1) for _ in range(2)]
        for epoch in range(cfg.epochs):
            epochs_run = epoch + 1
            lr = lr_at(epoch, cfg.lr, cfg.schedule, cfg.lr_decay, cfg.step_size)
            perm = shuffle_rng.permutation(n)
            y_perm = y[perm]
            epoch_start = len(hist.loss)
            ratios: dict[str, float] = {}
            step.begin(perm[:B])
            for b in range(iters_per_epoch):
                loss = step.forward(y_perm[b * B:(b + 1) * B], drop_rng)
                if it == 0:  # a non-finite first loss leaves the limit NaN: the comparison below fails at once
                    initial_loss = loss
                    limit = cfg.abort_factor * loss if math.isfinite(loss) else math.nan
                hist.loss.append(loss)
                it += 1
                if not loss <= limit:  # the early-abort rule in one comparison: also false for NaN and inf
                    status = "diverged"
                    reason = "non-finite loss" if not math.isfinite(loss) else f"loss > {cfg.abort_factor:g} x initial loss"
                    stopped_at = {"epoch": epoch + 1, "iteration": it, "loss": _finite_or_none(loss), "reason": reason}
                    break
                if b < iters_per_epoch - 1:  # update, and begin the next batch in the same hand-off
                    step.backward_update(lr, perm[(b + 1) * B:(b + 2) * B])
                else:  # the epoch's last step also measures ||dW|| / ||W||
                    before = {k: model.params[k].copy() for k in model.weight_names}
                    step.backward_update(lr)
                    for k in model.weight_names:
                        w_norm = float(np.linalg.norm(before[k]))
                        before[k] -= model.params[k]
                        ratios[k] = float(np.linalg.norm(before[k])) / w_norm if w_norm > 0 else math.inf
            if status == "diverged":
                break
            with np.errstate(all="ignore"):
                train_acc = _accuracy(counters, step.lanes, X_sub, y_sub)
                val_acc = _accuracy(counters, step.lanes, split.X_val, split.y_val)
            hist.train_acc.append(train_acc)
            hist.val_acc.append(val_acc)
            hist.lr.append(lr)
            hist.update_ratio.append(ratios)
            if val_acc > best_val:
                best_val, best_train, best_state = val_acc, train_acc, model.state_dict()
            if callback is not None:
                callback(EpochStats(epoch + 1, cfg.epochs, lr, float(np.mean(hist.loss[epoch_start:])), train_acc,
                                    val_acc, ratios))
    if best_state is not None:
        model.load_state_dict(best_state)
    final = float(np.mean(hist.loss[epoch_start:])) if len(hist.loss) > epoch_start else None
    return TrainResult(
        status=status,
        val_acc=best_val if best_state is not None else None,
        train_acc=best_train,
        initial_loss=initial_loss,
        final_loss=final,
        epochs_run=epochs_run,
        iterations=it,
        seconds=time.perf_counter() - t0,
        history=hist,
        stopped_at=stopped_at,
        model=model,
    )


def _accuracy(counters: list[HitCounter], lanes: Lanes, X: np.ndarray, y: np.ndarray) -> float:
    """Test-mode accuracy; with two counters the rows are scored in two halves, on two lanes if there are."""
    n = X.shape[0]
    if len(counters) == 1 or n < 256:
        return counters[0].hits(X, y) / n
    half, hits = n // 2, [0, 0]

    def count(j: int, rows: slice) -> None:
        hits[j] = counters[j].hits(X[rows], y[rows])

    lanes.run(lambda: count(1, slice(half, n)), lambda: count(0, slice(0, half)))
    return (hits[0] + hits[1]) / n
