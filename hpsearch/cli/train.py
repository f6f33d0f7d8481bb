"""`hpsearch train`: train one configuration and report its history; or, with --from, the best (--trial N, --top K)
configurations of a results file with every setting they used; --final fits on every training row."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from hpsearch.cli import command, env, flags
from hpsearch.cli.errors import warn_line
from hpsearch.cli.output import console, emit_json, progress_bar, show_progress

FROM = "From a search"
From = Annotated[Optional[str], typer.Option(
    "--from", rich_help_panel=FROM, show_default="none",
    help="Train the best trial of this results file with every setting it used (flags given here override).")]
Trial = Annotated[Optional[int], typer.Option(
    "--trial", min=0, metavar="<int>", rich_help_panel=FROM, show_default="the best",
    help="With --from: this trial instead of the best.")]
Top = Annotated[Optional[int], typer.Option(
    "--top", min=1, metavar="<int>", rich_help_panel=FROM, show_default="1",
    help="With --from: the top K configurations (the stage's ranking), a model each; --save is then a folder, "
         "even for 1.")]
Seeds = Annotated[Optional[int], typer.Option(
    "--seeds", min=1, metavar="<int>", rich_help_panel=FROM, show_default="1",
    help="With --from: train each chosen configuration S times, from S seeds (the trial's or --seed's, then "
         "independent ones spawned from it), for an ensemble of seeds; --save is then a folder, even for 1.")]
Final = Annotated[bool, typer.Option(
    "--final", metavar="", rich_help_panel=FROM,
    help="Fit on every training row (training + validation): no validation accuracy is reported.")]
Save = Annotated[Optional[str], typer.Option(
    "--save", rich_help_panel=flags.OUTPUT, show_default="not saved",
    help="Write the model file (a folder with --top or --seeds: one trial-N.npz per configuration, "
         "trial-N-seedI.npz per seed).")]


@flags.with_data_flags
@flags.with_model_flags(epochs=True)
def train(
    ctx: typer.Context,
    data_flags: flags.DataSpec = None,  # the data flags, declared by flags.with_data_flags
    model: dict = None,  # the model flags (and --epochs), declared by flags.with_model_flags
    seed: flags.Seed = 0,
    from_: From = None,
    trial: Trial = None,
    top: Top = None,
    seeds: Seeds = None,
    final: Final = False,
    save: Save = None,
    json_out: flags.Json = False,
    quiet: flags.Quiet = False,
) -> None:
    """Train one configuration (default: a 64-100-10 ReLU net on digits) and show its history; or, with --from,
    the configurations a search found (`--from results.fine.json --top 5 --final --save models/`)."""
    from hpsearch.errors import ConfigError

    overrides = model
    if from_ is None:
        given = [f for f, v in (("--trial", trial), ("--top", top), ("--seeds", seeds)) if v is not None]
        if given:
            raise ConfigError(f"{' and '.join(given)} {'needs' if len(given) == 1 else 'need'} --from RESULTS",
                              "e.g. --from results.json --top 5")
        cfg = flags.build_config(**overrides)
        jobs = [Job(cfg, seed, None, {})]
        spec = data_flags
    else:
        data_given = ctx.get_parameter_source("data").name == "COMMANDLINE"
        seed_given = ctx.get_parameter_source("seed").name == "COMMANDLINE"
        jobs, spec = _from_results(from_, trial, top, overrides, data_flags.spec if data_given else None,
                                   seed if seed_given else None, seeds)
    targets = _targets(save, jobs, as_folder=top is not None or seeds is not None)
    if save is None and len(jobs) > 1:
        warn_line(f"{len(jobs)} models are trained and reported but not kept (add --save FOLDER to keep them)")
    out = console(json_out)
    payloads = []
    splits: dict = {}  # dtype -> the split: loaded once for all the --top models
    for job, target in zip(jobs, targets):
        payloads.append(_train_one(job, spec, final, target, out, json_out, quiet, from_, splits))
    if len(payloads) > 1 and not quiet:  # after a report per model, what the run left
        out.print(_summary(payloads, save))
    if json_out:
        from hpsearch.config.plain import strict

        emit_json(strict(payloads[0] if len(payloads) == 1 else {"models": payloads}))
    if any(p["status"] == "diverged" for p in payloads):  # a diverged run: a failed gate (exit 1), result shown
        raise typer.Exit(1)


class Job:
    """One configuration to train: its config, seed, the trial it came from, and the flags that overrode it."""

    def __init__(self, cfg, seed, trial: dict | None, overridden: dict, run: tuple[int, int] | None = None):
        self.cfg, self.seed, self.trial, self.overridden, self.run = cfg, seed, trial, overridden, run


def run_seeds(first, n: int) -> list:
    """The n seeds of --seeds n: `first` (the trial's seed, or --seed's), then n - 1 streams spawned from it (the
    same for every call: the saved models of a rerun are identical). Seed i >= 2 is first's spawn key + (i - 2,);
    fit draws from its own children of a seed, never from the seed itself, so no two runs share a stream."""
    import numpy as np

    ss = first if isinstance(first, np.random.SeedSequence) else np.random.SeedSequence(first)
    fresh = np.random.SeedSequence(ss.entropy, spawn_key=ss.spawn_key)  # spawn() counts on the object: not on first
    return [first, *fresh.spawn(n - 1)]


def seed_record(seed) -> int | list[int]:
    """A seed as the model file and --json record it: the int, or a SeedSequence's entropy then spawn key."""
    if isinstance(seed, int):
        return seed
    entropy = seed.entropy if isinstance(seed.entropy, (list, tuple)) else [seed.entropy]
    return [int(e) for e in entropy] + [int(k) for k in seed.spawn_key]


def _from_results(path: str, number: int | None, top: int | None, overrides: dict, data_path: str | None,
                  seed: int | None = None, n_seeds: int | None = None):
    """The jobs of --from: the chosen trials' configurations (fixed settings + searched values, then the flags
    given), each with the seed it trained with, or `seed` (--seed given: another initialization and shuffling of
    the same configuration, as for an ensemble of seeds), and with `n_seeds` (--seeds) that many seeds each;
    and the data spec the stage used (--data: where it now lives)."""
    from hpsearch.config.data import DataSpec
    from hpsearch.config.plain import short
    from hpsearch.config.train import TrainConfig
    from hpsearch.engine.plan import trial_seeds
    from hpsearch.errors import ConfigError
    from hpsearch.results import file as results_file
    from hpsearch.results.ranking import rank_key

    doc = results_file.read(path)
    if number is not None and top is not None:
        raise ConfigError("--trial and --top cannot go together", "pick one trial, or the top K")
    trials = {t["number"]: t for t in doc["trials"]}
    if number is not None:
        if number not in trials:
            raise ConfigError(f"--trial {number}: {path} has no trial {number}",
                              f"its trials are numbered {_spans(sorted(trials))}", key="trial")
        chosen = [trials[number]]
    else:
        ranked = sorted((t for t in doc["trials"] if t["status"] == "complete"), key=rank_key)
        if not ranked:
            raise ConfigError(f"--from {path}: no complete trial to train", "rerun the search (see its warnings)")
        chosen = ranked[:top or 1]
        if top is not None and top > len(ranked):
            warn_line(f"--top {top}: {path} has {len(ranked)} complete trial(s); training those")
    study_seed = doc["settings"].get("seed", 0)
    jobs = []
    for t in chosen:
        base = {**doc["fixed"], **t["params"]}
        with flags.naming_flags(ConfigError):
            cfg = TrainConfig.from_dict(base).with_(**overrides)
        given = {k: v for k, v in overrides.items() if base.get(k) != (list(v) if isinstance(v, tuple) else v)}
        changed = {k: f"{short(base.get(k))} -> {short(v)}" for k, v in given.items()}
        if seed is not None:
            changed["seed"] = f"the trial's -> {seed}"
        # a trial trains with its configuration's seed (with halving, number = rung x configs + config)
        first = seed if seed is not None else trial_seeds(study_seed, t.get("config", t["number"]))[1]
        if n_seeds is None:
            jobs.append(Job(cfg, first, t, changed))
            continue
        for i, s in enumerate(run_seeds(first, n_seeds), 1):
            # a spawned seed is not the one --seed gave: say which it is
            said = changed if seed is None or i == 1 else {**changed, "seed": f"the trial's -> {seed_record(s)}"}
            jobs.append(Job(cfg, s, t, said, (i, n_seeds)))
    spec = DataSpec.from_dict(doc["data"]).with_(fingerprint=doc["data"]["fingerprint"])
    if data_path is not None:  # the stage's data, now at another path (its fingerprint must match)
        spec = spec.with_(spec=data_path)
    return jobs, spec


def _targets(save: str | None, jobs: list, as_folder: bool = False) -> list:
    """Where each model file goes (None: not saved); checked writable before any training. With --top K or
    --seeds S (`as_folder`), --save names a folder of trial-N.npz files (trial-N-seedI.npz with --seeds), however
    many models there are."""
    import os

    from hpsearch.errors import OutputError

    if save is None:
        return [None] * len(jobs)
    from hpsearch.config import files
    from hpsearch.errors import ConfigError

    if not as_folder:
        if save.endswith(("/", os.sep)):  # a folder is for --top K or --seeds N; one model is one file
            raise ConfigError(f"--save {save}: names a folder, and one model is saved as one file",
                              "give a file name, e.g. --save model.npz (a folder is for --top K or --seeds S)",
                              key="save")
        try:
            files.check_output(save)
        except files.NotReadable as e:
            raise ConfigError(f"--save {save}: {e.reason}", "give a new file name, e.g. --save model.npz",
                              key="save") from None
    if as_folder:
        if save.endswith(".npz"):  # a folder named like a model file: `evaluate x.npz` would ensemble its contents
            raise ConfigError(f"--save {save}: --top and --seeds save a folder of model files, and this names a "
                              "file", "give a folder, e.g. --save models/", key="save")
        folder = Path(save)
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise OutputError(f"--save {save}: cannot create the folder ({e.strerror})", "choose a writable path") from None
        if not os.access(folder, os.W_OK):
            raise OutputError(f"--save {save}: folder is not writable", "choose a writable path")
        targets = [str(folder / f"trial-{j.trial['number']}{'' if j.run is None else f'-seed{j.run[0]}'}.npz")
                   for j in jobs]
        # evaluate FOLDER ensembles every model file in it: one left by an earlier run would join silently
        others = sorted(p.name for p in folder.glob("*.npz") if str(p) not in targets)
        if others:
            raise ConfigError(f"--save {save}: the folder already holds {len(others)} model file(s) this run does "
                              f"not write ({', '.join(others[:3])}{', ...' if len(others) > 3 else ''}), which "
                              "evaluate would ensemble with the new ones", "choose a new folder or empty this one",
                              key="save")
        return targets
    folder = os.path.dirname(os.path.abspath(save))
    if not os.path.isdir(folder) or not os.access(folder, os.W_OK):
        raise OutputError(f"--save {save}: folder {folder} does not exist or is not writable", "choose a writable path")
    return [save]


def _train_one(job: Job, spec, final: bool, target: str | None, out, json_out: bool, quiet: bool, source,
               splits: dict) -> dict:
    from hpsearch.trainer.diagnosis import diagnose
    from hpsearch.trainer.fit import fit
    from hpsearch.trainer.saved import save_model

    from hpsearch.errors import DataError

    cfg = job.cfg
    if cfg.dtype not in splits:
        split = flags.load_split(spec, cfg.dtype, final=final)
        if spec.fingerprint and split.fingerprint != spec.fingerprint:
            raise DataError(f"--data {spec.spec}: its fingerprint {split.fingerprint} is not the search's "
                            f"{spec.fingerprint} ({source})", "point --data at the data the search used", key="data")
        splits[cfg.dtype] = split
    split = splits[cfg.dtype]
    threads = env.runtime().threads
    if not quiet:
        _say_origin(out, job, source, final, split)
    if show_progress(quiet):
        with progress_bar("epoch", "epochs") as bar:
            task = bar.add_task("train", total=cfg.epochs, info="")

            def on_epoch(s):
                acc = f"train {s.train_acc:.3f}" if final else f"val {s.val_acc:.3f}"
                bar.update(task, completed=s.epoch, info=f"loss {s.loss:.3f} · {acc}")

            result = fit(split, cfg, job.seed, on_epoch, threads=threads)
    else:
        result = fit(split, cfg, job.seed, threads=threads)
    diagnosis = diagnose(result, cfg)
    seed_text = seed_record(job.seed)
    if target:
        provenance = {"results": str(Path(source).resolve()) if source else None,
                      "trial": job.trial["number"] if job.trial else None, "seed": seed_text, "final": final,
                      "epochs": cfg.epochs}
        save_model(target, result.model, cfg, split, provenance)
    payload = {"config": cfg.to_dict(), "data": split.info(), "seed": seed_text, "final": final,
               **result.to_dict(history=True), "diagnosis": diagnosis}
    if job.trial is not None:
        payload["from"] = {"results": source, "trial": job.trial["number"], "overridden": job.overridden,
                           "stage_val_acc": job.trial["val_acc"]}
        if job.run is not None:
            payload["from"]["run"] = job.run[0]
    if target:
        payload["saved"] = target
    if not quiet:
        from hpsearch.report.train import train_table

        out.print(train_table(result, cfg, diagnosis))
        if target:
            out.print(f"saved: {target}")
    return payload


def _summary(payloads: list[dict], save: str | None) -> str:
    """One line after several models: how many, from how many configurations, their accuracy range, and where."""
    configs = len({p["from"]["trial"] for p in payloads})
    key = "train_acc" if payloads[0]["final"] else "val_acc"
    accs = [p[key] for p in payloads if p.get(key) is not None]
    text = f"{len(payloads)} models from {configs} configuration{'s' if configs > 1 else ''}"
    if accs:
        text += f", {key} {min(accs):.4f}-{max(accs):.4f}"
    diverged = sum(p["status"] == "diverged" for p in payloads)
    if diverged:
        text += f", {diverged} diverged"
    if save is not None:
        text += f"; saved in {save} (hpsearch evaluate {save} --data TEST ensembles them)"
    return text


def _spans(numbers: list[int]) -> str:
    """0..52, 64..67, 78..137: sorted numbers as runs (a halving stage's trial numbers have gaps)."""
    runs: list[list[int]] = []
    for n in numbers:
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    return ", ".join(f"{a}..{b}" if b > a else str(a) for a, b in runs) or "(none)"


def _say_origin(out, job: Job, source, final: bool, split) -> None:
    from hpsearch.config.plain import cell

    if job.trial is not None:
        params = ", ".join(f"{k} {cell(v)}" for k, v in job.trial["params"].items())
        text = f"from {source}, trial #{job.trial['number']} ({params})"
        if job.run is not None:
            text += f", seed {job.run[0]} of {job.run[1]}"
        if job.overridden:
            text += "; overridden: " + ", ".join(f"{k} {v}" for k, v in job.overridden.items())
        out.print(text)
    if final:
        out.print(f"final fit: all {split.X_train.shape[0]} training rows (training + validation), "
                  "no validation accuracy")


def register(app: typer.Typer) -> None:
    command.register(app, "train", train, epilog="Example: hpsearch train --data digits --lr 1e-2 --reg 1e-4 "
                     "--hidden 100,50 --epochs 10 --json; hpsearch train --from results.fine.json --top 5 --final "
                     "--save models/")
