"""Plain predicates behind the custom expectations (no Great Expectations import: testable and reusable).

Each predicate takes stored values (strings, ``None`` when absent) and answers "is this row fine?". A missing
value passes: required fields are checked by their own not-null expectations, so one gap is reported once.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation
from itertools import pairwise

from dangan.ids import PROVINCE_CODES, birth_date_of, sex_of, validate_id

PLAIN_DECIMAL = re.compile(r"-?\d+(?:\.\d{1,2})?", re.ASCII)
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
ISO_MONTH = re.compile(r"\d{4}-\d{2}", re.ASCII)
_ID18 = re.compile(r"\d{17}[\dX]", re.ASCII)
_ID15 = re.compile(r"\d{15}", re.ASCII)


def missing(value: object) -> bool:
    """True for None, NaN and empty strings (pandas gives NaN for absent cells)."""
    return value is None or value != value or (isinstance(value, str) and not value.strip())


def id_problem(value: str) -> str | None:
    """The first GB 11643 problem of an 18-character-ID candidate (format, check digit, birth date), or None.

    15-digit legacy IDs are not judged here (see :func:`is_legacy_id`), nor is the region (see
    :func:`region_plausible`)."""
    if _ID15.fullmatch(value):
        return None
    reasons = [r for r in validate_id(value).reasons if r != "ID_REGION"]
    return reasons[0] if reasons else None


def is_legacy_id(value: str) -> bool:
    """True for a 15-digit pre-1999 ID (flagged for a person to confirm, never converted)."""
    return _ID15.fullmatch(value) is not None


def region_plausible(value: str) -> bool:
    """GB/T 2260 shape of the first six digits: known province, prefecture 01-70 or 90 (province-run)."""
    if not (_ID18.fullmatch(value) or _ID15.fullmatch(value)):
        return True  # malformed IDs are reported by the format check
    province, prefecture = value[:2], int(value[2:4])
    return province in PROVINCE_CODES and (1 <= prefecture <= 70 or prefecture == 90)


_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def uscc_valid(value: str) -> bool:
    """An 18-character 统一社会信用代码 (GB 32100-2015) has a correct MOD 31 check character; other shapes
    (pre-2015 organization codes, local employer numbers) are not judged."""
    if len(value) != 18 or value.isdigit():
        return True  # all digits: a local employer number, not a credit code
    if any(c not in _USCC_CHARS for c in value):
        return False
    total = sum(_USCC_CHARS.index(c) * w for c, w in zip(value[:17], _USCC_WEIGHTS, strict=True))
    return value[17] == _USCC_CHARS[(31 - total % 31) % 31]


def id_matches_birth(resident_id: str, birth: str) -> bool:
    """The birth date printed on the form equals the one embedded in the ID."""
    try:
        return birth_date_of(resident_id).isoformat() == birth
    except ValueError:
        return True  # an unreadable ID or date is reported by its own format check


def id_matches_sex(resident_id: str, sex: str) -> bool:
    """The sex printed on the form agrees with the ID's order code (odd: 男, even: 女)."""
    if sex not in ("男", "女"):
        return True
    try:
        return sex_of(resident_id) == sex
    except ValueError:
        return True


def valid_iso_date(value: str) -> bool:
    """``YYYY-MM-DD`` naming a real day."""
    if not ISO_DATE.fullmatch(value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def valid_iso_month(value: str) -> bool:
    """``YYYY-MM`` with a month 01-12."""
    return ISO_MONTH.fullmatch(value) is not None and 1 <= int(value[5:7]) <= 12


def _comparable(value: object) -> str | None:
    if missing(value):
        return None
    text = str(value)
    return text if valid_iso_date(text) or valid_iso_month(text) else None


def dates_ordered(values: list[object], strict: list[bool]) -> bool:
    """Consecutive present dates are ordered (``<`` where ``strict[i]``, else ``<=``), each pair compared at
    the coarser of its two granularities (a month against a day compares months). Unparseable or absent
    dates are skipped (format checks report them)."""
    present = [(i, v) for i, v in ((i, _comparable(v)) for i, v in enumerate(values)) if v is not None]
    for (i, a), (_, b) in pairwise(present):
        n = min(len(a), len(b))
        if a[:n] > b[:n] or (strict[i] and a[:n] == b[:n]):
            return False
    return True


def to_decimal(value: object) -> Decimal | None:
    """The amount as a Decimal when it is a plain decimal string, else None."""
    if missing(value) or not PLAIN_DECIMAL.fullmatch(str(value)):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:  # pragma: no cover - the regex admits only valid decimals
        return None


def amount_between(value: object, low: str | None, high: str | None) -> bool:
    """The amount lies within ``[low, high]`` (bounds as decimal strings, None for open)."""
    amount = to_decimal(value)
    if amount is None:
        return True
    return (low is None or amount >= Decimal(low)) and (high is None or amount <= Decimal(high))


def amounts_add_up(employer: object, personal: object, total: object, tolerance: str) -> bool:
    """``employer + personal == total`` within ``tolerance`` (rounding of each part to cents)."""
    parts = [to_decimal(v) for v in (employer, personal, total)]
    if any(p is None for p in parts):
        return True
    e, p, t = parts
    assert e is not None and p is not None and t is not None
    return abs(e + p - t) <= Decimal(tolerance)


def month_index(period: str) -> int:
    """``YYYY-MM`` as a month count (for differences)."""
    return int(period[:4]) * 12 + int(period[5:7]) - 1


def months_between(first: str, last: str) -> int:
    """Inclusive number of months from ``first`` to ``last``."""
    return month_index(last) - month_index(first) + 1


def missing_months(periods: list[str]) -> list[str]:
    """Months absent between the first and last of ``periods`` (断缴 gaps), ascending."""
    months = sorted({month_index(p) for p in periods if valid_iso_month(p)})
    if len(months) < 2:
        return []
    have = set(months)
    return [f"{m // 12:04d}-{m % 12 + 1:02d}" for m in range(months[0], months[-1] + 1) if m not in have]


def months_consistent(months_paid: object, count: object, period_months: object, since: object, until: object) -> bool:
    """Paid months agree with the contribution table and the insured period.

    The table's row count equals the printed period count, the cumulative months are at least the table's
    rows, and at most the months from ``since`` to ``until`` (when both are known)."""
    paid = int(str(months_paid)) if not missing(months_paid) and str(months_paid).isdigit() else None
    rows = int(Decimal(str(count))) if not missing(count) else 0
    if not missing(period_months) and str(period_months).isdigit() and rows and int(str(period_months)) != rows:
        return False
    if paid is None:
        return True
    if rows and paid < rows:
        return False
    if _comparable(since) and _comparable(until):
        return paid <= months_between(str(since)[:7], str(until)[:7])
    return True
