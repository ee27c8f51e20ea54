"""Value normalizers, one per field kind: OCR text in, the stored form out, never a guess.

A normalizer parses formats that have one meaning (``15,380.00`` → ``15380.00``, ``2004年08月`` → ``2004-08``)
and otherwise returns the text as read with a flag (``AMOUNT_AMBIGUOUS`` for ``15.380.00``, which PP-OCR makes
of ``15,380.00`` on blurred pages): validation then catches the value, and a person decides.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from dangan.ids import normalize_id

KINDS = frozenset(
    {
        "text",
        "name",
        "compact",
        "code",
        "id",
        "sex",
        "date",
        "month",
        "month_range",
        "amount",
        "integer",
        "phone",
    }
)

# Flags (stable; shown in `dangan extract --json` output).
EMPTY = "EMPTY"
AMOUNT_AMBIGUOUS = "AMOUNT_AMBIGUOUS"
AMOUNT_MALFORMED = "AMOUNT_MALFORMED"
DATE_UNPARSED = "DATE_UNPARSED"
DATE_INVALID = "DATE_INVALID"
MONTH_UNPARSED = "MONTH_UNPARSED"
RANGE_UNPARSED = "RANGE_UNPARSED"
INTEGER_UNPARSED = "INTEGER_UNPARSED"
PHONE_UNPARSED = "PHONE_UNPARSED"
SEX_UNKNOWN = "SEX_UNKNOWN"
ID_SHAPE = "ID_SHAPE"

_WS = re.compile(r"\s+")
_PLAIN = re.compile(r"-?\d+(?:\.\d{1,2})?", re.ASCII)
_GROUPED = re.compile(r"-?\d{1,3}(?:,\d{3})+(?:\.\d{1,2})?", re.ASCII)
_DATE_SEP = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?", re.ASCII)
_DATE_DIGITS = re.compile(r"(\d{4})(\d{2})(\d{2})", re.ASCII)
_MONTH_SEP = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*月?", re.ASCII)
_MONTH_DIGITS = re.compile(r"(\d{4})(\d{2})", re.ASCII)
_RANGE = re.compile(r"(.+?)\s*(?:至|到|~|～|—|－)\s*(.+)", re.ASCII)
_INTEGER = re.compile(r"(\d+)\s*(?:个月|月)?", re.ASCII)
_MOBILE = re.compile(r"1\d{10}", re.ASCII)
_LANDLINE = re.compile(r"0\d{2,3}-?\d{7,8}", re.ASCII)
_CURRENCY = "¥￥元"


@dataclass(frozen=True)
class Normalized:
    """A normalized value (None when nothing was read) and the flags raised while normalizing it."""

    value: str | None
    flags: tuple[str, ...] = ()


def _clean(raw: str | None) -> str:
    return unicodedata.normalize("NFKC", raw or "").strip()


def _compact(text: str) -> str:
    # NFKC again: removing a space can join a base letter and a combining mark into a new composition.
    return unicodedata.normalize("NFKC", _WS.sub("", text))


def normalize_amount(raw: str | None) -> Normalized:
    """``15,380.00`` / ``15380.00`` → ``15380.00``; ``15.380.00``, ``1.234`` or ``15380,00`` are flagged."""
    text = _compact(_clean(raw)).strip(_CURRENCY)
    if not text:
        return Normalized(None, (EMPTY,))
    if _PLAIN.fullmatch(text):
        return Normalized(text)
    if _GROUPED.fullmatch(text):
        return Normalized(text.replace(",", ""))
    # A dot followed by exactly three digits, several dots, or a comma where cents belong: each reading
    # (thousands separator or decimal point) gives a different amount, so none is chosen.
    if re.fullmatch(r"-?[0-9.,]+", text) and (
        text.count(".") > 1 or re.search(r"\.[0-9]{3}$", text) or re.search(r",[0-9]{1,2}$", text)
    ):
        return Normalized(text, (AMOUNT_AMBIGUOUS,))
    return Normalized(text, (AMOUNT_MALFORMED,))


def _valid_date(y: str, m: str, d: str) -> date | None:
    try:
        return date(int(y), int(m), int(d))
    except ValueError:
        return None


def normalize_date(raw: str | None) -> Normalized:
    """``1982-12-07``, ``1982年12月07日``, ``1982/12/7``, ``19821207`` → ``1982-12-07``; others flagged."""
    text = _compact(_clean(raw))
    if not text:
        return Normalized(None, (EMPTY,))
    match = _DATE_SEP.fullmatch(text) or _DATE_DIGITS.fullmatch(text)
    if not match:
        return Normalized(text, (DATE_UNPARSED,))
    parsed = _valid_date(*match.groups())
    return Normalized(parsed.isoformat(), ()) if parsed else Normalized(text, (DATE_INVALID,))


def normalize_month(raw: str | None) -> Normalized:
    """``2004-08``, ``2004年08月``, ``2004.8``, ``200408`` (or a full valid date) → ``2004-08``."""
    text = _compact(_clean(raw))
    if not text:
        return Normalized(None, (EMPTY,))
    match = _MONTH_SEP.fullmatch(text) or _MONTH_DIGITS.fullmatch(text)
    if match:
        year, month = match.groups()
        if 1 <= int(month) <= 12:
            return Normalized(f"{int(year):04d}-{int(month):02d}")
        return Normalized(text, (DATE_INVALID,))
    full = normalize_date(text)
    if full.value and not full.flags:
        return Normalized(full.value[:7])
    return Normalized(text, (MONTH_UNPARSED,))


def normalize_month_range(raw: str | None) -> tuple[Normalized, Normalized]:
    """``2004-08至2024-03`` → (``2004-08``, ``2024-03``); an unsplittable text is flagged on both sides."""
    text = _clean(raw)
    if not text:
        return Normalized(None, (EMPTY,)), Normalized(None, (EMPTY,))
    match = _RANGE.fullmatch(text)
    if not match:
        return Normalized(_compact(text), (RANGE_UNPARSED,)), Normalized(None, (RANGE_UNPARSED,))
    return normalize_month(match.group(1)), normalize_month(match.group(2))


def normalize_integer(raw: str | None) -> Normalized:
    """``235`` / ``235个月`` → ``235``."""
    text = _compact(_clean(raw))
    if not text:
        return Normalized(None, (EMPTY,))
    match = _INTEGER.fullmatch(text)
    return Normalized(str(int(match.group(1)))) if match else Normalized(text, (INTEGER_UNPARSED,))


def normalize_phone(raw: str | None) -> Normalized:
    """Mobile numbers lose spaces and hyphens (``138-1234-5678`` → ``13812345678``); landlines keep theirs."""
    text = _compact(_clean(raw))
    if not text:
        return Normalized(None, (EMPTY,))
    digits = text.replace("-", "")
    if _MOBILE.fullmatch(digits):
        return Normalized(digits)
    if _LANDLINE.fullmatch(text):
        return Normalized(text)
    return Normalized(text, (PHONE_UNPARSED,))


def normalize_sex(raw: str | None) -> Normalized:
    """``男``/``男性`` → ``男``, ``女``/``女性`` → ``女``; anything else is flagged."""
    text = _compact(_clean(raw))
    if not text:
        return Normalized(None, (EMPTY,))
    if text in ("男", "男性"):
        return Normalized("男")
    if text in ("女", "女性"):
        return Normalized("女")
    return Normalized(text, (SEX_UNKNOWN,))


def normalize_value(kind: str, raw: str | None) -> Normalized:
    """Normalize ``raw`` as a value of ``kind`` (any kind but ``month_range``, which yields two values)."""
    if kind == "amount":
        return normalize_amount(raw)
    if kind == "date":
        return normalize_date(raw)
    if kind == "month":
        return normalize_month(raw)
    if kind == "integer":
        return normalize_integer(raw)
    if kind == "phone":
        return normalize_phone(raw)
    if kind == "sex":
        return normalize_sex(raw)
    text = _clean(raw)
    if kind == "id":
        value = normalize_id(text)
        ok = re.fullmatch(r"[0-9]{17}[0-9X]|[0-9]{15}", value) is not None
        return Normalized(value or None, () if ok or not value else (ID_SHAPE,))
    if kind in ("name", "compact"):
        text = _compact(text)
    elif kind == "code":
        text = _compact(text).upper()
    elif kind == "text":
        text = unicodedata.normalize("NFKC", _WS.sub(" ", text)).strip()
    else:
        raise ValueError(f"unknown field kind {kind!r}")
    return Normalized(text or None, () if text else (EMPTY,))
