"""Resident-ID checks (GB 11643-1999): property tests plus known examples."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dangan.ids import (
    ID_BIRTH_DATE,
    ID_CHECK_DIGIT,
    ID_FORMAT,
    ID_LEGACY_15,
    ID_REGION,
    PROVINCE_CODES,
    IdCheck,
    birth_date_of,
    check_char,
    make_id,
    normalize_id,
    region_of,
    sex_of,
    validate_id,
)

TODAY = date(2025, 1, 1)
regions = st.sampled_from(sorted(PROVINCE_CODES)).flatmap(
    lambda p: st.from_regex(r"[0-9]{4}", fullmatch=True).map(lambda rest: p + rest)
)
births = st.dates(min_value=date(1900, 1, 1), max_value=date(2024, 12, 31))
sexes = st.sampled_from(["男", "女"])
seqs = st.integers(min_value=0, max_value=499)


@given(regions, births, seqs, sexes)
def test_generated_ids_validate_and_round_trip(region: str, born: date, seq: int, sex: str) -> None:
    rid = make_id(region, born, seq, sex)
    assert validate_id(rid, today=TODAY) == IdCheck(True, ())
    assert birth_date_of(rid) == born
    assert sex_of(rid) == sex
    assert region_of(rid) == region


@given(regions, births, seqs, sexes, st.integers(0, 16), st.integers(1, 9))
def test_any_single_digit_change_breaks_the_id(
    region: str, born: date, seq: int, sex: str, pos: int, delta: int
) -> None:
    rid = make_id(region, born, seq, sex)
    digit = str((int(rid[pos]) + delta) % 10)
    mutated = rid[:pos] + digit + rid[pos + 1 :]
    result = validate_id(mutated, today=TODAY)
    assert not result.valid
    # MOD 11-2 detects every single-digit substitution, whatever else the change broke.
    assert ID_CHECK_DIGIT in result.reasons


@given(regions, births, seqs, sexes)
def test_lower_case_x_is_a_format_error_until_normalized(region: str, born: date, seq: int, sex: str) -> None:
    rid = make_id(region, born, seq, sex)
    lowered = rid[:17] + rid[17].lower()
    if rid.endswith("X"):
        assert validate_id(lowered, today=TODAY).reasons == (ID_FORMAT,)
    assert validate_id(normalize_id(lowered), today=TODAY).valid


def test_known_examples() -> None:
    assert check_char("11010519491231002") == "X"
    assert validate_id("11010519491231002X").valid
    assert sex_of("11010519491231002X") == "女"
    assert birth_date_of("11010519491231002X") == date(1949, 12, 31)
    assert region_of("11010519491231002X") == "110105"
    assert validate_id("440524188001010014").reasons == (ID_BIRTH_DATE,)  # GB 11643 example, born 1880
    assert make_id("110105", date(1949, 12, 31), 1, "女") == "11010519491231002X"


@pytest.mark.parametrize(
    ("value", "reasons"),
    [
        ("11010519491231002", (ID_FORMAT,)),  # 17 chars
        ("11010519491231002XX", (ID_FORMAT,)),
        ("1101051949123100X2", (ID_FORMAT,)),  # X not last
        ("11010519491231002Ｘ", (ID_FORMAT,)),  # full-width X
        ("", (ID_FORMAT,)),
        ("110105194912310021", (ID_CHECK_DIGIT,)),
        ("110105194913310027", (ID_BIRTH_DATE,)),  # month 13
        ("110105189912310021", (ID_BIRTH_DATE,)),  # before 1900
        ("990105194912310026", (ID_REGION,)),
    ],
)
def test_reason_codes(value: str, reasons: tuple[str, ...]) -> None:
    # Fix the check char for cases not about the check digit so each case isolates one reason.
    if reasons != (ID_CHECK_DIGIT,) and reasons != (ID_FORMAT,):
        value = value[:17] + check_char(value[:17])
    assert validate_id(value, today=TODAY) == IdCheck(False, reasons)


def test_future_birth_date_is_rejected() -> None:
    rid = make_id("330106", date(2030, 5, 1), 7, "男")
    assert validate_id(rid, today=TODAY).reasons == (ID_BIRTH_DATE,)
    assert validate_id(rid, today=date(2031, 1, 1)).valid


def test_legacy_15_digit_is_flagged_not_malformed() -> None:
    result = validate_id("110105491231002", today=TODAY)
    assert result == IdCheck(False, (ID_LEGACY_15,))
    assert birth_date_of("110105491231002") == date(1949, 12, 31)
    assert sex_of("110105491231002") == "女"
    assert validate_id("110105491331002", today=TODAY).reasons == (ID_LEGACY_15, ID_BIRTH_DATE)


def test_normalize_only_canonicalizes() -> None:
    assert normalize_id(" １１０１０５ １９４９１２３１ ００２ｘ ") == "11010519491231002X"
    assert normalize_id("11010519491231002x\u3000") == "11010519491231002X"
    assert normalize_id("1101O519491231002X") == "1101O519491231002X"  # letter O stays: no guessing


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("99010", date(1990, 1, 1), 1, "男"), "region"),
        (("990105", date(1990, 1, 1), 1, "男"), "region"),
        (("330106", date(1990, 1, 1), 500, "男"), "seq"),
        (("330106", date(1990, 1, 1), 1, "M"), "sex"),
    ],
)
def test_make_id_rejects_bad_input(args: tuple, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_id(*args)


def test_helpers_reject_non_ids() -> None:
    with pytest.raises(ValueError):
        birth_date_of("not an id")
    with pytest.raises(ValueError):
        check_char("1234")
