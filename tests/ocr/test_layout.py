"""Reading order on skewed pages: synthetic boxes and a real 3°-rotated two-column form."""

from __future__ import annotations

import math

import pytest

from dangan.ocr import OcrLine, estimate_skew, reading_order
from tests.ocr.pages import render_page, squash


def rotated_line(text: str, x: float, y: float, w: float, h: float, deg: float) -> OcrLine:
    """A line box at (x, y) of size w×h, the whole page turned by ``deg`` about the origin."""
    t = math.radians(deg)
    pts = [(x, y), (x + w, y), (x + w, y + h), (x, y + h)]
    box = tuple((px * math.cos(t) - py * math.sin(t), px * math.sin(t) + py * math.cos(t)) for px, py in pts)
    return OcrLine(text, 0.99, box)


# A tight form: 40 px high lines 50 px apart, two columns 1150 px apart (3° moves them 60 px vertically).
GRID = [("a1", 50, 100), ("a2", 1200, 100), ("b1", 50, 150), ("b2", 1200, 150), ("c1", 50, 200), ("c2", 1200, 200)]


@pytest.mark.parametrize("deg", [-3.0, 3.0])
def test_synthetic_rotated_grid(deg):
    lines = [rotated_line(t, x, y, 300, 40, deg) for t, x, y in GRID]
    shuffled = [lines[i] for i in (5, 0, 3, 1, 4, 2)]
    assert estimate_skew(shuffled) == pytest.approx(deg, abs=0.01)
    assert [ln.text for ln in reading_order(shuffled)] == ["a1", "a2", "b1", "b2", "c1", "c2"]
    # Ignoring the skew interleaves rows: proves the test depends on deskewing.
    assert [ln.text for ln in reading_order(shuffled, skew_deg=0.0)] != ["a1", "a2", "b1", "b2", "c1", "c2"]


def test_given_skew_is_used_and_short_lists_pass_through():
    lines = [rotated_line(t, x, y, 300, 40, 3.0) for t, x, y in GRID]
    assert [ln.text for ln in reading_order(lines[::-1], skew_deg=3.0)][:2] == ["a1", "a2"]
    assert reading_order([]) == []
    assert reading_order(lines[:1]) == lines[:1]
    assert estimate_skew([]) == 0.0


ROWS = [("姓名 张三", "性别 男"), ("出生日期 1949年12月31日", "民族 汉"), ("参保日期 2001年7月", "险种 养老")]


def test_ppocr_on_rotated_two_column_page(ppocr_engine):
    items = []
    for r, (left, right) in enumerate(ROWS):
        items += [(60, 60 + r * 80, left), (900, 60 + r * 80, right)]
    page = render_page(items, (1300, 320), rotate_deg=3.0)
    [result] = ppocr_engine.recognize([page])
    expected = [squash(t) for row in ROWS for t in row]
    assert [squash(ln.text) for ln in result.lines] == expected
    assert abs(estimate_skew(result.lines)) == pytest.approx(3.0, abs=0.7)
    naive = [squash(ln.text) for ln in reading_order(result.lines, skew_deg=0.0)]
    assert naive != expected
