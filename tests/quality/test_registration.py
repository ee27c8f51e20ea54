"""Custom expectations survive a suite's round trip; a lost one is detected instead of silently skipped."""

from __future__ import annotations

import json

import great_expectations as gx
import pytest
from great_expectations.core.expectation_suite import ExpectationSuite
from great_expectations.expectations import registry

from dangan.extract.errors import SuiteIntegrityError
from dangan.quality.expectations import CUSTOM_TYPES
from dangan.quality.rules import QualityRules
from dangan.quality.suites import contributions_suite, load_suite, records_suite, suite_to_dict


@pytest.mark.parametrize("build", [records_suite, contributions_suite])
def test_loaded_suite_keeps_every_custom_expectation(build) -> None:  # type: ignore[no-untyped-def]
    suite = build(QualityRules())
    types = [e.expectation_type for e in suite.expectations]
    assert set(types) & CUSTOM_TYPES  # the suite really uses custom expectations
    loaded = load_suite(suite_to_dict(suite))
    assert sorted(e.expectation_type for e in loaded.expectations) == sorted(types)
    ctx = gx.get_context(mode="ephemeral")  # and through a GX store
    ctx.suites.add(loaded)
    assert sorted(e.expectation_type for e in ctx.suites.get(suite.name).expectations) == sorted(types)
    assert all(e.meta and e.meta.get("code") for e in loaded.expectations)


def test_unregistered_expectation_is_detected(monkeypatch: pytest.MonkeyPatch) -> None:
    data = suite_to_dict(records_suite(QualityRules()))
    monkeypatch.delitem(registry._registered_expectations, "expect_column_values_to_be_valid_resident_id")
    # GX on its own drops the unknown expectation and carries on ...
    silent = ExpectationSuite(**{k: data[k] for k in ("name", "expectations", "meta")})
    assert len(silent.expectations) == len(data["expectations"]) - 1
    # ... load_suite refuses.
    with pytest.raises(SuiteIntegrityError) as err:
        load_suite(data)
    assert err.value.details["lost"] == ["expect_column_values_to_be_valid_resident_id"]


def test_stored_suite_keeps_the_field_conflict_expectation(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The records suite written out as JSON and read back still checks in-document conflicts."""
    conflict = "expect_fields_to_have_no_conflict"
    assert conflict in CUSTOM_TYPES
    stored = tmp_path / "records-suite.json"
    stored.write_text(json.dumps(suite_to_dict(records_suite(QualityRules()))), encoding="utf-8")
    loaded = load_suite(json.loads(stored.read_text(encoding="utf-8")))
    (found,) = [e for e in loaded.expectations if e.expectation_type == conflict]
    assert (found.column, found.meta["code"]) == ("field_conflicts", "FIELD_CONFLICT")
    ctx = gx.get_context(mode="ephemeral")
    ctx.suites.add(loaded)
    assert conflict in [e.expectation_type for e in ctx.suites.get(loaded.name).expectations]


def test_unregistered_field_conflict_expectation_is_detected(monkeypatch: pytest.MonkeyPatch) -> None:
    data = suite_to_dict(records_suite(QualityRules()))
    monkeypatch.delitem(registry._registered_expectations, "expect_fields_to_have_no_conflict")
    with pytest.raises(SuiteIntegrityError) as err:
        load_suite(data)
    assert err.value.details["lost"] == ["expect_fields_to_have_no_conflict"]
