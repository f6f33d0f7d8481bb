"""`hpsearch fine --from results.json`: a longer search in ranges narrowed to the parent's good region."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from hpsearch.cli import command, flags
from hpsearch.cli.coarse import override

From = Annotated[str, typer.Option("--from", rich_help_panel=flags.SEARCH,
                                  help="Results file of the previous stage (coarse or fine).")]
TopKFrom = Annotated[Optional[int], typer.Option("--top-k", rich_help_panel=flags.SEARCH, show_default="the good "
                                                 "region", help="Narrow around this many best trials instead of the "
                                                 "parent's modelled good region.")]
Out = Annotated[Optional[str], typer.Option("--out", rich_help_panel=flags.OUTPUT, show_default="beside --from",
                                            help="Results file: --from's name with '.fine' (results.json -> "
                                            "results.fine.json; after a fine file, .fine2, .fine3, ...).")]
MODEL = "Model and training: fixed for every trial"


@flags.with_model_flags(MODEL, default="the parent's")
@flags.with_run_flags
def fine(
    from_: From,
    top_k: TopKFrom = None,
    epochs: Annotated[int, typer.Option("--epochs", rich_help_panel=flags.SEARCH,
                                        help="Passes over the training split per trial.")] = 20,
    trials: Annotated[Optional[int], typer.Option("--trials", rich_help_panel=flags.SEARCH, show_default="30; grid: "
                                                  "every combination", help="Number of random trials.")] = None,
    sampler: Annotated[flags.choice(flags.SAMPLERS), typer.Option(
        "--sampler", metavar="<name>", rich_help_panel=flags.SEARCH, help=f"{flags.one_of(flags.SAMPLERS)} (grid: "
        "5 points per range unless the parent had points).")] = "random",
    seed: Annotated[Optional[int], typer.Option("--seed", min=0, metavar="<int>", rich_help_panel=flags.SEARCH,
                                                show_default="the parent's + 1", help="Study seed (the parent's + 1 "
                                                "does not replay its random draws; the data split stays the "
                                                "parent's).")] = None,
    data: Annotated[Optional[str], typer.Option("--data", rich_help_panel=flags.DATA, show_default="as recorded",
                                                help="Where the parent's data now lives (its fingerprint must "
                                                "match).")] = None,
    model: dict = None,  # the model flags, declared by flags.with_model_flags
    run: flags.RunFlags = None,  # the run flags, declared by flags.with_run_flags
    out: Out = None,
) -> None:
    """Fine search: longer trials in ranges narrowed to the good region of a coarse (or fine) stage.

    Each range becomes the region where the parent's smoothed val_acc is as good as its best (log10 units),
    padded; a range the parent's verdict warned about is extended past that edge, or moved when nothing learned
    or most trials diverged. Fixed settings and the data carry over; the parent's fingerprint is recorded.
    """
    from hpsearch.engine import workers  # light: the workers start before NumPy is imported here

    out = out or default_out(from_)
    pool = workers.start_workers("fine", run.jobs, run.storage, run.study, out)  # first: they import meanwhile
    with workers.released_on_error(pool):
        from hpsearch.cli import stage as cli_stage
        from hpsearch.config.data import DataSpec
        from hpsearch.config.records import ParentRef
        from hpsearch.engine import stage
        from hpsearch.errors import ConfigError
        from hpsearch.results import file as results_file
        from hpsearch.results.narrow import narrow

        parent = results_file.read(from_)
        if Path(out).resolve() == Path(from_).resolve():
            raise ConfigError(f"--out {out}: is the --from file itself", "choose another --out")
        if top_k is not None and top_k < 1:
            raise ConfigError(f"--top-k must be >= 1, got {top_k}", "e.g. --top-k 5", key="top_k")
        sp, changes = narrow(parent, top_k=top_k, trials=1, epochs=1,
                             sampler="grid" if sampler == "grid" else "random", source=from_)
        if trials is None and sampler != "grid":
            trials = 30
        sp = override(sp, model, epochs=epochs, trials=trials, sampler=sampler)
        spec = DataSpec.from_dict(parent["data"]).with_(fingerprint=parent["data"]["fingerprint"])
        if data:
            spec = spec.with_(spec=data)
        ref = ParentRef(str(Path(from_).resolve()), results_file.doc_fingerprint(parent), parent["command"])
        request = stage.StageRequest(
            command="fine", space=sp, seed=parent["settings"].get("seed", 0) + 1 if seed is None else seed, data=spec,
            out=out, storage=run.storage, study=run.study, fresh=run.fresh, jobs=run.jobs, grace=run.grace,
            parent=ref, narrowed=changes)
        cli_stage.run(request, run, pool)


def default_out(parent: str) -> str:
    """results.json -> results.fine.json; results.fine.json -> results.fine2.json -> results.fine3.json."""
    p = Path(parent)
    stem = p.stem
    head, dot, tail = stem.rpartition(".fine")
    if dot and (tail == "" or tail.isdigit()):
        n = int(tail or 1) + 1
        return str(p.with_name(f"{head}.fine{n}.json"))
    return str(p.with_name(f"{stem}.fine.json"))


def register(app: typer.Typer) -> None:
    command.register(app, "fine", fine, epilog="Example: hpsearch fine --from results.json --epochs 20 --trials 30 "
                     "(writes results.fine.json)")
