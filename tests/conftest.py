"""Shared fixtures: the digits set as MNIST-shaped arrays, a small stratified slice of the real MNIST,
and writers of data files.

Tests that need only images of MNIST's shape and convention, or labels, use `digits_slice` (or `small`):
scikit-learn's digits, offline. Only tests that measure a model on real MNIST use `mnist_slice` or
`mnist_path`; the real MNIST comes from the path in ``MNIST_DATA``, else ``../shared/data/mnist.npz``
beside the checkout, and those tests are skipped (with the reason) when it is absent.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest

# Before anything imports TensorFlow (nothing above does; the test modules come after
# conftest): keep its C++ start-up chatter out of the test output.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

TESTS_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = TESTS_DIR.parent
DEFAULT_MNIST = PROJECT_ROOT.parent / "shared" / "data" / "mnist.npz"

# The packages are imported from the checkout even when the project is not pip-installed
# (pytest puts tests/, not the project root, on sys.path).
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

# The sizes of the slice every data and split test works on.
SLICE_TRAIN = 3000
SLICE_TEST = 500
SLICE_SEED = 1234

IDX_STEMS = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


class MnistSlice(NamedTuple):
    """Real MNIST images (uint8, (N, 28, 28)) and labels (uint8, (N,)), in Keras' layout."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    def head(self, n_train: int, n_test: int) -> MnistSlice:
        return MnistSlice(self.x_train[:n_train], self.y_train[:n_train], self.x_test[:n_test], self.y_test[:n_test])

    def as_dict(self) -> dict[str, np.ndarray]:
        return self._asdict()


def _stratified_pick(y: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of `n` rows of `y`, each class in its proportion of the whole, in a shuffled order.

    Written here with numpy alone so that the fixture does not rely on the code under test.
    """
    classes, counts = np.unique(y, return_counts=True)
    quotas = np.floor(counts * n / len(y)).astype(int)
    # Hand the rows lost to rounding to the classes with the largest remainders.
    remainders = counts * n / len(y) - quotas
    for c in np.argsort(-remainders)[: n - quotas.sum()]:
        quotas[c] += 1
    picked = [rng.permutation(np.flatnonzero(y == c))[:q] for c, q in zip(classes, quotas, strict=True)]
    return rng.permutation(np.concatenate(picked))


# Fixtures that take a whole search or a model's training to build: the tests sharing one run on
# one xdist worker (pytest's --dist loadgroup), so it is built once; other tests go to whichever is free.
COSTLY_SHARED_FIXTURES = ("digits_run", "finished", "mnist_model")


def _uses_a_module_fixture(item) -> bool:
    """Whether `item` uses a module-scoped fixture (each worker that runs one of its tests builds it)."""
    definitions = getattr(getattr(item, "_fixtureinfo", None), "name2fixturedefs", {})
    return any(
        definitions[name][-1].scope == "module" for name in getattr(item, "fixturenames", ()) if name in definitions
    )


def pytest_itemcollected(item):
    """Tests that need the shared finished run (a whole pipeline) are slow too; tests that share a
    costly fixture are grouped on one worker, and so are the tests of a module that share a
    module-scoped fixture, or each worker would build it (marked as each is collected, before any
    hook that reorders or reads the items)."""
    names = getattr(item, "fixturenames", ())
    if "digits_run" in names:
        item.add_marker(pytest.mark.slow)
    shared = next((name for name in COSTLY_SHARED_FIXTURES if name in names), None)
    if shared is None and _uses_a_module_fixture(item):
        shared = item.module.__name__
    if shared is not None:
        item.add_marker(pytest.mark.xdist_group(shared))


@pytest.fixture(scope="session", autouse=True)
def own_precision_cache(tmp_path_factory):
    """`--precision auto` caches its measurement in $XDG_CACHE_HOME: the suite measures once into a folder
    of its own (shared by both xdist workers and every command it runs), never the user's ~/.cache."""
    folder = tmp_path_factory.getbasetemp().parent / "xdg-cache"
    folder.mkdir(exist_ok=True)
    before = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(folder)
    yield folder
    if before is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = before


@pytest.fixture(scope="session")
def mnist_path() -> Path:
    """The real, complete MNIST (a Keras-layout .npz or a folder of the four IDX files); skip when absent."""
    path = Path(os.environ.get("MNIST_DATA") or DEFAULT_MNIST)
    if not path.exists():
        pytest.skip(
            f"real MNIST not found at {path}: this test measures a model, or margins, on real MNIST "
            "(set MNIST_DATA to a Keras-layout mnist.npz or an IDX folder)"
        )
    return path


@pytest.fixture(scope="session")
def mnist_slice(mnist_path: Path) -> MnistSlice:
    """A seeded, stratified slice of real MNIST: 3,000 training and 500 test images."""
    rng = np.random.default_rng(SLICE_SEED)
    if mnist_path.is_dir():  # IDX files: read them with the project's own (separately tested) reader
        from search.data import load_arrays

        x_train, y_train, x_test, y_test = (a[..., 0] if a.ndim == 4 else a for a in load_arrays(mnist_path))
    else:
        with np.load(mnist_path) as npz:
            x_train, y_train, x_test, y_test = (npz[k] for k in ("x_train", "y_train", "x_test", "y_test"))
    train = _stratified_pick(y_train, SLICE_TRAIN, rng)
    test = _stratified_pick(y_test, SLICE_TEST, rng)
    arrays = (x_train[train], y_train[train], x_test[test], y_test[test])
    for a in arrays:
        a.setflags(write=False)  # shared by every test of the session: nobody may change it
    return MnistSlice(*arrays)


@pytest.fixture(scope="session")
def digits_slice() -> MnistSlice:
    """scikit-learn's digits in MNIST's convention (uint8, (N, 28, 28), white ink on black, centred):
    1,437 training and 360 test images, offline. For tests that need digit images of the right shape,
    not a model's accuracy on real MNIST."""
    from search.data import load_digits

    digits = load_digits()
    arrays = (digits.x_train[..., 0], digits.y_train, digits.x_test[..., 0], digits.y_test)
    for a in arrays:
        a.setflags(write=False)  # shared by every test of the session: nobody may change it
    return MnistSlice(*arrays)


@pytest.fixture(scope="session")
def small(digits_slice: MnistSlice) -> MnistSlice:
    """200 training and 50 test digits images: enough for the file-format tests."""
    return digits_slice.head(200, 50)


@pytest.fixture
def write_npz():
    """write_npz(path, **arrays): a real .npz file; `arrays` default to nothing but what is given."""

    def write(path: Path, compressed: bool = False, **arrays: np.ndarray) -> Path:
        (np.savez_compressed if compressed else np.savez)(path, **arrays)
        return path

    return write


@pytest.fixture
def write_idx_folder():
    """write_idx_folder(folder, data, suffix='', dotted=False): the four IDX files of `data`.

    `suffix` is '' or '.gz'; `dotted` uses mirror names such as train-images.idx3-ubyte.
    Returns {array name: file path}.
    """
    from search.data.idx import write_idx

    def write(folder: Path, data: MnistSlice, suffix: str = "", dotted: bool = False) -> dict[str, Path]:
        folder.mkdir(parents=True, exist_ok=True)
        paths = {}
        for key, stem in IDX_STEMS.items():
            name = stem.replace("-idx", ".idx") if dotted else stem
            paths[key] = folder / (name + suffix)
            write_idx(paths[key], getattr(data, key))
        return paths

    return write


@pytest.fixture
def space_file(tmp_path) -> Path:
    """A TOML file of the tiny space the command-line tests search (see runs.TINY_SPACE)."""
    from runs import write_space

    return write_space(tmp_path / "space.toml")


@pytest.fixture(scope="session")
def digits_run(tmp_path_factory) -> Path:
    """One finished digits run whose model is confident, shared by the report and predict tests:
    a small space of stable learning rates, small batches and 6 retraining epochs."""
    from search.config import RunConfig
    from search.pipeline import run_search
    from space import SpaceConfig

    space = SpaceConfig(
        conv_blocks_min=1,
        conv_blocks_max=2,
        filters_min=16,
        filters_max=32,
        dense_units_min=64,
        dense_units_max=64,
        learning_rate_min=0.01,
        learning_rate_max=0.03,
        momentum_min=0.9,
        momentum_max=0.9,
        dropout_min=0.0,
        dropout_max=0.0,
        batch_size_min=16,
        batch_size_max=16,
    )
    path = tmp_path_factory.mktemp("digits-run") / "run"
    run_search(
        RunConfig(
            dataset="digits",
            tuner="random",
            max_trials=2,
            max_epochs=2,
            epochs=6,
            run_dir=str(path),
            quiet=True,
            space=space,
        )
    )
    return path
