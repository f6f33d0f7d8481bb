"""Built-in data, .npz/.csv files, validation, the stratified split and standardization."""

import numpy as np
import pytest

from hpsearch.data import dataset, split
from hpsearch.errors import DataError


def test_digits_builtin():
    ds = dataset.load("digits")
    assert ds.X.shape == (1797, 64)
    assert ds.num_classes == 10
    assert np.bincount(ds.y).min() >= 170


def test_spiral_builtin_is_fixed():
    a, b = dataset.load("spiral"), dataset.load("spiral")
    assert a.X.shape == (300, 2) and a.num_classes == 3
    np.testing.assert_array_equal(a.X, b.X)
    assert a.fingerprint == b.fingerprint


def test_split_is_stratified_and_seeded():
    ds = dataset.load("digits")
    s1 = split.split(ds, 0.2, 0)
    s2 = split.split(ds, 0.2, 0)
    s3 = split.split(ds, 0.2, 1)
    np.testing.assert_array_equal(s1.y_val, s2.y_val)
    np.testing.assert_array_equal(s1.X_val, s2.X_val)
    assert not np.array_equal(s1.X_val, s3.X_val)
    frac = np.bincount(s1.y_val) / np.bincount(ds.y)
    assert np.all(np.abs(frac - 0.2) < 0.01)
    assert s1.X_train.shape[0] + s1.X_val.shape[0] == 1797


def test_standardization_fitted_on_training_split_only():
    s = split.split(dataset.load("digits"), 0.2, 0)
    varying = s.X_train.std(axis=0) > 0
    np.testing.assert_allclose(s.X_train.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(s.X_train.std(axis=0)[varying], 1, atol=1e-4)
    # validation is transformed with the training statistics, so its mean is not forced to 0
    assert np.abs(s.X_val.mean(axis=0)).max() > 1e-3
    raw = dataset.load("digits")
    assert s.X_train.dtype == np.float32 and raw.X.dtype == np.float32


def test_npz_roundtrip(tmp_path):
    X = np.random.default_rng(0).standard_normal((40, 3))
    y = np.repeat([3, 7], 20)
    p = tmp_path / "d.npz"
    np.savez(p, X=X, y=y)
    ds = dataset.load(str(p))
    assert ds.classes == (3, 7)
    np.testing.assert_array_equal(ds.y, np.repeat([0, 1], 20))


def test_csv_last_column_and_named_label(tmp_path):
    p = tmp_path / "d.csv"
    p.write_text("label,a,b\n0,1.0,2.0\n1,3.0,4.0\n0,5.0,6.0\n1,7,8\n")
    ds = dataset.load(str(p), label_column="label")
    np.testing.assert_array_equal(ds.X, [[1, 2], [3, 4], [5, 6], [7, 8]])
    np.testing.assert_array_equal(ds.y, [0, 1, 0, 1])
    q = tmp_path / "e.csv"
    q.write_text("a,b,label\n1,2,0\n3,4,1\n")
    assert dataset.load(str(q)).X.shape == (2, 2)


def test_csv_class_names_are_the_classes_and_y_indexes_them_in_sorted_order(tmp_path):
    p = tmp_path / "named.csv"
    p.write_text("a,b,species\n1,2,dog\n3,4,cat\n5,6,dog\n7,8,bird\n")
    ds = dataset.load(str(p))
    assert ds.classes == ("bird", "cat", "dog")  # the labels as they appear in the file
    np.testing.assert_array_equal(ds.y, [2, 1, 2, 0])
    np.testing.assert_array_equal(ds.X, [[1, 2], [3, 4], [5, 6], [7, 8]])


@pytest.mark.parametrize("content,match", [
    ("a,b,label\n1,2,cat\n3,4,\n", "line 3, column 'label': the label is empty"),
    ("a,b,label\n1,2,0\n3,4,1\n5,6,NA\n7,8,1\n", "mix numbers and text \\(line 4: 'NA'\\)"),
    ("a,b,label\n1,2,7\n3,4,cat\n5,6,dog\n", "mix numbers and text \\(line 2: '7'\\)"),
    ("a,b,label\n1,2,0.5\n3,4,1\n", "must be integers"),
    ("a,b,label\n1,x,0\n3,4,1\n", "is not a number"),
    ("a,b,label\n1,2,0\n3,4\n", "fields"),
    ("a,b,label\n1,2,0\n3,4,0\n", "only one class"),
    ("a,b,label\n", "header row and at least one data row"),
    ("a,b,label\n1,nan,0\n3,4,1\n", "NaN"),
    ("a,b,label\n1,inf,0\n3,4,1\n", "inf"),
])
def test_csv_faults(tmp_path, content, match):
    p = tmp_path / "bad.csv"
    p.write_text(content)
    with pytest.raises(DataError, match=match) as e:
        dataset.load(str(p))
    assert str(p) in str(e.value)


def test_binary_csv_is_rejected(tmp_path):
    p = tmp_path / "bad.csv"
    p.write_bytes(b"\xff\xfe\x00\x81garbage")
    with pytest.raises(DataError, match="not a text CSV"):
        dataset.load(str(p))


def test_npz_faults(tmp_path):
    p = tmp_path / "nox.npz"
    np.savez(p, features=np.zeros((3, 2)), y=np.zeros(3))
    with pytest.raises(DataError, match="missing array 'X'"):
        dataset.load(str(p))
    q = tmp_path / "broken.npz"
    q.write_bytes(b"not a zip")
    with pytest.raises(DataError, match="not a readable .npz"):
        dataset.load(str(q))
    r = tmp_path / "mismatch.npz"
    np.savez(r, X=np.zeros((3, 2)), y=np.zeros(4))
    with pytest.raises(DataError, match="one label per row"):
        dataset.load(str(r))


def test_missing_file_names_builtins():
    with pytest.raises(DataError, match="digits"):
        dataset.load("/nonexistent/file.csv")
