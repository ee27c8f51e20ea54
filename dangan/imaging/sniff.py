"""Content sniffing: decide a file's format from its first bytes, never from its name."""

from __future__ import annotations

__all__ = ["ACCEPTED", "SNIFF_BYTES", "sniff_format"]

#: Formats the ingest pipeline accepts; everything else that is recognized is refused by name.
ACCEPTED: frozenset[str] = frozenset({"tiff", "jpeg", "png", "pdf"})

#: How many leading bytes callers should pass (PDF allows junk before ``%PDF-`` within 1 KiB).
SNIFF_BYTES = 1024

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
    (b"II+\x00", "tiff"),  # BigTIFF, little-endian
    (b"MM\x00+", "tiff"),  # BigTIFF, big-endian
    (b"\xff\xd8\xff", "jpeg"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n", "jp2"),  # JPEG 2000 signature box
    (b"\xff\x4f\xff\x51", "jp2"),  # raw JPEG 2000 codestream
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"BM", "bmp"),
)


def sniff_format(head: bytes) -> str | None:
    """Name the format of a file from its leading bytes (pass at least :data:`SNIFF_BYTES`).

    Returns one of ``tiff``, ``jpeg``, ``png``, ``pdf`` (accepted, see :data:`ACCEPTED`) or ``jp2``,
    ``gif``, ``bmp``, ``webp`` (recognized but refused), or ``None`` when nothing matches.
    """
    for magic, name in _MAGIC:
        if head.startswith(magic):
            if name == "bmp" and len(head) < 14:
                return None  # "BM" alone is too weak a signal for a two-byte text file
            return name
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if b"%PDF-" in head[:SNIFF_BYTES]:
        return "pdf"
    return None
