"""Fixtures shared by the space tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def batch(digits_slice):
    """64 digits images in MNIST's convention (raw uint8, (N, 28, 28, 1)) and their labels."""
    return digits_slice.x_train[:64, ..., None], digits_slice.y_train[:64]
