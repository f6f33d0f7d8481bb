"""One training configuration (TrainConfig): a frozen dataclass, validated on construction.

Keys double as CLI flag names (`batch_size` is `--batch-size`) and search-space parameter names. The names
of activations, update rules and schedules are declared here; the trainer's registries implement them.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace

from hpsearch.errors import ConfigError

# the trainer's registries (trainer/reference/layers.py, optim.py, schedules.py) hold exactly these names
ACTIVATIONS = ("relu", "leaky_relu", "elu", "tanh", "sigmoid")
RELU_FAMILY = frozenset({"relu", "leaky_relu", "elu"})  # He init by default
KINKED = frozenset({"relu", "leaky_relu"})  # derivative jumps at 0: numeric gradients across the kink are off
OPTIMIZERS = ("sgd", "sgd_momentum", "nesterov", "adagrad", "rmsprop", "adam")
SCHEDULES = ("constant", "step", "exp")

INITS = ("small", "xavier", "he")
DTYPES = ("float32", "float64")
REG_KINDS = ("l2", "l1")


def default_init(activation: str) -> str:
    """The init a null `init` means: He for the ReLU family, Xavier for tanh and sigmoid."""
    return "he" if activation in RELU_FAMILY else "xavier"


@dataclass(frozen=True)
class TrainConfig:
    # --- model ---
    hidden: tuple[int, ...] = (100,)  # hidden layer widths; () is a linear softmax classifier
    activation: str = "relu"  # nonlinearity after each hidden affine layer
    init: str | None = None  # small | xavier | he; None picks He for the ReLU family, Xavier otherwise
    init_scale: float = 0.01  # std of the `small` init (CS231n's 0.01 * randn)
    batchnorm: bool = False  # batch normalization after each hidden affine layer
    dropout: float = 0.0  # probability of dropping a hidden unit at train time (inverted dropout)
    # --- objective ---
    reg: float = 1e-4  # regularization strength (lambda)
    reg_kind: str = "l2"  # l2: 0.5*reg*||W||^2, l1: reg*|W|; weights only, never biases
    # --- optimization ---
    lr: float = 5e-3  # base learning rate: trains digits to ~0.96 and keeps update/weight in the CS231n band
    optimizer: str = "sgd_momentum"  # update rule, see trainer/reference/optim.py
    epochs: int = 30  # passes over the training split
    batch_size: int = 100  # minibatch size
    schedule: str = "constant"  # constant | step | exp (per epoch)
    lr_decay: float = 1.0  # multiplier of the step and exp schedules
    step_size: int = 5  # epochs between drops of the step schedule
    # --- judgement ---
    abort_factor: float = 3.0  # a trial whose cost exceeds this x its initial cost is aborted (diverged)
    dtype: str = "float32"  # float32 trains fast; float64 for gradient checks

    def __post_init__(self) -> None:
        object.__setattr__(self, "hidden", tuple(self.hidden))
        _positive_finite("lr", self.lr)
        _check(math.isfinite(self.reg) and self.reg >= 0, "reg", f"must be >= 0 and finite, got {self.reg}", "e.g. 1e-4")
        _check(self.reg_kind in REG_KINDS, "reg_kind", f"must be one of {', '.join(REG_KINDS)}; got {self.reg_kind!r}")
        _check(all(isinstance(h, int) and h >= 1 for h in self.hidden), "hidden",
               f"layer widths must be positive integers, got {self.hidden}", "e.g. 100,50")
        _check(self.activation in ACTIVATIONS, "activation", f"must be one of {', '.join(ACTIVATIONS)}; got {self.activation!r}")
        _check(self.init is None or self.init in INITS, "init", f"must be one of {', '.join(INITS)}; got {self.init!r}")
        _positive_finite("init_scale", self.init_scale)
        _check(0 <= self.dropout < 1, "dropout", f"must be in [0, 1), got {self.dropout}", "e.g. 0.5 drops half the units")
        _check(self.optimizer in OPTIMIZERS, "optimizer", f"must be one of {', '.join(OPTIMIZERS)}; got {self.optimizer!r}")
        _check(isinstance(self.epochs, int) and self.epochs >= 1, "epochs", f"must be an integer >= 1, got {self.epochs}", "e.g. 10")
        _check(isinstance(self.batch_size, int) and self.batch_size >= 1, "batch_size",
               f"must be an integer >= 1, got {self.batch_size}", "e.g. 100")
        _check(self.schedule in SCHEDULES, "schedule", f"must be one of {', '.join(SCHEDULES)}; got {self.schedule!r}")
        _positive_finite("lr_decay", self.lr_decay)
        _check(isinstance(self.step_size, int) and self.step_size >= 1, "step_size", f"must be an integer >= 1, got {self.step_size}")
        _check(math.isfinite(self.abort_factor) and self.abort_factor > 1, "abort_factor",
               f"must be > 1, got {self.abort_factor}", "CS231n uses 3")
        _check(self.dtype in DTYPES, "dtype", f"must be one of {', '.join(DTYPES)}; got {self.dtype!r}")

    @property
    def resolved_init(self) -> str:
        """The init actually used: the one set, else the activation's default (default_init)."""
        return self.init if self.init is not None else default_init(self.activation)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["hidden"] = list(self.hidden)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ConfigError(f"unknown setting {unknown[0]!r}", f"known settings: {', '.join(sorted(known))}", key=unknown[0])
        d = dict(d)
        if "hidden" in d:
            d["hidden"] = tuple(d["hidden"])
        return cls(**d)

    def with_(self, **changes) -> "TrainConfig":
        return replace(self, **changes)


def _check(ok: bool, key: str, problem: str, hint: str | None = None) -> None:
    if not ok:
        raise ConfigError(f"{key} {problem}", hint, key=key)


def _positive_finite(key: str, value: float) -> None:
    ok = isinstance(value, (int, float)) and math.isfinite(value) and value > 0
    _check(ok, key, f"must be > 0 and finite, got {value}")


def parse_hidden(text: str) -> tuple[int, ...]:
    """'100,50' -> (100, 50); '' or 'none' -> () (no hidden layer)."""
    t = text.strip().lower()
    if t in ("", "none", "0"):
        return ()
    parts = [p.strip() for p in t.split(",")]
    try:
        widths = tuple(int(p) for p in parts)
    except ValueError:
        raise ConfigError(f"hidden {text!r} is not a comma-separated list of integers", "e.g. --hidden 100,50",
                          key="hidden") from None
    if any(w < 1 for w in widths):
        raise ConfigError(f"hidden {text!r} has a width < 1", "e.g. --hidden 100,50", key="hidden")
    return widths
