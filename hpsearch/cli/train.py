"""`hpsearch train`: train one configuration and report its history."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from hpsearch.cli import env, flags
from hpsearch.cli.output import console, emit_json, show_progress


@flags.with_data_flags
@flags.with_model_flags
def train(
    data_flags: flags.DataSpec = None,  # the data flags, declared by flags.with_data_flags
    epochs: flags.Epochs = None,
    model: dict = None,  # the model flags, declared by flags.with_model_flags
    seed: flags.Seed = 0,
    save: Annotated[Optional[str], typer.Option("--save", help="Write the best-validation weights to this .npz file.")] = None,
    json_out: flags.Json = False,
    quiet: flags.Quiet = False,
) -> None:
    """Train one configuration (default: a 64-100-10 ReLU net on digits) and show its history."""
    from hpsearch.trainer.diagnosis import diagnose
    from hpsearch.trainer.fit import fit

    cfg = flags.build_config(**model, **flags.model_overrides(epochs=epochs))
    split = flags.load_split(data_flags, cfg.dtype)
    threads = env.runtime().threads
    if save:
        _check_writable(save)

    out = console(json_out)
    if show_progress(quiet):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        with Progress(TextColumn("epoch"), MofNCompleteColumn(), BarColumn(), TextColumn("{task.fields[info]}"),
                      TimeElapsedColumn(), console=out if json_out else None, transient=True) as bar:
            task = bar.add_task("train", total=cfg.epochs, info="")

            def on_epoch(s):
                bar.update(task, completed=s.epoch, info=f"loss {s.loss:.3f} train {s.train_acc:.3f} val {s.val_acc:.3f}")

            result = fit(split, cfg, seed, on_epoch, threads=threads)
    else:
        result = fit(split, cfg, seed, threads=threads)
    diagnosis = diagnose(result, cfg)

    if save:
        _save(save, result, cfg, split)
    payload = {"config": cfg.to_dict(), "data": split.info(),
               "seed": seed, **result.to_dict(history=True), "diagnosis": diagnosis}
    if json_out:
        emit_json(payload)
    if not quiet:
        from hpsearch.report.train import train_table

        out.print(train_table(result, cfg, diagnosis))
    if result.status == "diverged":  # the only trial diverged: a failed gate (exit 1), result already shown
        raise typer.Exit(1)


def _check_writable(path: str) -> None:
    """Fail before training, not after, when --save cannot be written."""
    import os

    from hpsearch.errors import OutputError

    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder) or not os.access(folder, os.W_OK):
        raise OutputError(f"--save {path}: folder {folder} does not exist or is not writable", "choose a writable path")


def _save(path: str, result, cfg, split) -> None:
    import json

    import numpy as np

    from hpsearch.errors import OutputError

    arrays = result.model.state_dict()
    arrays["config_json"] = np.array(json.dumps(cfg.to_dict()))
    if split.mean is not None:
        arrays["input_mean"], arrays["input_std"] = split.mean, split.std
    try:
        np.savez(path, **arrays)
    except OSError as e:
        raise OutputError(f"--save {path}: cannot write ({e.strerror})", "choose a writable path") from None


def register(app: typer.Typer) -> None:
    app.command(
        "train",
        epilog="Example: hpsearch train --data digits --lr 1e-2 --reg 1e-4 --hidden 100,50 --epochs 10 --json",
    )(train)
