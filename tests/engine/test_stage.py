"""engine/stage.py: a stage from request to results, its notes and its outcome."""

from __future__ import annotations

import pytest

from hpsearch.config.data import DataSpec
from hpsearch.config.runtime import Runtime
from hpsearch.config.space_file import parse_yaml
from hpsearch.engine import loop, stage, workers
from hpsearch.errors import OutputError
from hpsearch.results import file as results_file

SPACE = "trials: 3\nepochs: 1\nparams:\n  lr: {low: 1.0e-3, high: 1.0e-1, log: true}\n  hidden: [8]\n  batch_size: 30\n"


def request(tmp_path, **kw):
    return stage.StageRequest(command="coarse", space=parse_yaml(SPACE, "s.yaml"), seed=0, data=DataSpec("spiral"),
                              out=str(tmp_path / "results.json"), **kw)


def test_a_worker_that_ended_badly_is_told_before_the_results_file_is_written(tmp_path, monkeypatch):
    """If writing the results fails, the warning about a killed worker has already gone out."""
    real = workers.run

    def run_with_a_dead_child(*args, **kwargs):
        outcome, _ = real(*args, **kwargs)
        return outcome, [(4242, -9)]

    def refuse(path, doc):
        raise OutputError(f"--out {path}: cannot write (disk full)")

    monkeypatch.setattr(workers, "run", run_with_a_dead_child)
    monkeypatch.setattr(results_file, "write", refuse)
    notes = []
    with pytest.raises(OutputError):
        stage.run_stage(request(tmp_path), Runtime(), note=notes.append)
    assert notes == ["worker process 4242 killed by SIGKILL (a trial it held ran again in another process)"]


def test_jobs_0_only_enqueues(tmp_path):
    out = stage.run_stage(request(tmp_path, jobs=0), Runtime())
    assert out.doc is None and out.queued is not None
    q = out.queued
    assert (q.requested, q.enqueued, q.done, q.study) == (3, 3, 0, "coarse-results")
    assert q.join == str((tmp_path / "results.journal").resolve())
    assert not (tmp_path / "results.json").exists()
    again = stage.run_stage(request(tmp_path, jobs=0), Runtime())
    assert again.queued.enqueued == 0  # already queued: never twice


def test_a_stage_passes_the_runtime_threads_to_every_fit(tmp_path, monkeypatch):
    seen = []
    real = loop.run

    def spy(*args, **kwargs):
        seen.append(kwargs.get("threads"))
        return real(*args, **kwargs)

    monkeypatch.setattr(loop, "run", spy)
    stage.run_stage(request(tmp_path), Runtime(threads=1))
    assert seen == [1]


def test_the_data_spec_is_recorded_with_the_split(tmp_path):
    doc = stage.run_stage(request(tmp_path), Runtime()).doc
    assert doc["data"]["spec"] == "spiral" and doc["data"]["split_seed"] == 0 and doc["data"]["classes"] == 3
    assert results_file.read(tmp_path / "results.json") == doc
