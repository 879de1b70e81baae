"""Ctrl-C that is never lost.

Python raises KeyboardInterrupt wherever the main thread happens to be; when that is a
weakref callback or a finalizer (Keras Tuner runs gc.collect() before every trial) the
exception is printed and dropped, and the search goes on. So the first signal only sets a
flag, which the training loop checks after every batch and the tuner between trials; a
second one raises at once.
"""

from __future__ import annotations

import signal

_requested = False


def install() -> None:
    """Make SIGINT, SIGTERM and SIGHUP stop the search as Ctrl-C does (also where a shell started it
    with SIGINT ignored): state saved, exit 130, the resume command printed."""
    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        if hasattr(signal, name):  # no SIGHUP on Windows
            signal.signal(getattr(signal, name), _on_signal)


def _on_signal(signum, frame):
    global _requested
    if _requested:
        raise KeyboardInterrupt
    _requested = True


def requested() -> bool:
    """Whether a stop was requested."""
    return _requested


def check() -> None:
    """Raise KeyboardInterrupt if a stop was requested and not yet acted on."""
    if _requested:
        raise KeyboardInterrupt
