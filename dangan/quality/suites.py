"""Expectation suites as code: one for document records, one for contribution rows, versioned here.

Every expectation carries ``meta = {"code": REASON_CODE, "fields": [...]}`` (what a reviewer is shown) and a
severity: ``critical`` and ``warning`` failures send a document to review, ``info`` ones are findings (断缴).
Change an expectation → bump ``SUITE_VERSION`` so stored results say which rules judged them.
"""

from __future__ import annotations

from typing import Any

import great_expectations as gx
from great_expectations.core.expectation_suite import ExpectationSuite
from great_expectations.expectations.metadata_types import FailureSeverity

from dangan.quality import expectations as cx
from dangan.quality.errors import SuiteIntegrityError
from dangan.quality.rules import QualityRules

SUITE_VERSION = 2  # 2: FIELD_CONFLICT (a field read with two different values in one document)
RECORDS_SUITE = f"dangan-records-v{SUITE_VERSION}"
CONTRIBUTIONS_SUITE = f"dangan-contributions-v{SUITE_VERSION}"
FORM_TYPES = ("registration", "account_statement", "transfer_form")
WARNING, INFO = FailureSeverity.WARNING, FailureSeverity.INFO  # CRITICAL is the default
ID_COLUMNS = ("person_key", "id_number", "name", "registered_id", "registered_name")


def _meta(code: str, *fields: str) -> dict[str, Any]:
    return {"code": code, "fields": list(fields)}


def records_suite(rules: QualityRules) -> ExpectationSuite:
    """Checks on one row per document (fields, derived contribution facts, registered identity)."""
    e = gx.expectations
    items: list[Any] = [
        e.ExpectColumnValuesToBeInSet(column="form_type", value_set=list(FORM_TYPES), meta=_meta("FORM_UNKNOWN")),
        # the reason names the conflicting fields themselves (the runner reads them from the record)
        cx.ExpectFieldsToHaveNoConflict(column="field_conflicts", meta=_meta("FIELD_CONFLICT")),
        cx.ExpectColumnValuesToBeValidResidentId(column="id_number", meta=_meta("ID_INVALID", "id_number")),
        cx.ExpectColumnValuesToNotBeLegacyResidentId(
            column="id_number", meta=_meta("ID_LEGACY_15", "id_number"), severity=WARNING
        ),
        cx.ExpectColumnValuesToHavePlausibleRegionCode(column="id_number", meta=_meta("ID_REGION", "id_number")),
        cx.ExpectResidentIdToMatchBirthDate(
            column_list=["id_number", "birth_date"],
            ignore_row_if="any_value_is_missing",
            meta=_meta("ID_BIRTH_MISMATCH", "id_number", "birth_date"),
        ),
        cx.ExpectResidentIdToMatchSex(
            column_list=["id_number", "sex"],
            ignore_row_if="any_value_is_missing",
            meta=_meta("ID_SEX_MISMATCH", "id_number", "sex"),
        ),
        e.ExpectColumnValuesToBeInSet(column="sex", value_set=["男", "女"], meta=_meta("SEX_INVALID", "sex")),
        cx.ExpectPersonIdentityToAgree(
            column_list=list(ID_COLUMNS),
            ignore_row_if="never",
            meta=_meta("IDENTITY_MISMATCH", "id_number", "name"),
        ),
        cx.ExpectColumnValuesToBeValidCreditCode(
            column="employer_code", meta=_meta("EMPLOYER_CODE_CHECK", "employer_code")
        ),
        cx.ExpectColumnValuesToAgreeWithinGroup(
            column_list=["person_key", "person_code"],
            ignore_row_if="never",
            meta=_meta("PERSON_CODE_MISMATCH", "person_code"),
        ),
    ]
    items += [
        cx.ExpectColumnValuesToBeIsoDate(column=c, meta=_meta("DATE_INVALID", c)) for c in ("birth_date", "doc_date")
    ]
    items += [
        cx.ExpectColumnValuesToBeIsoMonth(column=c, meta=_meta("DATE_INVALID", c))
        for c in ("insured_since", "insured_until", "period_first", "period_last")
    ]
    for columns, strict in (
        (["birth_ref", "insured_since", "doc_date"], [True, False]),
        (["insured_since", "insured_until", "doc_date"], [False, False]),
        (["period_first", "period_last", "doc_date"], [False, False]),
    ):
        shown = [c if c != "birth_ref" else "birth_date" for c in columns]
        items.append(
            cx.ExpectDatesToBeOrdered(
                column_list=columns, strict=strict, ignore_row_if="never", meta=_meta("DATE_ORDER", *shown)
            )
        )
    items += [
        cx.ExpectColumnValuesToBePlainDecimal(column=c, meta=_meta("AMOUNT_FORMAT", c))
        for c in ("contribution_base", "period_total")
    ]
    items += [
        cx.ExpectColumnValuesToBeDecimalBetween(
            column="contribution_base",
            min_value=rules.min_base,
            max_value=rules.max_base,
            meta=_meta("BASE_OUT_OF_RANGE", "contribution_base"),
        ),
        cx.ExpectAmountsToAddUp(
            column_list=["period_total", "contributions_total"],
            tolerance=rules.amount_tolerance,
            ignore_row_if="any_value_is_missing",
            meta=_meta("TOTAL_MISMATCH", "period_total"),
        ),
        cx.ExpectMonthsPaidToMatchContributions(
            column_list=[
                "months_paid",
                "contribution_count",
                "period_months",
                "insured_since",
                "insured_until",
            ],
            ignore_row_if="never",
            meta=_meta("MONTHS_INCONSISTENT", "months_paid"),
        ),
        cx.ExpectContributionMonthsToBeContinuous(
            column="contribution_periods", meta=_meta("CONTRIBUTION_GAP", "contributions"), severity=INFO
        ),
        e.ExpectColumnValuesToMatchRegex(
            column="phone",
            regex=r"^(?:1\d{10}|0\d{2,3}-?\d{7,8})$",
            meta=_meta("PHONE_FORMAT", "phone"),
            severity=WARNING,
        ),
    ]
    items += [
        e.ExpectColumnValuesToMatchRegex(column=c, regex=r"^\d+$", meta=_meta("INTEGER_FORMAT", c))
        for c in ("months_paid", "period_months")
    ]
    for form, fields in rules.required.items():
        items += [
            e.ExpectColumnValuesToNotBeNull(
                column=f,
                row_condition=f'form_type=="{form}"',
                condition_parser="pandas",
                meta=_meta("FIELD_MISSING", f),
            )
            for f in fields
        ]
    items += [
        e.ExpectColumnValuesToBeBetween(
            column=f"{f}__confidence",
            min_value=rules.confidence_threshold,
            meta=_meta("LOW_CONFIDENCE", f),
            severity=WARNING,
        )
        for f in rules.key_fields
    ]
    return ExpectationSuite(name=RECORDS_SUITE, expectations=items, meta={"dangan_suite_version": SUITE_VERSION})


def contributions_suite(rules: QualityRules) -> ExpectationSuite:
    """Checks on one row per contribution-table row (``record_id``, ``row`` and the six columns)."""
    e = gx.expectations
    amounts = ("base", "employer", "personal", "total")
    items: list[Any] = [
        e.ExpectColumnValuesToNotBeNull(column="period", meta=_meta("FIELD_MISSING", "period")),
        e.ExpectColumnValuesToNotBeNull(column="total", meta=_meta("FIELD_MISSING", "total")),
        cx.ExpectColumnValuesToBeIsoMonth(column="period", meta=_meta("DATE_INVALID", "period")),
        e.ExpectCompoundColumnsToBeUnique(
            column_list=["record_id", "period"], meta=_meta("PERIOD_DUPLICATE", "period")
        ),
    ]
    items += [cx.ExpectColumnValuesToBePlainDecimal(column=c, meta=_meta("AMOUNT_FORMAT", c)) for c in amounts]
    items += [
        cx.ExpectColumnValuesToBeDecimalBetween(column=c, min_value="0", meta=_meta("AMOUNT_NEGATIVE", c))
        for c in amounts
    ]
    items += [
        cx.ExpectColumnValuesToBeDecimalBetween(
            column="base",
            min_value=rules.min_base,
            max_value=rules.max_base,
            meta=_meta("BASE_OUT_OF_RANGE", "base"),
        ),
        cx.ExpectAmountsToAddUp(
            column_list=["employer", "personal", "total"],
            tolerance=rules.amount_tolerance,
            ignore_row_if="any_value_is_missing",
            meta=_meta("AMOUNT_SUM_MISMATCH", "employer", "personal", "total"),
        ),
        e.ExpectColumnValuesToBeInSet(
            column="flag",
            value_set=list(rules.contribution_flags),
            meta=_meta("FLAG_UNKNOWN", "flag"),
            severity=WARNING,
        ),
        e.ExpectColumnValuesToBeBetween(
            column="confidence",
            min_value=rules.confidence_threshold,
            meta=_meta("LOW_CONFIDENCE", "contributions"),
            severity=WARNING,
        ),
    ]
    return ExpectationSuite(name=CONTRIBUTIONS_SUITE, expectations=items, meta={"dangan_suite_version": SUITE_VERSION})


def suite_to_dict(suite: ExpectationSuite) -> dict[str, Any]:
    """The suite's JSON form (what GX stores)."""
    return suite.to_json_dict()


def load_suite(data: dict[str, Any]) -> ExpectationSuite:
    """Rebuild a suite from its JSON form, custom expectations registered first; raises
    :class:`SuiteIntegrityError` when GX dropped any expectation (an unregistered type)."""
    assert cx.CUSTOM_TYPES  # the import above registered every custom expectation type
    suite = ExpectationSuite(**{k: v for k, v in data.items() if k in ("name", "expectations", "meta", "id", "notes")})
    expected = [x.get("type") for x in data.get("expectations", [])]
    kept = [x.expectation_type for x in suite.expectations]
    if sorted(kept) != sorted(t for t in expected if t):
        lost = sorted(set(expected) - set(kept))
        raise SuiteIntegrityError(f"suite {suite.name} lost expectations on load: {', '.join(lost)}", lost=lost)
    return suite
