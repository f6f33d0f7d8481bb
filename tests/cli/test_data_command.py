"""`hpsearch data` and the data flags of `hpsearch train` through the CLI: JSON report, exit codes, and every
bad-file case as exit 2 with one stderr line that names the file."""

import gzip
import json
import pickle
import struct

import numpy as np
import pytest
from typer.testing import CliRunner

from hpsearch.cli import app
from datafiles import cifar_like, cifar_records, idx_bytes, mnist_like, write_idx, write_npy_pair
from clihelp import assert_one_line_error

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def report(*args):
    r = run("data", *args, "--json", "--quiet")
    return r, (json.loads(r.stdout) if r.stdout else None)


def test_builtin_report():
    r, s = report("digits")
    assert r.exit_code == 0, r.stderr
    assert (s["samples"], s["features"], s["num_classes"]) == (1797, 64, 10)
    assert sum(c["count"] for c in s["classes"]) == 1797
    assert s["values"] == {**s["values"], "min": 0.0, "max": 16.0, "nan": 0, "inf": 0}
    assert s["values"]["constant_features"] == 3 and s["usable"] and s["problems"] == []
    assert s["split"] == {"train": 1438, "val": 359}
    assert s["balance"]["smallest"] == 174 and s["balance"]["largest"] == 183


def test_idx_folder_report_and_subset(tmp_path):
    X, y = mnist_like()
    write_idx(tmp_path, X, y, gz=True)
    r, s = report(tmp_path, "--max-samples", 30)
    assert r.exit_code == 0, r.stderr
    assert s["image_shape"] == [7, 5] and s["features"] == 35 and s["dtype"] == "uint8"
    assert s["pixels_scaled"] and s["memory_mapped"] is False
    assert s["split"] == {"train": 20, "val": 10}
    assert [c["count"] for c in s["classes"]] == [6] * 10


def test_data_flag_form_and_table_output(tmp_path):
    r = run("data", "--data", "spiral")
    assert r.exit_code == 0, r.stderr
    assert "hpsearch data: spiral" in r.stdout and "ready to train" in r.stdout


def test_duplicates_nan_and_imbalance_are_reported(tmp_path):
    X = np.arange(40, dtype=np.float64).reshape(20, 2)
    X[5] = X[4]  # duplicate, same label
    X[7] = X[0]  # duplicate, different label
    X[9, 1] = np.nan
    X[10, 0] = np.inf
    y = np.array([0] * 17 + [1] * 3)
    y[4] = y[5] = 0
    y[7] = 1
    write_npy_pair(tmp_path, X, y)
    r, s = report(tmp_path)
    assert r.exit_code == 1  # not usable: a failed gate, the report still printed
    assert s["values"]["nan"] == 1 and s["values"]["inf"] == 1
    assert s["duplicated_rows"] == 2 and s["conflicting_labels"] == 1
    assert not s["usable"] and "NaN" in s["problems"][0]
    assert any("imbalanced" in w for w in s["warnings"])
    assert s["memory_mapped"] is True
    assert r.stderr == ""


def test_train_uses_the_data_flags(tmp_path):
    X = np.random.default_rng(0).integers(0, 256, (300, 4, 4, 3), dtype=np.uint8)
    write_npy_pair(tmp_path, X, np.arange(300) % 3)
    r = run("train", "--data", tmp_path, "--flatten", "--max-samples", 150, "--preprocess", "center-channel",
            "--epochs", 1, "--batch-size", 20, "--json", "--quiet")
    assert r.exit_code in (0, 1), r.stderr  # random labels may diverge; the data part is what is tested
    d = json.loads(r.stdout)["data"]
    assert d["train_samples"] + d["val_samples"] == 150 and d["features"] == 48
    assert d["preprocess"] == "center-channel" and d["max_samples"] == 150


@pytest.mark.parametrize("args,needles", [
    (["--preprocess", "whiten"], ["--preprocess", "whiten", "standardize"]),
    (["--max-samples", "5"], ["--max-samples", "at least 20"]),
    (["--val-fraction", "1.5"], ["--val-fraction"]),
    (["--preprocess", "center-channel"], ["center-channel", "image"]),
])
def test_bad_data_flags(args, needles):
    assert_one_line_error(run("train", "--epochs", "1", *args), 2, *needles)
    assert_one_line_error(run("data", "digits", *args), 2, *needles)


def test_data_needs_a_data_set():
    assert_one_line_error(run("data"), 2, "no data set")


# ---- every bad file: exit 2, one line naming the file and what is wrong ----


def _mnist(tmp_path):
    X, y = mnist_like()
    return idx_bytes(X), idx_bytes(y)


def bad_files(tmp_path):
    """name -> (spec, words the message must hold); each case in its own folder."""
    imgs, labs = _mnist(tmp_path)
    cases = {}

    def folder(name, files):
        d = tmp_path / name
        d.mkdir()
        for fname, content in files.items():
            (d / fname).write_bytes(content)
        return d

    d = folder("trunc", {"train-images-idx3-ubyte": imgs[:-7], "train-labels-idx1-ubyte": labs})
    cases["truncated idx"] = (d, ["train-images-idx3-ubyte", "truncated"])
    d = folder("truncgz", {"train-images-idx3-ubyte.gz": gzip.compress(imgs)[:200],
                           "train-labels-idx1-ubyte.gz": gzip.compress(labs)})
    cases["truncated gzip"] = (d, ["train-images-idx3-ubyte.gz", "truncated"])
    d = folder("header", {"train-images-idx3-ubyte": imgs[:9], "train-labels-idx1-ubyte": labs})
    cases["truncated header"] = (d, ["train-images-idx3-ubyte", "truncated"])
    d = folder("magic", {"train-images-idx3-ubyte": b"\x00\x00\x07\x03" + imgs[4:], "train-labels-idx1-ubyte": labs})
    cases["wrong magic"] = (d, ["train-images-idx3-ubyte", "wrong magic number 0x00000703"])
    bad_labels = bytearray(labs)
    bad_labels[8 + 3] = 12
    d = folder("range", {"train-images-idx3-ubyte": imgs, "train-labels-idx1-ubyte": bytes(bad_labels)})
    cases["idx label > 9"] = (d, ["train-labels-idx1-ubyte", "label 12", "0..9"])
    short = b"\x00\x00\x08\x01" + struct.pack(">I", 59) + labs[8:-1]
    d = folder("count", {"train-images-idx3-ubyte": imgs, "train-labels-idx1-ubyte": short})
    cases["count mismatch"] = (d, ["60 images", "59 labels", "train-labels-idx1-ubyte"])
    d = folder("notgz", {"train-images-idx3-ubyte.gz": b"plain text, not gzip", "train-labels-idx1-ubyte.gz": labs})
    cases["unreadable gzip"] = (d, ["train-images-idx3-ubyte.gz", "gzip"])
    d = folder("corruptgz", {"train-images-idx3-ubyte.gz": gzip.compress(imgs)[:20] + b"\xff" * 200,
                             "train-labels-idx1-ubyte.gz": gzip.compress(labs)})
    cases["corrupt gzip"] = (d, ["train-images-idx3-ubyte.gz", "gzip"])
    yb, xb = cifar_like(3)
    d = folder("cifar_len", {"data_batch_1.bin": cifar_records(yb, xb)[:-1]})
    cases["cifar record length"] = (d / "data_batch_1.bin", ["data_batch_1.bin", "3,073"])
    yb[2] = 10
    d = folder("cifar_label", {"data_batch_1.bin": cifar_records(yb, xb)})
    cases["cifar label > 9"] = (d, ["data_batch_1.bin", "label 10", "0..9"])
    d = folder("cifar-10-batches-py", {"data_batch_1": pickle.dumps({"data": [1]}, protocol=2),
                                       "batches.meta": pickle.dumps({}, protocol=2)})
    cases["cifar pickle folder"] = (d, ["cifar-10-batches-py", "pickle", "binary version"])
    cases["cifar pickle file"] = (d / "data_batch_1", ["data_batch_1", "pickle", "binary version"])
    d = tmp_path / "npy_len"
    d.mkdir()
    write_npy_pair(d, np.zeros((10, 3)), np.arange(9) % 2)
    cases["npy length mismatch"] = (d, ["X.npy", "10 rows", "y.npy", "9 labels"])
    d = folder("npy_junk", {"X.npy": b"hello", "y.npy": b"world"})
    cases["not npy"] = (d / "X.npy", ["X.npy", "not a .npy file"])
    d = tmp_path / "npy_obj"
    d.mkdir()
    np.save(d / "X.npy", np.array([{"a": 1}] * 4, dtype=object), allow_pickle=True)
    np.save(d / "y.npy", np.arange(4))
    cases["npy objects"] = (f"{d / 'X.npy'},{d / 'y.npy'}", ["X.npy", "pickle"])
    d = tmp_path / "npy_img"
    d.mkdir()
    write_npy_pair(d, np.zeros((10, 2, 2), np.uint8), np.arange(10) % 2)
    cases["images without --flatten"] = (d, ["npy_img", "--flatten"])
    cases["empty folder"] = (folder("empty", {}), ["empty", "no data files"])
    return cases


CASES = ["truncated idx", "truncated gzip", "truncated header", "wrong magic", "idx label > 9", "count mismatch",
         "unreadable gzip", "corrupt gzip", "cifar record length", "cifar label > 9", "cifar pickle folder",
         "cifar pickle file", "npy length mismatch", "not npy", "npy objects", "images without --flatten",
         "empty folder"]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("command", ["data", "train"])
def test_bad_file(tmp_path, case, command):
    spec, needles = bad_files(tmp_path)[case]
    args = ["data", spec] if command == "data" else ["train", "--data", spec, "--epochs", "1"]
    assert_one_line_error(run(*args), 2, *needles)
