"""Synthetic scan pages for OCR tests: CJK text drawn with PIL at 300 dpi on small canvases, and CER."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

FONT_FILES = (
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
)
FONT_PX = 42  # 10 pt at 300 dpi

FORM_LINES = ("姓名 张三", "公民身份号码 11010519491231002X", "缴费基数 15,380.00")


def cjk_font(size: int = FONT_PX) -> ImageFont.FreeTypeFont:
    """The first installed CJK font (the Debian fonts the project requires)."""
    for path in FONT_FILES:
        if path.is_file():
            return ImageFont.truetype(str(path), size)
    raise AssertionError("no CJK font installed: apt-get install fonts-wqy-zenhei")


def render_page(items: Sequence[tuple[int, int, str]], size: tuple[int, int], rotate_deg: float = 0.0) -> np.ndarray:
    """RGB uint8 page with each ``(x, y, text)`` drawn black on white, optionally rotated (CCW, expanded)."""
    img = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(img)
    font = cjk_font()
    for x, y, text in items:
        draw.text((x, y), text, font=font, fill="black")
    if rotate_deg:
        img = img.rotate(rotate_deg, expand=True, fillcolor="white", resample=Image.Resampling.BICUBIC)
    return np.asarray(img)


def form_page(lines: Sequence[str] = FORM_LINES) -> np.ndarray:
    """One text line per row, 90 px apart."""
    return render_page([(60, 50 + i * 90, t) for i, t in enumerate(lines)], (1100, 90 * len(lines) + 60))


def cer(reference: str, hypothesis: str) -> float:
    """Character error rate (Levenshtein distance / reference length)."""
    prev = list(range(len(hypothesis) + 1))
    for i, rc in enumerate(reference, start=1):
        cur = [i]
        for j, hc in enumerate(hypothesis, start=1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (rc != hc)))
        prev = cur
    return prev[-1] / max(len(reference), 1)


def squash(text: str) -> str:
    """Text without any whitespace (engines differ on spaces between CJK words)."""
    return "".join(text.split())


def check_bad_pages_fail_alone(engine: object, form_image: np.ndarray, expected: str) -> None:
    """The engine contract on a batch with unusable pages in the middle: each fails alone, with a stable code
    and its size where known; the good pages around them (RGB and grayscale) still read ``expected``."""
    gray = form_image[:, :, 0].copy()  # 2-D grayscale is a valid page
    bad = [None, np.zeros((0, 0, 3), np.uint8), form_image.astype(np.float64), np.zeros((4, 4, 7), np.uint8)]
    results = engine.recognize([form_image, *bad, gray])  # type: ignore[attr-defined]
    assert len(results) == 6
    for page in results[1:5]:
        assert page.error is not None and page.lines == []
        assert page.error.split(":")[0] in {"OCR_EMPTY_IMAGE", "OCR_BAD_IMAGE"}
    assert results[3].error.startswith("OCR_BAD_IMAGE") and (results[3].width, results[3].height) == (1100, 330)
    for good in (results[0], results[5]):
        assert good.error is None
        assert expected in good.text()
