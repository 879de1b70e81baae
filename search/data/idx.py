"""Reading MNIST's IDX files (plain or gzip-compressed) with their sizes checked."""

from __future__ import annotations

import gzip
import math
import zlib
from pathlib import Path

import numpy as np

from search.errors import DataError

UBYTE = 0x08


class IDXError(DataError):
    """An IDX file that is missing, truncated or not what it claims to be."""


def read_idx(path: str | Path, ndim: int) -> np.ndarray:
    """Read an unsigned-byte IDX file of `ndim` dimensions (3 for images, 1 for labels)."""
    path = Path(path)
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                raw = f.read()
        else:
            raw = path.read_bytes()
    except FileNotFoundError:
        raise IDXError(f"{path}: no such file") from None
    except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as e:
        raise IDXError(f"{path}: cannot read ({e}); is it truncated?") from None
    if len(raw) < 4:
        raise IDXError(f"{path}: {len(raw)} bytes, too short for an IDX header")
    magic = int.from_bytes(raw[:4], "big")
    expected = (UBYTE << 8) | ndim
    if magic != expected:
        raise IDXError(f"{path}: magic number 0x{magic:08x}, expected 0x{expected:08x} (unsigned-byte IDX, {ndim}-d)")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise IDXError(f"{path}: header truncated ({len(raw)} bytes)")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    size = math.prod(shape)
    if len(raw) - header != size:
        raise IDXError(
            f"{path}: header says {'x'.join(map(str, shape))} = {size} bytes of data, file holds {len(raw) - header}"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def write_idx(path: str | Path, array: np.ndarray) -> None:
    """Write a uint8 array as an IDX file (gzip-compressed when the name ends in .gz)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = ((UBYTE << 8) | array.ndim).to_bytes(4, "big")
    header += b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    data = header + array.tobytes()
    path = Path(path)
    if path.suffix == ".gz":
        with gzip.open(path, "wb") as f:
            f.write(data)
    else:
        path.write_bytes(data)
