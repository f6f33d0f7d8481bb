"""config/data.py, records.py, runtime.py, plain.py: the frozen records and their edges (dicts, the environment)."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

from hpsearch.config import plain
from hpsearch.config.data import DataSpec
from hpsearch.config.records import Narrowing, ParentRef, StudyIdentity, StudyMeta
from hpsearch.config.runtime import DEFAULT_GRACE, Runtime, check_grace
from hpsearch.errors import ConfigError


def test_a_data_spec_records_its_keys_in_order_and_its_fingerprint_only_when_known():
    assert list(DataSpec().to_dict()) == ["spec", "label_column", "val_fraction", "split_seed", "max_samples",
                                          "flatten", "preprocess"]
    assert DataSpec(fingerprint="abc").to_dict()["fingerprint"] == "abc"


def test_a_data_spec_reads_a_recorded_data_dict_and_ignores_the_split_sizes():
    recorded = {"spec": "/x/mnist", "val_fraction": 0.1, "split_seed": 3, "fingerprint": "f00", "train_samples": 9,
                "name": "mnist", "classes": 10}
    spec = DataSpec.from_dict(recorded)
    assert spec == DataSpec("/x/mnist", None, 0.1, 3, None, False, "standardize", "f00")
    assert DataSpec.from_dict(spec.to_dict()) == spec


def test_recorded_paths_are_absolute_and_builtin_names_stay(tmp_path, monkeypatch):
    (tmp_path / "X.npy").write_bytes(b"")
    (tmp_path / "y.npy").write_bytes(b"")
    monkeypatch.chdir(tmp_path)
    assert DataSpec("X.npy,y.npy").recorded().spec == f"{tmp_path}/X.npy,{tmp_path}/y.npy"
    assert DataSpec("digits").recorded().spec == "digits"
    assert DataSpec("not-there.csv").recorded().spec == "not-there.csv"  # the loader names it in its error


def test_study_records_round_trip():
    parent = ParentRef("/r/results.json", "0123456789abcdef", "coarse")
    narrowed = Narrowing(3, (4, 0, 7), {"lr": {"kind": "range", "from": [1e-6, 1.0], "to": [1e-3, 0.1],
                                               "extended": None}})
    meta = StudyMeta({"spec": "digits", "fingerprint": "f"}, parent, narrowed, None)
    assert StudyMeta.from_dict(meta.to_dict()) == meta
    assert meta.to_dict()["parent"] == {"path": "/r/results.json", "fingerprint": "0123456789abcdef",
                                        "command": "coarse"}
    assert meta.to_dict()["narrowed"]["top_numbers"] == [4, 0, 7]
    assert StudyMeta.from_dict({"data": {}}).parent is None and StudyMeta.from_dict({"data": {}}).narrowed is None
    ident = StudyIdentity("fine", 1, 30, {"sampler": "random"}, {"lr": 0.1}, {"fingerprint": "f"}, parent.fingerprint)
    assert StudyIdentity.from_dict(ident.to_dict()) == ident


@pytest.mark.parametrize("env, threads, share", [
    ({}, None, True),
    ({"HPSEARCH_THREADS": "1"}, 1, True),
    ({"HPSEARCH_THREADS": "8"}, 2, True),
    ({"HPSEARCH_THREADS": "x"}, None, True),
    ({"HPSEARCH_SHARE_SPLIT": "0"}, None, False),
    ({"HPSEARCH_SHARE_SPLIT": " Off "}, None, False),
    ({"HPSEARCH_SHARE_SPLIT": "1"}, None, True),
])
def test_the_environment_is_read_into_a_record(env, threads, share):
    r = Runtime.from_env(env)
    assert (r.threads, r.share_split) == (threads, share)


def test_reading_the_environment_leaves_it_alone(monkeypatch):
    monkeypatch.setenv("HPSEARCH_GRACE", "12")
    before = dict(os.environ)
    assert Runtime.from_env(os.environ).default_grace() == 12.0
    assert dict(os.environ) == before


@pytest.mark.parametrize("text, message", [("abc", "HPSEARCH_GRACE must be a number of seconds, got 'abc'"),
                                           ("0.1", "HPSEARCH_GRACE must be between 0.5 and 86400 seconds")])
def test_a_bad_grace_variable_is_named_only_when_a_grace_is_needed(text, message):
    r = Runtime.from_env({"HPSEARCH_GRACE": text})  # reading it does not fail: a train run never needs it
    with pytest.raises(ConfigError, match=message):
        r.default_grace()


def test_grace_defaults_and_bounds():
    assert Runtime().default_grace() == DEFAULT_GRACE == 30.0
    assert check_grace(0.5) == 0.5 and check_grace(86400) == 86400.0
    with pytest.raises(ConfigError, match="--grace must be between"):
        check_grace(0.4)


def test_plain_values():
    assert plain.finite_or_none(math.nan) is None and plain.finite_or_none(math.inf) is None
    assert plain.finite_or_none(np.float32(0.5)) == 0.5 and plain.finite_or_none(3) == 3
    assert plain.finite_or_none(None) is None
    assert plain.strict({"a": (1.0, math.nan), 2: np.int64(4), "b": np.bool_(True)}) == \
        {"a": [1.0, None], "2": 4, "b": True}
    assert plain.plain((100, 50)) == [100, 50] and plain.plain("relu") == "relu"
    assert plain.fmt(None) == "-" and plain.fmt(math.nan) == "-" and plain.fmt(0.123456) == "0.1235"
    assert plain.short(0.000123456) == "0.000123" and plain.short(100) == "100"
    assert plain.as_written(1e-5) == "1e-05" and plain.as_written(0.0) == "0"
