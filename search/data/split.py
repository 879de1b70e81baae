"""Stratified, seeded subsetting and train/validation splitting (never touching the test set)."""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import train_test_split

from search.errors import SplitError


def stratified_subset(x: np.ndarray, y: np.ndarray, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Keep `n` of the images, each class in its original proportion."""
    if n <= 0:
        raise SplitError(f"--subset must be positive, got {n}")
    if n >= len(x):
        return x, y
    try:
        x_kept, _, y_kept, _ = train_test_split(x, y, train_size=n, stratify=y, random_state=seed)
    except ValueError as e:
        raise SplitError(f"--subset {n}: {e}") from None
    return x_kept, y_kept


def train_val_split(
    x: np.ndarray, y: np.ndarray, val_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split into (x_train, y_train, x_val, y_val), stratified by label and seeded."""
    if not 0 < val_fraction < 1:
        raise SplitError(f"--val-fraction must be between 0 and 1 (exclusive), got {val_fraction}")
    try:
        x_train, x_val, y_train, y_val = train_test_split(x, y, test_size=val_fraction, stratify=y, random_state=seed)
    except ValueError as e:
        raise SplitError(f"--val-fraction {val_fraction} of {len(x)} images: {e}") from None
    return x_train, y_train, x_val, y_val
