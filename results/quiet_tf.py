"""Importing TensorFlow without the start-up chatter its C++ core writes to stderr."""

from __future__ import annotations

import contextlib
import os
import sys


@contextlib.contextmanager
def stderr_silenced():
    """Point file descriptor 2 at /dev/null for the duration (C++ logging bypasses Python)."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def import_tensorflow() -> None:
    """Import TensorFlow and Keras once, quietly (errors still raise after stderr is back)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "tensorflow" in sys.modules:
        return
    with stderr_silenced():
        try:
            import keras  # noqa: F401
            import tensorflow

            tensorflow.config.list_physical_devices()  # CUDA's probe logs its own errors
            # tf.function retracing warnings (a new model each trial) are expected here.
            tensorflow.get_logger().setLevel("ERROR")
        except ImportError:
            pass  # re-raised below, with stderr back
    import keras  # noqa: F401, F811
