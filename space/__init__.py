"""The search space: what a candidate CNN may look like.

The ranges (`SpaceConfig`) import nothing heavy; the model builders import Keras when
first used, so a bad option can be refused before TensorFlow loads.
"""

from space.config import SpaceConfig, SpaceError, max_pooling_blocks

__all__ = [
    "averaged",
    "CNNHyperModel",
    "SpaceConfig",
    "SpaceError",
    "build_cnn",
    "compile_cnn",
    "max_pooling_blocks",
    "shift_averaged",
]


def __getattr__(name):
    if name in ("CNNHyperModel", "averaged", "build_cnn", "compile_cnn", "shift_averaged"):
        from space import hypermodel

        return getattr(hypermodel, name)
    raise AttributeError(f"module 'space' has no attribute {name!r}")
