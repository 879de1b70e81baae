"""Fixtures shared by the space tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def batch(mnist_slice):
    """64 real MNIST images (raw uint8, (N, 28, 28, 1)) and their labels."""
    return mnist_slice.x_train[:64, ..., None], mnist_slice.y_train[:64]
