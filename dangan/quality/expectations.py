"""Custom Great Expectations (GX Core 1.x) for social-insurance records, pandas engine.

Importing this module registers every expectation below (and, through :mod:`dangan.quality.metrics`, their
metrics) with GX: its metaclasses do it at class creation. That must happen before any suite is loaded or
deserialized, because GX silently drops expectations of an unknown type; :func:`dangan.quality.suites.load_suite`
imports this module and checks that nothing was dropped.
"""

from __future__ import annotations

from great_expectations.expectations.expectation import (
    ColumnMapExpectation,
    Expectation,
    MulticolumnMapExpectation,
)

from dangan.quality import metrics  # noqa: F401  (registers the metrics these expectations use)


# --- expectations ----------------------------------------------------------------------------------------
class ExpectColumnValuesToBeValidResidentId(ColumnMapExpectation):
    """Resident IDs are well-formed 18-character GB 11643-1999 IDs with a correct MOD 11-2 check character
    and a real birth date (15-digit legacy IDs are left to their own expectation)."""

    map_metric = "column_values.dangan_resident_id_valid"
    success_keys = ("mostly",)


class ExpectColumnValuesToNotBeLegacyResidentId(ColumnMapExpectation):
    """Resident IDs are not 15-digit pre-1999 IDs."""

    map_metric = "column_values.dangan_resident_id_current"
    success_keys = ("mostly",)


class ExpectColumnValuesToHavePlausibleRegionCode(ColumnMapExpectation):
    """The ID's first six digits have a GB/T 2260 shape (known province, prefecture 01-70 or 90)."""

    map_metric = "column_values.dangan_region_plausible"
    success_keys = ("mostly",)


class ExpectColumnValuesToBeValidCreditCode(ColumnMapExpectation):
    """18-character employer codes are 统一社会信用代码 with a correct GB 32100-2015 check character."""

    map_metric = "column_values.dangan_uscc_valid"
    success_keys = ("mostly",)


class ExpectColumnValuesToBeIsoDate(ColumnMapExpectation):
    """Values are real dates written YYYY-MM-DD."""

    map_metric = "column_values.dangan_iso_date"
    success_keys = ("mostly",)


class ExpectColumnValuesToBeIsoMonth(ColumnMapExpectation):
    """Values are months written YYYY-MM."""

    map_metric = "column_values.dangan_iso_month"
    success_keys = ("mostly",)


class ExpectColumnValuesToBePlainDecimal(ColumnMapExpectation):
    """Amounts are plain decimals (no thousands separators, at most two decimals)."""

    map_metric = "column_values.dangan_plain_decimal"
    success_keys = ("mostly",)


class ExpectColumnValuesToBeDecimalBetween(ColumnMapExpectation):
    """Decimal amounts lie within [min_value, max_value] (compared as Decimal, never float)."""

    map_metric = "column_values.dangan_decimal_between"
    min_value: str | None = None
    max_value: str | None = None
    success_keys = ("mostly", "min_value", "max_value")


class ExpectContributionMonthsToBeContinuous(ColumnMapExpectation):
    """A record's contribution months (a JSON list) have no gap between the first and the last (断缴)."""

    map_metric = "column_values.dangan_months_continuous"
    success_keys = ("mostly",)


class ExpectFieldsToHaveNoConflict(ColumnMapExpectation):
    """A record's conflicting fields (a JSON list of field names, null when none) are empty: every field the
    document prints more than once was read with one value. Which reading is right is a person's call."""

    map_metric = "column_values.dangan_no_field_conflict"
    success_keys = ("mostly",)


class ExpectResidentIdToMatchBirthDate(MulticolumnMapExpectation):
    """column_list = [id, birth date]: the printed birth date is the one embedded in the ID."""

    map_metric = "multicolumn_values.dangan_id_birth"
    success_keys = ("mostly",)


class ExpectResidentIdToMatchSex(MulticolumnMapExpectation):
    """column_list = [id, sex]: the printed sex agrees with the ID's order code."""

    map_metric = "multicolumn_values.dangan_id_sex"
    success_keys = ("mostly",)


class ExpectDatesToBeOrdered(MulticolumnMapExpectation):
    """Present dates in column_list are ascending (``strict[i]``: column i strictly before column i+1)."""

    map_metric = "multicolumn_values.dangan_dates_ordered"
    strict: list[bool] | None = None
    success_keys = ("mostly", "strict")


class ExpectAmountsToAddUp(MulticolumnMapExpectation):
    """column_list = [employer, personal, total] (or [stated, computed]) agree within ``tolerance``."""

    map_metric = "multicolumn_values.dangan_amounts_add_up"
    tolerance: str = "0.01"
    success_keys = ("mostly", "tolerance")


class ExpectMonthsPaidToMatchContributions(MulticolumnMapExpectation):
    """column_list = [months_paid, table rows, printed period months, insured since, insured until]."""

    map_metric = "multicolumn_values.dangan_months_consistent"
    success_keys = ("mostly",)


class ExpectPersonIdentityToAgree(MulticolumnMapExpectation):
    """column_list = [person key, id, name, registered id, registered name]: all documents of one person
    carry the registered ID and name (or, with none registered, the one most documents carry)."""

    map_metric = "multicolumn_values.dangan_identity_agrees"
    success_keys = ("mostly",)


class ExpectColumnValuesToAgreeWithinGroup(MulticolumnMapExpectation):
    """column_list = [group key, value]: documents of one group (person) carry the same value (the one most
    of them carry; with a tie, all differing ones are flagged)."""

    map_metric = "multicolumn_values.dangan_agrees_within_group"
    success_keys = ("mostly",)


CUSTOM_EXPECTATIONS: tuple[type[Expectation], ...] = (
    ExpectColumnValuesToBeValidResidentId,
    ExpectColumnValuesToNotBeLegacyResidentId,
    ExpectColumnValuesToHavePlausibleRegionCode,
    ExpectColumnValuesToBeValidCreditCode,
    ExpectColumnValuesToBeIsoDate,
    ExpectColumnValuesToBeIsoMonth,
    ExpectColumnValuesToBePlainDecimal,
    ExpectColumnValuesToBeDecimalBetween,
    ExpectContributionMonthsToBeContinuous,
    ExpectFieldsToHaveNoConflict,
    ExpectResidentIdToMatchBirthDate,
    ExpectResidentIdToMatchSex,
    ExpectDatesToBeOrdered,
    ExpectAmountsToAddUp,
    ExpectMonthsPaidToMatchContributions,
    ExpectPersonIdentityToAgree,
    ExpectColumnValuesToAgreeWithinGroup,
)
CUSTOM_TYPES: frozenset[str] = frozenset(c.expectation_type for c in CUSTOM_EXPECTATIONS)
