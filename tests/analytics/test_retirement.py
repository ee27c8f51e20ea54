"""The retirement-age and minimum-contribution tables against the rows published with the 决定 (2024-09-13)."""

from __future__ import annotations

import itertools
from datetime import date

import pytest

from dangan.analytics.retirement import (
    RetirementGroup,
    birth_and_sex_from_id,
    delay_months,
    minimum_contribution_months,
    minimum_contribution_table,
    month_index,
    retirement_table,
    statutory_retirement,
)

M, F55, F50 = RetirementGroup.MALE, RetirementGroup.FEMALE_CADRE, RetirementGroup.FEMALE_WORKER


# (group, birth year, birth month) → (age as printed, retirement month): rows of 附件1–3
@pytest.mark.parametrize(
    ("group", "born", "age", "month"),
    [
        (M, (1964, 12), "60y", "2024-12"),  # before the reform: unchanged
        (M, (1965, 1), "60y1m", "2025-02"),  # 附件1 first row: 1965年1月-4月, 60岁1个月, 2025年2月-5月
        (M, (1965, 4), "60y1m", "2025-05"),
        (M, (1965, 5), "60y2m", "2025-07"),  # 1965年5月-8月, 60岁2个月, 2025年7月-10月
        (M, (1965, 12), "60y3m", "2026-03"),  # 1965年9月-12月, 60岁3个月, 2025年12月-2026年3月
        (M, (1966, 5), "60y5m", "2026-10"),  # 1966年5月-8月, 60岁5个月, 2026年10月-2027年1月
        (M, (1966, 9), "60y6m", "2027-03"),  # 1966年9月-12月, 60岁6个月, 2027年3月-6月
        (M, (1976, 8), "62y11m", "2039-07"),  # last stepped row: 1976年5月-8月, 62岁11个月
        (M, (1976, 9), "63y", "2039-09"),  # 1976年9月及以后: 63岁
        (M, (1990, 1), "63y", "2053-01"),
        (F55, (1969, 12), "55y", "2024-12"),
        (F55, (1970, 1), "55y1m", "2025-02"),  # 附件2 first row: 1970年1月-4月, 55岁1个月, 2025年2月-5月
        (F55, (1970, 5), "55y2m", "2025-07"),
        (F55, (1981, 8), "57y11m", "2039-07"),
        (F55, (1981, 9), "58y", "2039-09"),  # 1981年9月及以后: 58岁
        (F50, (1974, 12), "50y", "2024-12"),
        (F50, (1975, 1), "50y1m", "2025-02"),  # 附件3 first row: 1975年1月-2月, 50岁1个月, 2025年2月-3月
        (F50, (1975, 2), "50y1m", "2025-03"),
        (F50, (1975, 3), "50y2m", "2025-05"),  # 1975年3月-4月, 50岁2个月, 2025年5月-6月
        (F50, (1984, 10), "54y11m", "2039-09"),  # 1984年9月-10月, 54岁11个月
        (F50, (1984, 11), "55y", "2039-11"),  # 1984年11月及以后: 55岁
    ],
)
def test_published_examples(group: RetirementGroup, born: tuple[int, int], age: str, month: str) -> None:
    got = statutory_retirement(group, *born)
    assert (got.age, got.month) == (age, month)


@pytest.mark.parametrize(
    ("group", "rows", "first", "last_from", "last_age", "last_retire"),
    [
        (M, 36, ("1965-01", "1965-04", "60y1m", "2025-02", "2025-05"), "1976-09", "63y", "2039-09"),
        (F55, 36, ("1970-01", "1970-04", "55y1m", "2025-02", "2025-05"), "1981-09", "58y", "2039-09"),
        (F50, 60, ("1975-01", "1975-02", "50y1m", "2025-02", "2025-03"), "1984-11", "55y", "2039-11"),
    ],
)
def test_annex_tables(
    group: RetirementGroup, rows: int, first: tuple[str, ...], last_from: str, last_age: str, last_retire: str
) -> None:
    table = retirement_table(group)
    assert len(table) == rows  # one row per month of delay, 1 … 36 (or 60)
    head = table[0]
    assert (head.birth_from, head.birth_to, head.age, head.retire_from, head.retire_to) == first
    tail = table[-1]
    assert (tail.birth_from, tail.birth_to, tail.age, tail.retire_from, tail.delay_months) == (
        last_from,
        None,
        last_age,
        last_retire,
        rows,
    )
    # rows tile the birth months without overlap, each one month of delay more than the previous
    for before, after in itertools.pairwise(table):
        assert before.birth_to is not None
        assert (
            month_index(int(after.birth_from[:4]), int(after.birth_from[5:]))
            == month_index(int(before.birth_to[:4]), int(before.birth_to[5:])) + 1
        )
        assert after.delay_months == before.delay_months + 1


def test_delay_is_monotonic_and_capped() -> None:
    for group, cap in ((M, 36), (F55, 36), (F50, 60)):
        delays = [delay_months(group, month_index(1960, 1) + k) for k in range(12 * 40)]
        assert delays == sorted(delays)
        assert delays[0] == 0 and delays[-1] == cap


def test_minimum_contribution_annex4() -> None:
    table = dict(minimum_contribution_table())
    assert [table[y] for y in range(2025, 2030)] == [180] * 5  # 15 years until 2029
    assert table[2030] == 186  # 15年6个月
    assert table[2031] == 192  # 16年
    assert table[2035] == 216  # 18年
    assert table[2039] == 240  # 20年
    assert minimum_contribution_months(2050) == 240
    # the minimum follows the year of retirement: a man born 1970-06 (17 months' delay) retires 2031-11 at
    # 61y5m and needs 16 years; one born 1972-01 (22 months) retires 2033-11 at 61y10m and needs 17 years
    late = statutory_retirement(M, 1970, 6)
    assert (late.age, late.month, late.min_contribution_months) == ("61y5m", "2031-11", 192)
    later = statutory_retirement(M, 1972, 1)
    assert (later.age, later.month, later.min_contribution_months) == ("61y10m", "2033-11", 204)


def test_birth_and_sex_from_id() -> None:
    assert birth_and_sex_from_id("33010619821207001X") == (date(1982, 12, 7), "男")  # check digit X
    assert birth_and_sex_from_id("330106198212070013") == (date(1982, 12, 7), "男")
    assert birth_and_sex_from_id("330106198212070023") == (date(1982, 12, 7), "女")
    assert birth_and_sex_from_id("3301061982120700") is None
    assert birth_and_sex_from_id("330106198213070013") is None
