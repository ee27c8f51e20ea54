"""Statutory retirement age and minimum contribution years under the gradual reform in force since 2025-01-01.

Source: 全国人民代表大会常务委员会关于实施渐进式延迟法定退休年龄的决定 (2024-09-13) and its annexed tables
(附件1–4). The tables are not copied here: they are computed from the rule the 决定 states, month by month,
and ``tests/analytics/test_retirement.py`` checks them against the published rows and endpoints.

- Men (original age 60): from those born 1965-01, one month later for every 4 months of birth, up to 63.
- Women with original age 55 (cadres, 管理和技术岗位): from those born 1970-01, every 4 months, up to 58.
- Women with original age 50 (workers, 工人岗位): from those born 1975-01, every 2 months, up to 55.
- Minimum contribution years for a monthly pension: 15 until 2029; from 2030 six months more each year, up to
  20 years in 2039 (keyed by the year a person reaches the statutory retirement age).

Months are handled as integer indices (``year * 12 + month - 1``) so that arithmetic never touches the calendar.
Voluntary early or late retirement (弹性退休, up to 3 years either way) is not modelled: this is the statutory date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum


class RetirementGroup(StrEnum):
    """Which original statutory age applies (the archive's 性别 plus, for women, the post held)."""

    MALE = "male_60"
    FEMALE_CADRE = "female_55"
    FEMALE_WORKER = "female_50"


@dataclass(frozen=True)
class ReformRule:
    """One annex: original age, first birth month affected, birth months per extra month, and the cap."""

    original_years: int
    first_birth: int  # month index of the first birth month affected
    step: int  # birth months per extra month of delay
    max_delay: int  # months


def month_index(year: int, month: int) -> int:
    """``(2025, 2)`` → a month number; consecutive months differ by one."""
    return year * 12 + month - 1


def period_index(period: str) -> int:
    """``"2025-02"`` → :func:`month_index`."""
    return month_index(int(period[:4]), int(period[5:7]))


def period_of(index: int) -> str:
    """Month index → ``"YYYY-MM"``."""
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


RULES: dict[RetirementGroup, ReformRule] = {
    RetirementGroup.MALE: ReformRule(60, month_index(1965, 1), 4, 36),
    RetirementGroup.FEMALE_CADRE: ReformRule(55, month_index(1970, 1), 4, 36),
    RetirementGroup.FEMALE_WORKER: ReformRule(50, month_index(1975, 1), 2, 60),
}
MIN_CONTRIBUTION_BASE_MONTHS = 15 * 12
MIN_CONTRIBUTION_FIRST_RAISE = 2030
MIN_CONTRIBUTION_STEP_MONTHS = 6
MIN_CONTRIBUTION_MAX_MONTHS = 20 * 12


def delay_months(group: RetirementGroup, birth: int) -> int:
    """Months by which the reform delays retirement for a person born in month index ``birth``."""
    rule = RULES[group]
    if birth < rule.first_birth:
        return 0
    return min(rule.max_delay, (birth - rule.first_birth) // rule.step + 1)


def retirement_age_months(group: RetirementGroup, birth: int) -> int:
    """Statutory retirement age in months (``60 * 12 + delay``)."""
    return RULES[group].original_years * 12 + delay_months(group, birth)


def minimum_contribution_months(retirement_year: int) -> int:
    """Minimum contribution for a monthly pension, in months, for someone reaching retirement age that year."""
    if retirement_year < MIN_CONTRIBUTION_FIRST_RAISE:
        return MIN_CONTRIBUTION_BASE_MONTHS
    raised = MIN_CONTRIBUTION_BASE_MONTHS + MIN_CONTRIBUTION_STEP_MONTHS * (
        retirement_year - MIN_CONTRIBUTION_FIRST_RAISE + 1
    )
    return min(MIN_CONTRIBUTION_MAX_MONTHS, raised)


def years_months(months: int) -> str:
    """``725`` → ``"60y5m"`` (60岁5个月); whole years without the months: ``"63y"``."""
    years, rest = divmod(months, 12)
    return f"{years}y{rest}m" if rest else f"{years}y"


@dataclass(frozen=True)
class Retirement:
    """A person's statutory retirement: age, the month it is reached and the minimum contribution then."""

    group: RetirementGroup
    birth: str  # YYYY-MM
    age_months: int
    delay_months: int
    month: str  # YYYY-MM, the month the statutory age is reached
    min_contribution_months: int

    @property
    def age(self) -> str:
        """``"60y5m"``."""
        return years_months(self.age_months)

    def to_json(self) -> dict[str, object]:
        """Plain JSON form."""
        return {
            "group": self.group.value,
            "birth": self.birth,
            "age": self.age,
            "age_months": self.age_months,
            "delay_months": self.delay_months,
            "month": self.month,
            "min_contribution_months": self.min_contribution_months,
        }


def statutory_retirement(group: RetirementGroup, birth_year: int, birth_month: int) -> Retirement:
    """Statutory retirement of a person born in ``birth_year``-``birth_month`` in ``group``."""
    birth = month_index(birth_year, birth_month)
    age = retirement_age_months(group, birth)
    month = birth + age
    return Retirement(
        group=group,
        birth=period_of(birth),
        age_months=age,
        delay_months=delay_months(group, birth),
        month=period_of(month),
        min_contribution_months=minimum_contribution_months(month // 12),
    )


def group_for(sex: str | None, female_group: RetirementGroup = RetirementGroup.FEMALE_WORKER) -> RetirementGroup | None:
    """Retirement group from 性别 (``男``/``女``/``M``/``F``); women's post is not in the archive, so the caller says
    which original age applies (default 50: enterprise workers, the bulk of 企业职工 archives)."""
    if sex in ("男", "M", "male"):
        return RetirementGroup.MALE
    if sex in ("女", "F", "female"):
        return female_group
    return None


def birth_and_sex_from_id(resident_id: str | None) -> tuple[date, str] | None:
    """Birth date and sex (``男``/``女``) from an 18-character resident ID (GB 11643), or None when unreadable."""
    if not resident_id or len(resident_id) != 18 or not resident_id[:17].isdigit():
        return None
    try:
        born = date(int(resident_id[6:10]), int(resident_id[10:12]), int(resident_id[12:14]))
    except ValueError:
        return None
    return born, ("男" if int(resident_id[16]) % 2 else "女")


@dataclass(frozen=True)
class TableRow:
    """One row of an annex table: birth months sharing one retirement age, and when they retire."""

    birth_from: str
    birth_to: str | None  # None on the last row: "and later" (及以后)
    age: str
    retire_from: str
    retire_to: str | None
    delay_months: int


def retirement_table(group: RetirementGroup) -> list[TableRow]:
    """The annex table for ``group``, computed month by month: consecutive birth months with the same age form
    one row, as in 附件1–3 (first row: the first birth month affected; last row: "and later")."""
    rule = RULES[group]
    rows: list[TableRow] = []
    birth = rule.first_birth
    while True:
        delay = delay_months(group, birth)
        if delay == rule.max_delay:
            age = rule.original_years * 12 + delay
            rows.append(TableRow(period_of(birth), None, years_months(age), period_of(birth + age), None, delay))
            return rows
        last = birth
        while delay_months(group, last + 1) == delay:
            last += 1
        age = rule.original_years * 12 + delay
        rows.append(
            TableRow(
                period_of(birth),
                period_of(last),
                years_months(age),
                period_of(birth + age),
                period_of(last + age),
                delay,
            )
        )
        birth = last + 1


def minimum_contribution_table(first_year: int = 2025, last_year: int = 2039) -> list[tuple[int, int]]:
    """附件4: ``(year, minimum months)`` for each year."""
    return [(year, minimum_contribution_months(year)) for year in range(first_year, last_year + 1)]
