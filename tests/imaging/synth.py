"""Synthetic scanned pages for imaging tests: text (Latin + CJK), table rules, scanner artefacts."""

from __future__ import annotations

import io
import struct
import zlib
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
)
LINES = (
    "社会保险参保人员登记表 Registration 2019",
    "姓名 Name: 张三  单位 Unit: 县人力资源和社会保障局",
    "缴费基数 Base: 3650.00  缴费月数 Months: 12",
    "参保日期 Date: 2003-07-01  险种 Type: 养老 企业职工",
    "备注 Remarks: 档案号 330106-2019-0042 第 3 页",
)


@lru_cache(maxsize=8)
def font(px: int) -> ImageFont.FreeTypeFont:
    for path in FONT_CANDIDATES:
        if Path(path).exists():
            return ImageFont.truetype(path, px)
    raise RuntimeError("no CJK font installed")


def text_page(dpi: int = 300, size_mm: tuple[float, float] = (105.0, 148.0), table: bool = True) -> Image.Image:
    """A gray ('L') page with text lines (10.5 pt) and optionally a ruled table, white paper, black ink."""
    w, h = round(size_mm[0] / 25.4 * dpi), round(size_mm[1] / 25.4 * dpi)
    im = Image.new("L", (w, h), 255)
    draw = ImageDraw.Draw(im)
    face = font(round(10.5 / 72 * dpi))
    margin = round(12 / 25.4 * dpi)
    step = round(0.3 * dpi)  # ~7.6 mm line pitch
    y = margin
    for i in range(30):
        if y > h * (0.55 if table else 1) - margin:
            break
        draw.text((margin, y), LINES[i % len(LINES)][: 14 + 7 * (i % 3)], font=face, fill=0)
        y += step
    if table:
        top, bottom, right = y + step // 2, h - margin, w - margin
        rows = np.linspace(top, bottom, 6).astype(int)
        cols = np.linspace(margin, right, 4).astype(int)
        for r in rows:
            draw.line([(margin, r), (right, r)], fill=0, width=max(2, dpi // 150))
        for c in cols:
            draw.line([(c, top), (c, bottom)], fill=0, width=max(2, dpi // 150))
        for r0 in rows[:-1]:
            for c0 in cols[:-1]:
                draw.text((c0 + dpi // 20, r0 + dpi // 20), "基数 3650", font=face, fill=0)
    im.info["dpi"] = (dpi, dpi)
    return im


def rotate(im: Image.Image, degrees: float) -> Image.Image:
    """Rotate content counter-clockwise by ``degrees`` (white fill, same canvas)."""
    return im.rotate(degrees, resample=Image.Resampling.BICUBIC, fillcolor=255)


def add_noise(arr: np.ndarray, sigma: float = 4.0, seed: int = 1) -> np.ndarray:
    """Sensor-like Gaussian noise and a mildly gray paper (scanners rarely give pure 255)."""
    rng = np.random.default_rng(seed)
    noisy = arr.astype(np.float32) * (235 / 255) + 8 + rng.normal(0, sigma, arr.shape)
    return np.clip(noisy, 0, 255).astype(np.uint8)


def blur(arr: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(arr, (0, 0), sigma)


def dark_frame(arr: np.ndarray, frac: float = 0.04, level: int = 25) -> np.ndarray:
    """Put the page on a dark scanner bed: a frame of ``frac`` of each side around it."""
    h, w = arr.shape[:2]
    dy, dx = round(h * frac), round(w * frac)
    out = np.full((h + 2 * dy, w + 2 * dx), level, np.uint8)
    out[dy : dy + h, dx : dx + w] = arr
    return out


def encode(im: Image.Image | list[Image.Image], fmt: str, dpi: int | None = 300, **kw: object) -> bytes:
    """Encode one image or several pages (TIFF/PDF) to bytes."""
    pages = im if isinstance(im, list) else [im]
    buf = io.BytesIO()
    extra: dict[str, object] = dict(kw)
    if dpi is not None:
        extra["resolution" if fmt == "PDF" else "dpi"] = dpi if fmt == "PDF" else (dpi, dpi)
    if len(pages) > 1:
        extra.update(save_all=True, append_images=pages[1:])
    pages[0].save(buf, fmt, **extra)
    return buf.getvalue()


def on_scanner_bed(im: Image.Image, degrees: float = 0.0, frac: float = 0.04, level: int = 25) -> np.ndarray:
    """The page lying (optionally rotated) on a dark scanner bed, as a gray array."""
    framed = Image.fromarray(dark_frame(np.asarray(im), frac, level))
    # rotate paper and bed together, filling the exposed corners with bed
    return np.asarray(framed.rotate(degrees, resample=Image.Resampling.BICUBIC, fillcolor=level))


def build_pdf(objects: list[bytes], trailer_extra: bytes = b"") -> bytes:
    """A hand-written PDF (objects numbered from 1, object 1 is the catalog) with a correct xref table."""
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R " % (len(objects) + 1) + trailer_extra + b">>\n"
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def encrypted_pdf() -> bytes:
    """A PDF with a standard security handler whose user password is not empty (opening needs a password)."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>",
        b"<< /Filter /Standard /V 1 /R 2 /P -4 /O <" + b"11" * 32 + b"> /U <" + b"22" * 32 + b"> >>",
    ]
    file_id = b"<00112233445566778899aabbccddeeff>"
    return build_pdf(objects, b"/Encrypt 4 0 R /ID [" + file_id + file_id + b"] ")


def png_bomb(width: int = 30000, height: int = 30000) -> bytes:
    """A tiny PNG whose IHDR declares ``width`` x ``height`` (CRC fixed up), pixel data a few bytes."""
    data = bytearray(encode(Image.new("L", (8, 8), 255), "PNG", dpi=None))
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def tiff_bomb(width: int = 30000, height: int = 30000) -> bytes:
    """A ~150-byte Group 4 TIFF declaring a ``width`` x ``height`` bilevel page."""
    strip = b"\x00" * 16
    tags = [  # (tag, type, count, value) type 3 = SHORT, 4 = LONG
        (256, 4, 1, width),
        (257, 4, 1, height),
        (258, 3, 1, 1),
        (259, 3, 1, 4),
        (262, 3, 1, 0),
        (273, 4, 1, 0),  # patched below
        (277, 3, 1, 1),
        (278, 4, 1, height),
        (279, 4, 1, len(strip)),
    ]
    ifd_size = 2 + 12 * len(tags) + 4
    data_offset = 8 + ifd_size
    out = bytearray(b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", len(tags)))
    for tag, typ, count, value in tags:
        value = data_offset if tag == 273 else value
        packed = struct.pack("<HI", value, 0)[:4] if typ == 3 else struct.pack("<I", value)
        out += struct.pack("<HHI", tag, typ, count) + packed
    out += struct.pack("<I", 0) + strip
    return bytes(out)
