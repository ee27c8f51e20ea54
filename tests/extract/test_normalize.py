"""Property tests for the value normalizers: parse what is unambiguous, flag the rest, never guess."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from dangan.extract.normalize import (
    AMOUNT_AMBIGUOUS,
    DATE_INVALID,
    normalize_amount,
    normalize_date,
    normalize_integer,
    normalize_month,
    normalize_month_range,
    normalize_phone,
    normalize_sex,
    normalize_value,
)

amounts = st.decimals(min_value=0, max_value=Decimal("99999999.99"), places=2, allow_nan=False, allow_infinity=False)
dates = st.dates(min_value=date(1900, 1, 1), max_value=date(2099, 12, 31))
DATE_FORMATS = ("%Y-%m-%d", "%Y年%m月%d日", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d", "%Y - %m - %d")
MONTH_FORMATS = ("%Y-%m", "%Y年%m月", "%Y.%m", "%Y%m", "%Y/%m")


@given(amounts)
def test_printed_amounts_parse_exactly(value: Decimal) -> None:
    for printed in (f"{value:,.2f}", f"{value:.2f}", f"¥{value:,.2f}", f"{value:,.2f}元", f" {value:,.2f} "):
        got = normalize_amount(printed)
        assert got.flags == ()
        assert got.value is not None and "," not in got.value
        assert Decimal(got.value) == value


@given(amounts.filter(lambda v: v >= 1000))
def test_comma_read_as_full_stop_is_flagged_never_parsed(value: Decimal) -> None:
    misread = f"{value:,.2f}".replace(",", ".")  # 15,380.00 → 15.380.00
    got = normalize_amount(misread)
    assert got.flags == (AMOUNT_AMBIGUOUS,)
    assert got.value == misread  # left as read: validation catches it


@given(st.text(alphabet="0123456789,. -", max_size=14))
def test_unflagged_amount_is_the_input_without_thousands_separators(text: str) -> None:
    got = normalize_amount(text)
    if not got.flags:
        assert got.value is not None and re.fullmatch(r"-?\d+(\.\d{1,2})?", got.value)
        assert got.value == "".join(text.split()).replace(",", "")
        assert "." not in text.replace(",", "").strip() or text.count(".") == 1


@given(st.text(max_size=20))
def test_normalizers_are_idempotent_on_their_output(text: str) -> None:
    for kind in (
        "amount",
        "date",
        "month",
        "integer",
        "phone",
        "sex",
        "id",
        "name",
        "compact",
        "code",
        "text",
    ):
        first = normalize_value(kind, text)
        if first.value is not None and not first.flags:
            assert normalize_value(kind, first.value) == first, kind


@given(dates, st.sampled_from(DATE_FORMATS))
def test_dates_in_every_printed_format(day: date, fmt: str) -> None:
    got = normalize_date(day.strftime(fmt))
    assert (got.value, got.flags) == (day.isoformat(), ())


@given(dates, st.sampled_from(MONTH_FORMATS))
def test_months_in_every_printed_format(day: date, fmt: str) -> None:
    got = normalize_month(day.strftime(fmt))
    assert (got.value, got.flags) == (day.isoformat()[:7], ())


@given(st.integers(1900, 2099), st.integers(1, 12), st.integers(29, 35))
def test_impossible_dates_are_flagged_and_kept(year: int, month: int, day: int) -> None:
    text = f"{year}-{month:02d}-{day:02d}"
    try:
        date(year, month, day)
    except ValueError:
        assert normalize_date(text).flags == (DATE_INVALID,)
        assert normalize_date(text).value == text
    else:
        assert normalize_date(text).value == text


@given(dates, dates)
def test_month_ranges(first: date, last: date) -> None:
    a, b = normalize_month_range(f"{first:%Y-%m}至{last:%Y年%m月}")
    assert (a.value, b.value) == (f"{first:%Y-%m}", f"{last:%Y-%m}")


@settings(max_examples=50)
@given(st.integers(0, 10**6))
def test_integers(n: int) -> None:
    assert normalize_integer(str(n)).value == str(n)
    assert normalize_integer(f"{n}个月").value == str(n)
    assert normalize_integer(f"{n}.5").flags  # not a whole number: flagged


@given(st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True))
def test_mobile_numbers(number: str) -> None:
    spaced = f"{number[:3]} {number[3:7]}-{number[7:]}"
    assert normalize_phone(spaced).value == number
    assert normalize_phone(number[:-1]).flags  # one digit short: flagged, not padded


def test_sex_and_ids() -> None:
    assert normalize_sex("男性").value == "男" and normalize_sex("女").value == "女"
    assert normalize_sex("勇").flags
    assert normalize_value("id", " 11010519491231002x ").value == "11010519491231002X"
    assert normalize_value("id", "1101051949123100").flags == ("ID_SHAPE",)  # 16 digits: kept as read, flagged
