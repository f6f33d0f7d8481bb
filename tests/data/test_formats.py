"""User data formats (MNIST IDX, CIFAR-10 binary, .npy pairs), the stratified subset, preprocessing options,
and the memory contract: a memory-mapped X is never copied whole (only the split's float arrays are allocated).

Every file is written in tmp_path, byte by byte from the format's definition (tests/datafiles.py): no downloads.
"""

import hashlib
import tracemalloc

import numpy as np
import pytest

from hpsearch.config.data import PREPROCESS
from hpsearch.data import chunks, dataset, split
from hpsearch.data.formats.files import load_file, read
from hpsearch.errors import DataError

from datafiles import cifar_like, cifar_records, idx_bytes, mnist_like, write_idx, write_npy_pair

# ---- MNIST IDX ----


@pytest.mark.parametrize("gz", [False, True])
def test_idx_folder_plain_and_gzip(tmp_path, gz):
    X, y = mnist_like()
    write_idx(tmp_path, X, y, gz=gz)
    write_idx(tmp_path, X[:20] // 2, y[:20], prefix="t10k", gz=gz)  # the test set is left alone
    ds = dataset.load(str(tmp_path))
    assert ds.X.shape == (60, 35) and ds.image_shape == (7, 5) and ds.channel_axis is None
    np.testing.assert_array_equal(ds.X, X.reshape(60, -1))
    np.testing.assert_array_equal(ds.y, y)
    assert [p.split("/")[-1] for p in ds.files] == [f"train-images-idx3-ubyte{'.gz' if gz else ''}",
                                                    f"train-labels-idx1-ubyte{'.gz' if gz else ''}"]
    assert isinstance(ds.X, np.memmap) is (not gz)  # plain files are mapped, gzip is decompressed once


def test_idx_gzip_and_plain_have_the_same_fingerprint(tmp_path):
    X, y = mnist_like()
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    write_idx(tmp_path / "a", X, y)
    write_idx(tmp_path / "b", X, y, gz=True)
    assert dataset.load(str(tmp_path / "a")).fingerprint == dataset.load(str(tmp_path / "b")).fingerprint


def test_idx_images_file_alone_finds_its_labels_and_pairs_in_any_order(tmp_path):
    X, y = mnist_like()
    ip, lp = write_idx(tmp_path, X, y, gz=True)
    a = dataset.load(str(ip))
    b = dataset.load(f"{lp},{ip}")
    np.testing.assert_array_equal(a.X, b.X)
    assert a.files == b.files == (str(ip), str(lp))


def test_idx_other_value_types(tmp_path):
    X = np.random.default_rng(0).standard_normal((20, 3, 2)).astype(np.float32)
    (tmp_path / "f-images-idx3-ubyte").write_bytes(idx_bytes(X, 0x0D))
    (tmp_path / "f-labels-idx1-ubyte").write_bytes(idx_bytes(np.arange(20, dtype=np.uint8) % 2))
    ds = dataset.load(str(tmp_path / "f-images-idx3-ubyte"))
    np.testing.assert_array_equal(ds.X, X.reshape(20, 6))


# ---- CIFAR-10 binary ----


def test_cifar_folder_stacks_training_batches_channels_first(tmp_path):
    folder = tmp_path / "cifar-10-batches-bin"
    folder.mkdir()
    parts = [cifar_like(12, seed) for seed in (1, 2)]
    for i, (yb, xb) in enumerate(parts, start=1):
        (folder / f"data_batch_{i}.bin").write_bytes(cifar_records(yb, xb))
    (folder / "test_batch.bin").write_bytes(cifar_records(*cifar_like(5, 9)))
    names = "airplane automobile bird cat deer dog frog horse ship truck".split()
    (folder / "batches.meta.txt").write_text("\n".join(names) + "\n\n")
    ds = dataset.load(str(tmp_path))  # the parent of the unpacked archive works too
    assert ds.X.shape == (24, 3072) and ds.image_shape == (3, 32, 32) and ds.channel_axis == 0
    np.testing.assert_array_equal(ds.X, np.vstack([parts[0][1], parts[1][1]]))
    np.testing.assert_array_equal(ds.y, np.concatenate([parts[0][0], parts[1][0]]))
    assert [f.split("/")[-1] for f in ds.files] == ["data_batch_1.bin", "data_batch_2.bin"]
    assert ds.label_names == tuple(names)


def test_cifar_single_batch_is_memory_mapped(tmp_path):
    yb, xb = cifar_like(10)
    p = tmp_path / "test_batch.bin"
    p.write_bytes(cifar_records(yb, xb))
    ds = dataset.load(str(p))
    assert isinstance(ds.X, np.memmap) and not ds.X.flags.writeable
    np.testing.assert_array_equal(ds.X, xb)
    red = ds.X.reshape(-1, 3, 32, 32)[:, 0]
    np.testing.assert_array_equal(red.reshape(10, -1), xb[:, :1024])  # 1,024 red bytes come first


# ---- .npy pairs ----


def test_npy_pair_is_memory_mapped(tmp_path):
    X = np.random.default_rng(0).standard_normal((50, 4)).astype(np.float32)
    y = np.arange(50) % 3
    xp, yp = write_npy_pair(tmp_path, X, y, "X_train.npy", "y_train.npy")
    for spec in (str(xp), f"{xp},{yp}", f"{yp},{xp}"):
        ds = dataset.load(spec)
        assert isinstance(ds.X, np.memmap) and not ds.X.flags.writeable
        np.testing.assert_array_equal(ds.X, X)
    (tmp_path / "sub").mkdir()
    write_npy_pair(tmp_path / "sub", X, y)
    assert isinstance(dataset.load(str(tmp_path / "sub")).X, np.memmap)


def test_image_npy_needs_flatten(tmp_path):
    X = np.random.default_rng(0).integers(0, 256, (30, 4, 4, 3), dtype=np.uint8)
    write_npy_pair(tmp_path, X, np.arange(30) % 2)
    with pytest.raises(DataError, match="--flatten"):
        dataset.load(str(tmp_path))
    ds = dataset.load(str(tmp_path), flatten=True)
    assert ds.X.shape == (30, 48) and ds.image_shape == (4, 4, 3) and ds.channel_axis == 2
    assert isinstance(ds.X, np.memmap)  # flattening a C-ordered map is a view


def test_guess_channel_axis():
    assert dataset.guess_channel_axis((28, 28)) is None
    assert dataset.guess_channel_axis((32, 32, 3)) == 2
    assert dataset.guess_channel_axis((3, 32, 32)) == 0


def test_npz_and_csv_still_read_and_load_file_keeps_its_tuple(tmp_path):
    p = tmp_path / "d.npz"
    np.savez(p, X=np.zeros((4, 2)), y=np.array([0, 1, 0, 1]))
    X, y = load_file(p)
    assert X.shape == (4, 2) and y.shape == (4,)
    assert read(str(p)).files == (str(p),)
    q = tmp_path / "d.csv"
    q.write_text("a,label\n1,0\n2,1\n")
    assert read(str(q)).X.shape == (2, 1)


# ---- stratified subset ----


def imbalanced(n=(600, 300, 100), d=3):
    y = np.repeat(np.arange(len(n)), n)
    X = np.random.default_rng(0).standard_normal((y.size, d))
    return dataset.make_dataset(X, y, "imbalanced")


def test_max_samples_is_a_stratified_subset():
    ds = imbalanced()
    s = split.split(ds, 0.2, 0, max_samples=100)
    counts = np.bincount(np.concatenate([s.y_train, s.y_val]))
    np.testing.assert_array_equal(counts, [60, 30, 10])
    np.testing.assert_array_equal(np.bincount(s.y_val), [12, 6, 2])
    assert s.max_samples == 100 and s.info()["train_samples"] + s.info()["val_samples"] == 100


def test_max_samples_is_seeded_and_keeps_every_class():
    ds = imbalanced((500, 3))
    a, b, c = (split.split_indices(ds.y, 0.2, seed, 20) for seed in (0, 0, 1))
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.array_equal(a[0], c[0])
    tr, va = a
    assert tr.size + va.size == 20
    assert set(ds.y[tr]) == {0, 1} and set(ds.y[va]) == {0, 1}  # the rare class kept a train and a val sample


def test_max_samples_at_least_all_is_the_plain_split():
    ds = imbalanced()
    a, b = split.split(ds, 0.2, 3), split.split(ds, 0.2, 3, max_samples=10**6)
    np.testing.assert_array_equal(a.X_train, b.X_train)
    assert b.max_samples is None


@pytest.mark.parametrize("n", [0, -5, 5])
def test_max_samples_too_small(n):
    with pytest.raises(DataError, match="max_samples must be at least 6"):
        split.split(imbalanced(), max_samples=n)


# ---- preprocessing ----


@pytest.fixture
def pixels(tmp_path):
    X = np.random.default_rng(0).integers(0, 256, (200, 4, 4, 3), dtype=np.uint8)
    X[..., 0] //= 4  # channels differ in mean
    write_npy_pair(tmp_path, X, np.arange(200) % 4)
    return dataset.load(str(tmp_path), flatten=True)


def train_rows(ds, s):
    tr, va = split.split_indices(ds.y, 0.2, 0)
    return np.asarray(ds.X[tr], np.float64), np.asarray(ds.X[va], np.float64)


@pytest.mark.parametrize("mode", PREPROCESS)
def test_preprocess_is_fitted_on_train_and_stated_in_raw_units(pixels, mode):
    s = split.split(pixels, 0.2, 0, preprocess=mode)
    raw_tr, raw_va = train_rows(pixels, s)
    # (raw - mean) / std reproduces both splits: mean/std are what --save stores for inference
    np.testing.assert_allclose(s.X_train, (raw_tr - s.mean) / s.std, atol=1e-5)
    np.testing.assert_allclose(s.X_val, (raw_va - s.mean) / s.std, atol=1e-5)
    assert s.preprocess == mode and s.X_train.dtype == np.float32
    if mode == "standardize":
        np.testing.assert_allclose(s.X_train.mean(0), 0, atol=1e-5)
        np.testing.assert_allclose(s.X_train.std(0), 1, atol=1e-4)
    elif mode == "center":
        np.testing.assert_allclose(s.mean, raw_tr.mean(0))
        np.testing.assert_allclose(s.X_train.mean(0), 0, atol=1e-6)
        np.testing.assert_allclose(s.std, 255)  # uint8 pixels scaled to [0, 1]
    elif mode == "center-channel":
        per_channel = raw_tr.reshape(-1, 4, 4, 3).mean(axis=(0, 1, 2))
        np.testing.assert_allclose(s.mean.reshape(4, 4, 3), np.broadcast_to(per_channel, (4, 4, 3)))
        np.testing.assert_allclose(s.X_train.reshape(-1, 4, 4, 3).mean(axis=(0, 1, 2)), 0, atol=1e-6)
    else:
        np.testing.assert_allclose(s.X_train, raw_tr / 255, atol=1e-7)
        assert s.X_train.min() >= 0 and s.X_train.max() <= 1


def test_center_channel_needs_images_and_unknown_mode_is_refused():
    with pytest.raises(DataError, match="center-channel needs image data"):
        split.split(imbalanced(), preprocess="center-channel")
    with pytest.raises(DataError, match="preprocess must be one of"):
        split.split(imbalanced(), preprocess="whiten")


def test_float_data_without_preprocessing_is_unchanged():
    ds = imbalanced()
    s = split.split(ds, 0.2, 0, "float64", preprocess="none")
    tr, _ = split.split_indices(ds.y, 0.2, 0)
    np.testing.assert_array_equal(s.X_train, ds.X[tr])


# ---- memory: the mapped X is read block by block, never copied whole ----


def test_split_of_a_memmap_allocates_only_its_outputs(tmp_path, monkeypatch):
    monkeypatch.setattr(chunks, "CHUNK_BYTES", 1 << 16)  # small blocks, so a whole-array temporary would show
    X = np.random.default_rng(0).integers(0, 256, (4000, 300), dtype=np.uint8)
    write_npy_pair(tmp_path, X, np.arange(4000) % 10)
    ds = dataset.load(str(tmp_path))
    assert isinstance(ds.X, np.memmap)
    out_bytes = 4000 * 300 * 4  # float32 train + val
    tracemalloc.start()
    try:
        s = split.split(ds, 0.2, 0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert not np.shares_memory(s.X_train, ds.X)
    # the outputs plus small blocks; one full uint8 copy (1.2 MB) or float64 temporary (9.6 MB) would exceed this
    assert peak < out_bytes + 1_000_000, peak
    np.testing.assert_allclose(s.X_train.mean(0), 0, atol=1e-5)


def test_chunked_fingerprint_equals_hashing_one_copy(monkeypatch):
    monkeypatch.setattr(chunks, "CHUNK_BYTES", 256)
    X = np.asfortranarray(np.random.default_rng(0).standard_normal((37, 5)))
    y = np.arange(37) % 2
    h = hashlib.sha256()
    h.update(str((X.shape, X.dtype.str)).encode())
    h.update(np.ascontiguousarray(X).data)
    h.update(y.astype(np.int64).data)
    assert dataset.fingerprint(X, y) == h.hexdigest()[:16]
