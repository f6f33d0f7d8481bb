"""Helpers shared by tests/engine/test_jobs.py and tests/engine/test_distributed.py: run the CLI in-process, a
space file whose trials take a set time, the per-trial outcomes that must not depend on the number of workers,
and freezing a worker process mid-trial (tests/ is on sys.path under pytest: `from jobhelp import ok, ...`)."""

import json
import os
import signal
import time

import yaml
from typer.testing import CliRunner

from hpsearch.cli import app
from hpsearch.engine import study

runner = CliRunner()
ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def ok(r):
    assert r.exit_code == 0, (r.exit_code, r.stdout[-2000:], r.stderr[-2000:])
    return json.loads(r.stdout) if r.stdout.strip().startswith("{") else None


def space(tmp_path, *, trials, epochs, hidden, lr=(1e-3, 3e-2), name="s.yaml"):
    """Stable lr (no early abort), so a trial's length is set by `epochs` and `hidden`."""
    p = tmp_path / name
    p.write_text(yaml.safe_dump({"sampler": "random", "trials": trials, "epochs": epochs, "params": {
        "lr": {"low": lr[0], "high": lr[1], "log": True}, "reg": {"low": 1e-5, "high": 1e-3, "log": True},
        "hidden": list(hidden)}}))
    return p


def outcomes(doc):
    """What must not depend on the number of workers (seconds do)."""
    return [(t["number"], t["params"], t["status"], t["val_acc"], t["train_acc"], t["initial_loss"],
             t["final_loss"], t["epochs_run"], t["diagnosis"]) for t in doc["trials"]]


def pid_of(t) -> int | None:
    w = t.user_attrs.get(study.WORKER_ATTR)
    return int(w.rsplit(":", 1)[1]) if w else None


def freeze_mid_trial(trials_of, pid, proc, deadline=90.0):
    """SIGSTOP `pid` while the study shows it training a trial; returns that trial (the process stays frozen).

    Checked again once frozen, so the trial is surely still in training when the process is then killed.
    """
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        assert proc.poll() is None, proc.communicate()
        if any(t.state.name == "RUNNING" and pid_of(t) == pid for t in trials_of()):
            os.kill(pid, signal.SIGSTOP)
            held = [t for t in trials_of() if t.state.name == "RUNNING" and pid_of(t) == pid]
            if held:
                return held[0]
            os.kill(pid, signal.SIGCONT)
        time.sleep(0.02)
    raise AssertionError(f"process {pid} never held a trial")
