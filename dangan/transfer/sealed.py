"""Bags sealed for one receiving site: personal data on a USB stick is unreadable to whoever finds the stick.

``seal_folder`` writes a bag folder as one file: a header line (JSON) and the bag as a tar stream encrypted to the
receiving site's X25519 public key (from the key registry) with an ephemeral key (ECDH → HKDF-SHA256 →
ChaCha20-Poly1305 in 1 MiB chunks, STREAM construction: each chunk's nonce holds its counter and a last-chunk
flag, and the header is authenticated with every chunk, so a reordered, truncated or extended file fails).
``open_sealed`` decrypts at the receiver into a private folder, refusing anything but plain files with safe names
and bounding the size, before the usual verification (signature, fixity, 四性检测) runs on the folder.

Encryption hides the content; it does not replace the source's signature inside the bag (anyone may encrypt
to a public key).
"""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import struct
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import JsonValue

from dangan.config import Settings
from dangan.transfer.checks import check_path
from dangan.transfer.errors import BagRefused
from dangan.transfer.keys import encryption_private_keys, encryption_public_key

if TYPE_CHECKING:
    from dangan.transfer.driver import TransferOutcome
    from dangan.transfer.protocol import Opener
    from dangan.transfer.retry import RetryPolicy

FORMAT = "dangan-sealed-bag/1"
CHUNK = 1 << 20
MAX_HEADER = 4096
_TAG_NAMES_OK = ("bagit.txt", "bag-info.txt", "dangan-signature.json")


def _refuse(message: str, **details: Any) -> BagRefused:
    return BagRefused(
        f"sealed bag refused: {message}",
        hint="Ask the source site to export and seal the package again for this site (`dangan package export "
        "--seal-for SITE`). / 加密包无法打开，请源单位重新导出。",
        **details,
    )


def _key(shared: bytes, salt: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=FORMAT.encode()).derive(shared)


def _nonce(prefix: bytes, counter: int, last: bool) -> bytes:
    return prefix + struct.pack(">IB", counter, 1 if last else 0)


class _ChunkWriter(io.RawIOBase):
    """A write-only stream that encrypts what ``tarfile`` writes, chunk by chunk."""

    def __init__(self, out: BinaryIO, aead: ChaCha20Poly1305, prefix: bytes, header: bytes) -> None:
        self.out, self.aead, self.prefix, self.header = out, aead, prefix, header
        self.buf = bytearray()
        self.counter = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.buf += data
        while len(self.buf) > CHUNK:  # keep at least one byte back: the last chunk is written by finish()
            self._emit(bytes(self.buf[:CHUNK]), last=False)
            del self.buf[:CHUNK]
        return len(data)

    def _emit(self, plain: bytes, last: bool) -> None:
        sealed = self.aead.encrypt(_nonce(self.prefix, self.counter, last), plain, self.header)
        self.out.write(struct.pack(">I", len(sealed)) + sealed)
        self.counter += 1

    def finish(self) -> None:
        self._emit(bytes(self.buf), last=True)
        self.buf.clear()


def seal_folder(settings: Settings, folder: Path, out_file: Path, *, to_site: str, from_site: str) -> dict[str, str]:
    """Encrypt the bag in ``folder`` to ``to_site``'s registered key, as ``out_file`` (written atomically)."""
    recipient = encryption_public_key(settings, to_site)
    ephemeral = X25519PrivateKey.generate()
    salt, prefix = os.urandom(16), os.urandom(7)
    header = {
        "format": FORMAT,
        "source_site": from_site,
        "recipient_site": to_site,
        "recipient_key_id": recipient.key_id,
        "ephemeral": base64.b64encode(
            ephemeral.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        ).decode(),
        "salt": base64.b64encode(salt).decode(),
        "nonce_prefix": base64.b64encode(prefix).decode(),
    }
    header_line = json.dumps(header, sort_keys=True).encode() + b"\n"
    aead = ChaCha20Poly1305(_key(ephemeral.exchange(recipient.public), salt))
    out_file.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out_file.parent, prefix=".sealing-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(header_line)
            writer = _ChunkWriter(out, aead, prefix, header_line)
            with tarfile.open(fileobj=writer, mode="w|", format=tarfile.PAX_FORMAT) as tar:
                for path in sorted(p for p in Path(folder).rglob("*") if p.is_file() and not p.is_symlink()):
                    tar.add(path, arcname=path.relative_to(folder).as_posix(), recursive=False)
            writer.finish()
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, out_file)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return {"path": str(out_file), "recipient_site": to_site, "recipient_key_id": recipient.key_id}


def is_sealed(path: Path) -> bool:
    """True when ``path`` is a file whose first line is a sealed bag's header."""
    if not path.is_file():
        return False
    with path.open("rb") as fh:
        return FORMAT.encode() in fh.readline(MAX_HEADER)


class _ChunkReader(io.RawIOBase):
    """Decrypts chunk by chunk; raises :class:`BagRefused` on any tampering, truncation or extension."""

    def __init__(self, src: BinaryIO, aead: ChaCha20Poly1305, prefix: bytes, header: bytes) -> None:
        self.src, self.aead, self.prefix, self.header = src, aead, prefix, header
        self.buf = b""
        self.counter = 0
        self.done = False

    def readable(self) -> bool:
        return True

    def _next(self) -> None:
        size_bytes = self.src.read(4)
        if len(size_bytes) < 4:
            raise _refuse("the file ends before its last chunk (truncated)")
        (size,) = struct.unpack(">I", size_bytes)
        if size > CHUNK + 16:
            raise _refuse(f"chunk {self.counter} is larger than any chunk dangan writes")
        sealed = self.src.read(size)
        for last in (False, True):
            try:
                plain = self.aead.decrypt(_nonce(self.prefix, self.counter, last), sealed, self.header)
            except InvalidTag:
                continue
            self.counter += 1
            self.buf += plain
            if last:
                self.done = True
                if self.src.read(1):
                    raise _refuse("data after the last chunk")
            return
        raise _refuse(f"chunk {self.counter} does not decrypt (wrong key, or the file was changed)")

    def readinto(self, target: Any) -> int:
        while not self.buf and not self.done:
            self._next()
        n = min(len(target), len(self.buf))
        target[:n] = self.buf[:n]
        self.buf = self.buf[n:]
        return n


def _header(fh: BinaryIO) -> tuple[bytes, dict[str, JsonValue]]:
    line = fh.readline(MAX_HEADER)
    try:
        header = json.loads(line)
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise ValueError("format")
        return line, header
    except (ValueError, AttributeError, RecursionError) as exc:
        raise _refuse(f"not a sealed dangan bag ({type(exc).__name__})") from exc


def _members(tar: tarfile.TarFile, max_bytes: int, max_files: int) -> Iterator[tarfile.TarInfo]:
    total = 0
    for files, member in enumerate(tar, start=1):
        name = member.name
        if not member.isfile():
            raise _refuse(f"{name!r} is not a plain file (links and devices are refused)", files=[name[:200]])
        if not (name in _TAG_NAMES_OK or name.startswith(("manifest-", "tagmanifest-")) or check_path(name) is None):
            raise _refuse(f"unsafe name {name[:200]!r} in the sealed bag", files=[name[:200]])
        total += member.size
        if total > max_bytes or files > max_files:
            raise _refuse(f"more than {max_bytes} bytes or {max_files} files", files=[name[:200]])
        yield member


def open_sealed(
    settings: Settings, sealed: Path, site: str, *, max_bytes: int = 64 << 30, max_files: int = 200_000
) -> Path:
    """Decrypt a sealed bag addressed to ``site`` into a new private folder under the data folder; the caller
    removes it (:func:`discard`). Nothing is extracted unless every chunk authenticates."""
    with sealed.open("rb") as fh:
        header_line, header = _header(fh)
        if header.get("recipient_site") != site:
            raise _refuse(f"sealed for site {header.get('recipient_site')}, not {site}")
        keys = encryption_private_keys(settings, site)
        private = keys.get(str(header.get("recipient_key_id")))
        if private is None:
            raise _refuse(f"sealed to key {header.get('recipient_key_id')}, which this site does not hold")
        try:
            ephemeral = X25519PublicKey.from_public_bytes(base64.b64decode(str(header["ephemeral"])))
            salt, prefix = base64.b64decode(str(header["salt"])), base64.b64decode(str(header["nonce_prefix"]))
        except (KeyError, ValueError) as exc:
            raise _refuse("malformed header") from exc
        if len(prefix) != 7:
            raise _refuse("malformed header")
        aead = ChaCha20Poly1305(_key(private.exchange(ephemeral), salt))
        work = settings.data_dir / "incoming"
        work.mkdir(parents=True, exist_ok=True, mode=0o700)
        target = Path(tempfile.mkdtemp(dir=work, prefix="sealed-"))
        try:
            reader = io.BufferedReader(_ChunkReader(fh, aead, prefix, header_line), buffer_size=CHUNK)
            with tarfile.open(fileobj=reader, mode="r|") as tar:
                for member in _members(tar, max_bytes, max_files):
                    dest = target / member.name
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    src = tar.extractfile(member)
                    assert src is not None
                    with dest.open("wb") as out:
                        shutil.copyfileobj(src, out, CHUNK)
            while reader.read(CHUNK):  # the tar end marker may come before the last chunk: authenticate it too
                pass
        except (tarfile.TarError, EOFError) as exc:
            discard(target)
            raise _refuse(f"the decrypted content is not a tar stream ({exc})") from exc
        except BaseException:
            discard(target)
            raise
    return target


def discard(folder: Path) -> None:
    """Remove a decrypted working folder (personal data in clear)."""
    shutil.rmtree(folder, ignore_errors=True)


def export_sealed(
    settings: Settings, resident_id: str, site: str, out_file: Path, *, to_site: str, actor: str | None = None
) -> dict[str, str | int]:
    """Export a person's bag for ``to_site`` and seal it as ``out_file``; the clear folder never leaves the
    data folder and is removed afterwards."""
    from dangan.transfer.offline import export_package

    work = settings.data_dir / "outgoing"
    work.mkdir(parents=True, exist_ok=True, mode=0o700)
    folder = Path(tempfile.mkdtemp(dir=work, prefix="bag-"))
    try:
        result = export_package(settings, resident_id, site, folder / "bag", to_site=to_site, actor=actor)
        sealed = seal_folder(settings, folder / "bag", out_file, to_site=to_site, from_site=site)
    finally:
        discard(folder)
    return {**result, **sealed}


def import_sealed(
    settings: Settings,
    sealed: Path,
    site: str,
    *,
    actor: str | None = None,
    opener: Opener | None = None,
    retry: RetryPolicy | None = None,
) -> TransferOutcome:
    """Open a sealed bag addressed to ``site`` and import it; the clear folder is removed whatever happens."""
    from dangan.transfer.offline import import_package

    folder = open_sealed(settings, sealed, site)
    try:
        return import_package(settings, folder, site, actor=actor, opener=opener, retry=retry)
    finally:
        discard(folder)
