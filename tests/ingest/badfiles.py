"""Deliberately bad scanner files, made by hand so each test controls exactly what is wrong."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

from PIL import Image


def good_png(text_shade: int = 0, size: tuple[int, int] = (600, 800), dpi: int = 300) -> bytes:
    im = Image.new("L", size, 255)
    for y in range(100, 700, 40):  # a few "text" bars so the page is not blank
        im.paste(text_shade, (60, y, 540, y + 12))
    buf = io.BytesIO()
    im.save(buf, "PNG", dpi=(dpi, dpi))
    return buf.getvalue()


def png_bomb(width: int = 40000, height: int = 40000) -> bytes:
    """A tiny PNG whose header declares width x height pixels (must be refused before decoding)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def multipage_tiff(pages: int = 3) -> bytes:
    frames = [Image.open(io.BytesIO(good_png())) for _ in range(pages)]
    buf = io.BytesIO()
    frames[0].save(buf, "TIFF", save_all=True, append_images=frames[1:], compression="tiff_lzw", dpi=(300, 300))
    return buf.getvalue()


def jpeg() -> bytes:
    buf = io.BytesIO()
    Image.open(io.BytesIO(good_png())).convert("RGB").save(buf, "JPEG", quality=90, dpi=(300, 300))
    return buf.getvalue()


def gif() -> bytes:
    buf = io.BytesIO()
    Image.new("L", (50, 50), 128).save(buf, "GIF")
    return buf.getvalue()


def pdf(pages: int) -> bytes:
    frames = [Image.open(io.BytesIO(good_png())).convert("RGB") for _ in range(pages)]
    buf = io.BytesIO()
    frames[0].save(buf, "PDF", save_all=True, append_images=frames[1:], resolution=300)
    return buf.getvalue()


def encrypted_pdf() -> bytes:
    """A PDF with a standard security handler whose user password is not empty (cannot be opened)."""
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>",
        b"<< /Filter /Standard /V 1 /R 2 /Length 40 /P -4 /O <" + b"11" * 32 + b"> /U <" + b"22" * 32 + b"> >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objs, start=1):
        offsets.append(out.tell())
        out.write(f"{i} 0 obj\n".encode() + body + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objs) + 1}\n0000000000 65535 f \n".encode())
    for off in offsets:
        out.write(f"{off:010d} 00000 n \n".encode())
    out.write(
        f"trailer\n<< /Size {len(objs) + 1} /Root 1 0 R /Encrypt 4 0 R /ID [<{'ab' * 16}> <{'ab' * 16}>] >>\n".encode()
    )
    out.write(f"startxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()


def write(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path
