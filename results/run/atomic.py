"""Atomic file writes: a temp file beside the target, then a rename. A killed run never
leaves a half-written file; the temp file it leaves names its writer, so that the next run can
tell it from one being written now (stale_temp_files)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import tempfile
import time
from pathlib import Path

# A temp file from a host whose processes cannot be checked from here (a worker elsewhere
# writing to a shared disk) counts as stale once no write could still be going on.
FOREIGN_STALE_SECONDS = 3600
_TEMP = re.compile(r"^\..+\.w-(?P<host>[^.]*)-(?P<pid>\d+)\.[^.]+\.tmp")


@contextlib.contextmanager
def atomic_path(target: str | Path, suffix: str = ""):
    """Yield a temp path beside `target`; on success rename it over `target`, else remove it."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{target.name}.w-{_host()}-{os.getpid()}."
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=f".tmp{suffix}", dir=target.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())
    try:
        yield Path(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def stale_temp_files(directory: str | Path) -> list[Path]:
    """Temp files under `directory` (at any depth) whose writer is gone: killed mid-write, its
    file was never renamed. A file whose writer on this host still runs is not listed."""
    stale, host = [], _host()
    for path in sorted(Path(directory).rglob(".*.tmp*")):
        match = _TEMP.match(path.name)
        if not path.is_file() or match is None:
            continue
        if match["host"] == host:
            gone = not _running(int(match["pid"]))
        else:
            gone = _age(path) > FOREIGN_STALE_SECONDS
        if gone:
            stale.append(path)
    return stale


def _host() -> str:
    # Dots would make the file name ambiguous; the first label is enough to tell hosts apart.
    return re.sub(r"[^A-Za-z0-9_]", "_", socket.gethostname().split(".")[0])


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _age(path: Path) -> float:
    try:
        return time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return 0.0


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_bytes(target: str | Path, data: bytes) -> None:
    """Write `data` to `target` atomically."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def write_text(target: str | Path, text: str) -> None:
    """Write `text` (UTF-8) to `target` atomically."""
    write_bytes(target, text.encode("utf-8"))


def write_json(target: str | Path, obj) -> None:
    """Write `obj` as indented JSON to `target` atomically."""
    write_text(target, json.dumps(obj, indent=2, sort_keys=False, default=_jsonable) + "\n")


def _jsonable(value):
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def save_model(model, target: str | Path) -> None:
    """Save a Keras model to `target` (.keras) atomically."""
    with atomic_path(target, suffix=".keras") as tmp:
        model.save(tmp)
