"""Streaming SHA-256 helpers: hash while reading or writing, never holding a whole object in memory."""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

CHUNK_SIZE = 1 << 20
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def sm3_available() -> bool:
    """True when this platform's OpenSSL provides SM3 (GB/T 32905) to ``hashlib.new("sm3")``."""
    try:
        hashlib.new("sm3")
    except ValueError:
        return False
    return True


def normalize_sha256(value: str) -> str:
    """Lower-case a hex SHA-256 digest, rejecting anything that is not 64 hex digits."""
    text = (value or "").strip().lower()
    if not _HEX64.match(text):
        raise ValueError("sha256 must be 64 hexadecimal digits")
    return text


def sha256_bytes(data: bytes | bytearray) -> str:
    """Hex SHA-256 of an in-memory buffer."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    with path.open("rb") as fh:
        return hash_stream(fh)[0]


def hash_stream(src: BinaryIO) -> tuple[str, int]:
    """Read ``src`` to its end; return ``(hex sha256, bytes read)``."""
    digest = hashlib.sha256()
    size = 0
    while chunk := src.read(CHUNK_SIZE):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def copy_hashing(src: BinaryIO, dst: BinaryIO) -> tuple[str, int]:
    """Copy ``src`` to ``dst`` chunk by chunk, hashing on the way; return ``(hex sha256, size)``."""
    digest = hashlib.sha256()
    size = 0
    while chunk := src.read(CHUNK_SIZE):
        digest.update(chunk)
        dst.write(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


@contextmanager
def open_source(data: bytes | bytearray | BinaryIO | Path) -> Iterator[BinaryIO]:
    """Present any accepted ``put`` input as a readable binary stream (caller's streams stay open)."""
    if isinstance(data, bytes | bytearray):
        yield io.BytesIO(data)
    elif isinstance(data, Path):
        with data.open("rb") as fh:
            yield fh
    elif callable(getattr(data, "read", None)):
        yield data
    else:
        raise TypeError(f"cannot store data of type {type(data).__name__}")


class HashingReader(io.RawIOBase):
    """Read-through wrapper that hashes exactly the bytes handed to the consumer (e.g. an uploader)."""

    def __init__(self, src: BinaryIO) -> None:
        super().__init__()
        self._src = src
        self._digest = hashlib.sha256()
        self.size = 0

    def readable(self) -> bool:
        return True

    def read(self, n: int | None = -1) -> bytes:
        chunk = self._src.read(-1 if n is None else n)
        self._digest.update(chunk)
        self.size += len(chunk)
        return chunk

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        chunk = self.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)

    def hexdigest(self) -> str:
        """SHA-256 of everything read so far."""
        return self._digest.hexdigest()
