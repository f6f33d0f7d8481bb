"""Flags shared by several commands, declared once (Annotated types, flag groups handed to each command as one
argument), their --help panels, and the one map from a configuration key to the flag that sets it (errors name
the flag typed).

Model flags show their real default in --help, but a command receives None for a flag the user did not give
(flag_group's `unset`), so it can tell "not given" (use the space file, the --from trial, or the default) from
an explicit value.
"""

from __future__ import annotations

import copy
import functools
import inspect
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Literal, Optional, get_args

import typer

from hpsearch.cli.panels import DATA, MODEL, OUTPUT, SEARCH, STORAGE, one_of  # noqa: F401 - commands use flags.SEARCH
from hpsearch.config import train as train_config  # the names the trainer's registries implement (tested equal)
from hpsearch.config.data import PREPROCESS, DataSpec
from hpsearch.errors import ConfigError, DataError, HPSearchError, SpaceError

SAMPLERS = ("random", "grid")  # config.space.SAMPLERS (not imported: it pulls NumPy into --help)
_TRAIN = train_config.TrainConfig()  # the defaults --help shows


def choice(names: tuple[str, ...]):
    """The type of a flag whose values are a fixed set: the shell completes them, a wrong value is exit 2
    naming the flag and the valid values (cli.errors)."""
    return Optional[Literal[names]]


# --- common ---
Data = Annotated[str, typer.Option("--data", rich_help_panel=DATA, help="Built-in name (digits, spiral), or a file, "
                                   "folder or comma list: .npz, .csv, X.npy + y.npy, MNIST IDX (plain or .gz), "
                                   "CIFAR-10 binary .bin.")]
LabelColumn = Annotated[Optional[str], typer.Option("--label-column", rich_help_panel=DATA, show_default="the last",
                                                    help="CSV label column name.")]
ValFraction = Annotated[float, typer.Option("--val-fraction", rich_help_panel=DATA,
                                            help="Fraction of each class held out for validation.")]
Seed = Annotated[int, typer.Option("--seed", min=0, metavar="<int>", rich_help_panel=MODEL,
                                   help="Seed for the split, init, shuffling and dropout.")]
Json = Annotated[bool, typer.Option("--json", metavar="", rich_help_panel=OUTPUT,
                                    help="Print exactly one JSON object on stdout (tables go to stderr).")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", metavar="", rich_help_panel=OUTPUT,
                                     help="No progress bar or table; errors still go to stderr.")]
Debug = Annotated[bool, typer.Option("--debug", metavar="", rich_help_panel=OUTPUT,  # any HPSEARCH_DEBUG: cli.errors
                                     help="Show a traceback on errors, for bug reports (or set HPSEARCH_DEBUG=1).")]

# --- data handling (see data/split.py) ---
MaxSamples = Annotated[Optional[int], typer.Option("--max-samples", rich_help_panel=DATA, show_default="all",
                                                   help="Use a stratified random subset of this many samples "
                                                   "(train + validation), e.g. for quick coarse stages.")]
Flatten = Annotated[bool, typer.Option("--flatten", metavar="", rich_help_panel=DATA,
                                       help="Flatten image arrays (N,H,W[,C]) from .npy/.npz into feature rows "
                                       "(IDX and CIFAR files always are).")]
Preprocess = Annotated[choice(PREPROCESS), typer.Option(
    "--preprocess", metavar="<how>", rich_help_panel=DATA,
    help=f"{one_of(PREPROCESS)}: per-feature mean/std, the mean image, per-channel means, or nothing; fitted on "
    "the training split (uint8 pixels are scaled to [0,1] first).")]

# --- model and training ---
Lr = Annotated[Optional[float], typer.Option("--lr", help="Learning rate.")]
Reg = Annotated[Optional[float], typer.Option("--reg", help="Regularization strength (L2 unless --reg-kind l1).")]
Epochs = Annotated[Optional[int], typer.Option("--epochs", help="Passes over the training split.")]
Hidden = Annotated[Optional[str], typer.Option("--hidden", help="Hidden layer widths, comma-separated, e.g. 100,50 "
                                              "('none' for a linear model).")]
Activation = Annotated[choice(train_config.ACTIVATIONS), typer.Option(
    "--activation", metavar="<name>", help=f"{one_of(train_config.ACTIVATIONS)}: after each hidden layer.")]
Init = Annotated[choice(train_config.INITS), typer.Option(
    "--init", metavar="<name>", show_default="he for the ReLU family, else xavier",
    help=f"Weight init: {one_of(train_config.INITS)} (small: 0.01 * randn).")]
Optimizer = Annotated[choice(train_config.OPTIMIZERS), typer.Option(
    "--optimizer", metavar="<rule>", help=f"Update rule: {one_of(train_config.OPTIMIZERS)}.")]
BatchSize = Annotated[Optional[int], typer.Option("--batch-size", help="Minibatch size.")]
Dropout = Annotated[Optional[float], typer.Option("--dropout", help="Probability of dropping a hidden unit "
                                                  "while training.")]
Batchnorm = Annotated[Optional[bool], typer.Option("--batchnorm/--no-batchnorm", metavar="",
                                                   help="Batch normalization after each hidden layer.")]
LrDecay = Annotated[Optional[float], typer.Option("--lr-decay", help="Per-epoch learning-rate multiplier "
                                                  "(exponential decay unless --schedule step).")]
Schedule = Annotated[choice(train_config.SCHEDULES), typer.Option(
    "--schedule", metavar="<name>", help=f"Learning-rate schedule: {one_of(train_config.SCHEDULES)}.")]
RegKind = Annotated[choice(train_config.REG_KINDS), typer.Option(
    "--reg-kind", metavar="<kind>", help=f"Penalty on the weights: {one_of(train_config.REG_KINDS)}.")]
Dtype = Annotated[choice(train_config.DTYPES), typer.Option(
    "--dtype", metavar="<type>", help=f"{one_of(train_config.DTYPES)} (float32 trains fast).")]

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

# The model flags every training command declares, with the default --help shows (TrainConfig's; --epochs only
# where it is a model setting: train, sanity).
MODEL_FLAGS = {
    "lr": (Lr, _TRAIN.lr), "reg": (Reg, _TRAIN.reg), "hidden": (Hidden, ",".join(map(str, _TRAIN.hidden))),
    "activation": (Activation, _TRAIN.activation), "init": (Init, None), "optimizer": (Optimizer, _TRAIN.optimizer),
    "batch_size": (BatchSize, _TRAIN.batch_size), "dropout": (Dropout, _TRAIN.dropout),
    "batchnorm": (Batchnorm, _TRAIN.batchnorm), "lr_decay": (LrDecay, _TRAIN.lr_decay),
    "schedule": (Schedule, _TRAIN.schedule), "reg_kind": (RegKind, _TRAIN.reg_kind), "dtype": (Dtype, _TRAIN.dtype),
}


def in_panel(annotation, panel: str | None = None, **settings):
    """The same Annotated flag, in another --help panel and/or with other OptionInfo settings (show_default...)."""
    base, info = get_args(annotation)[:2]
    info = copy.copy(info)
    if panel is not None:
        info.rich_help_panel = panel
    for k, v in settings.items():
        setattr(info, k, v)
    return Annotated[base, info]


def flag_group(placeholder: str, flags: dict, build, unset=()):
    """A decorator declaring a group of flags on a command once, for all commands.

    The command has a parameter named `placeholder` where the flags belong in --help; it receives
    `build(given, kwargs)` there, `given` being the group's flag values and `kwargs` the command's others.
    A flag named in `unset` is None in `given` unless the user gave it (its default is only shown in --help).
    """

    def decorate(command):
        sig = inspect.signature(command, eval_str=True)
        if placeholder not in sig.parameters:
            raise TypeError(f"{command.__name__} needs a `{placeholder}` parameter for its flag group")
        ctx_name = next((p.name for p in sig.parameters.values() if _is_context(p.annotation)), None)
        params = []
        for p in sig.parameters.values():
            if p.name == placeholder:
                params += [inspect.Parameter(k, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=a)
                           for k, (a, default) in flags.items()]
            else:
                params.append(p.replace(kind=inspect.Parameter.KEYWORD_ONLY))
        if ctx_name is None and unset:  # the Context tells a given flag from its default
            params.append(inspect.Parameter("ctx", inspect.Parameter.KEYWORD_ONLY, annotation=typer.Context))

        @functools.wraps(command)
        def wrapper(**kwargs):
            ctx = kwargs[ctx_name] if ctx_name else kwargs.pop("ctx", None)
            given = {k: kwargs.pop(k) for k in flags}
            for k in unset:
                given[k] = given[k] if was_given(ctx, k) else None
            return command(**{placeholder: build(given, kwargs)}, **kwargs)

        wrapper.__signature__ = sig.replace(parameters=params)
        return wrapper

    return decorate


def _is_context(annotation) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, typer.Context)


def was_given(ctx: typer.Context, name: str) -> bool:
    """Whether the user set parameter `name` (on the command line or through its environment variable)."""
    source = ctx.get_parameter_source(name)
    return source is not None and source.name in ("COMMANDLINE", "ENVIRONMENT")


def with_model_flags(panel: str = MODEL, *, default: str | None = None, epochs: bool | str = False):
    """`model`: the flags the user gave, as config keys (model_overrides: --hidden parsed, --lr-decay implying
    exp), the flags shown in `panel` with TrainConfig's defaults, or `default` for all (fine: "the parent's";
    with "{}" in it, TrainConfig's default goes there: coarse's "the space file's, else {}");
    `epochs`: --epochs belongs to the group too ("hidden": accepted, not shown)."""
    shown_epochs = in_panel(Epochs, hidden=True) if epochs == "hidden" else Epochs
    group = dict(MODEL_FLAGS, **({"epochs": (shown_epochs, _TRAIN.epochs)} if epochs else {}))
    shown = {}
    for k, (a, value) in group.items():
        if default is None:
            a = in_panel(a, panel)
        elif "{}" in default:
            own = get_args(a)[1].show_default
            own = own if isinstance(own, str) else "on" if value is True else "off" if value is False else value
            a = in_panel(a, panel, show_default=default.format(own))
        else:
            a = in_panel(a, panel, show_default=default)
        shown[k] = (a, value)
    return flag_group("model", shown, lambda given, _: model_overrides(**given), unset=tuple(group))


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
Out = Annotated[str, typer.Option("--out", rich_help_panel=OUTPUT, help="Results file (JSON, written atomically).")]
Storage = Annotated[Optional[str], typer.Option("--storage", envvar="HPSEARCH_STORAGE", show_envvar=True,
                                                rich_help_panel=STORAGE, show_default="a journal file beside --out",
                                                help="Optuna storage: a journal file path, sqlite:///x.db or "
                                                "postgresql://... Keep passwords out of the command line: "
                                                "PGPASSWORD, ~/.pgpass or HPSEARCH_STORAGE.")]
Study = Annotated[Optional[str], typer.Option("--study", rich_help_panel=STORAGE,
                                              show_default="<command>-<out stem>", help="Study name.")]
Fresh = Annotated[bool, typer.Option("--fresh", metavar="", rich_help_panel=STORAGE,
                                     help="Delete the study's earlier trials and start over (default: resume it).")]
Strict = Annotated[bool, typer.Option("--strict", metavar="", rich_help_panel=OUTPUT,
                                      help="Exit 1 when a warning is raised (best value on a range edge).")]
TopK = Annotated[int, typer.Option("--show", rich_help_panel=OUTPUT, help="Rows of the final table.")]
Jobs = Annotated[str, typer.Option("--jobs", "-j", metavar="<n|auto>", rich_help_panel=STORAGE,
                                   help="Worker processes on this machine, this one included, each on one BLAS "
                                   "thread (one per core); auto: one per core this process may use. 0: only "
                                   "record and enqueue the plan in --storage for 'hpsearch worker' processes on "
                                   "other machines.")]
Grace = Annotated[Optional[float], typer.Option("--grace", rich_help_panel=STORAGE,
                                                show_default="HPSEARCH_GRACE, else 30",  # read by the Runtime,
                                                # which names the variable in its errors (not bound: click would)
                                                help="Seconds without a heartbeat after which a worker's trial is "
                                                "run again by another (stored in the study for every worker). "
                                                "[env var: HPSEARCH_GRACE]")]


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


RUN_FLAGS = {"storage": (Storage, None), "study": (Study, None), "fresh": (Fresh, False), "jobs": (Jobs, "1"),
             "grace": (Grace, None), "strict": (Strict, False), "show": (TopK, 10), "json_out": (Json, False),
             "quiet": (Quiet, False)}
# `run`: the RunFlags of the flags given. HPSEARCH_GRACE is left to the Runtime (cli.env), which names the
# variable in its errors and applies it only to a new study: --grace is None unless typed.
with_run_flags = flag_group("run", RUN_FLAGS, lambda given, _: RunFlags(top_k=given.pop("show"),
                                                                         jobs=jobs_value(given.pop("jobs")), **given))


def jobs_value(typed: str) -> int:
    """--jobs N or --jobs auto (engine/workers.py parse_jobs) as a number of processes."""
    from hpsearch.engine import workers  # light: nothing heavy is imported with it

    return workers.parse_jobs(typed)
