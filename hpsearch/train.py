"""The trainer: minibatch SGD-family training of an MLP with the early-abort rule.

`fit(split, cfg, seed)` -> `TrainResult`. Progress goes out through `callback(EpochStats)`; nothing prints.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from hpsearch.config import TrainConfig
from hpsearch.data import Split
from hpsearch.errors import DataError
from hpsearch.nn.model import MLP
from hpsearch.nn.optim import OptimHyper, SlotState, get_rule
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
    """Train one configuration. The seed fixes the init, the shuffling and the dropout masks."""
    t0 = time.perf_counter()
    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    init_ss, shuffle_ss, drop_ss, eval_ss = ss.spawn(4)
    X = split.X_train.astype(cfg.dtype, copy=False)
    y = split.y_train
    Xv = split.X_val.astype(cfg.dtype, copy=False)
    n = X.shape[0]
    if n < cfg.batch_size:
        raise DataError(
            f"{split.name}: the training split has {n} samples, fewer than one batch of {cfg.batch_size}",
            f"lower --batch-size to at most {n} or use more data", key="batch_size")
    model = MLP(split.num_features, split.num_classes, cfg, np.random.default_rng(init_ss))
    rule = get_rule(cfg.optimizer)
    hyper = OptimHyper()
    slots = {k: SlotState() for k in model.params}
    shuffle_rng = np.random.default_rng(shuffle_ss)
    drop_rng = np.random.default_rng(drop_ss)
    sub = np.random.default_rng(eval_ss).permutation(n)[:TRAIN_ACC_SAMPLES]
    X_sub, y_sub = X[sub], y[sub]

    hist = History()
    iters_per_epoch = n // cfg.batch_size
    initial_loss = math.nan
    best_val = -1.0
    best_state = None
    best_train = None
    status, stopped_at, it, epochs_run = "complete", None, 0, 0
    epoch_losses: list[float] = []
    xb = np.empty((cfg.batch_size, X.shape[1]), dtype=X.dtype)
    for epoch in range(cfg.epochs):
        epochs_run = epoch + 1
        lr = lr_at(epoch, cfg.lr, cfg.schedule, cfg.lr_decay, cfg.step_size)
        perm = shuffle_rng.permutation(n)
        epoch_losses = []
        ratios: dict[str, float] = {}
        for b in range(iters_per_epoch):
            idx = perm[b * cfg.batch_size:(b + 1) * cfg.batch_size]
            np.take(X, idx, axis=0, out=xb)
            loss, grads = model.loss(xb, y[idx], drop_rng)
            if it == 0:
                initial_loss = loss
            hist.loss.append(loss)
            epoch_losses.append(loss)
            it += 1
            if not math.isfinite(loss) or loss > cfg.abort_factor * initial_loss:
                status = "diverged"
                reason = "non-finite loss" if not math.isfinite(loss) else f"loss > {cfg.abort_factor:g} x initial loss"
                stopped_at = {"epoch": epoch + 1, "iteration": it, "loss": _finite_or_none(loss), "reason": reason}
                break
            last = b == iters_per_epoch - 1
            before = {k: model.params[k].copy() for k in model.weight_names} if last else None
            for k, p in model.params.items():
                rule(p, grads[k], slots[k], lr, hyper)
            if last:
                for k in model.weight_names:
                    w_norm = float(np.linalg.norm(before[k]))
                    d_norm = float(np.linalg.norm(model.params[k] - before[k]))
                    ratios[k] = d_norm / w_norm if w_norm > 0 else math.inf
        if status == "diverged":
            break
        with np.errstate(all="ignore"):
            train_acc = model.accuracy(X_sub, y_sub)
            val_acc = model.accuracy(Xv, split.y_val)
        hist.train_acc.append(train_acc)
        hist.val_acc.append(val_acc)
        hist.lr.append(lr)
        hist.update_ratio.append(ratios)
        if val_acc > best_val:
            best_val, best_train, best_state = val_acc, train_acc, model.state_dict()
        if callback is not None:
            callback(EpochStats(epoch + 1, cfg.epochs, lr, float(np.mean(epoch_losses)), train_acc, val_acc, ratios))
    if best_state is not None:
        model.load_state_dict(best_state)
    final = float(np.mean(epoch_losses)) if epoch_losses else None
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
