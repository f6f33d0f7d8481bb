"""Several workers on one study in a real PostgreSQL (the `postgres_url` fixture: a throwaway cluster).

These stand in for several machines: `hpsearch worker` processes that share nothing but the database.
Each test uses its own study name.
"""

import json
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest

from jobhelp import ENV, freeze_mid_trial, ok, outcomes, pid_of, run, space  # noqa: E402

from hpsearch.engine import study
from hpsearch.results import file as results_file


@pytest.fixture(scope="module")
def pg(postgres_url):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return postgres_url, optuna.storages.RDBStorage(postgres_url)


def trials_of(storage, study_name):
    try:
        sid = storage.get_study_id_from_name(study_name)
    except KeyError:
        return []
    return storage.get_all_trials(sid, deepcopy=False)


def hp(*args, **kw):
    return subprocess.Popen([sys.executable, "-m", "hpsearch", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=ENV, **kw)


def test_three_workers_one_sigkilled_mid_trial_the_study_completes(tmp_path, pg):
    url, storage = pg
    n, study_name = 9, "three-workers"
    sp = space(tmp_path, trials=n, epochs=10, hidden=(512, 512))  # ~0.3 s a trial: the kill lands mid-trial
    q = run("coarse", "--space", sp, "--storage", url, "--study", study_name, "--jobs", "0", "--grace", "2",
            "--out", tmp_path / "unused.json", "--json", "--quiet")
    assert ok(q)["enqueued"] == n
    plain = url.replace("postgresql+psycopg://", "postgresql://")  # what users type: normalised to psycopg
    workers = [hp("worker", "--storage", plain, "--study", study_name, "--json", cwd=tmp_path) for _ in range(3)]
    victim, rest = workers[0], workers[1:]
    held = freeze_mid_trial(lambda: trials_of(storage, study_name), victim.pid, victim)
    victim.kill()
    victim.communicate()
    for w in rest:
        out, err = w.communicate(timeout=180)
        assert w.returncode == 0, err
        assert json.loads(out)["done"] == n and "Traceback" not in err

    trials = trials_of(storage, study_name)
    done = Counter(t.user_attrs[study.HP_NUMBER] for t in trials if study.is_done(t))
    assert sorted(done) == list(range(n)) and set(done.values()) == {1}  # every number once: no duplicate
    assert not [t for t in trials if t.state.name in ("RUNNING", "WAITING")]
    k = held.user_attrs[study.HP_NUMBER]
    copies = sorted((t for t in trials if t.user_attrs[study.HP_NUMBER] == k), key=lambda t: t.number)
    assert [t.user_attrs["status"] for t in copies] == ["lost", "complete"]
    assert pid_of(copies[0]) == victim.pid and pid_of(copies[1]) in {w.pid for w in rest}
    assert {pid_of(t) for t in trials} == {w.pid for w in workers}  # all three worked

    exported = ok(run("export", "--storage", url, "--study", study_name, "--out", tmp_path / "e.json", "--json",
                      "--quiet"))
    local = ok(run("coarse", "--space", sp, "--out", tmp_path / "local.json", "--json", "--quiet"))
    assert outcomes(exported) == outcomes(local)  # same seed: the same trials and values as one local process
    assert exported["best"] == local["best"] and exported["warnings"] == local["warnings"]
    assert results_file.read(tmp_path / "e.json") == exported and exported["settings"]["storage"] == url


def test_coordinators_starting_at_once_enqueue_each_configuration_once(tmp_path, pg):
    url, storage = pg
    n, study_name = 40, "two-coordinators"
    sp = space(tmp_path, trials=n, epochs=1, hidden=(16,))
    coords = [hp("coarse", "--space", sp, "--storage", url, "--study", study_name, "--out", tmp_path / f"c{i}.json",
                 "--json", "--quiet", cwd=tmp_path) for i in range(3)]
    docs = []
    for c in coords:
        out, err = c.communicate(timeout=180)
        assert c.returncode == 0, err
        docs.append(json.loads(out))
    trials = trials_of(storage, study_name)
    assert len(trials) == n  # enqueued once: no copy, not even one that gave way
    assert sorted(t.user_attrs[study.HP_NUMBER] for t in trials) == list(range(n))
    assert all(study.is_done(t) for t in trials)
    assert outcomes(docs[0]) == outcomes(docs[1]) == outcomes(docs[2])  # each wrote the whole study
    assert sum(d["progress"]["ran_now"] for d in docs) == n


def test_a_worker_waits_for_its_study_and_a_sigterm_stops_it_cleanly(tmp_path, pg):
    url, storage = pg
    n, study_name = 6, "late-coordinator"
    sp = space(tmp_path, trials=n, epochs=10, hidden=(512, 512))
    w = hp("worker", "--storage", url, "--study", study_name, "--wait", "60", "--json", cwd=tmp_path)
    time.sleep(0.5)  # the worker is up before the study exists
    ok(run("coarse", "--space", sp, "--storage", url, "--study", study_name, "--jobs", "0", "--out",
           tmp_path / "unused.json", "--quiet"))
    deadline = time.monotonic() + 60
    while not any(t.state.name == "RUNNING" and pid_of(t) == w.pid for t in trials_of(storage, study_name)):
        assert w.poll() is None and time.monotonic() < deadline, w.communicate()
        time.sleep(0.02)
    w.send_signal(signal.SIGTERM)
    out, err = w.communicate(timeout=60)
    assert w.returncode == 143, err
    assert json.loads(out)["stopped_by"] == signal.SIGTERM and "Traceback" not in err
    ts = trials_of(storage, study_name)
    assert not [t for t in ts if t.state.name == "RUNNING"]  # its claim was recorded: nothing waits for a lease
    # its trial in training is recorded as interrupted (a signal landing while it records a result lets
    # that trial finish first); it stopped early
    assert all(study.is_done(t) or t.user_attrs.get("status") == "interrupted" for t in ts if pid_of(t) == w.pid)
    assert sum(study.is_done(t) for t in ts) < n
