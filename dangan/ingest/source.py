"""Where a batch comes from: a scanner's hot folder or an S3 "inbox" prefix.

Every name that comes from outside is checked: no escaping the source root (``..``, absolute paths,
symlinks that point outside), and no two names that collide after Unicode NFC normalization.
"""

from __future__ import annotations

import fnmatch
import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from dangan.errors import NameCollision, UnsafePath
from dangan.ingest.manifest import normalize_name

DEFAULT_IGNORE = (".*", "*/.*", "Thumbs.db", "*.md5", "*.sha256")


@dataclass(frozen=True)
class SourceFile:
    """One delivered file: ``name`` is relative to the source, ``/``-separated, NFC; ``locator`` is internal."""

    name: str
    size: int
    locator: str
    problem: dict[str, object] | None = None  # set when the name itself is unacceptable


class Source(Protocol):
    description: str

    def list(self) -> list[SourceFile]: ...

    def read(self, item: SourceFile) -> bytes: ...


def _flag_collisions(files: list[SourceFile]) -> list[SourceFile]:
    groups: dict[str, list[SourceFile]] = defaultdict(list)
    for f in files:
        groups[f.name].append(f)
    out: list[SourceFile] = []
    for name, group in sorted(groups.items()):
        if len(group) == 1:
            out.append(group[0])
            continue
        for i, f in enumerate(sorted(group, key=lambda g: g.locator)):
            err = NameCollision(
                f"{len(group)} files are named {name!r} after Unicode normalization", name=name, count=len(group)
            )
            # keep every colliding file distinguishable (and its bytes kept in quarantine)
            out.append(SourceFile(f"{name}#{i + 1}", f.size, f.locator, problem=err.to_dict()))
    return out


class LocalFolderSource:
    """A scanner hot folder on a local or mounted filesystem."""

    def __init__(self, root: Path, *, ignore: tuple[str, ...] = DEFAULT_IGNORE, exclude: set[Path] | None = None):
        self.root = root.resolve()
        self.ignore = ignore
        self.exclude = {p.resolve() for p in (exclude or set())}
        self.description = f"folder {self.root}"

    def list(self) -> list[SourceFile]:
        """Every regular file below the root (recursively), sorted by name."""
        files: list[SourceFile] = []
        for dirpath, dirnames, filenames in os.walk(self.root, followlinks=False):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for d in [d for d in dirnames if (Path(dirpath) / d).is_symlink()]:
                dirnames.remove(d)  # never followed (it may lead out of the folder, or in a circle), but reported
                path = Path(dirpath) / d
                rel = normalize_name(path.relative_to(self.root).as_posix())
                if not any(fnmatch.fnmatch(rel, pat) for pat in self.ignore):
                    files.append(self._linked_folder(path, rel))
            for fn in sorted(filenames):
                path = Path(dirpath) / fn
                rel = normalize_name(path.relative_to(self.root).as_posix())
                if path.resolve() in self.exclude or any(fnmatch.fnmatch(rel, pat) for pat in self.ignore):
                    continue
                files.append(self._entry(path, rel))
        return _flag_collisions(files)

    def _linked_folder(self, path: Path, rel: str) -> SourceFile:
        """A link to a folder inside the source: listed with ``PATH_UNSAFE`` (quarantined, nothing read), so a
        scanner folder linked in rather than copied is not left out of the batch without a word."""
        err = UnsafePath(
            f"{rel} is a link to a folder; linked folders are not followed, so its files were not ingested",
            hint="Copy the folder's files into the batch folder (not a link) and run the batch again "
            "(请将文件复制到批次目录，不要使用链接，然后重新运行).",
            name=rel,
            kind="folder_link",
        )
        return SourceFile(rel, 0, str(path), problem=err.to_dict())

    def _entry(self, path: Path, rel: str) -> SourceFile:
        real = path.resolve()
        if path.is_symlink() and not real.is_relative_to(self.root):
            err = UnsafePath(f"{rel} is a link that points outside the source folder", name=rel)
            return SourceFile(rel, 0, str(path), problem=err.to_dict())
        if not real.is_file():
            err = UnsafePath(f"{rel} is not a regular file", name=rel)
            return SourceFile(rel, 0, str(path), problem=err.to_dict())
        return SourceFile(rel, real.stat().st_size, str(real))

    def read(self, item: SourceFile) -> bytes:
        path = Path(item.locator).resolve()
        if not path.is_relative_to(self.root):
            raise UnsafePath(f"{item.name} escapes the source folder", name=item.name)
        return path.read_bytes()


class StoreSource:
    """An inbox prefix on an object store (scanners upload there)."""

    def __init__(self, store: object, prefix: str, *, ignore: tuple[str, ...] = DEFAULT_IGNORE):
        from dangan.storage.base import validate_key

        self.store = store
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        if self.prefix:
            validate_key(self.prefix.rstrip("/"))
        self.ignore = ignore
        self.description = f"{getattr(store, 'name', 'store')}/{self.prefix}"

    def list(self) -> list[SourceFile]:
        files = []
        for info in self.store.list(self.prefix):  # type: ignore[attr-defined]
            rel = normalize_name(info.key[len(self.prefix) :])
            if any(fnmatch.fnmatch(rel, pat) for pat in self.ignore):
                continue
            files.append(SourceFile(rel, info.size, info.key))
        return _flag_collisions(files)

    def read(self, item: SourceFile) -> bytes:
        return self.store.get(item.locator)  # type: ignore[attr-defined]


def open_source(source: str, *, exclude: set[Path] | None = None) -> Source:
    """``source`` is a folder path or an object-store URL ``s3://bucket/prefix?...`` (see storage.factory)."""
    if source.startswith("s3://"):
        from dangan.storage.factory import open_store

        bucket_part, _, query = source[len("s3://") :].partition("?")
        bucket, _, prefix = bucket_part.partition("/")
        store = open_store(f"s3://{bucket}" + (f"?{query}" if query else ""))
        return StoreSource(store, prefix)
    root = Path(source.removeprefix("file://"))
    if not root.is_dir():
        raise UnsafePath(f"source folder {root} does not exist", hint="Give the scanner's output folder.")
    return LocalFolderSource(root, exclude=exclude)
