"""Storage secrets never leave the process (issue 16, item 5): masked in every form a URL carries them, and
scrubbed from driver messages; coarse reads the storage from HPSEARCH_STORAGE."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from hpsearch.cli import app
from hpsearch.engine.storage import describe, scrub


@pytest.mark.parametrize("url,shown", [
    ("postgresql://hp:secret@db/h", "postgresql://hp:***@db/h"),
    ("postgresql://hp:p%40ss@db:5432/h", "postgresql://hp:***@db:5432/h"),
    ("postgresql://db/h?password=s3cret&sslmode=require", "postgresql://db/h?password=***&sslmode=require"),
    ("postgresql://hp@db/h?sslmode=x&PASSWORD=abc", "postgresql://hp@db/h?sslmode=x&PASSWORD=***"),
    ("postgresql://hp@db/h?passfile=/home/me/.pgpass", "postgresql://hp@db/h?passfile=***"),
    ("postgresql+psycopg://hp@db/h", "postgresql+psycopg://hp@db/h"),
    ("sqlite:///x.db", "sqlite:///x.db"),
    ("results.journal", "results.journal"),
])
def test_every_password_form_is_masked(url, shown):
    assert describe(url) == shown


def test_a_driver_message_that_repeats_the_password_is_scrubbed():
    describe("postgresql://hp:tops3cret@db/h?password=other1")
    assert scrub('FATAL: password "tops3cret" for user hp; dsn password=other1') == \
        'FATAL: password "***" for user hp; dsn password=***'


def test_coarse_takes_the_storage_from_the_environment(tmp_path, monkeypatch):
    journal = tmp_path / "elsewhere.journal"
    monkeypatch.setenv("HPSEARCH_STORAGE", str(journal))
    out = tmp_path / "r.json"
    r = CliRunner().invoke(app, ["coarse", "--trials", "2", "--epochs", "1", "--hidden", "8", "--out", str(out),
                                 "--quiet"])
    assert r.exit_code == 0, r.stderr
    assert journal.is_file() and not (tmp_path / "r.journal").exists()
    assert json.loads(out.read_text())["settings"]["storage"] == str(journal)


def test_a_bad_url_with_a_password_is_refused_without_showing_it():
    r = CliRunner().invoke(app, ["coarse", "--trials", "2", "--epochs", "1", "--storage",
                                 "nosuchdb://hp:hunter2@db/x?password=hunter3", "--quiet"])
    assert r.exit_code == 2 and "hunter2" not in r.stderr and "hunter3" not in r.stderr and "***" in r.stderr


def _chain(*texts):
    """An exception whose causes carry `texts`, outermost first (as Optuna wraps a driver's error)."""
    err = None
    for t in reversed(texts):
        try:
            raise RuntimeError(t) from err
        except RuntimeError as e:
            err = e
    return err


@pytest.mark.parametrize("texts,what", [
    (("An exception is raised during the commit. This typically happens due to invalid data in the commit, e.g. "
      "exceeding max length.", "(psycopg.OperationalError) consuming input failed: server closed the connection "
      "unexpectedly"), "the connection to the database was lost"),
    (("connection failed: FATAL: password authentication failed for user \"hp\"",), "authentication failed"),
    (("FATAL: role \"x\" does not exist",), "the database user does not exist"),
    (("FATAL: database \"hp\" does not exist",), "the database does not exist"),
    (("connection failed: Connection refused",), "refused the connection"),
    (("FATAL: terminating connection due to administrator command",), "shut the connection down"),
])
def test_a_database_fault_says_what_happened_in_one_line(texts, what):
    from hpsearch.engine.storage import explain

    said, hint = explain(_chain(*texts))
    assert what in said and "max length" not in said and "\n" not in said and hint


def test_an_unknown_fault_keeps_the_driver_text_without_the_password():
    from hpsearch.engine.storage import explain

    describe("postgresql://hp:sekr1t@db/h")
    said, _ = explain(_chain("wrapper", "something odd with sekr1t inside"))
    assert "something odd" in said and "sekr1t" not in said
