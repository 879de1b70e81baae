"""Loading data: every source, every bad file, on digit arrays in MNIST's convention written to real files
(the real MNIST only where the real thing is the point)."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from search.data import DataError, Dataset, check_arrays, load_arrays, load_dataset, load_digits
from search.data.idx import IDXError, read_idx, write_idx

KEYS = ("x_train", "y_train", "x_test", "y_test")


def assert_same_arrays(dataset_or_arrays, expected) -> None:
    """Loaded arrays are the expected ones, in MNIST's convention: (N, 28, 28, 1) and (N,) uint8."""
    if isinstance(dataset_or_arrays, Dataset):
        loaded = [getattr(dataset_or_arrays, k) for k in KEYS]
    else:
        loaded = list(dataset_or_arrays)
    for key, got, want in zip(KEYS, loaded, expected, strict=True):
        assert got.dtype == np.uint8, key
        if key.startswith("x"):
            assert got.shape == (len(want), 28, 28, 1), key
            np.testing.assert_array_equal(got[..., 0], want, err_msg=key)
        else:
            assert got.shape == (len(want),), key
            np.testing.assert_array_equal(got, want, err_msg=key)


def data_error(call, *args, **kwargs) -> str:
    """The message of the DataError that `call` raises; it must be one line."""
    with pytest.raises(DataError) as info:
        call(*args, **kwargs)
    message = str(info.value)
    assert "\n" not in message, f"message is not one line: {message!r}"
    assert message.strip(), "empty message"
    return message


@pytest.fixture(autouse=True)
def _no_env_data(monkeypatch):
    """No test here sees the caller's MNIST_DATA unless it sets it itself."""
    monkeypatch.delenv("MNIST_DATA", raising=False)


# --- IDX files ---------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_idx_round_trip_of_real_images_and_labels(tmp_path, small, suffix):
    images, labels = tmp_path / f"images{suffix}", tmp_path / f"labels{suffix}"
    write_idx(images, small.x_train)
    write_idx(labels, small.y_train)
    np.testing.assert_array_equal(read_idx(images, 3), small.x_train)
    np.testing.assert_array_equal(read_idx(labels, 1), small.y_train)
    assert read_idx(images, 3).dtype == np.uint8


def test_idx_files_have_mnists_layout(tmp_path, small):
    """Big-endian magic 0x00000803 / 0x00000801, then one 4-byte size per dimension, then the bytes."""
    write_idx(tmp_path / "images", small.x_train)
    write_idx(tmp_path / "labels", small.y_train)
    raw = (tmp_path / "images").read_bytes()
    assert raw[:4] == bytes([0, 0, 8, 3])
    assert [int.from_bytes(raw[i : i + 4], "big") for i in (4, 8, 12)] == [len(small.x_train), 28, 28]
    assert len(raw) == 16 + small.x_train.size
    assert raw[16:] == small.x_train.tobytes()
    raw = (tmp_path / "labels").read_bytes()
    assert raw[:8] == bytes([0, 0, 8, 1]) + len(small.y_train).to_bytes(4, "big")
    assert raw[8:] == small.y_train.tobytes()


def test_idx_gz_is_really_gzip(tmp_path, small):
    write_idx(tmp_path / "labels.gz", small.y_train)
    raw = (tmp_path / "labels.gz").read_bytes()
    assert raw[:2] == b"\x1f\x8b"
    write_idx(tmp_path / "labels", small.y_train)
    assert gzip.decompress(raw) == (tmp_path / "labels").read_bytes()


def test_read_idx_errors_are_idx_errors_naming_the_file(tmp_path, small):
    write_idx(tmp_path / "labels", small.y_train)
    with pytest.raises(IDXError, match="magic number 0x00000801, expected 0x00000803"):
        read_idx(tmp_path / "labels", 3)  # a labels file read as images
    with pytest.raises(IDXError, match="no such file"):
        read_idx(tmp_path / "absent", 1)
    (tmp_path / "tiny").write_bytes(b"\x00\x00")
    with pytest.raises(IDXError, match="too short"):
        read_idx(tmp_path / "tiny", 1)
    (tmp_path / "header").write_bytes(bytes([0, 0, 8, 3, 0, 0]))
    with pytest.raises(IDXError, match="header truncated"):
        read_idx(tmp_path / "header", 3)


# --- the sources: .npz, IDX folder, digits, MNIST_DATA ---------------------------------------


@pytest.mark.parametrize("compressed", [False, True], ids=["savez", "savez_compressed"])
def test_keras_layout_npz(tmp_path, small, write_npz, compressed):
    path = write_npz(tmp_path / "mnist.npz", compressed=compressed, **small.as_dict())
    dataset = load_dataset("mnist", path)
    assert dataset.name == "mnist"
    assert dataset.source == str(path)
    assert_same_arrays(dataset, small)
    assert_same_arrays(load_arrays(path), small)


def test_npz_with_channel_axis_and_wide_label_dtype(tmp_path, small, write_npz):
    """(N, 28, 28, 1) images and int64 labels are MNIST too: labels come back as uint8."""
    arrays = small.as_dict()
    arrays["x_train"] = arrays["x_train"][..., None]
    arrays["y_train"] = arrays["y_train"].astype(np.int64)
    path = write_npz(tmp_path / "mnist.npz", **arrays)
    assert_same_arrays(load_dataset("mnist", str(path)), small)


@pytest.mark.parametrize(
    "suffix, dotted",
    [("", False), (".gz", False), ("", True), (".gz", True)],
    ids=["plain", "gz", "dotted", "dotted-gz"],
)
def test_idx_folder(tmp_path, small, write_idx_folder, suffix, dotted):
    folder = tmp_path / "idx"
    paths = write_idx_folder(folder, small, suffix=suffix, dotted=dotted)
    if dotted:
        assert paths["x_train"].name.startswith("train-images.idx3-ubyte")
    dataset = load_dataset("mnist", folder)
    assert dataset.source == str(folder)
    assert_same_arrays(dataset, small)


def test_idx_folder_with_mixed_compression(tmp_path, small):
    folder = tmp_path / "idx"
    folder.mkdir()
    write_idx(folder / "train-images-idx3-ubyte.gz", small.x_train)
    write_idx(folder / "train-labels.idx1-ubyte", small.y_train)
    write_idx(folder / "t10k-images.idx3-ubyte.gz", small.x_test)
    write_idx(folder / "t10k-labels-idx1-ubyte", small.y_test)
    assert_same_arrays(load_arrays(folder), small)


def test_fingerprint_follows_content_not_format(tmp_path, small, write_npz, write_idx_folder):
    from_npz = load_dataset("mnist", write_npz(tmp_path / "a.npz", **small.as_dict()))
    write_idx_folder(tmp_path / "idx", small, suffix=".gz")
    from_idx = load_dataset("mnist", tmp_path / "idx")
    assert from_npz.fingerprint() == from_idx.fingerprint()
    assert len(from_npz.fingerprint()) == 16

    changed = small.as_dict()
    changed["x_test"] = changed["x_test"].copy()
    changed["x_test"][7, 14, 14] ^= 1  # one pixel, one bit
    assert load_dataset("mnist", write_npz(tmp_path / "b.npz", **changed)).fingerprint() != from_npz.fingerprint()

    relabelled = small.as_dict()
    relabelled["y_train"] = relabelled["y_train"].copy()
    relabelled["y_train"][0] = (relabelled["y_train"][0] + 1) % 10
    assert load_dataset("mnist", write_npz(tmp_path / "c.npz", **relabelled)).fingerprint() != from_npz.fingerprint()


@pytest.fixture(scope="module")
def digits() -> Dataset:
    return load_digits()


def test_digits_in_mnists_convention(digits):
    assert digits.name == "digits"
    for x, y in ((digits.x_train, digits.y_train), (digits.x_test, digits.y_test)):
        assert x.shape[1:] == (28, 28, 1) and x.dtype == np.uint8
        assert y.shape == (len(x),) and y.dtype == np.uint8
    images = np.concatenate([digits.x_train, digits.x_test])[..., 0]
    assert images.max() == 255 and images.min() == 0
    # White ink on black: a mostly black background, ink in the middle, centred by mass as MNIST is.
    centres = np.array([ndimage.center_of_mass(image) for image in images])
    assert np.abs(centres - 14).max() <= 1.0
    assert np.abs(centres.mean(axis=0) - 14).max() < 0.1
    assert np.median(images) == 0
    assert (images == 0).mean() > 0.5
    assert images[:, 10:18, 10:18].mean() > 10 * images[:, 4:8, 4:8].mean()
    assert (images.reshape(len(images), -1).max(axis=1) > 128).all(), "every digit has bright ink"


def test_digits_split_80_20_stratified_and_fixed(digits):
    assert len(digits.x_train) + len(digits.x_test) == 1797
    assert len(digits.x_test) == 360  # ceil(0.2 * 1797)
    assert len(digits.x_train) == 1437
    assert set(np.unique(digits.y_train)) == set(np.unique(digits.y_test)) == set(range(10))
    all_labels = np.concatenate([digits.y_train, digits.y_test])
    whole = np.bincount(all_labels, minlength=10) / len(all_labels)
    test = np.bincount(digits.y_test, minlength=10) / len(digits.y_test)
    assert np.abs(test - whole).max() < 0.01
    again = load_dataset("digits")
    assert again.fingerprint() == digits.fingerprint()
    for key in KEYS:
        np.testing.assert_array_equal(getattr(again, key), getattr(digits, key))


def test_digits_ignore_mnist_data(monkeypatch, tmp_path, digits):
    monkeypatch.setenv("MNIST_DATA", str(tmp_path / "absent.npz"))
    assert load_dataset("digits").fingerprint() == digits.fingerprint()


@pytest.mark.parametrize("form", ["npz", "idx-folder"])
def test_mnist_data_environment_variable(monkeypatch, tmp_path, small, write_npz, write_idx_folder, form):
    if form == "npz":
        path = write_npz(tmp_path / "env.npz", **small.as_dict())
    else:
        path = tmp_path / "env-idx"
        write_idx_folder(path, small, suffix=".gz")
    monkeypatch.setenv("MNIST_DATA", str(path))
    dataset = load_dataset("mnist")
    assert dataset.source == str(path)
    assert_same_arrays(dataset, small)
    assert load_dataset().fingerprint() == dataset.fingerprint()  # mnist is the default


def test_mnist_data_pointing_at_the_real_mnist(monkeypatch, mnist_path):
    monkeypatch.setenv("MNIST_DATA", str(mnist_path))
    dataset = load_dataset()
    assert dataset.x_train.shape == (60000, 28, 28, 1) and dataset.x_test.shape == (10000, 28, 28, 1)
    assert dataset.x_train.dtype == dataset.y_train.dtype == np.uint8
    assert set(np.unique(dataset.y_train)) == set(np.unique(dataset.y_test)) == set(range(10))
    assert dataset.x_train.max() == 255 and dataset.x_train.min() == 0
    # MNIST's own, well-known class counts and first labels: this is the real thing.
    assert np.bincount(dataset.y_train).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert np.bincount(dataset.y_test).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert dataset.y_train[:5].tolist() == [5, 0, 4, 1, 9] and dataset.y_test[:3].tolist() == [7, 2, 1]


def test_explicit_path_wins_over_mnist_data(monkeypatch, tmp_path, small, write_npz):
    explicit = write_npz(tmp_path / "explicit.npz", **small.as_dict())
    other = small.head(100, 20)
    env = write_npz(tmp_path / "env.npz", **other.as_dict())
    monkeypatch.setenv("MNIST_DATA", str(env))
    dataset = load_dataset("mnist", explicit)
    assert dataset.source == str(explicit)
    assert_same_arrays(dataset, small)
    # ...even when the variable points nowhere.
    monkeypatch.setenv("MNIST_DATA", str(tmp_path / "absent.npz"))
    assert_same_arrays(load_dataset("mnist", str(explicit)), small)


def test_mnist_data_pointing_nowhere_names_the_variable(monkeypatch, tmp_path):
    absent = tmp_path / "absent.npz"
    monkeypatch.setenv("MNIST_DATA", str(absent))
    message = data_error(load_dataset, "mnist")
    assert "$MNIST_DATA" in message and str(absent) in message and "no such file" in message


# --- bad files: one DataError, one line, naming the file and the fault ---------------------------


def test_missing_path(tmp_path):
    absent = tmp_path / "nowhere" / "mnist.npz"
    message = data_error(load_dataset, "mnist", absent)
    assert str(absent) in message and "no such file" in message and "--data" in message


def test_truncated_npz(tmp_path, small, write_npz):
    path = write_npz(tmp_path / "cut.npz", **small.as_dict())
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    message = data_error(load_dataset, "mnist", path)
    assert str(path) in message and "not a readable .npz" in message and "truncated" in message


def test_empty_file(tmp_path):
    path = tmp_path / "empty.npz"
    path.write_bytes(b"")
    message = data_error(load_dataset, "mnist", path)
    assert str(path) in message and ("not a readable .npz" in message or "not an .npz file" in message)


def test_file_that_is_not_an_npz(tmp_path):
    path = tmp_path / "notes.npz"
    path.write_text("x_train,y_train\n1,2\n")
    message = data_error(load_dataset, "mnist", path)
    assert str(path) in message and "not an .npz file" in message


@pytest.mark.parametrize("missing", KEYS)
def test_npz_missing_a_key(tmp_path, small, write_npz, missing):
    arrays = {k: v for k, v in small.as_dict().items() if k != missing}
    path = write_npz(tmp_path / "partial.npz", **arrays)
    message = data_error(load_dataset, "mnist", path)
    assert str(path) in message and f"missing array {missing!r}" in message


def test_idx_wrong_magic(tmp_path, small, write_idx_folder):
    paths = write_idx_folder(tmp_path / "idx", small)
    raw = bytearray(paths["x_test"].read_bytes())
    raw[3] = 0x01  # says 1-d: a labels file where images belong
    paths["x_test"].write_bytes(bytes(raw))
    message = data_error(load_dataset, "mnist", tmp_path / "idx")
    assert str(paths["x_test"]) in message and "magic number 0x00000801" in message and "0x00000803" in message


def test_idx_not_idx_at_all(tmp_path, small, write_idx_folder):
    paths = write_idx_folder(tmp_path / "idx", small)
    paths["y_train"].write_bytes(b"PK\x03\x04 this is a zip, not IDX")
    message = data_error(load_arrays, tmp_path / "idx")
    assert str(paths["y_train"]) in message and "magic number" in message


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_idx_size_mismatch(tmp_path, small, write_idx_folder, suffix):
    paths = write_idx_folder(tmp_path / "idx", small, suffix=suffix)
    path = paths["x_train"]
    raw = read_idx(path, 3).tobytes()
    header = bytes([0, 0, 8, 3]) + b"".join(d.to_bytes(4, "big") for d in small.x_train.shape)
    cut = header + raw[:-100]  # a complete header, 100 bytes of pixels short
    path.write_bytes(gzip.compress(cut) if suffix else cut)
    message = data_error(load_dataset, "mnist", tmp_path / "idx")
    expected = small.x_train.size
    assert str(path) in message
    assert f"200x28x28 = {expected} bytes of data, file holds {expected - 100}" in message


def test_idx_labels_longer_than_the_file_says(tmp_path, small, write_idx_folder):
    paths = write_idx_folder(tmp_path / "idx", small)
    with paths["y_test"].open("ab") as f:
        f.write(b"\x03")
    message = data_error(load_arrays, tmp_path / "idx")
    assert str(paths["y_test"]) in message and "file holds 51" in message


def test_truncated_gz(tmp_path, small, write_idx_folder):
    paths = write_idx_folder(tmp_path / "idx", small, suffix=".gz")
    raw = paths["x_train"].read_bytes()
    paths["x_train"].write_bytes(raw[: len(raw) // 2])
    message = data_error(load_dataset, "mnist", tmp_path / "idx")
    assert str(paths["x_train"]) in message and "truncated" in message


def test_gz_that_is_not_gzip(tmp_path, small, write_idx_folder):
    paths = write_idx_folder(tmp_path / "idx", small, suffix=".gz")
    write_idx(paths["y_train"].with_suffix(""), small.y_train)  # plain bytes...
    paths["y_train"].with_suffix("").rename(paths["y_train"])  # ...under a .gz name
    message = data_error(load_arrays, tmp_path / "idx")
    assert str(paths["y_train"]) in message and "cannot read" in message


@pytest.mark.parametrize("key", KEYS)
def test_idx_folder_missing_a_file(tmp_path, small, write_idx_folder, key):
    folder = tmp_path / "idx"
    paths = write_idx_folder(folder, small, suffix=".gz")
    paths[key].unlink()
    message = data_error(load_dataset, "mnist", folder)
    stem = paths[key].name.removesuffix(".gz")
    assert str(folder) in message and stem in message


def test_idx_folder_images_and_labels_disagree(tmp_path, small, write_idx_folder):
    paths = write_idx_folder(tmp_path / "idx", small)
    write_idx(paths["y_test"], small.y_test[:-1])
    message = data_error(load_arrays, tmp_path / "idx")
    assert str(tmp_path / "idx") in message and "x_test holds 50 images but y_test 49 labels" in message


def _bad_arrays(small, key, value):
    arrays = small.as_dict()
    arrays[key] = value
    return arrays


def _relabel(labels, index, value, dtype):
    labels = labels.astype(dtype)
    labels[index] = value
    return labels


BAD_ARRAYS = {
    # id: (key, make(small) -> replacement array, words the message must hold)
    "32x32-images": ("x_train", lambda s: np.pad(s.x_train, ((0, 0), (2, 2), (2, 2))), ["x_train", "(200, 32, 32)"]),
    "rgb-images": ("x_test", lambda s: np.repeat(s.x_test[..., None], 3, axis=-1), ["x_test", "(50, 28, 28, 3)"]),
    "flat-images": ("x_train", lambda s: s.x_train.reshape(len(s.x_train), -1), ["x_train", "(200, 784)"]),
    "float-images": ("x_train", lambda s: s.x_train.astype(np.float32) / 255, ["x_train", "float32", "uint8"]),
    "int64-images": ("x_test", lambda s: s.x_test.astype(np.int64), ["x_test", "int64", "uint8"]),
    "label-10": ("y_train", lambda s: _relabel(s.y_train, 5, 10, np.int64), ["y_train", "to 10", "0-9"]),
    "label-minus-1": ("y_test", lambda s: _relabel(s.y_test, 3, -1, np.int32), ["y_test", "from -1", "0-9"]),
    "float-labels": ("y_train", lambda s: s.y_train.astype(np.float64), ["y_train", "float64", "integers"]),
    "one-hot-labels": ("y_test", lambda s: np.eye(10, dtype=np.uint8)[s.y_test], ["y_test", "(50, 10)"]),
    "fewer-labels": ("y_train", lambda s: s.y_train[:-1], ["x_train holds 200 images but y_train 199 labels"]),
    "more-labels": (
        "y_test",
        lambda s: np.concatenate([s.y_test, s.y_test[:3]]),
        ["x_test holds 50 images but y_test 53 labels"],
    ),
}


@pytest.mark.parametrize("case", BAD_ARRAYS, ids=list(BAD_ARRAYS))
def test_bad_arrays_in_an_npz(tmp_path, small, write_npz, case):
    key, make, words = BAD_ARRAYS[case]
    path = write_npz(tmp_path / f"{case}.npz", **_bad_arrays(small, key, make(small)))
    message = data_error(load_dataset, "mnist", path)
    assert str(path) in message
    for word in words:
        assert word in message


def test_labels_ten_and_minus_one_together(tmp_path, small, write_npz):
    labels = small.y_train.astype(np.int16)
    labels[[0, 1]] = [10, -1]
    path = write_npz(tmp_path / "labels.npz", **_bad_arrays(small, "y_train", labels))
    message = data_error(load_dataset, "mnist", path)
    assert str(path) in message and "labels from -1 to 10, expected 0-9" in message


def test_check_arrays_directly(small):
    checked = check_arrays(*small, source="slice")
    assert_same_arrays(checked, small)
    empty = np.zeros((0, 28, 28), np.uint8)
    with pytest.raises(DataError, match="slice: x_test is empty"):
        check_arrays(small.x_train, small.y_train, empty, np.zeros(0, np.uint8), source="slice")
    with pytest.raises(DataError, match="y_train has shape"):
        check_arrays(small.x_train, small.y_train.astype(bool), small.x_test, small.y_test, source="slice")


def test_data_given_for_digits(tmp_path, small, write_npz):
    path = write_npz(tmp_path / "mnist.npz", **small.as_dict())
    message = data_error(load_dataset, "digits", path)
    assert "--data" in message and "digits" in message


@pytest.mark.parametrize("name", ["cifar10", "MNIST", ""])
def test_unknown_dataset(tmp_path, name):
    message = data_error(load_dataset, name, tmp_path)
    assert f"unknown dataset {name!r}" in message
    for known in ("mnist", "fashion_mnist", "digits"):
        assert known in message


# --- known bugs: each should be a DataError, is a traceback today ---------------------------------


def test_npy_file_instead_of_npz(tmp_path, small):
    path = tmp_path / "x_train.npy"
    np.save(path, small.x_train)
    message = data_error(load_dataset, "mnist", path)
    assert str(path) in message


def test_corrupt_compressed_npz(tmp_path, small, write_npz):
    path = write_npz(tmp_path / "corrupt.npz", compressed=True, **small.as_dict())
    raw = bytearray(path.read_bytes())
    raw[200:260] = bytes(60)  # inside x_train's deflate stream; the zip directory stays whole
    path.write_bytes(bytes(raw))
    message = data_error(load_dataset, "mnist", path)
    assert str(path) in message


def test_corrupt_gz(tmp_path, small, write_idx_folder):
    paths = write_idx_folder(tmp_path / "idx", small, suffix=".gz")
    raw = bytearray(paths["x_train"].read_bytes())
    raw[40:80] = bytes(40)
    paths["x_train"].write_bytes(bytes(raw))
    message = data_error(load_arrays, tmp_path / "idx")
    assert str(paths["x_train"]) in message


def test_dataset_source_is_a_string(tmp_path, small, write_npz):
    path = write_npz(tmp_path / "mnist.npz", **small.as_dict())
    assert isinstance(load_dataset("mnist", Path(path)).source, str)
