"""Inputs that would destroy work or never finish are refused up front (exit 2, one line, nothing lost)."""

import importlib.util
import json

import yaml
from typer.testing import CliRunner

from clihelp import assert_one_line_error
from hpsearch.cli import app
from hpsearch.results.validate import SCHEMA_VERSION

runner = CliRunner()
SMALL = ["--epochs", "1", "--trials", "2", "--hidden", "8", "--quiet"]


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_out_cannot_be_the_default_journal(tmp_path):
    out = tmp_path / "x.journal"  # the journal beside x.journal is x.journal.journal, never --out itself
    r = run("coarse", *SMALL, "--out", out)
    assert r.exit_code == 0, r.stderr
    assert json.loads(out.read_text())["schema_version"] == SCHEMA_VERSION
    assert (tmp_path / "x.journal.journal").is_file()


def test_out_cannot_be_the_storage_journal(tmp_path):
    first = tmp_path / "r.json"
    assert run("coarse", *SMALL, "--out", first).exit_code == 0
    journal = tmp_path / "r.journal"
    before = journal.read_bytes()
    assert_one_line_error(run("coarse", *SMALL, "--out", journal, "--storage", journal), 2, "--out", "journal")
    assert_one_line_error(run("export", "--storage", journal, "--study", "coarse-r", "--out", journal), 2,
                          "--out", "journal")
    assert journal.read_bytes() == before  # the study survived both attempts
    r = run("export", "--storage", journal, "--study", "coarse-r", "--out", tmp_path / "again.json", "--quiet")
    assert r.exit_code == 0, r.stderr


def test_a_grid_too_large_to_plan_is_refused(tmp_path):
    space = tmp_path / "big.yaml"
    space.write_text(yaml.safe_dump({"sampler": "grid", "params": {
        "lr": {"low": 1e-6, "high": 1.0, "log": True, "points": 100000},
        "reg": {"low": 1e-5, "high": 1e5, "log": True, "points": 100000}}}))
    assert_one_line_error(run("coarse", "--space", space, "--out", tmp_path / "o.json"), 2,
                          "big.yaml", "combinations", "points")
    assert_one_line_error(run("coarse", "--trials", "1000000", "--out", tmp_path / "o.json"), 2, "--trials")


def test_enqueue_only_into_sqlite_is_refused(tmp_path):
    url = f"sqlite:///{tmp_path / 'sq.db'}"
    assert_one_line_error(run("coarse", *SMALL, "--storage", url, "--jobs", "0", "--out", tmp_path / "o.json"), 2,
                          "SQLite", "journal")


def test_grace_from_the_environment_is_named_in_its_error(tmp_path, monkeypatch):
    monkeypatch.setenv("HPSEARCH_GRACE", "0.1")
    r = run("coarse", *SMALL, "--out", tmp_path / "r.json")
    assert_one_line_error(r, 2, "HPSEARCH_GRACE must be between 0.5 and 86400")
    assert "--grace" not in r.stderr
    assert not (tmp_path / "r.json").exists()


def test_unknown_storage_kind_is_bad_input_not_an_io_fault(tmp_path):
    cases = [("foo://host/db", "unknown database kind 'foo'"), ("postgresql://me@host:abc/db", "not a database URL")]
    if importlib.util.find_spec("MySQLdb") is None:
        cases.append(("mysql://me@localhost/hp", "driver 'mysqldb' is not installed"))
    for url, words in cases:
        r = run("coarse", *SMALL, "--storage", url, "--out", tmp_path / "r.json")
        assert_one_line_error(r, 2, words)
        assert "--storage" in r.stderr
