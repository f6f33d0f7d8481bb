"""fit: minibatch training of one configuration with the early-abort rule, read like CS231n's Solver.train.

`fit(split, cfg, seed)` -> `TrainResult`. `split` is a data.split.Split (or anything with its arrays). Progress
goes out through `callback(EpochStats)`; nothing prints.

The early-abort rule (`Abort`), robust to minibatch noise: after every minibatch, "cost" is the mean of the last
k minibatch losses (of all so far, before k) and "initial cost" the larger of the first loss and the mean of the
first k losses (of those seen so far, before k); cost > abort_factor x initial cost stops the run as `diverged`,
and so does a non-finite loss, at once. k = ceil(ABORT_SAMPLES / batch size), at most a quarter of an epoch:
20 at batch 1, 4 at batch 5, 1 (each loss against the first, CS231n's rule as written) from batch 20 up.
The update/weight ratio of an epoch is the median, per weight matrix, of ||dW|| / ||W|| over RATIO_SAMPLES
steps spread evenly over the epoch (the last step included): the per-step update scale of CS231n's ~1e-3.
"""

from __future__ import annotations

import contextlib
import math
import statistics
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from hpsearch.config.plain import finite_or_none
from hpsearch.config.train import TrainConfig
from hpsearch.errors import DataError
from hpsearch.trainer.fast import lanes
from hpsearch.trainer.fast.evaluate import CHUNK, HitCounter
from hpsearch.trainer.fast.fused import TrainStep, splits
from hpsearch.trainer.reference.model import MLP
from hpsearch.trainer.reference.optim import OptimHyper, get_rule
from hpsearch.trainer.reference.schedules import lr_at

TRAIN_ACC_SAMPLES = 1000  # train accuracy is measured on a fixed subset this big (CS231n's Solver does the same)
ABORT_SAMPLES = 20  # samples the abort rule's running mean spans at least (benchmarks/bench_abort.py)
RATIO_SAMPLES = 4  # steps per epoch at which ||dW|| / ||W|| is measured (their median is the epoch's)


def abort_window(batch_size: int, iters: int) -> int:
    """Minibatches in the abort rule's running mean: ABORT_SAMPLES samples, at most a quarter of an epoch."""
    return max(1, min(-(-ABORT_SAMPLES // batch_size), iters // 4))


class Abort:
    """The early-abort rule on a stream of minibatch losses: `check(loss)` -> None, or the reason to stop.

    cost = mean of the last k losses (all of them while fewer than k); initial cost = the larger of the first loss
    and the mean of the first k (of those seen while fewer than k). Stop when cost > factor x initial cost, or at
    once on a non-finite loss. A cost above factor x the first loss needs one loss above it, so this never stops a
    run that the plain rule (each loss against the first; k = 1) would let go on, and a fast fall never stops one.
    The baseline is a mean, not a median: per-sample losses are skewed (mean ~2x median on spiral at batch 1), so a
    median baseline against a mean cost aborts on noise. A running sum in Python floats: no numpy per step.
    """

    __slots__ = ("factor", "k", "first", "recent", "total", "n", "baseline", "cost")

    def __init__(self, factor: float, k: int = 1) -> None:
        self.factor, self.k = factor, k
        self.first = 0.0  # the first loss
        self.recent = [0.0] * k  # ring buffer of the last k losses
        self.total = 0.0  # their sum
        self.n = 0  # losses seen
        self.baseline = self.cost = math.nan

    def check(self, loss: float) -> str | None:
        if not math.isfinite(loss):
            self.cost = loss
            return "non-finite loss"
        k, j = self.k, self.n % self.k
        self.total += loss - self.recent[j]
        self.recent[j] = loss
        self.n += 1
        if self.n <= k:
            if self.n == 1:
                self.first = loss
            self.cost = self.total / self.n
            self.baseline = max(self.first, self.cost)
        else:
            self.cost = self.total / k
        if self.cost > self.factor * self.baseline:
            return (f"loss > {self.factor:g} x initial loss" if k == 1 else
                    f"mean of the last {k} losses > {self.factor:g} x initial cost")
        return None


@dataclass
class EpochStats:
    epoch: int  # 1-based epoch just finished
    epochs: int  # epochs planned
    lr: float  # learning rate used during this epoch
    loss: float  # mean minibatch loss over the epoch
    train_acc: float
    val_acc: float
    update_ratio: dict[str, float]  # per weight matrix: median ||dW|| / ||W|| over RATIO_SAMPLES steps of the epoch


@dataclass
class History:
    loss: list[float] = field(default_factory=list)  # every iteration's minibatch loss
    train_acc: list[float] = field(default_factory=list)  # per epoch
    val_acc: list[float] = field(default_factory=list)  # per epoch
    lr: list[float] = field(default_factory=list)  # per epoch
    update_ratio: list[dict[str, float]] = field(default_factory=list)  # per epoch
    reg_loss: list[float] = field(default_factory=list)  # per epoch: the penalty term of its last minibatch loss
    chance_loss: float | None = None  # ln C: the data loss of a uniform prediction (the diagnosis compares with it)

    def to_dict(self) -> dict:
        return {
            "loss": [finite_or_none(v) for v in self.loss],
            "train_acc": list(self.train_acc),
            "val_acc": list(self.val_acc),
            "lr": list(self.lr),
            "update_ratio": [{k: finite_or_none(v) for k, v in d.items()} for d in self.update_ratio],
            "reg_loss": [finite_or_none(v) for v in self.reg_loss],
            "chance_loss": self.chance_loss,
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
    # for diverged runs: {"epoch", "iteration", "loss", "reason", "cost", "baseline", "window"} (see Abort)
    stopped_at: dict | None = None
    model: MLP | None = field(default=None, repr=False)  # holds the best-validation parameters

    def to_dict(self, history: bool = True) -> dict:
        d = {
            "status": self.status,
            "val_acc": self.val_acc,
            "train_acc": self.train_acc,
            "initial_loss": finite_or_none(self.initial_loss),
            "final_loss": finite_or_none(self.final_loss),
            "epochs_run": self.epochs_run,
            "iterations": self.iterations,
            "seconds": round(self.seconds, 4),
            "stopped_at": self.stopped_at,
        }
        if history:
            d["history"] = self.history.to_dict()
        return d


def fit(
    split,
    cfg: TrainConfig,
    seed: int | np.random.SeedSequence = 0,
    callback: Callable[[EpochStats], None] | None = None,
    threads: int | None = None,
) -> TrainResult:
    """Train one configuration. The seed fixes the init, the shuffling and the dropout masks; `threads` the
    lanes (1 or 2; None: the cores available, see fast/lanes.py), which never change a result.

    The data is never copied whole: each minibatch is gathered (and cast to cfg.dtype) from split.X_train,
    which may be a memory map. The steps run in fast/fused.py's preallocated buffers.
    """
    t0 = time.perf_counter()
    run = _Run(split, cfg, seed)
    with contextlib.ExitStack() as stack:
        stack.enter_context(lanes.single_threaded_blas())  # robust under contention (fast/lanes.py)
        # a diverging trial overflows on purpose: the abort rule reports it, numpy warnings would only be noise
        stack.enter_context(np.errstate(over="ignore", invalid="ignore", divide="ignore"))
        two = splits(run.model) and lanes.threads(threads) >= 2  # two lanes for a big first layer
        run.start(stack.enter_context(lanes.Lanes(2 if two else 1)))
        for epoch in range(cfg.epochs):
            lr = lr_at(epoch, cfg.lr, cfg.schedule, cfg.lr_decay, cfg.step_size)
            if not run.train_epoch(epoch, lr):
                break  # the early-abort rule fired
            stats = run.evaluate(epoch, lr)
            if callback is not None:
                callback(stats)
    return run.result(time.perf_counter() - t0)


class _Run:
    """One fit's state: the model, its random streams, the step, the history and the best epoch so far."""

    def __init__(self, split, cfg: TrainConfig, seed) -> None:
        ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
        init_ss, shuffle_ss, drop_ss, eval_ss = ss.spawn(4)
        self.split, self.cfg = split, cfg
        self.X = np.asarray(split.X_train)  # a memmap stays a (base-class) view of the same pages
        self.y = np.asarray(split.y_train)
        n = self.X.shape[0]
        if n < cfg.batch_size:
            raise DataError(
                f"{split.name}: the training split has {n} samples, fewer than one batch of {cfg.batch_size}",
                f"lower --batch-size to at most {n} or use more data", key="batch_size")
        self.model = MLP(split.num_features, split.num_classes, cfg, np.random.default_rng(init_ss))
        self.shuffle_rng = np.random.default_rng(shuffle_ss)
        self.drop_rng = np.random.default_rng(drop_ss)
        sub = np.random.default_rng(eval_ss).permutation(n)[:TRAIN_ACC_SAMPLES]
        self.X_sub, self.y_sub = self.X[sub].astype(self.model.dtype, copy=False), self.y[sub]
        self.hist = History(chance_loss=math.log(split.num_classes))
        self.initial_loss = math.nan
        self.abort = Abort(cfg.abort_factor, abort_window(cfg.batch_size, n // cfg.batch_size))
        self.best_val, self.best_train, self.best_state = -1.0, None, None
        self.status, self.stopped_at, self.it, self.epochs_run = "complete", None, 0, 0
        self.epoch_start = 0  # index in hist.loss of the current epoch's first iteration

    def start(self, lane_pair: lanes.Lanes) -> None:
        """The fused step and the accuracy counters, in buffers sized once for the batch."""
        self.step = TrainStep(self.model, self.cfg.batch_size, get_rule(self.cfg.optimizer), OptimHyper(), self.X,
                              lane_pair)
        rows = min(CHUNK, max(self.X_sub.shape[0], self.split.X_val.shape[0]))
        self.counters = ([HitCounter(self.model, rows)] if not self.step.split else
                         [HitCounter(self.model, rows // 2 + 1) for _ in range(2)])

    def train_epoch(self, epoch: int, lr: float) -> bool:
        """One pass over the shuffled training split; False when the early-abort rule stopped it."""
        B, n, cfg, step = self.cfg.batch_size, self.X.shape[0], self.cfg, self.step
        iters = n // B
        self.epochs_run = epoch + 1
        perm = self.shuffle_rng.permutation(n)
        y_perm = self.y[perm]
        self.epoch_start = len(self.hist.loss)
        samples = sorted({(j + 1) * iters // RATIO_SAMPLES - 1 for j in range(RATIO_SAMPLES)} - {-1})
        measured: dict[str, list[float]] = {k: [] for k in self.model.weight_names}
        nxt, s = samples[0], 0  # the next step to measure
        check = self.abort.check
        step.begin(perm[:B])
        for b in range(iters):
            loss = step.forward(y_perm[b * B:(b + 1) * B], self.drop_rng)
            if self.it == 0:
                self.initial_loss = loss
            self.hist.loss.append(loss)
            self.it += 1
            reason = check(loss)
            if reason is not None:  # the early-abort rule fired
                self.status = "diverged"
                a = self.abort
                self.stopped_at = {"epoch": epoch + 1, "iteration": self.it, "loss": finite_or_none(loss),
                                   "reason": reason, "cost": finite_or_none(a.cost),
                                   "baseline": finite_or_none(a.baseline), "window": a.k}
                return False
            idx = perm[(b + 1) * B:(b + 2) * B] if b < iters - 1 else None  # begin the next batch in the same hand-off
            if b == nxt:  # this step also measures ||dW|| / ||W||
                self._update_measured(lr, idx, measured)
                s += 1
                nxt = samples[s] if s < len(samples) else -1
            else:
                step.backward_update(lr, idx)
        self.ratios = {k: statistics.median(v) for k, v in measured.items() if v}
        self.reg_loss = sum(r.penalty for r in step.regions)
        return True

    def _update_measured(self, lr: float, next_idx, measured: dict[str, list[float]]) -> None:
        """One step, appending ||dW|| / ||W|| per weight matrix to `measured`."""
        model = self.model
        before = {k: model.params[k].copy() for k in model.weight_names}
        self.step.backward_update(lr, next_idx)
        for k in model.weight_names:
            w_norm = float(np.linalg.norm(before[k]))
            before[k] -= model.params[k]
            measured[k].append(float(np.linalg.norm(before[k])) / w_norm if w_norm > 0 else math.inf)

    def evaluate(self, epoch: int, lr: float) -> EpochStats:
        """Train (on a fixed subset) and validation accuracy after an epoch; keeps the best epoch's weights."""
        with np.errstate(all="ignore"):
            train_acc = _accuracy(self.counters, self.step.lanes, self.X_sub, self.y_sub)
            val_acc = _accuracy(self.counters, self.step.lanes, self.split.X_val, self.split.y_val)
        h = self.hist
        h.train_acc.append(train_acc)
        h.val_acc.append(val_acc)
        h.lr.append(lr)
        h.update_ratio.append(self.ratios)
        h.reg_loss.append(self.reg_loss)
        if val_acc > self.best_val:
            self.best_val, self.best_train, self.best_state = val_acc, train_acc, self.model.state_dict()
        return EpochStats(epoch + 1, self.cfg.epochs, lr, float(np.mean(h.loss[self.epoch_start:])), train_acc,
                          val_acc, self.ratios)

    def result(self, seconds: float) -> TrainResult:
        """The outcome, with the model holding the best-validation parameters."""
        if self.best_state is not None:
            self.model.load_state_dict(self.best_state)
        h = self.hist
        final = float(np.mean(h.loss[self.epoch_start:])) if len(h.loss) > self.epoch_start else None
        return TrainResult(
            status=self.status,
            val_acc=self.best_val if self.best_state is not None else None,
            # without validation rows (a final fit) the last epoch's weights and train accuracy
            train_acc=self.best_train if self.best_state is not None else (h.train_acc[-1] if h.train_acc else None),
            initial_loss=self.initial_loss,
            final_loss=final,
            epochs_run=self.epochs_run,
            iterations=self.it,
            seconds=seconds,
            history=h,
            stopped_at=self.stopped_at,
            model=self.model,
        )


def _accuracy(counters: list[HitCounter], lane_pair: lanes.Lanes, X: np.ndarray, y: np.ndarray) -> float:
    """Test-mode accuracy; with two counters the rows are scored in two halves, on two lanes if there are."""
    n = X.shape[0]
    if n == 0:  # a final fit has no validation rows
        return math.nan
    if len(counters) == 1 or n < 256:
        return counters[0].hits(X, y) / n
    half, hits = n // 2, [0, 0]

    def count(j: int, rows: slice) -> None:
        hits[j] = counters[j].hits(X[rows], y[rows])

    lane_pair.run(lambda: count(1, slice(half, n)), lambda: count(0, slice(0, half)))
    return (hits[0] + hits[1]) / n
