"""Drawing primitives for synthetic forms: an A4 page, laid out in millimetres, that records its text.

Every text item drawn is recorded with its pixel box, and every printed line (a title, a ``label：value`` row,
a table row with its cells joined by one space) is recorded in reading order: that is the OCR ground truth.
Stamps are recorded separately because their curved text is not meant to be read by OCR.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from PIL import Image, ImageChops, ImageDraw, ImageFont

from dangan.errors import ConfigError

MM_PER_INCH = 25.4
A4_MM = (210.0, 297.0)
PAPER = (252, 251, 247)
INK = (22, 22, 26)
STAMP_RED = (205, 40, 45)
_REGULAR = (
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
)
_BOLD = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc")


def _face_index(path: Path) -> int:
    # Noto CJK collections hold JP/KR/SC/TC/HK faces; simplified-Chinese glyph shapes need the SC face.
    for index in range(8):
        try:
            family = ImageFont.truetype(str(path), 10, index=index).getname()[0] or ""
        except OSError:
            break
        if family.endswith(" SC"):
            return index
    return 0


@lru_cache(maxsize=2)
def find_font(bold: bool = False) -> tuple[str, int]:
    """Path and face index of a CJK font on disk (Noto Sans CJK SC preferred, WenQuanYi Zen Hei fallback)."""
    candidates = ((_BOLD,) if bold else ()) + _REGULAR
    for path in candidates:
        if path.is_file():
            return str(path), _face_index(path)
    raise ConfigError(
        "no CJK font found for rendering sample documents",
        hint="Install one: `apt-get install fonts-noto-cjk` (or fonts-wqy-zenhei).",
        searched=[str(p) for p in _REGULAR],
    )


@lru_cache(maxsize=64)
def font(px: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    """A cached CJK font at ``px`` pixels."""
    path, index = find_font(bold)
    return ImageFont.truetype(path, px, index=index)


@dataclass(frozen=True)
class Cell:
    """One table cell: ``span`` columns wide, text aligned ``left``, ``center`` or ``right``."""

    text: str
    span: int = 1
    align: str = "left"


class Page:
    """A blank A4 page at ``dpi``; coordinates in millimetres from the top-left corner."""

    def __init__(self, dpi: int) -> None:
        self.dpi = dpi
        self.image = Image.new("RGB", (self.px(A4_MM[0]), self.px(A4_MM[1])), PAPER)
        self.draw = ImageDraw.Draw(self.image)
        self.lines: list[str] = []
        self.boxes: list[dict[str, Any]] = []
        self.stamps: list[dict[str, Any]] = []

    def px(self, mm: float) -> int:
        """Millimetres to pixels at this page's resolution."""
        return round(mm * self.dpi / MM_PER_INCH)

    def font(self, pt: float, bold: bool = False) -> ImageFont.FreeTypeFont:
        """Font at ``pt`` points for this page's resolution."""
        return font(round(pt * self.dpi / 72), bold)

    def text(self, x: float, y: float, text: str, pt: float = 12, *, bold: bool = False, anchor: str = "lm",
             max_width: float | None = None) -> None:  # fmt: skip
        """Draw ``text`` at (x, y) mm and record its box; shrinks the font (to 70 %) to fit ``max_width`` mm."""
        face = self.font(pt, bold)
        if max_width is not None:
            limit = self.px(max_width)
            size = pt
            while face.getlength(text) > limit and size > pt * 0.7:
                size -= 0.5
                face = self.font(size, bold)
        xy = (self.px(x), self.px(y))
        self.draw.text(xy, text, font=face, fill=INK, anchor=anchor)
        self.boxes.append({"text": text, "bbox": list(self.draw.textbbox(xy, text, font=face, anchor=anchor))})

    def line(self, y: float, *parts: tuple[float, str], pt: float = 12, bold: bool = False) -> None:
        """Draw text items on one baseline (each ``(x_mm, text)``) and record them as one line."""
        for x, text in parts:
            self.text(x, y, text, pt, bold=bold)
        self.lines.append(" ".join(text for _, text in parts))

    def centered(self, y: float, text: str, pt: float = 12, *, bold: bool = False) -> None:
        """One centred line (titles)."""
        self.text(A4_MM[0] / 2, y, text, pt, bold=bold, anchor="mm")
        self.lines.append(text)

    def table(self, x: float, y: float, widths: list[float], rows: list[list[Cell]], row_h: float,
              pt: float = 12) -> float:  # fmt: skip
        """Ruled table; each row is recorded as one line of its non-empty cells. Returns the bottom in mm."""
        rule = max(2, self.px(0.25))
        right = x + sum(widths)
        pad = 1.5
        for r, row in enumerate(rows):
            top = y + r * row_h
            self.draw.line([(self.px(x), self.px(top)), (self.px(right), self.px(top))], fill=INK, width=rule)
            col, cx = 0, x
            for cell in row:
                w = sum(widths[col : col + cell.span])
                self.draw.line([(self.px(cx), self.px(top)), (self.px(cx), self.px(top + row_h))], INK, rule)
                if cell.text:
                    mid = top + row_h / 2
                    if cell.align == "center":
                        self.text(cx + w / 2, mid, cell.text, pt, anchor="mm", max_width=w - 2 * pad)
                    elif cell.align == "right":
                        self.text(cx + w - pad, mid, cell.text, pt, anchor="rm", max_width=w - 2 * pad)
                    else:
                        self.text(cx + pad, mid, cell.text, pt, anchor="lm", max_width=w - 2 * pad)
                col, cx = col + cell.span, cx + w
            self.draw.line([(self.px(right), self.px(top)), (self.px(right), self.px(top + row_h))], INK, rule)
            self.lines.append(" ".join(c.text for c in row if c.text))
        bottom = y + len(rows) * row_h
        self.draw.line([(self.px(x), self.px(bottom)), (self.px(right), self.px(bottom))], fill=INK, width=rule)
        return bottom

    def stamp(self, cx: float, cy: float, text: str, radius: float = 19.0) -> None:
        """Red official seal: ring, star and ``text`` round the top; multiplied onto the page like ink."""
        size = self.px(2 * radius + 4)
        layer = Image.new("RGB", (size, size), (255, 255, 255))
        draw = ImageDraw.Draw(layer)
        c, r = size / 2, self.px(radius)
        draw.ellipse([c - r, c - r, c + r, c + r], outline=STAMP_RED, width=max(3, self.px(1.0)))
        star_r = r * 0.28
        points = [
            (c + (star_r if k % 2 == 0 else star_r * 0.4) * math.sin(math.pi * k / 5),
             c - (star_r if k % 2 == 0 else star_r * 0.4) * math.cos(math.pi * k / 5))
            for k in range(10)
        ]  # fmt: skip
        draw.polygon(points, fill=STAMP_RED)
        sweep = min(270.0, 20.0 * len(text))
        # Glyphs shrink for long names so neighbours on the arc do not overlap.
        face = font(round(min(r * 0.26, 0.9 * r * 0.72 * math.radians(sweep / len(text)))))
        for i, char in enumerate(text):
            angle = -sweep / 2 + sweep * (i + 0.5) / len(text)  # degrees clockwise from top
            half = round(face.size)
            glyph = Image.new("L", (half * 2, half * 2), 0)
            ImageDraw.Draw(glyph).text((half, half), char, font=face, fill=255, anchor="mm")
            glyph = glyph.rotate(-angle, resample=Image.Resampling.BICUBIC)
            dist = r * 0.72
            gx = c + dist * math.sin(math.radians(angle)) - half
            gy = c - dist * math.cos(math.radians(angle)) - half
            layer.paste(Image.new("RGB", glyph.size, STAMP_RED), (round(gx), round(gy)), glyph)
        box = (self.px(cx) - size // 2, self.px(cy) - size // 2)
        region = self.image.crop((box[0], box[1], box[0] + size, box[1] + size))
        self.image.paste(ImageChops.multiply(region, layer), box)
        self.stamps.append({"text": text, "bbox": [box[0], box[1], box[0] + size, box[1] + size]})
