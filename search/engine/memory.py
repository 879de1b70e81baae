"""Resident memory of this process: recorded after every trial, and handed back to the system between trials."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import gc
import resource
import sys


def resident_mb() -> float:
    """Current resident set size in MB (peak size where /proc is not available)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


# A search process whose resident memory grew this much since its first trial is replaced by a
# fresh one (search/cli.py), which resumes from the run directory. Each replacement costs the
# TensorFlow import and a reload; a default-preset search on MNIST grows about 18 MB a trial
# (README), so 48 MB, the first setting, would have replaced it every third trial.
RECYCLE_GROWTH_MB = 256
RECYCLE_GROWTH_FRACTION = 0.25


class Recycle(BaseException):
    """Raised between trials to end this process' share of the search: the command starts afresh
    in the same process id (exec) and resumes. A BaseException, so that no handler keeps it.
    `search_started`: when the search began (time.time()), for the fresh process to carry on."""

    search_started: float | None = None


RECYCLE_ENV = "MNIST_TUNER_RECYCLE_MB"  # overrides the growth allowed, in MB (tests recycle often with 0)


def grown_too_much(first_mb: float, now_mb: float) -> bool:
    """Whether the process grew enough since its first trial to be replaced."""
    import os

    allowed = os.environ.get(RECYCLE_ENV)
    limit = float(allowed) if allowed else max(RECYCLE_GROWTH_MB, RECYCLE_GROWTH_FRACTION * first_mb)
    return now_mb - first_mb > limit


@contextlib.contextmanager
def what_is_loaded_frozen():
    """While inside, every object Python tracked on entering (TensorFlow's, Keras', the data's) is out of
    the garbage collector's reach, so that the collections around each trial look only at what trials
    make; on leaving, they are collectable again (a test session runs many searches in one process).

    Keras Tuner and Keras' clear_session run gc.collect() twice before every trial, and release_memory
    once more after it: with TensorFlow loaded each full collection walked about 380,000 objects and
    took 0.8-1.0 s on 2 cores, 3.4 s of a 15 s trial; frozen, 0.0 s (docs/experiments.md).
    """
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def release_memory() -> None:
    """Drop Keras' graph state of the trial that ended and return freed heap pages to the system.

    Not enough on its own: TensorFlow keeps about 2 MB per model fitted in a process even after
    clear_session, gc and malloc_trim (a bare loop of Keras fits shows it), and a digits search
    grew about 5 MB a trial (815 MB at trial 10, 1,377 MB at trial 100). Hence Recycle.
    """
    import keras

    keras.backend.clear_session()  # collects the garbage itself
    _malloc_trim()


def _malloc_trim() -> None:
    name = ctypes.util.find_library("c")
    if not name or not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL(name).malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (musl has no malloc_trim)
        pass
