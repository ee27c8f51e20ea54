"""One canonical text form for OCR output, whatever engine produced it.

Convention:

* Full-width ASCII letters, digits and symbols (U+FF01–U+FF5E) and the ideographic space become half-width
  (``１２３ＡＢ`` → ``123AB``); everything else is NFC-composed, not NFKC (NFKC would also fold ``。、《》``).
* The marks ``, : ; ! ?`` are full-width (``，：；！？``) in Chinese context, i.e. when the nearest
  non-space character before or after them is a Han character or Chinese punctuation, and half-width
  otherwise. Between two digits they are always half-width (``15，380.00`` → ``15,380.00``).
* A pair of parentheses is full-width ``（）`` when its content or the character before the opening one is
  Han, else half-width ``()``; unpaired ones follow the rule of the other marks.
* Whitespace runs collapse to one space; the result is stripped. ``.`` and ``。`` are left alone
  (a ``.`` may be a decimal point).
"""

from __future__ import annotations

import re
import unicodedata

_HALF = {ch: chr(ord(ch) - 0xFEE0) for ch in map(chr, range(0xFF01, 0xFF5F))}
_HALF["\u3000"] = " "
_FOLD = str.maketrans(_HALF)
_FULL_MARKS = {",": "，", ":": "：", ";": "；", "!": "！", "?": "？", "(": "（", ")": "）"}
_CJK_PUNCT = set("，。、：；！？（）《》〈〉「」『』【】“”‘’…—·")
_WS = re.compile(r"\s+")


def is_han(ch: str) -> bool:
    """True for CJK unified ideographs (basic block and extensions A–F, compatibility ideographs)."""
    cp = ord(ch)
    return (
        0x4E00 <= cp <= 0x9FFF
        or 0x3400 <= cp <= 0x4DBF
        or 0x20000 <= cp <= 0x2FA1F
        or 0xF900 <= cp <= 0xFAFF
        or cp == 0x3007  # 〇
    )


def _chinese(ch: str | None) -> bool:
    return ch is not None and (is_han(ch) or ch in _CJK_PUNCT)


def _neighbour(chars: list[str], i: int, step: int) -> str | None:
    j = _neighbour_at(chars, i, step)
    return None if j is None else chars[j]


def _neighbour_at(chars: list[str], i: int, step: int) -> int | None:
    j = i + step
    while 0 <= j < len(chars):
        if not chars[j].isspace():
            return j
        j += step
    return None


def _pair_parens(chars: list[str]) -> dict[int, int]:
    pairs: dict[int, int] = {}
    stack: list[int] = []
    for i, ch in enumerate(chars):
        if ch == "(":
            stack.append(i)
        elif ch == ")" and stack:
            pairs[stack.pop()] = i
    return pairs


def normalize_text(text: str) -> str:
    """Canonical form of OCR text; see the module docstring for the convention."""
    chars = list(unicodedata.normalize("NFC", text).translate(_FOLD))
    pairs = _pair_parens(chars)
    decided: dict[int, bool] = {}  # index → full-width?
    for open_i, close_i in pairs.items():
        inner = chars[open_i + 1 : close_i]
        full = any(is_han(c) for c in inner) or _chinese(_neighbour(chars, open_i, -1))
        decided[open_i] = decided[close_i] = full
    for i, ch in enumerate(chars):
        if ch not in _FULL_MARKS or i in decided:
            continue
        # a neighbour already decided full-width (a parenthesis of a Chinese pair: "（签字）:") is Chinese
        near = [_neighbour_at(chars, i, -1), _neighbour_at(chars, i, +1)]
        chinese = any(j is not None and (decided.get(j) or _chinese(chars[j])) for j in near)
        digits_around = i > 0 and i + 1 < len(chars) and chars[i - 1].isdigit() and chars[i + 1].isdigit()
        decided[i] = not digits_around and chinese
    for i, full in decided.items():
        if full:
            chars[i] = _FULL_MARKS[chars[i]]
    return _WS.sub(" ", "".join(chars)).strip()
