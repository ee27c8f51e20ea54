"""GX suites on valid and deliberately broken records: exact reasons per record, findings, Data Docs."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from dangan.ids import check_char
from dangan.quality.records import RecordInput
from dangan.quality.rules import QualityRules
from dangan.quality.runner import validate_records
from dangan.quality.suites import RECORDS_SUITE
from tests.extract.helpers import truth_records


def _registered(records: list[RecordInput], truths: dict[str, dict[str, Any]]) -> list[RecordInput]:
    for rec in records:
        person = next(
            t for n, t in truths.items() if n.startswith(rec.record_id[:3]) and t["form_type"] == "registration"
        )
        rec.registered_id, rec.registered_name = person["fields"]["id_number"], person["fields"]["name"]
    return records


@pytest.fixture(scope="module")
def records(truths) -> list[RecordInput]:  # type: ignore[no-untyped-def]
    return _registered(truth_records(truths), truths)


def _by_form(records: list[RecordInput], form: str) -> RecordInput:
    return next(r for r in records if r.form_type == form and r.record_id.startswith("p01"))


def _case(base: RecordInput, name: str) -> RecordInput:
    rec = copy.deepcopy(base)
    rec.record_id, rec.person_key = name, name  # its own group: identity compares with the registration only
    return rec


def _set(rec: RecordInput, field: str, value: str | None, confidence: float = 0.99) -> None:
    rec.fields[field] = {"value": value, "confidence": confidence}


def test_valid_records_pass_and_gaps_are_findings(records, truths) -> None:  # type: ignore[no-untyped-def]
    run = validate_records(records)
    assert {rid: o.reasons for rid, o in run.outcomes.items() if o.reasons} == {}
    for name, truth in truths.items():
        outcome = run.outcomes[name]
        assert outcome.status == "validated"
        gaps = [f for f in outcome.findings if f["code"] == "CONTRIBUTION_GAP"]
        if truth["form_type"] == "account_statement":
            printed = [r["period"] for r in truth["contributions"]]
            expected = sorted({f"{y}-{m:02d}" for y in range(2000, 2030) for m in range(1, 13)} - set(printed))
            expected = [p for p in expected if printed[0] < p < printed[-1]]
            assert [g["details"]["missing"] for g in gaps] == ([expected] if expected else [])
        else:
            assert gaps == []
    assert any(o.findings for o in run.outcomes.values())  # the seed gives at least one 断缴 gap


def _broken(records: list[RecordInput]) -> dict[str, tuple[RecordInput, set[str]]]:
    reg, stmt, xfer = (_by_form(records, f) for f in ("registration", "account_statement", "transfer_form"))
    rid = reg.fields["id_number"]["value"]
    cases: dict[str, tuple[RecordInput, set[str]]] = {}

    def add(name: str, base: RecordInput, expected: set[str]) -> RecordInput:
        rec = _case(base, name)
        cases[name] = (rec, expected)
        return rec

    # One digit of the order code changed by 2: sex parity and birth date unchanged, the check fails.
    wrong = rid[:15] + str((int(rid[15]) + 2) % 10) + rid[16:]
    _set(add("id-digit", reg, {"ID_CHECK_DIGIT", "IDENTITY_MISMATCH"}), "id_number", wrong)
    _set(add("id-legacy", stmt, {"ID_LEGACY_15", "IDENTITY_MISMATCH"}), "id_number", rid[:6] + rid[8:17])
    region = "00" + rid[2:17]
    _set(add("id-region", xfer, {"ID_REGION", "IDENTITY_MISMATCH"}), "id_number", region + check_char(region))
    born = reg.fields["birth_date"]["value"]
    _set(
        add("birth", reg, {"ID_BIRTH_MISMATCH"}),
        "birth_date",
        born[:8] + ("02" if born[8:] != "02" else "03"),
    )
    _set(add("sex", reg, {"ID_SEX_MISMATCH"}), "sex", "女" if reg.fields["sex"]["value"] == "男" else "男")
    _set(add("order", reg, {"DATE_ORDER"}), "insured_since", f"{int(born[:4]) - 1}-01")
    _set(add("base", reg, {"BASE_OUT_OF_RANGE"}), "contribution_base", "100.00")
    _set(add("conf", reg, {"LOW_CONFIDENCE"}), "name", reg.fields["name"]["value"], confidence=0.42)
    _set(add("name", stmt, {"IDENTITY_MISMATCH"}), "name", "某某某")
    _set(add("missing", xfer, {"FIELD_MISSING"}), "id_number", None)
    _set(add("months", stmt, {"MONTHS_INCONSISTENT"}), "months_paid", str(len(stmt.contributions) - 1))
    _set(add("date", xfer, {"DATE_INVALID"}), "transfer_date", None)
    cases["date"][0].fields["doc_date"] = {"value": "2024-02-30", "confidence": 0.99}
    add("form", reg, {"FORM_UNKNOWN"}).form_type = "unknown"
    add("blurred", stmt, {"AMOUNT_FORMAT"}).contributions[2]["total"] = "15.380.00"
    row = add("sum", stmt, {"AMOUNT_SUM_MISMATCH"}).contributions[1]
    row["employer"] = f"{float(row['employer']) + 1:.2f}"
    row = add("negative", stmt, {"AMOUNT_NEGATIVE", "AMOUNT_SUM_MISMATCH"}).contributions[0]
    row["personal"] = "-" + row["personal"]
    add("flag", stmt, {"FLAG_UNKNOWN"}).contributions[3]["flag"] = "补激"
    add("total", stmt, {"TOTAL_MISMATCH"}).fields["period_total"] = {"value": "1.00", "confidence": 0.99}
    code = reg.fields["employer_code"]["value"]
    _set(
        add("uscc", reg, {"EMPLOYER_CODE_CHECK"}),
        "employer_code",
        code[:5] + ("A" if code[5] != "A" else "B") + code[6:],
    )
    # Two documents of one person with different 个人编号 and nothing to break the tie: both flagged.
    pair = add("code-a", reg, {"PERSON_CODE_MISMATCH"}), add("code-b", stmt, {"PERSON_CODE_MISMATCH"})
    pair[0].person_key = pair[1].person_key = "code"
    _set(pair[1], "person_code", "330100000000")
    # The ID was printed twice in the document with two different values: the first matches the registration,
    # but only a person may decide which one is right.
    add("conflict", reg, {"FIELD_CONFLICT"}).fields["id_number"]["flags"] = ["CONFLICT"]
    return cases


def test_broken_records_fail_with_exactly_the_expected_reasons(records, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cases = _broken(records)
    run = validate_records([rec for rec, _ in cases.values()], docs_dir=tmp_path / "docs")
    got = {name: {r["code"] for r in run.outcomes[name].reasons} for name in cases}
    assert got == {name: expected for name, (_, expected) in cases.items()}
    assert all(run.outcomes[name].status == "needs_review" for name in cases)
    blurred = next(r for r in run.outcomes["blurred"].reasons if r["code"] == "AMOUNT_FORMAT")
    assert blurred["details"]["rows"] == [2] and blurred["fields"] == ["total"]
    assert next(r for r in run.outcomes["id-legacy"].reasons if r["code"] == "ID_LEGACY_15")["severity"] == "warning"
    (conflict,) = run.outcomes["conflict"].reasons
    assert (conflict["fields"], conflict["severity"], conflict["details"]) == (["id_number"], "critical", {})
    # Data Docs: built into the given folder, and no resident ID or name copied into them.
    assert run.data_docs == str(tmp_path / "docs" / "index.html")
    html = "".join(p.read_text(encoding="utf-8") for p in (tmp_path / "docs").rglob("*.html"))
    assert RECORDS_SUITE in html
    reg = _by_form(records, "registration")
    assert reg.fields["id_number"]["value"] not in html and reg.fields["name"]["value"] not in html


def test_every_single_digit_change_of_an_id_is_caught(records) -> None:  # type: ignore[no-untyped-def]
    reg = _by_form(records, "registration")
    rid = reg.fields["id_number"]["value"]
    cases = []
    for pos in range(17):
        for delta in (1, 5):
            rec = _case(reg, f"{pos}-{delta}")
            _set(rec, "id_number", rid[:pos] + str((int(rid[pos]) + delta) % 10) + rid[pos + 1 :])
            cases.append(rec)
    run = validate_records(cases, QualityRules())
    assert all(any(r["code"].startswith("ID_") for r in run.outcomes[c.record_id].reasons) for c in cases)


def test_a_check_that_raises_is_an_error_not_a_pass(records, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from dangan.quality import checks
    from dangan.quality.runner import CheckFailed

    def broken(*args: object) -> bool:
        raise ValueError("330106198212079408 unreadable")

    monkeypatch.setattr(checks, "months_consistent", broken)
    with pytest.raises(CheckFailed) as err:
        validate_records(records)
    assert "expect_months_paid_to_match_contributions" in str(err.value)
    assert "330106198212079408" not in str(err.value)  # messages are scrubbed of ID-like numbers
