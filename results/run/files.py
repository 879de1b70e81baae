"""Reading a run directory's files with a reason when one is damaged: missing, a folder, unreadable,
empty, cut short, garbage, or of the wrong shape. `search` uses it to repair a run, `results` to
refuse one with one line. Imports nothing heavy."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path


class DamagedFile(ValueError):
    """A file of a run directory that cannot be used; str() is 'PATH: why'."""

    def __init__(self, path: str | Path, why: str):
        super().__init__(f"{path}: {why}")
        self.path = Path(path)
        self.why = why


def read_bytes(path: str | Path) -> bytes:
    """The bytes of the file at `path`; DamagedFile when missing, a folder, unreadable or empty."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        why = "a broken link" if path.is_symlink() else "missing"
        raise DamagedFile(path, why) from None
    except IsADirectoryError:
        raise DamagedFile(path, "a folder where a file should be") from None
    except OSError as e:
        raise DamagedFile(path, f"unreadable ({e.strerror or e})") from None
    if not data:
        raise DamagedFile(path, "empty (0 bytes)")
    return data


def read_json(path: str | Path, keys: tuple[str, ...] = (), kind: type = dict):
    """The JSON value at `path`, which must be a `kind` (holding `keys`, for an object)."""
    data = read_bytes(path)
    try:
        value = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise DamagedFile(path, "not text (garbage bytes)") from None
    except ValueError as e:
        raise DamagedFile(path, f"not valid JSON, cut short or overwritten ({e})") from None
    if not isinstance(value, kind):
        raise DamagedFile(path, f"JSON {_kind_name(type(value))} where {_kind_name(kind)} should be")
    missing = [k for k in keys if k not in value] if isinstance(value, dict) else []
    if missing:
        raise DamagedFile(path, f"no {', '.join(repr(k) for k in missing)} in it")
    return value


def _kind_name(kind: type) -> str:
    names = {dict: "an object", list: "a list", str: "a string", int: "a number", float: "a number"}
    return names.get(kind, "null" if kind is type(None) else kind.__name__)


def check_zip(path: str | Path, members: tuple[str, ...] = ()) -> None:
    """A whole zip archive (every member's checksum right) holding `members` (a .keras model, an .npz)."""
    read_bytes(path)  # the reasons for a missing, unreadable or empty file
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:
        raise DamagedFile(path, f"not a whole zip archive, cut short or overwritten ({e})") from None
    if bad is not None:
        raise DamagedFile(path, f"damaged: {bad} in it fails its checksum")
    missing = [m for m in members if m not in names]
    if missing:
        raise DamagedFile(path, f"no {', '.join(missing)} in it")


def check_hdf5(path: str | Path) -> None:
    """An HDF5 file (a Keras weights checkpoint) whose every array reads back."""
    read_bytes(path)
    import h5py

    def read(name, item):
        if isinstance(item, h5py.Dataset):
            item[()]

    try:
        with h5py.File(path, "r") as f:
            f.visititems(read)
    except (OSError, ValueError, KeyError, RuntimeError) as e:
        raise DamagedFile(
            path, f"not a whole HDF5 file, cut short or overwritten ({' '.join(str(e).split())})"
        ) from None


def check_csv(path: str | Path, columns: tuple[str, ...]) -> None:
    """A CSV file of UTF-8 text with `columns` in its header and every row as long as the header."""
    import csv
    import io

    data = read_bytes(path)
    try:
        rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    except UnicodeDecodeError:
        raise DamagedFile(path, "not text (garbage bytes)") from None
    except csv.Error as e:
        raise DamagedFile(path, f"not valid CSV ({e})") from None
    missing = [c for c in columns if c not in rows[0]]
    if missing:
        raise DamagedFile(path, f"no {', '.join(missing)} column")
    short = [i for i, row in enumerate(rows[1:], start=2) if len(row) != len(rows[0])]
    if short:
        raise DamagedFile(path, f"line {short[0]} has {len(rows[short[0] - 1])} of {len(rows[0])} cells (cut short?)")


def problem(check, path: str | Path, *args) -> DamagedFile | None:
    """The DamagedFile `check(path, *args)` raises, or None when the file is sound."""
    try:
        check(path, *args)
    except DamagedFile as e:
        return e
    return None


def exists(path: str | Path) -> bool:
    """Whether anything is at `path`, a broken link included."""
    return os.path.lexists(path)
