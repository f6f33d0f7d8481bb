"""`hpsearch train`: train one configuration and report its history."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from hpsearch.cli import options as O
from hpsearch.cli.output import console, emit_json, show_progress


@O.with_data_flags
@O.with_model_flags
def train(
    data_flags: dict = None,  # the data flags, declared by O.with_data_flags
    epochs: O.Epochs = None,
    model: dict = None,  # the model flags, declared by O.with_model_flags
    seed: O.Seed = 0,
    save: Annotated[Optional[str], typer.Option("--save", help="Write the best-validation weights to this .npz file.")] = None,
    json_out: O.Json = False,
    quiet: O.Quiet = False,
) -> None:
    """Train one configuration (default: a 64-100-10 ReLU net on digits) and show its history."""
    from hpsearch.diagnosis import diagnose
    from hpsearch.train import fit

    cfg = O.build_config(**model, **O.model_overrides(epochs=epochs))
    split = O.load_spec(data_flags, cfg.dtype)
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

            result = fit(split, cfg, seed, on_epoch)
    else:
        result = fit(split, cfg, seed)
    diagnosis = diagnose(result, cfg)

    if save:
        _save(save, result, cfg, split)
    payload = {"config": cfg.to_dict(), "data": split.info(),
               "seed": seed, **result.to_dict(history=True), "diagnosis": diagnosis}
    if json_out:
        emit_json(payload)
    if not quiet:
        from hpsearch.report import train_table

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
