"""Loading digit datasets into MNIST's convention, with every array checked.

Every dataset arrives as uint8 images shaped (N, 28, 28, 1), white ink on black,
and uint8 labels 0-9. Images stay uint8 until the model's Rescaling layer.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import zipfile
import zlib
from pathlib import Path

import numpy as np

from search.config import DATASETS
from search.data.idx import IDXError, read_idx
from search.errors import DataError

ENV_VARS = {"mnist": "MNIST_DATA", "fashion_mnist": "FASHION_MNIST_DATA"}
DEBIAN_DIRS = {"fashion_mnist": Path("/usr/share/datasets/fashion-mnist")}
IDX_FILES = {
    "x_train": ("train-images-idx3-ubyte", 3),
    "y_train": ("train-labels-idx1-ubyte", 1),
    "x_test": ("t10k-images-idx3-ubyte", 3),
    "y_test": ("t10k-labels-idx1-ubyte", 1),
}
NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")
DIGITS_TEST_FRACTION = 0.2
DIGITS_SPLIT_SEED = 0


@dataclasses.dataclass
class Dataset:
    """Train and test arrays of one dataset, in MNIST's convention."""

    name: str
    source: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    def fingerprint(self) -> str:
        """A hash of the arrays' contents: changes when the data does."""
        digest = hashlib.sha256()
        for array in (self.x_train, self.y_train, self.x_test, self.y_test):
            digest.update(str(array.shape).encode())
            digest.update(np.ascontiguousarray(array).data)
        return digest.hexdigest()[:16]


def load_dataset(name: str = "mnist", data: str | Path | None = None) -> Dataset:
    """Load `name` from `data`, else its environment variable, else Keras' download.

    `data` (or the variable) is a Keras-layout `.npz` or a folder of the four IDX files.
    `digits` is scikit-learn's bundled set and needs no path.
    """
    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r} (choose from {', '.join(DATASETS)})")
    if name == "digits":
        if data is not None:
            raise DataError("--data does not apply to the digits dataset (it ships with scikit-learn)")
        return load_digits()
    env = ENV_VARS[name]
    if data is None and os.environ.get(env):
        data = os.environ[env]
        origin = f"${env}"
    else:
        origin = "--data"
    if data is None and name in DEBIAN_DIRS and DEBIAN_DIRS[name].is_dir():
        data = DEBIAN_DIRS[name]
    if data is None:
        return _load_from_keras(name)
    arrays = load_arrays(data, origin=origin)
    return Dataset(name, str(data), *arrays)


def load_arrays(path: str | Path, origin: str = "--data") -> tuple[np.ndarray, ...]:
    """Read and check (x_train, y_train, x_test, y_test) from an .npz or IDX folder."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{origin} {path}: no such file or folder")
    if path.is_dir():
        arrays = _read_idx_folder(path)
    else:
        arrays = _read_npz(path)
    return check_arrays(*arrays, source=str(path))


def _read_npz(path: Path) -> tuple[np.ndarray, ...]:
    try:
        if not zipfile.is_zipfile(path):
            with open(path, "rb") as f:
                starts_like_zip = f.read(4) == b"PK\x03\x04"
            if starts_like_zip:
                raise DataError(f"{path}: not a readable .npz (its zip directory is missing); is it truncated?")
            raise DataError(f"{path}: not an .npz file (expected a Keras-layout .npz or a folder of IDX files)")
        with np.load(path, allow_pickle=False) as npz:
            missing = [k for k in NPZ_KEYS if k not in npz.files]
            if missing:
                raise DataError(
                    f"{path}: missing array {missing[0]!r} (a Keras-layout .npz holds {', '.join(NPZ_KEYS)})"
                )
            return tuple(npz[k] for k in NPZ_KEYS)
    except DataError:
        raise
    except PermissionError:
        raise DataError(f"{path}: permission denied") from None
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as e:
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise DataError(f"{path}: not a readable .npz ({reason}); is it truncated or corrupt?") from None


def _find_idx_file(folder: Path, stem: str) -> Path:
    dotted = stem.replace("-idx", ".idx")  # some mirrors name them train-images.idx3-ubyte
    for name in (stem, stem + ".gz", dotted, dotted + ".gz"):
        if (folder / name).is_file():
            return folder / name
    raise DataError(f"{folder}: no {stem} (or {stem}.gz) in this folder")


def _read_idx_folder(folder: Path) -> tuple[np.ndarray, ...]:
    arrays = []
    for stem, ndim in IDX_FILES.values():
        try:
            arrays.append(read_idx(_find_idx_file(folder, stem), ndim))
        except IDXError as e:
            raise DataError(str(e)) from None
    return tuple(arrays)


def check_arrays(x_train, y_train, x_test, y_test, source: str = "data") -> tuple[np.ndarray, ...]:
    """Check shapes, dtypes, label range and lengths; return images as (N, 28, 28, 1) uint8."""
    checked = []
    for part, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
        if x.dtype != np.uint8:
            raise DataError(f"{source}: x_{part} has dtype {x.dtype}, expected uint8 pixels 0-255")
        if x.ndim == 4 and x.shape[-1] == 1:
            x = x[..., 0]
        if x.ndim != 3 or x.shape[1:] != (28, 28):
            raise DataError(f"{source}: x_{part} has shape {x.shape}, expected (N, 28, 28)")
        if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
            raise DataError(f"{source}: y_{part} has shape {y.shape} and dtype {y.dtype}, expected (N,) integers")
        if len(x) != len(y):
            raise DataError(f"{source}: x_{part} holds {len(x)} images but y_{part} {len(y)} labels")
        if len(x) == 0:
            raise DataError(f"{source}: x_{part} is empty")
        if y.min() < 0 or y.max() > 9:
            raise DataError(f"{source}: y_{part} has labels from {y.min()} to {y.max()}, expected 0-9")
        checked += [x.reshape(-1, 28, 28, 1), y.astype(np.uint8)]
    return tuple(checked)


def _load_from_keras(name: str) -> Dataset:
    from results.quiet_tf import import_tensorflow

    import_tensorflow()
    import keras

    loader = getattr(keras.datasets, name)
    try:
        arrays = loader.load_data()
    except Exception as e:  # noqa: BLE001 - any download failure gets the same advice
        env = ENV_VARS[name]
        raise DataError(
            f"cannot download {name} through Keras ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}); "
            f"point --data or {env} at a local .npz or IDX folder, or use --dataset digits, which works offline"
        ) from None
    (x_train, y_train), (x_test, y_test) = arrays
    return Dataset(name, "keras.datasets", *check_arrays(x_train, y_train, x_test, y_test, source=name))


def digits_to_mnist(images: np.ndarray) -> np.ndarray:
    """Scale scikit-learn's 8x8 digits (0-16) into MNIST's convention: 0-255, scaled into a
    20x20 box, centred by centre of mass in 28x28."""
    from PIL import Image
    from scipy import ndimage

    out = np.zeros((len(images), 28, 28), dtype=np.uint8)
    for i, image in enumerate(images):
        small = Image.fromarray((np.asarray(image) * (255.0 / 16.0)).astype(np.uint8))
        out[i, 4:24, 4:24] = np.asarray(small.resize((20, 20), Image.Resampling.BILINEAR))
        row, col = ndimage.center_of_mass(out[i])
        # Whole-pixel shifts keep strokes sharp; the clip keeps every stroke inside the frame.
        rows = np.flatnonzero(out[i].any(axis=1))
        cols = np.flatnonzero(out[i].any(axis=0))
        dy = int(np.clip(round(14 - row), -rows[0], 27 - rows[-1]))
        dx = int(np.clip(round(14 - col), -cols[0], 27 - cols[-1]))
        out[i] = ndimage.shift(out[i], (dy, dx), order=0, mode="constant")
    return out


def load_digits() -> Dataset:
    """scikit-learn's 1,797 handwritten 8x8 digits in MNIST's convention, split 80/20 with a fixed seed."""
    from sklearn.datasets import load_digits as sklearn_digits
    from sklearn.model_selection import train_test_split

    bunch = sklearn_digits()
    x = digits_to_mnist(bunch.images)
    y = bunch.target.astype(np.uint8)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=DIGITS_TEST_FRACTION, stratify=y, random_state=DIGITS_SPLIT_SEED
    )
    return Dataset("digits", "sklearn.datasets.load_digits", *check_arrays(x_train, y_train, x_test, y_test, "digits"))
