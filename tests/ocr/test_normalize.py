"""normalize_text: one canonical form for width and Chinese punctuation."""

from __future__ import annotations

import pytest

from dangan.ocr.engines.normalize import normalize_text


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ＡＢＣ１２３", "ABC123"),  # full-width letters and digits → half-width
        ("公民身份号码：１１０１０５１９４９１２３１００２Ｘ", "公民身份号码：11010519491231002X"),
        ("姓名:张三", "姓名：张三"),  # colon in Chinese context → full-width
        ("Tel: 0571", "Tel: 0571"),  # Latin context stays half-width
        ("缴费基数:15,380.00", "缴费基数：15,380.00"),  # thousands comma between digits stays half-width
        ("15，380．00", "15,380.00"),  # full-width separators inside a number
        ("张三,李四;王五", "张三，李四；王五"),
        ("单位(盖章)", "单位（盖章）"),  # parentheses around Chinese → full-width pair
        ("年度（2019）", "年度（2019）"),  # opened after Han: the pair stays full-width
        ("( 2019 )", "( 2019 )"),
        ("A（B）", "A(B)"),  # Latin inside and before → half-width pair
        ("申报人（签字）：", "申报人（签字）："),  # a colon after a Chinese pair stays full-width
        ("单位(盖章):", "单位（盖章）："),  # ... and is made full-width when the OCR read it half-width
        ("(A):", "(A):"),  # after a Latin pair it stays half-width
        ("  姓名\u3000 张三 \n\t", "姓名 张三"),  # whitespace collapsed, ideographic space folded, stripped
        ("补缴。是否？", "补缴。是否？"),  # 。 kept, ? after Han → ？
        ("version 2.0?", "version 2.0?"),
        ("", ""),
    ],
)
def test_normalize_cases(raw, expected):
    assert normalize_text(raw) == expected


@pytest.mark.parametrize("text", ["姓名：张三（男）", "ABC 15,380.00", "年度（2019）：是"])
def test_normalize_is_idempotent(text):
    once = normalize_text(text)
    assert normalize_text(once) == once
