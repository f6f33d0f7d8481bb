"""Search-space YAML: parsing, every validation fault (file and key path in one line), sampling invariants."""

import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hpsearch.config.space import Choice, Range, Space, grid_values
from hpsearch.config.space_file import load_space, parse_space, parse_yaml, resolve
from hpsearch.config.train import TrainConfig
from hpsearch.engine.plan import grid, make_plan, sample
from hpsearch.errors import SpaceError

from spaces import spaces  # tests/spaces.py: tests/ is on sys.path under pytest (test_loop.py uses it too)

ROOT = Path(__file__).resolve().parents[2]  # the repository (this file is tests/config/test_space.py)


def test_shipped_coarse_space_is_the_builtin_default():
    shipped = load_space(ROOT / "search_spaces" / "coarse.yaml")
    assert shipped.to_dict() == resolve("coarse").to_dict()
    lr, reg = shipped.param_dict["lr"], shipped.param_dict["reg"]
    assert (lr.low, lr.high, lr.log) == (1e-6, 1.0, True)
    assert (reg.low, reg.high, reg.log) == (1e-5, 1e5, True)
    assert shipped.sampler == "random" and shipped.epochs == 5
    assert shipped.fixed_dict["hidden"] == (100,)


def test_shipped_grid_space_is_three_by_three():
    sp = load_space(ROOT / "search_spaces" / "grid.yaml")
    assert sp.sampler == "grid" and sp.size == 9
    assert grid_values(sp.param_dict["lr"]) == [1e-3, pytest.approx(1e-2), 1e-1]
    assert len({tuple(p.values()) for p in grid(sp)}) == 9


def test_exponent_strings_are_numbers():
    # PyYAML reads 1e-5 (no dot) as the string '1e-5'
    sp = parse_yaml("params:\n  lr: {low: 1e-5, high: 1e-1, log: true}\n  reg: 1e-4\ntrials: '10'\n", "s.yaml")
    assert sp.param_dict["lr"].low == 1e-5 and sp.fixed_dict["reg"] == 1e-4 and sp.trials == 10


def test_choices_values_and_fixed_keys():
    sp = parse_yaml("""
sampler: grid
params:
  lr: {low: 0.001, high: 0.1, log: true, points: 3}
  batch_size: {values: [50, 100]}
  hidden: {choices: [[50], [100, 50], "20,20"]}
  activation: tanh
  init: null
""", "s.yaml")
    assert sp.param_dict["hidden"] == Choice(((50,), (100, 50), (20, 20)))
    assert sp.param_dict["batch_size"].integer and sp.param_dict["batch_size"].values_only
    assert sp.size == 3 * 2 * 3
    assert sp.base_config().activation == "tanh" and sp.base_config().init is None
    assert parse_space(sp.to_dict(), "again").to_dict() == sp.to_dict()


BAD = [
    # (yaml text, needle in the one-line message)
    ("sampler: random\nbogus: 1\nparams: {}\n", "bogus is not a known key"),
    ("params:\n  learning_rate: {low: 0.1, high: 1}\n", "params.learning_rate is not a training setting"),
    ("params:\n  lr: {lo: 0.1, high: 1}\n", "params.lr.lo is not a known key"),
    ("params:\n  lr: {low: 1, high: 0.1}\n", "params.lr low must be < high, got low 1 >= high 0.1"),
    ("params:\n  lr: {low: 0.1, high: 0.1}\n", "params.lr low must be < high"),
    ("params:\n  lr: {low: 0, high: 1, log: true}\n", "params.lr.low must be > 0 for a log range, got 0"),
    ("params:\n  reg: {low: -1, high: 1, log: true}\n", "params.reg.low must be > 0 for a log range, got -1"),
    ("params:\n  lr: {low: 1.0e-3, high: .inf, log: true}\n", "params.lr.high must be finite"),
    ("params:\n  lr: {low: .nan, high: 1}\n", "params.lr.low must be finite"),
    ("params:\n  lr: {low: '1e-3', high: 'inf'}\n", "params.lr.high must be finite"),
    ("sampler: grid\nparams:\n  lr: {low: 1.0e-3, high: 1, log: true}\n", "params.lr is a range without `points` or `values`"),
    ("params:\n  lr: {low: abc, high: 1}\n", "params.lr.low must be a number, got 'abc'"),
    ("params:\n  lr: {low: 0.1, high: 1, log: yes please}\n", "params.lr.log must be true or false"),
    ("trials: many\nparams: {}\n", "trials must be a number, got 'many'"),
    ("trials: 2.5\nparams: {}\n", "trials must be an integer"),
    ("trials: 0\nparams: {}\n", "trials must be an integer >= 1"),
    ("sampler: bayes\nparams: {}\n", "sampler must be one of random, grid"),
    ("params: [lr, reg]\n", "params must be a mapping"),
    ("params:\n  activation: {low: 1, high: 2}\n", "params.activation is not numeric"),
    ("params:\n  activation: {choices: [relu, nope]}\n", "params.activation.choices[1] must be one of"),
    ("params:\n  activation: 5\n", "params.activation must be a string"),
    ("params:\n  batchnorm: 'yes'\n", "params.batchnorm must be true or false"),
    ("params:\n  hidden: [100, -5]\n", "params.hidden must be a list of layer widths"),
    ("params:\n  dropout: {low: 0.1, high: 1.5}\n", "params.dropout.high must be in [0, 1)"),
    ("params:\n  lr: {choices: [0.1], low: 1}\n", "params.lr mixes choices with low"),
    ("params:\n  lr: {low: 0.01, high: 1, points: 1}\n", "params.lr.points must be >= 2"),
    ("params:\n  lr: {low: 0.01, high: 1, values: [0.001]}\n", "params.lr.values[0] 0.001 is outside [low, high]"),
    ("params:\n  epochs: 3\n", "params.epochs is set at the top level"),
    ("params:\n  batch_size: 0\n", "params.batch_size must be an integer >= 1"),
    ("- just\n- a list\n", "must be a mapping with keys"),
    ("params: {lr: [1, 2\n", "not valid YAML at line"),
    ("", "must be a mapping with keys"),
    ("params:\n  lr: 1e-3\n", None),  # valid: a fixed lr
]


@pytest.mark.parametrize("text,needle", BAD)
def test_every_fault_names_the_file_and_key(text, needle):
    if needle is None:
        parse_yaml(text, "search_spaces/x.yaml")
        return
    with pytest.raises(SpaceError) as e:
        parse_yaml(text, "search_spaces/x.yaml")
    msg = str(e.value)
    assert msg.startswith("search_spaces/x.yaml: "), msg
    assert needle in msg, (needle, msg)
    assert "\n" not in msg


def test_missing_space_file(tmp_path):
    with pytest.raises(SpaceError, match="no such file"):
        load_space(tmp_path / "nope.yaml")


# ---------------------------------------------------------------------------- hypothesis

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


def _inside(v, p):
    if isinstance(p, Choice):
        return v in p.choices
    return p.low <= v <= p.high and (not p.integer or isinstance(v, int))


@settings(max_examples=60, deadline=None)
@given(spaces(), st.integers(0, 2**32 - 1))
def test_sampled_and_grid_values_stay_inside_their_ranges(sp, seed):
    for t in make_plan(sp, seed).trials:
        for name, p in sp.params:
            v = tuple(t.params[name]) if isinstance(t.params[name], list) else t.params[name]
            assert _inside(v, p), (name, v, p)
    for k in range(3):
        assert sample(sp, seed, k) == sample(sp, seed, k)  # (seed, k) alone decide


@settings(max_examples=60, deadline=None)
@given(spaces())
def test_to_dict_round_trips(sp):
    again = parse_space(sp.to_dict(), "again")
    assert again.to_dict() == sp.to_dict()
    assert again.params == sp.params


@settings(max_examples=100, deadline=None)
@given(st.recursive(st.none() | st.booleans() | finite | st.text(max_size=5),
                    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=6), c, max_size=3),
                    max_leaves=8))
def test_garbage_raises_only_space_errors(obj):
    try:
        parse_space({"params": obj} if isinstance(obj, dict) else obj, "g.yaml")
    except SpaceError as e:
        assert str(e).startswith("g.yaml") and "\n" not in str(e)


def test_range_and_space_are_frozen():
    r = Range(1e-3, 1.0, log=True)
    with pytest.raises(Exception):
        r.low = 2  # type: ignore[misc]
    sp = Space(params=(("lr", r),))
    assert math.isclose(sp.base_config().lr, TrainConfig().lr)  # a range param is not fixed: the default stays
