"""Flags shared by several commands, declared once (Annotated types, flag groups handed to each command as one
argument), and the one map from a configuration key to the flag that sets it (errors name the flag typed).

Model flags default to None so a command can tell "not given" (use the space file or the default)
from an explicit value.
"""

from __future__ import annotations

import functools
import inspect
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Optional

import typer

from hpsearch.config.data import DataSpec
from hpsearch.errors import ConfigError, DataError, HPSearchError, SpaceError

# --- common ---
Data = Annotated[str, typer.Option("--data", help="Built-in name (digits, spiral), or a file, folder or comma list: "
                                   ".npz, .csv, X.npy + y.npy, MNIST IDX (plain or .gz), CIFAR-10 binary .bin.")]
LabelColumn = Annotated[Optional[str], typer.Option("--label-column", help="CSV label column name (default: the last).")]
ValFraction = Annotated[float, typer.Option("--val-fraction", help="Fraction of each class held out for validation.")]
Seed = Annotated[int, typer.Option("--seed", min=0, help="Seed for the split, init, shuffling and dropout (>= 0).")]
Json = Annotated[bool, typer.Option("--json", help="Print exactly one JSON object on stdout (tables go to stderr).")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or table; errors still go to stderr.")]

# --- data handling (see data/split.py) ---
MaxSamples = Annotated[Optional[int], typer.Option("--max-samples", help="Use a stratified random subset of this many samples (train + validation), e.g. for quick coarse stages.")]
Flatten = Annotated[bool, typer.Option("--flatten", help="Flatten image arrays (N,H,W[,C]) from .npy/.npz into feature rows (IDX and CIFAR files always are).")]
Preprocess = Annotated[str, typer.Option("--preprocess", help="standardize (per-feature mean/std), center (subtract the mean image), center-channel (subtract per-channel means) or none; fitted on the training split. uint8 pixels are scaled to [0,1] first.")]

# --- model and training ---
Lr = Annotated[Optional[float], typer.Option("--lr", help="Learning rate.")]
Reg = Annotated[Optional[float], typer.Option("--reg", help="Regularization strength (L2 by default).")]
Epochs = Annotated[Optional[int], typer.Option("--epochs", help="Passes over the training split.")]
Hidden = Annotated[Optional[str], typer.Option("--hidden", help="Hidden layer widths, comma-separated, e.g. 100,50 ('none' for a linear model).")]
Activation = Annotated[Optional[str], typer.Option("--activation", help="relu, leaky_relu, elu, tanh or sigmoid.")]
Init = Annotated[Optional[str], typer.Option("--init", help="small (0.01), xavier or he (default: he for ReLU family, xavier otherwise).")]
Optimizer = Annotated[Optional[str], typer.Option("--optimizer", help="sgd, sgd_momentum, nesterov, adagrad, rmsprop or adam.")]
BatchSize = Annotated[Optional[int], typer.Option("--batch-size", help="Minibatch size.")]
Dropout = Annotated[Optional[float], typer.Option("--dropout", help="Probability of dropping a hidden unit while training.")]
Batchnorm = Annotated[Optional[bool], typer.Option("--batchnorm/--no-batchnorm", help="Batch normalization after each hidden layer.")]
LrDecay = Annotated[Optional[float], typer.Option("--lr-decay", help="Per-epoch learning-rate multiplier (exponential decay unless --schedule step).")]
Schedule = Annotated[Optional[str], typer.Option("--schedule", help="constant, step or exp.")]
RegKind = Annotated[Optional[str], typer.Option("--reg-kind", help="l2 or l1.")]
Dtype = Annotated[Optional[str], typer.Option("--dtype", help="float32 (fast, default) or float64.")]

# config key -> the flag that sets it, so errors name the flag the user typed
FLAGS = {
    "lr": "--lr", "reg": "--reg", "epochs": "--epochs", "hidden": "--hidden", "activation": "--activation",
    "init": "--init", "optimizer": "--optimizer", "batch_size": "--batch-size", "dropout": "--dropout",
    "batchnorm": "--batchnorm", "lr_decay": "--lr-decay", "schedule": "--schedule", "reg_kind": "--reg-kind",
    "dtype": "--dtype", "val_fraction": "--val-fraction", "max_samples": "--max-samples", "preprocess": "--preprocess",
    "trials": "--trials",
    # sanity's own options
    "only": "--only", "skip": "--skip", "loss_tolerance": "--loss-tolerance", "subset": "--subset",
    "overfit_epochs": "--overfit-epochs",
}


# The model flags every training command declares (epochs is declared per command: its default differs).
MODEL_FLAGS = {
    "lr": Lr, "reg": Reg, "hidden": Hidden, "activation": Activation, "init": Init, "optimizer": Optimizer,
    "batch_size": BatchSize, "dropout": Dropout, "batchnorm": Batchnorm, "lr_decay": LrDecay,
    "schedule": Schedule, "reg_kind": RegKind, "dtype": Dtype,
}


def flag_group(placeholder: str, flags: dict, build):
    """A decorator declaring a group of flags on a command once, for all commands.

    The command has a parameter named `placeholder` where the flags belong in --help; it receives
    `build(given, kwargs)` there, `given` being the group's flag values and `kwargs` the command's others.
    """

    def decorate(command):
        sig = inspect.signature(command, eval_str=True)
        if placeholder not in sig.parameters:
            raise TypeError(f"{command.__name__} needs a `{placeholder}` parameter for its flag group")
        params = []
        for p in sig.parameters.values():
            if p.name == placeholder:
                params += [inspect.Parameter(k, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=a)
                           for k, (a, default) in flags.items()]
            else:
                params.append(p.replace(kind=inspect.Parameter.KEYWORD_ONLY))

        @functools.wraps(command)
        def wrapper(**kwargs):
            given = {k: kwargs.pop(k) for k in flags}
            return command(**{placeholder: build(given, kwargs)}, **kwargs)

        wrapper.__signature__ = sig.replace(parameters=params)
        return wrapper

    return decorate


# `model`: the flags the user gave, as config keys (model_overrides: --hidden parsed, --lr-decay implying exp)
with_model_flags = flag_group("model", {k: (a, None) for k, a in MODEL_FLAGS.items()},
                               lambda given, _: model_overrides(**given))

# The data flags of the commands that load --data themselves (fine reloads its parent's data instead).
DATA_FLAGS = {
    "data": (Data, "digits"), "label_column": (LabelColumn, None), "val_fraction": (ValFraction, 0.2),
    "max_samples": (MaxSamples, None), "flatten": (Flatten, False), "preprocess": (Preprocess, "standardize"),
}


def data_spec(given: dict, seed: int) -> DataSpec:
    """The data flags as a DataSpec (the split uses --seed); paths as typed (a stage records them absolute)."""
    return DataSpec(given["data"], given["label_column"], given["val_fraction"], seed, given["max_samples"],
                    given["flatten"], given["preprocess"])


# `data_flags`: the DataSpec (data_spec) of the flags given
with_data_flags = flag_group("data_flags", DATA_FLAGS, lambda given, kwargs: data_spec(given, kwargs["seed"]))


def model_overrides(*, lr=None, reg=None, epochs=None, hidden=None, activation=None, init=None, optimizer=None,
                    batch_size=None, dropout=None, batchnorm=None, lr_decay=None, schedule=None, reg_kind=None,
                    dtype=None) -> dict:
    """The model flags the user actually gave, as config keys (hidden parsed)."""
    from hpsearch.config.train import parse_hidden

    given = dict(lr=lr, reg=reg, epochs=epochs, activation=activation, init=init, optimizer=optimizer,
                 batch_size=batch_size, dropout=dropout, batchnorm=batchnorm, lr_decay=lr_decay, schedule=schedule,
                 reg_kind=reg_kind, dtype=dtype)
    out = {k: v for k, v in given.items() if v is not None}
    if hidden is not None:
        with naming_flags(ConfigError):
            out["hidden"] = parse_hidden(hidden)
    if "lr_decay" in out and "schedule" not in out and out["lr_decay"] != 1.0:
        out["schedule"] = "exp"
    return out


def build_config(base=None, **overrides):
    """A TrainConfig from `base` (or the defaults) with `overrides`; errors name the CLI flag."""
    from hpsearch.config.train import TrainConfig

    with naming_flags(ConfigError):
        return (base or TrainConfig()).with_(**overrides)


def flagged(e, given: tuple[str, ...] = ()):
    """Rewrite 'lr must be > 0' as '--lr must be > 0' when the key came from a flag (same error type); and a
    space file's '<file>: trials must be ...' as '--trials must be ...' when `given` says --trials set it."""
    flag = FLAGS.get(e.key or "")
    if flag and e.message.startswith(e.key + " "):  # the key itself, not a file named after it (epochs.yaml)
        return type(e)(flag + e.message[len(e.key):], e.hint, key=e.key)
    top = (e.key or "").split(".")[0]
    if isinstance(e, SpaceError) and top in given:
        return ConfigError(f"--{top} {e.message.split(f'{e.key} ', 1)[-1]}", e.hint, key=top)
    return e


def load_split(spec: DataSpec, dtype: str | None = "float32", final: bool = False):
    """data.split.load_split, with errors naming the flag."""
    from hpsearch.data.split import load_split as load

    with naming_flags(DataError):
        return load(spec, dtype, final=final)


@contextmanager
def naming_flags(kinds: type | tuple = HPSearchError, given: tuple[str, ...] = ()):
    """Errors of `kinds` raised inside name the flag of their key (flagged); `given`: keys set by flags, for
    the space-file errors about them."""
    try:
        yield
    except kinds as e:
        raise flagged(e, given) from None


# --- the flags of a search run (coarse, fine) ---
Out = Annotated[str, typer.Option("--out", help="Results file (JSON, written atomically).")]
Storage = Annotated[Optional[str], typer.Option("--storage", envvar="HPSEARCH_STORAGE", show_envvar=False,
                                                help="Optuna storage: a journal file path, sqlite:///x.db or "
                                                "postgresql://... (default: $HPSEARCH_STORAGE, else a journal file "
                                                "beside --out). Keep passwords out of the command line: "
                                                "PGPASSWORD, ~/.pgpass or HPSEARCH_STORAGE.")]
Study = Annotated[Optional[str], typer.Option("--study", help="Study name (default: '<command>-<out stem>').")]
Fresh = Annotated[bool, typer.Option("--fresh", help="Delete the study's earlier trials and start over "
                                     "(default: resume it).")]
Strict = Annotated[bool, typer.Option("--strict", help="Exit 1 when a warning is raised (best value on a range edge).")]
TopK = Annotated[int, typer.Option("--show", help="Rows of the final table.")]
Jobs = Annotated[int, typer.Option("--jobs", "-j", help="Worker processes on this machine, this one included, "
                                   "each on one BLAS thread (one per core). 0: only record and enqueue the plan "
                                   "in --storage for 'hpsearch worker' processes on other machines.")]
Grace = Annotated[Optional[float], typer.Option("--grace", help="Seconds without a heartbeat after which a "
                                                "worker's trial is run again by another (default: HPSEARCH_GRACE "
                                                "or 30; stored in the study for every worker).")]


@dataclass(frozen=True)
class RunFlags:
    """The flags of a search run that coarse and fine share (declared once, in RUN_FLAGS)."""

    storage: str | None  # --storage URL (None: a journal file beside --out)
    study: str | None  # --study NAME (None: derived from the command and --out)
    fresh: bool  # --fresh: start the study over
    jobs: int  # --jobs: processes on this machine, this one included; 0: enqueue only
    grace: float | None  # --grace seconds (None: the study's, HPSEARCH_GRACE or 30)
    strict: bool  # --strict: a warning fails the command (exit 1)
    top_k: int  # --show: rows of the final table (fine has a --top-k of its own)
    json_out: bool  # --json
    quiet: bool  # --quiet


RUN_FLAGS = {"storage": (Storage, None), "study": (Study, None), "fresh": (Fresh, False), "jobs": (Jobs, 1),
             "grace": (Grace, None), "strict": (Strict, False), "show": (TopK, 10), "json_out": (Json, False),
             "quiet": (Quiet, False)}
# `run`: the RunFlags of the flags given
with_run_flags = flag_group("run", RUN_FLAGS, lambda given, _: RunFlags(top_k=given.pop("show"), **given))
