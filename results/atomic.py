"""Atomic file writes for the report: a temp file beside the target, then os.replace."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_bytes(target: str | Path, data: bytes) -> None:
    """Write `data` to `target` atomically: a reader sees the old file or the new one, never half of it."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it 0600; a report is meant to be shared
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_text(target: str | Path, text: str) -> None:
    """Write `text` (UTF-8) to `target` atomically."""
    write_bytes(target, text.encode("utf-8"))


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
