"""Synthetic scanned pages for imaging tests: text (Latin + CJK), table rules, scanner artefacts."""

from __future__ import annotations

import io
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
def _font(px: int) -> ImageFont.FreeTypeFont:
    for path in FONT_CANDIDATES:
        if Path(path).exists():
            return ImageFont.truetype(path, px)
    raise RuntimeError("no CJK font installed")


def text_page(dpi: int = 300, size_mm: tuple[float, float] = (105.0, 148.0), table: bool = True) -> Image.Image:
    """A gray ('L') page with text lines (10.5 pt) and optionally a ruled table, white paper, black ink."""
    w, h = round(size_mm[0] / 25.4 * dpi), round(size_mm[1] / 25.4 * dpi)
    im = Image.new("L", (w, h), 255)
    draw = ImageDraw.Draw(im)
    font = _font(round(10.5 / 72 * dpi))
    margin = round(12 / 25.4 * dpi)
    step = round(0.3 * dpi)  # ~7.6 mm line pitch
    y = margin
    for i in range(30):
        if y > h * (0.55 if table else 1) - margin:
            break
        draw.text((margin, y), LINES[i % len(LINES)][: 14 + 7 * (i % 3)], font=font, fill=0)
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
                draw.text((c0 + dpi // 20, r0 + dpi // 20), "基数 3650", font=font, fill=0)
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
