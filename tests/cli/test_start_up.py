"""Start-up (issue 18, items 1 and 5): plain flag values without Pydantic (cli/coerce.py) give exactly what
Typer's own adapters give, a command imports neither Pydantic nor tqdm, the console script exits with the
command's code and output, and `--jobs auto` means the usable cores."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Literal

from hypothesis import given, settings
from hypothesis import strategies as st
from typer.models import OptionInfo

from clihelp import assert_one_line_error
from hpsearch.cli import coerce
from hpsearch.engine import workers

NUMBERISH = st.text(alphabet="0123456789+-.eE_ x", min_size=1, max_size=12)


def typer_value(annotation, info, value):
    """What Typer's Pydantic adapter makes of `value` (or the error type)."""
    from typer._adapters import try_build_adapter

    try:
        return try_build_adapter(annotation, info).validate_python(value)
    except Exception as e:  # noqa: BLE001 - the adapter's refusal, compared by kind
        return type(e)


@settings(max_examples=400, deadline=None)
@given(text=st.one_of(NUMBERISH, st.from_regex(r"[+-]?[0-9]{1,20}(\.[0-9]{0,5})?([eE][+-]?[0-9]{1,3})?",
                                                fullmatch=True)),
       kind=st.sampled_from([int, float]), low=st.sampled_from([None, 0, 1]))
def test_a_direct_conversion_equals_typers(text, kind, low):
    info = OptionInfo(min=low)
    fast = coerce.fast_value(kind, info, text)
    if fast is not coerce._MISS:  # (otherwise Typer's adapter decides, so nothing can differ)
        want = typer_value(kind, info, text)
        assert fast == want and type(fast) is type(want), (text, fast, want)


def test_choices_and_strings_pass_only_when_sure():
    names = Literal["relu", "tanh"]
    assert coerce.fast_value(names, OptionInfo(), "tanh") == "tanh"
    assert coerce.fast_value(names, OptionInfo(), "TANH") is coerce._MISS  # Typer's own rule decides
    assert coerce.fast_value(str, OptionInfo(), "x") == "x"
    assert coerce.fast_value(int, OptionInfo(), True) is coerce._MISS
    assert coerce.fast_value(int, OptionInfo(min=0), "-3") is coerce._MISS  # Typer's error message
    assert coerce.fast_value(float, OptionInfo(), 3) == 3.0 and isinstance(coerce.fast_value(float, OptionInfo(), 3),
                                                                          float)


def test_a_search_imports_neither_pydantic_nor_tqdm_and_keeps_its_output(tmp_path):
    code = ("import sys, json\nfrom hpsearch import _entry\n"
            "sys.argv = ['hpsearch', 'coarse', '--trials', '3', '--epochs', '1', '--seed', '4', '--jobs', '1',"
            " '--out', 'r.json', '--quiet', '--json']\n"
            "real = _entry.leave\n"
            "def leave(code):\n"
            "    sys.stderr.write(json.dumps({m: m in sys.modules for m in ('pydantic', 'tqdm', 'asyncio')}) + '\\n')\n"
            "    real(code)\n"
            "_entry.leave = leave\n_entry.main()\n")
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stderr.strip().splitlines()[-1]) == {"pydantic": False, "tqdm": False, "asyncio": False}
    doc = json.loads(r.stdout)  # the one JSON object, flushed before the quick exit
    assert doc == json.loads((tmp_path / "r.json").read_text()) and len(doc["trials"]) == 3
    assert doc["settings"]["seed"] == 4


def shell(*args, cwd=None):
    r = subprocess.run([sys.executable, "-m", "hpsearch", *map(str, args)], capture_output=True, text=True,
                       cwd=cwd, timeout=120)
    r.exit_code = r.returncode
    return r


def test_a_bad_value_still_goes_through_typers_checks(tmp_path):
    # the fast conversion hands an unusual value to Typer's own adapter: its verdict, in our wording for a value
    # that is not a number, in Typer's for a range
    assert_one_line_error(shell("coarse", "--trials", "x", "--out", tmp_path / "r.json"), 2, "--trials",
                          "must be an integer; got 'x'")
    assert_one_line_error(shell("coarse", "--seed", "-3", "--out", tmp_path / "r.json"), 2, "--seed",
                          "greater than or equal to 0")


def test_jobs_auto_is_the_usable_cores(tmp_path):
    assert workers.parse_jobs("auto") == min(len(os.sched_getaffinity(0)), workers.max_jobs())
    assert workers.parse_jobs(" 3 ") == 3 and workers.parse_jobs(2) == 2
    assert_one_line_error(shell("coarse", "--jobs", "many", "--out", tmp_path / "r.json"), 2, "--jobs", "'auto'")
    pinned = subprocess.run(["taskset", "-c", "0", sys.executable, "-c",
                             "from hpsearch.engine import workers; print(workers.parse_jobs('auto'))"],
                            capture_output=True, text=True, timeout=60)
    if pinned.returncode == 0:  # (taskset present): one usable core, whatever the machine has
        assert pinned.stdout.strip() == "1"


def test_coarse_with_jobs_auto_runs_and_gives_the_trials_of_jobs_1(tmp_path):
    a = shell("coarse", "--trials", "8", "--epochs", "1", "--jobs", "auto", "--out", tmp_path / "a.json", "--quiet")
    b = shell("coarse", "--trials", "8", "--epochs", "1", "--jobs", "1", "--out", tmp_path / "b.json", "--quiet")
    assert a.returncode == b.returncode == 0, a.stderr + b.stderr

    def trials(name):
        return [(t["number"], t["status"], t["val_acc"]) for t in json.loads((tmp_path / name).read_text())["trials"]]

    assert trials("a.json") == trials("b.json") and len(trials("a.json")) == 8
