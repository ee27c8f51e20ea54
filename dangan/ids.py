"""Resident identity numbers (公民身份号码, GB 11643-1999).

An 18-character ID is ``RRRRRR YYYYMMDD SSS C``: a 6-digit GB/T 2260 region code, the birth date, a 3-digit
order code whose last digit is odd for men and even for women, and an ISO 7064 MOD 11-2 check character
(``0``-``9`` or ``X``). Legacy 15-digit IDs (``RRRRRR YYMMDD SSS``, 19YY implied) are still found on old paper
files; :func:`validate_id` flags them with ``ID_LEGACY_15`` instead of rejecting them as malformed.

Reason codes are stable (validation reports and catalogs store them): ``ID_FORMAT``, ``ID_CHECK_DIGIT``,
``ID_BIRTH_DATE``, ``ID_REGION``, ``ID_LEGACY_15``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

__all__ = [
    "ID_BIRTH_DATE",
    "ID_CHECK_DIGIT",
    "ID_FORMAT",
    "ID_LEGACY_15",
    "ID_REGION",
    "PROVINCE_CODES",
    "IdCheck",
    "birth_date_of",
    "check_char",
    "make_id",
    "normalize_id",
    "region_of",
    "sex_of",
    "validate_id",
]

ID_FORMAT = "ID_FORMAT"
ID_CHECK_DIGIT = "ID_CHECK_DIGIT"
ID_BIRTH_DATE = "ID_BIRTH_DATE"
ID_REGION = "ID_REGION"
ID_LEGACY_15 = "ID_LEGACY_15"

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_MAP = "10X98765432"
_RE_18 = re.compile(r"\d{17}[\dX]")
_RE_15 = re.compile(r"\d{15}")
_RE_WS = re.compile(r"\s+")

#: First two digits of GB/T 2260 codes: provinces, autonomous regions, municipalities, Taiwan, HK, Macao.
PROVINCE_CODES: frozenset[str] = frozenset(
    [str(c) for c in (*range(11, 16), *range(21, 24), *range(31, 38), *range(41, 47), *range(50, 55))]
    + [str(c) for c in range(61, 66)]
    + ["71", "81", "82"]
)

_EARLIEST_BIRTH = date(1900, 1, 1)


@dataclass(frozen=True)
class IdCheck:
    """Outcome of :func:`validate_id`: ``valid`` is true only when ``reasons`` is empty."""

    valid: bool
    reasons: tuple[str, ...]


def check_char(first17: str) -> str:
    """ISO 7064 MOD 11-2 check character for the first 17 digits of an ID."""
    if len(first17) != 17 or not first17.isascii() or not first17.isdigit():
        raise ValueError("check_char needs exactly 17 ASCII digits")
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_MAP[total % 11]


def normalize_id(text: str) -> str:
    """Canonical form of a typed or OCR-read ID: no whitespace, ASCII digits (NFKC), upper-case ``X``.

    Nothing else is "fixed": a wrong length or a wrong check character stays wrong.
    """
    value = unicodedata.normalize("NFKC", text)
    value = _RE_WS.sub("", value)
    return value.replace("x", "X")


def _parse_date(yyyymmdd: str) -> date | None:
    try:
        return date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8]))
    except ValueError:
        return None


def _birth_digits(value: str) -> str:
    return value[6:14] if len(value) == 18 else "19" + value[6:12]


def validate_id(value: str, *, today: date | None = None) -> IdCheck:
    """Check an ID exactly as given (call :func:`normalize_id` first for OCR or typed input).

    A malformed value gets ``ID_FORMAT`` alone. A well-formed 18-character ID is checked for its check
    character, birth date (real, not before 1900, not after ``today``) and province code. A 15-digit legacy ID
    gets ``ID_LEGACY_15`` (it is not valid as a current ID) plus any birth-date or region problem it has.
    """
    today = today or date.today()
    if _RE_18.fullmatch(value) and value.isascii():
        reasons: list[str] = []
        if check_char(value[:17]) != value[17]:
            reasons.append(ID_CHECK_DIGIT)
    elif _RE_15.fullmatch(value) and value.isascii():
        reasons = [ID_LEGACY_15]
    else:
        return IdCheck(False, (ID_FORMAT,))
    born = _parse_date(_birth_digits(value))
    if born is None or born < _EARLIEST_BIRTH or born > today:
        reasons.append(ID_BIRTH_DATE)
    if value[:2] not in PROVINCE_CODES:
        reasons.append(ID_REGION)
    return IdCheck(not reasons, tuple(reasons))


def _require_shape(resident_id: str) -> None:
    if not ((_RE_18.fullmatch(resident_id) or _RE_15.fullmatch(resident_id)) and resident_id.isascii()):
        raise ValueError("not an 18- or 15-character resident ID")


def birth_date_of(resident_id: str) -> date:
    """Birth date embedded in an 18- or 15-character ID (raises ``ValueError`` if it is not a real date)."""
    _require_shape(resident_id)
    born = _parse_date(_birth_digits(resident_id))
    if born is None:
        raise ValueError("the ID does not embed a real birth date")
    return born


def sex_of(resident_id: str) -> str:
    """``"男"`` when the last order-code digit is odd, else ``"女"``."""
    _require_shape(resident_id)
    digit = resident_id[16] if len(resident_id) == 18 else resident_id[14]
    return "男" if int(digit) % 2 else "女"


def region_of(resident_id: str) -> str:
    """The 6-digit GB/T 2260 region code an ID was issued under."""
    _require_shape(resident_id)
    return resident_id[:6]


def make_id(region: str, birth: date, seq: int, sex: str) -> str:
    """Build a valid 18-character ID.

    ``seq`` (0-499) orders people of one sex born the same day in ``region``; the 3-digit order code is
    ``2 * seq + (1 if sex == "男" else 0)`` so the sex digit is always right.
    """
    if len(region) != 6 or not region.isascii() or not region.isdigit() or region[:2] not in PROVINCE_CODES:
        raise ValueError(f"region must be a 6-digit GB/T 2260 code, got {region!r}")
    if sex not in ("男", "女"):
        raise ValueError(f"sex must be '男' or '女', got {sex!r}")
    if not 0 <= seq <= 499:
        raise ValueError(f"seq must be in 0..499, got {seq}")
    if birth.year < _EARLIEST_BIRTH.year:
        raise ValueError("birth year must be 1900 or later")
    order = 2 * seq + (1 if sex == "男" else 0)
    first17 = f"{region}{birth:%Y%m%d}{order:03d}"
    return first17 + check_char(first17)
