"""BagIt (RFC 8493) building blocks: digests, tag-file text, and readers over a folder or an object store.

Manifests are written for SHA-256 and, where this platform's OpenSSL offers it, SM3 (GB/T 32905). The
``bagit`` library only loads manifests of ``hashlib.algorithms_guaranteed`` (SM3 is not among them): it
writes and ignores ``manifest-sm3.txt``, so SM3 manifests are verified here, by :mod:`dangan.transfer.verify`.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import BinaryIO, Protocol

from dangan.errors import ObjectNotFound
from dangan.storage import ObjectStore
from dangan.storage.hashing import sm3_available

PRIMARY = "sha256"
#: Every manifest algorithm dangan knows how to write or check (checked only where hashlib offers it).
KNOWN = ("sha256", "sm3")
BAGIT_TXT = b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
CATALOG_PATH = "data/metadata/catalog.json"
OCR_PATH = "data/ocr/results.json"
FIELDS_PATH = "data/fields/fields.json"
METADATA_PATHS = (CATALOG_PATH, OCR_PATH, FIELDS_PATH)
#: The source's signature (dangan/transfer/signature.py): a tag file written last, over the tag manifest.
SIGNATURE_NAME = "dangan-signature.json"
CHUNK = 1 << 20


def algorithms() -> tuple[str, ...]:
    """Manifest algorithms written by this host: SHA-256 always, SM3 when available."""
    return (PRIMARY, "sm3") if sm3_available() else (PRIMARY,)


def tag_file_names(algs: tuple[str, ...]) -> list[str]:
    """Tag files in write order: tag manifests after what they cover, the signature (over them) last."""
    return [
        *(f"manifest-{a}.txt" for a in algs),
        "bagit.txt",
        "bag-info.txt",
        *(f"tagmanifest-{a}.txt" for a in algs),
        SIGNATURE_NAME,
    ]


def digests_of(data: bytes, algs: tuple[str, ...]) -> dict[str, str]:
    """Hex digests of an in-memory buffer."""
    return {a: hashlib.new(a, data).hexdigest() for a in algs}


def hash_stream(src: BinaryIO, algs: tuple[str, ...], keep: bool = False) -> tuple[dict[str, str], int, bytes]:
    """Read ``src`` once, hashing with every algorithm. Returns the digests, the size, and the bytes read
    when ``keep`` (masters are probed afterwards) or else just the first 1 KiB (for content sniffing)."""
    hashers = {a: hashlib.new(a) for a in algs}
    size = 0
    kept = bytearray()
    while chunk := src.read(CHUNK):
        for h in hashers.values():
            h.update(chunk)
        if keep or size < 1024:
            kept += chunk if keep else chunk[: 1024 - size]
        size += len(chunk)
    return {a: h.hexdigest() for a, h in hashers.items()}, size, bytes(kept)


def manifest_text(entries: dict[str, str]) -> bytes:
    """``digest  path`` lines sorted by path (paths are generated: ASCII, no spaces, no newlines)."""
    return "".join(f"{digest}  {path}\n" for path, digest in sorted(entries.items())).encode()


def parse_manifest(text: bytes) -> tuple[dict[str, str], list[str]]:
    """Entries of a (tag) manifest and a list of malformed or duplicate lines."""
    entries: dict[str, str] = {}
    bad: list[str] = []
    for line in text.decode("utf-8", "replace").splitlines():
        if not line.strip():
            continue
        parts = line.strip().split(None, 1)
        if len(parts) != 2 or parts[1] in entries or not re.fullmatch(r"[0-9a-fA-F]{32,128}", parts[0]):
            bad.append(line[:120])
            continue
        entries[parts[1].lstrip("*")] = parts[0].lower()
    return entries, bad


def bag_info_text(fields: list[tuple[str, str]]) -> bytes:
    """``Label: value`` lines in the given order (values are single-line by construction)."""
    return "".join(f"{k}: {' '.join(str(v).split())}\n" for k, v in fields).encode()


def parse_bag_info(text: bytes) -> dict[str, list[str]]:
    """Labels to values (labels may repeat); continuation lines are joined."""
    info: dict[str, list[str]] = {}
    last: str | None = None
    for line in text.decode("utf-8", "replace").splitlines():
        if line[:1].isspace() and last is not None:
            info[last][-1] += " " + line.strip()
        elif ":" in line:
            key, value = line.split(":", 1)
            last = key.strip()
            info.setdefault(last, []).append(value.strip())
    return info


class BagReader(Protocol):
    """Read access to a bag wherever it lies (folder on removable media, or objects at the receiver)."""

    description: str

    def read_tag(self, name: str) -> bytes | None: ...

    def open_payload(self, path: str) -> AbstractContextManager[BinaryIO]: ...

    def extra_files(self, expected: set[str]) -> list[str]: ...


class FolderBag:
    """A bag in a folder; symlinks and anything outside the folder are never followed."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).absolute()
        self.description = f"folder {self.root}"

    def _path(self, rel: str) -> Path:
        path = self.root / rel
        if path.is_symlink() or not path.resolve().is_relative_to(self.root.resolve()):
            raise FileNotFoundError(rel)
        return path

    def read_tag(self, name: str) -> bytes | None:
        try:
            return self._path(name).read_bytes()
        except (FileNotFoundError, IsADirectoryError):
            return None

    @contextmanager
    def open_payload(self, path: str) -> Iterator[BinaryIO]:
        with self._path(path).open("rb") as fh:
            yield fh

    def extra_files(self, expected: set[str]) -> list[str]:
        found: list[str] = []
        for dirpath, dirnames, filenames in os.walk(self.root):
            for name in filenames + [d for d in dirnames if (Path(dirpath) / d).is_symlink()]:
                rel = (Path(dirpath) / name).relative_to(self.root).as_posix()
                if rel not in expected or (Path(dirpath) / name).is_symlink():
                    found.append(rel)
        return sorted(found)


class StoreBag:
    """A bag at the receiving site: tag files and most payload under ``prefix``, masters at their own keys."""

    def __init__(self, store: ObjectStore, prefix: str, key_for: Callable[[str], str]) -> None:
        self.store, self.prefix, self.key_for = store, prefix, key_for
        self.description = f"{store.name} {prefix}"

    def read_tag(self, name: str) -> bytes | None:
        try:
            return self.store.get(self.prefix + name)
        except ObjectNotFound:
            return None

    @contextmanager
    def open_payload(self, path: str) -> Iterator[BinaryIO]:
        try:
            with self.store.open(self.key_for(path)) as fh:
                yield fh
        except ObjectNotFound:
            raise FileNotFoundError(path) from None

    def extra_files(self, expected: set[str]) -> list[str]:
        """Objects under the package prefix that are neither tag files nor payload stored there."""
        found = []
        for info in self.store.list(self.prefix):
            rel = info.key[len(self.prefix) :]
            if rel not in expected:
                found.append(rel)
        return found
