"""The validation split and the subset: stratified, disjoint, seeded, the right sizes."""

from __future__ import annotations

import math

import numpy as np
import pytest

from search.data import SplitError, stratified_subset, train_val_split


def proportions(labels: np.ndarray) -> np.ndarray:
    return np.bincount(labels, minlength=10) / len(labels)


# MNIST's training-set class counts (a published fact, not read from any file), scaled by 1/20:
# 3,000 labels in MNIST's own uneven proportions.
MNIST_TRAIN_COUNTS = (5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949)


@pytest.fixture(scope="module")
def labels() -> np.ndarray:
    """3,000 labels in MNIST's class proportions, shuffled: what a split sees, without the images."""
    counts = np.round(np.array(MNIST_TRAIN_COUNTS) / 20).astype(int)
    assert counts.sum() == 3000
    made = np.repeat(np.arange(10, dtype=np.uint8), counts)
    return np.random.default_rng(1234).permutation(made)


@pytest.fixture(scope="module")
def images(labels) -> np.ndarray:
    """One distinct made image (uint8, 28x28) per label: rows whose content says which row they were."""
    return np.random.default_rng(5678).integers(0, 256, (len(labels), 28, 28), dtype=np.uint8)


@pytest.fixture(scope="module")
def ids(labels) -> np.ndarray:
    """One identity per row: splitting these says exactly which rows went where."""
    return np.arange(len(labels))


@pytest.mark.parametrize("val_fraction", [0.1, 0.25])
def test_split_sizes(ids, labels, val_fraction):
    id_train, y_train, id_val, y_val = train_val_split(ids, labels, val_fraction, seed=0)
    n_val = math.ceil(val_fraction * len(ids))
    assert len(id_val) == len(y_val) == n_val
    assert len(id_train) == len(y_train) == len(ids) - n_val


@pytest.mark.parametrize("val_fraction", [0.1, 0.25])
def test_split_is_disjoint_and_complete(ids, labels, val_fraction):
    id_train, y_train, id_val, y_val = train_val_split(ids, labels, val_fraction, seed=3)
    assert len(np.unique(id_train)) == len(id_train) and len(np.unique(id_val)) == len(id_val)
    assert np.intersect1d(id_train, id_val).size == 0
    np.testing.assert_array_equal(np.sort(np.concatenate([id_train, id_val])), ids)
    # Every label travels with its own row.
    np.testing.assert_array_equal(y_train, labels[id_train])
    np.testing.assert_array_equal(y_val, labels[id_val])


def test_split_keeps_images_with_their_labels(images, labels, ids):
    x, y = images, labels
    x_train, y_train, x_val, y_val = train_val_split(x, y, 0.1, seed=5)
    id_train, _, id_val, _ = train_val_split(ids, y, 0.1, seed=5)
    # The same seed and labels pick the same rows whatever the rows hold.
    np.testing.assert_array_equal(x_train, x[id_train])
    np.testing.assert_array_equal(x_val, x[id_val])
    np.testing.assert_array_equal(y_train, y[id_train])
    np.testing.assert_array_equal(y_val, y[id_val])
    assert x_train.dtype == x_val.dtype == np.uint8
    assert x_train.shape[1:] == x_val.shape[1:] == (28, 28)


@pytest.mark.parametrize("val_fraction", [0.1, 0.25])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_split_is_stratified(labels, ids, val_fraction, seed):
    _, y_train, _, y_val = train_val_split(ids, labels, val_fraction, seed=seed)
    whole = proportions(labels)
    assert np.abs(proportions(y_train) - whole).max() < 0.01
    assert np.abs(proportions(y_val) - whole).max() < 0.01
    assert set(np.unique(y_val)) == set(range(10))


def test_split_is_seeded(ids, labels):
    first = train_val_split(ids, labels, 0.1, seed=42)
    again = train_val_split(ids, labels, 0.1, seed=42)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    other = train_val_split(ids, labels, 0.1, seed=43)
    assert not np.array_equal(np.sort(first[2]), np.sort(other[2])), "another seed picks another validation set"


@pytest.mark.parametrize("val_fraction", [0, 1, -0.1, 1.5, 0.0, 1.0, float("nan")])
def test_split_rejects_fractions_outside_0_1(ids, labels, val_fraction):
    with pytest.raises(SplitError, match="--val-fraction") as info:
        train_val_split(ids, labels, val_fraction, seed=0)
    assert str(val_fraction) in str(info.value)
    assert "\n" not in str(info.value)


def test_split_too_small_for_every_class(ids, labels):
    # 0.1% of 3,000 rows is 3 validation images: too few to hold each of 10 classes.
    with pytest.raises(SplitError, match="--val-fraction 0.001 of 3000 images") as info:
        train_val_split(ids, labels, 0.001, seed=0)
    assert "\n" not in str(info.value)


def test_split_with_a_class_of_one_image(ids, labels):
    y = labels.copy()
    y[np.flatnonzero(y == 9)[1:]] = 8  # leave a single 9
    with pytest.raises(SplitError, match="--val-fraction"):
        train_val_split(ids, y, 0.1, seed=0)


@pytest.mark.parametrize("n", [1000, 333, 10])
def test_subset_exact_size_and_stratified(ids, labels, n):
    kept_ids, kept_y = stratified_subset(ids, labels, n, seed=0)
    assert len(kept_ids) == len(kept_y) == n
    assert len(np.unique(kept_ids)) == n
    assert np.isin(kept_ids, ids).all()
    np.testing.assert_array_equal(kept_y, labels[kept_ids])
    # Each class within one image of its share.
    counts = np.bincount(kept_y, minlength=10)
    assert np.abs(counts - proportions(labels) * n).max() <= 1
    if n >= 1000:
        assert np.abs(proportions(kept_y) - proportions(labels)).max() < 0.01


def test_subset_of_images(images, labels, ids):
    x, y = images, labels
    x_kept, y_kept = stratified_subset(x, y, 500, seed=9)
    id_kept, _ = stratified_subset(ids, y, 500, seed=9)
    np.testing.assert_array_equal(x_kept, x[id_kept])
    np.testing.assert_array_equal(y_kept, y[id_kept])


def test_subset_is_seeded(ids, labels):
    a, _ = stratified_subset(ids, labels, 500, seed=7)
    b, _ = stratified_subset(ids, labels, 500, seed=7)
    c, _ = stratified_subset(ids, labels, 500, seed=8)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(np.sort(a), np.sort(c))


@pytest.mark.parametrize("extra", [0, 1, 10_000])
def test_subset_of_at_least_everything_returns_everything(ids, labels, extra):
    kept_ids, kept_y = stratified_subset(ids, labels, len(ids) + extra, seed=0)
    np.testing.assert_array_equal(kept_ids, ids)
    np.testing.assert_array_equal(kept_y, labels)


@pytest.mark.parametrize("n", [0, -1, -500])
def test_subset_rejects_non_positive_sizes(ids, labels, n):
    with pytest.raises(SplitError, match=f"--subset must be positive, got {n}"):
        stratified_subset(ids, labels, n, seed=0)


def test_subset_smaller_than_the_number_of_classes(ids, labels):
    with pytest.raises(SplitError, match="--subset 5") as info:
        stratified_subset(ids, labels, 5, seed=0)
    assert "\n" not in str(info.value)


def test_subset_then_split_stays_disjoint_and_stratified(ids, labels):
    """What a quick run does: --subset 1000, then the validation split of what is kept."""
    kept_ids, kept_y = stratified_subset(ids, labels, 1000, seed=11)
    id_train, y_train, id_val, y_val = train_val_split(kept_ids, kept_y, 0.25, seed=11)
    assert len(id_val) == 250 and len(id_train) == 750
    assert np.intersect1d(id_train, id_val).size == 0
    assert set(id_train) | set(id_val) == set(kept_ids)
    np.testing.assert_array_equal(y_val, labels[id_val])
    assert np.abs(proportions(y_val) - proportions(labels)).max() < 0.015
