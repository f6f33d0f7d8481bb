"""CLI conventions (issue 17, item 4): --help shows a default for every option and the valid values of every
fixed-set flag, grouped in panels readable at 80 columns; bash completion of commands, flags and choices;
environment variables shown and honoured; bare `hpsearch` prints help; --debug after any command name."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
import typer.main
from typer.testing import CliRunner

from clihelp import assert_one_line_error
from hpsearch.cli import app, flags
from hpsearch.config import data as data_config
from hpsearch.config import space as space_config
from hpsearch.config import train as train_config

runner = CliRunner()
ROOT = typer.main.get_command(app)
COMMANDS = sorted(ROOT.commands)
CHOICES = {  # flag -> the configuration's own list of valid values (the trainer's registries are tested equal)
    "--activation": train_config.ACTIVATIONS, "--init": train_config.INITS, "--optimizer": train_config.OPTIMIZERS,
    "--schedule": train_config.SCHEDULES, "--reg-kind": train_config.REG_KINDS, "--dtype": train_config.DTYPES,
    "--preprocess": data_config.PREPROCESS, "--sampler": space_config.SAMPLERS,
}


def run(*args, **env):
    return runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "80", **env})


def shell(*args, **env):
    return subprocess.run([sys.executable, "-m", "hpsearch", *args], capture_output=True, text=True,
                          env={**os.environ, "COLUMNS": "80", **env}, timeout=120)


def options(name):
    return [p for p in ROOT.commands[name].get_params(typer.Context(ROOT.commands[name])) if p.opts[0] != "--help"
            and p.param_type_name == "option"]


@pytest.mark.parametrize("name", COMMANDS)
def test_every_option_shows_its_default_or_is_a_flag(name):
    missing = []
    for p in options(name):
        if p.is_bool_flag and not p.secondary_opts or p.required or p.hidden:
            continue
        if p.envvar and p.default is None:  # required, from the flag or its variable (worker/export --storage)
            continue
        if not (isinstance(p.show_default, str) or (p.show_default and p.default is not None)):
            missing.append(p.opts[0])
    assert missing == [], f"{name}: no default shown for {missing}"
    text = run(name, "--help").stdout
    assert "<bool>" not in text and "[default: None]" not in text


def test_a_search_commands_model_defaults_say_where_an_unset_flag_comes_from():
    # coarse: the space file's value (the built-in space searches lr and reg), TrainConfig's when it sets none;
    # fine: the parent's. A bare TrainConfig default (--lr 0.005) would never apply to the searched keys
    lr = {name: next(p for p in options(name) if p.opts[0] == "--lr").show_default for name in ("coarse", "fine")}
    assert lr == {"coarse": f"the space file's, else {train_config.TrainConfig().lr}", "fine": "the parent's"}


@pytest.mark.parametrize("name", COMMANDS)
def test_help_is_in_panels_readable_at_80_columns(name):
    r = run(name, "--help")
    assert r.exit_code == 0
    lines = r.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    titles = [line for line in lines if line.startswith("╭─ ")]
    assert len(titles) >= 2 and "╭─ Options " not in r.stdout  # every option is in a named panel
    assert all(line.endswith("─╮") and line[-3] == "─" for line in titles)  # no title cut off
    for line in lines:  # the description column starts at column 50 at the latest in every panel
        if line.startswith("│ --"):
            description = re.split(r"\s{2,}", line[2:-1].strip())[-1]
            assert line.index(description) <= 50, line


def test_fixed_sets_are_choices_listed_in_help():
    seen = set()
    for name in COMMANDS:
        for p in options(name):
            if p.opts[0] in CHOICES:
                seen.add(p.opts[0])
                assert p.type_descriptor.is_choice, (name, p.opts[0])
                assert tuple(p.type_descriptor.choices) == CHOICES[p.opts[0]], (name, p.opts[0])
                assert flags.one_of(CHOICES[p.opts[0]]) in p.help, (name, p.help)
    assert seen == set(CHOICES)


@pytest.mark.parametrize("command, flag", [("train", "--optimizer"), ("train", "--dtype"), ("sanity", "--init"),
                                           ("coarse", "--schedule"), ("fine", "--sampler"), ("data", "--preprocess")])
def test_a_wrong_choice_is_one_line_naming_the_flag_and_the_values(command, flag):
    args = {"data": ["digits"], "fine": ["--from", "nothing.json"]}.get(command, [])
    r = run(command, *args, flag, "nope", "--quiet")
    assert_one_line_error(r, 2, f"{flag} must be one of {', '.join(CHOICES[flag])}; got 'nope'")


@pytest.mark.parametrize("command, flag, value, kind", [
    ("coarse", "--epochs", "five", "an integer"), ("coarse", "--epochs", "1.5", "an integer"),
    ("train", "--lr", "x1", "a number"), ("coarse", "--val-fraction", "abc", "a number"),
])
def test_a_value_that_is_not_a_number_is_one_line_naming_the_flag_and_the_value(command, flag, value, kind):
    r = run(command, flag, value)
    assert r.exit_code == 2
    assert r.stderr.strip() == (f"hpsearch: error: {flag} must be {kind}; got {value!r} "
                                f"(see 'hpsearch {command} --help')")


def test_a_flag_given_at_its_default_value_still_counts_as_given(tmp_path):
    """Defaults are shown in --help, yet `--lr 0.005` (the default) fixes lr instead of leaving it searched."""
    base = ["coarse", "--trials", "2", "--epochs", "1", "--hidden", "8", "--quiet", "--json"]
    r = run(*base, "--out", tmp_path / "a.json", "--lr", str(train_config.TrainConfig().lr))
    assert r.exit_code in (0, 1), r.stderr  # one epoch of 8 units may learn nothing: the plan is what is tested
    doc = json.loads(r.stdout)
    assert doc["fixed"]["lr"] == train_config.TrainConfig().lr
    assert all("lr" not in t["params"] for t in doc["trials"])
    r = run(*base, "--out", tmp_path / "b.json")  # not given: the space file searches it
    assert r.exit_code == 0, r.stderr
    assert all("lr" in t["params"] for t in json.loads(r.stdout)["trials"])


def _complete(words: str) -> list[str]:
    cword = len(words.split()) - (0 if words.endswith(" ") else 1)
    r = subprocess.run(["hpsearch"], capture_output=True, text=True, timeout=60, env={
        **os.environ, "_HPSEARCH_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": str(cword)})
    assert r.returncode == 0, r.stderr
    return r.stdout.split()


def test_bash_completion_of_commands_flags_and_choices():
    assert _complete("hpsearch co") == ["coarse"]
    assert "--optimizer" in _complete("hpsearch train --opt")
    assert _complete("hpsearch train --optimizer ") == list(train_config.OPTIMIZERS)
    assert _complete("hpsearch coarse --sampler g") == ["grid"]
    assert _complete("hpsearch sanity --only gradient_check,ov") == ["gradient_check,overfit_small_subset"]
    r = subprocess.run(["bash", "-c", "hpsearch --show-completion"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "_HPSEARCH_COMPLETE=complete_bash" in r.stdout  # the script for the shell it runs in


@pytest.mark.parametrize("name", ["coarse", "fine", "worker", "export"])
def test_storage_shows_its_environment_variable(name):
    assert "[env var: HPSEARCH_STORAGE]" in run(name, "--help").stdout


def test_hpsearch_storage_is_honoured_by_every_command_that_takes_storage(tmp_path):
    journal = tmp_path / "study.journal"
    env = {"HPSEARCH_STORAGE": str(journal)}
    r = run("coarse", "--trials", "2", "--epochs", "1", "--hidden", "8", "--out", tmp_path / "r.json", "-q", **env)
    assert r.exit_code == 0, r.stderr
    assert journal.is_file() and not (tmp_path / "r.journal").exists()
    r = run("export", "--study", "coarse-r", "--out", tmp_path / "e.json", "--json", "-q", **env)
    assert r.exit_code == 0, r.stderr
    assert len(json.loads(r.stdout)["trials"]) == 2
    r = run("worker", "--study", "coarse-r", "--json", "-q", **env)
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["ran"] == 0 and json.loads(r.stdout)["done"] == 2
    r = run("fine", "--from", tmp_path / "r.json", "--trials", "1", "--epochs", "1", "-q", **env)
    assert r.exit_code in (0, 1), r.stderr
    assert "fine-r" in journal.read_text()  # the fine study went into the same storage


def test_bare_hpsearch_prints_help_and_exits_0():
    r = shell()
    assert r.returncode == 0
    assert "Usage: hpsearch" in r.stdout and "coarse" in r.stdout
    assert r.stderr == ""


@pytest.mark.parametrize("name", COMMANDS)
def test_debug_is_accepted_after_every_command_name(name):
    r = run(name, "--debug", "--help")
    assert r.exit_code == 0 and "--debug" in r.stdout


def test_report_debug_shows_the_traceback_like_the_other_commands(tmp_path):
    missing = tmp_path / "missing.json"
    for args in (["report", missing, "--debug"], ["--debug", "report", missing], ["train", "--debug", "--lr", "-1"]):
        r = shell(*map(str, args))
        assert r.returncode != 0 and "Traceback" in r.stderr, args
    r = shell("report", str(missing))
    assert r.returncode == 2 and "Traceback" not in r.stderr and len(r.stderr.splitlines()) == 1


def test_samplers_are_the_space_files():
    assert flags.SAMPLERS == space_config.SAMPLERS
