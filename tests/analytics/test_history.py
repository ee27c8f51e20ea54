"""Merging a person's documents into one monthly history: gaps, months paid, conflicts, retirement."""

from __future__ import annotations

import random
from typing import Any

from dangan.analytics.history import GAP, PAID, DocEvidence, merge_history
from dangan.analytics.retirement import RetirementGroup, group_for, statutory_retirement
from dangan.analytics.site import ReportConfig, WarningLine, report_for_histories
from dangan.pii import mask_id
from dangan.samples.persons import make_person


def documents_of(p: dict[str, Any], first_id: int = 1) -> list[DocEvidence]:
    """What a perfect reader extracts from the three sample forms of ``p`` (as dangan/samples/forms.py prints)."""
    registration = DocEvidence(
        first_id, "registration", p["registration_date"],
        {k: [p[k]] for k in ("sex", "birth_date", "insured_since", "contribution_base")}, [],
    )  # fmt: skip
    statement = DocEvidence(
        first_id + 1,
        "account_statement",
        p["statement_date"],
        {"months_paid": [p["months_paid"]], "period_first": [p["first"]], "period_last": [p["last"]]},
        [dict(row) for row in p["contributions"]],
    )
    transfer = DocEvidence(
        first_id + 2, "transfer_form", p["transfer_date"],
        {"sex": [p["sex"]], "insured_since": [p["insured_since"]], "insured_until": [p["last"]],
         "months_paid": [p["months_paid"]]}, [],
    )  # fmt: skip
    return [registration, statement, transfer]


def test_sample_persons_come_out_exact() -> None:
    rng = random.Random(7)
    people = [make_person(rng, i, "330106", long_statement=i < 2) for i in range(40)]
    assert any(p["gaps"] for p in people) and any(not p["gaps"] for p in people)
    for i, p in enumerate(people):
        h = merge_history(i, "330106", p["id_number"], mask_id(p["id_number"]), documents_of(p, 10 * i))
        assert [g.first for g in h.gaps] == p["gaps"]
        assert all(g.months == 1 and g.resumed is not None for g in h.gaps)
        assert h.months_paid == int(p["months_paid"])
        assert [m.period for m in h.months if m.status == GAP] == p["gaps"]
        assert sum(m.status == PAID for m in h.months) == len(p["contributions"])
        group = group_for(p["sex"])
        assert group is not None
        born = p["birth_date"]
        assert h.retirement == statutory_retirement(group, int(born[:4]), int(born[5:7]))
        assert h.months_still_to_pay == max(0, h.retirement.min_contribution_months - int(p["months_paid"]))
        assert h.conflicts == {}
        assert h.insured_since == p["insured_since"]


def test_conflicts_are_shown_not_averaged() -> None:
    p = make_person(random.Random(3), 0, "330106", long_statement=True)
    docs = documents_of(p)
    # a second statement prints another base for one month and another cumulative count
    other_rows = [dict(r) for r in p["contributions"]]
    other_rows[2]["base"] = "99999.00"
    second = DocEvidence(
        9, "account_statement", p["statement_date"],
        {"months_paid": [str(int(p["months_paid"]) + 1)], "period_first": [p["first"]], "period_last": [p["last"]]},
        other_rows,
    )  # fmt: skip
    h = merge_history(1, "330106", p["id_number"], mask_id(p["id_number"]), [*docs, second])
    month = next(m for m in h.months if m.period == other_rows[2]["period"])
    assert month.conflicts["base"] == [
        {"value": p["contributions"][2]["base"], "documents": [2]},
        {"value": "99999.00", "documents": [9]},
    ]
    assert month.values["base"] == p["contributions"][2]["base"]  # the first reading, not a mean
    assert "months_paid" in h.conflicts and f"months_paid_as_of_{p['last']}" in h.conflicts


def test_gap_lengths_and_resumption() -> None:
    p = make_person(random.Random(5), 0, "330106", long_statement=True)
    rows = [dict(r) for r in p["contributions"]]
    kept = rows[:3] + rows[7:]  # four months missing in the middle, then contributions resume
    docs = [DocEvidence(1, "account_statement", None, {"period_first": [p["first"]], "period_last": [p["last"]]}, kept)]
    h = merge_history(1, "330106", p["id_number"], "x", docs)
    missing = [r["period"] for r in rows[3:7] if r["period"] not in p["gaps"]]
    long_gap = max(h.gaps, key=lambda g: g.months)
    assert long_gap.months >= len(missing) and long_gap.resumed == rows[7]["period"]
    assert h.months_paid == len(kept) and h.months_paid_basis == "contribution rows only"


def test_site_report_suppresses_small_cells_and_raises_warnings() -> None:
    rng = random.Random(11)
    people = [make_person(rng, i, "330106", long_statement=False) for i in range(60)]
    histories = [
        merge_history(i, "330106", p["id_number"], mask_id(p["id_number"]), documents_of(p, 10 * i))
        for i, p in enumerate(people)
    ]
    report = report_for_histories(
        histories, ["330106"], ReportConfig(warnings=(WarningLine("any-gap", "gap_share_3", -1.0),))
    )
    assert report["persons"] == 60 and report["as_of"] == "2024-09"
    for row in report["contributors"] + report["base"]["histogram"] + report["retiring"]:
        assert row["persons"] is None or row["persons"] >= 5
        assert (row["persons"] is None) == bool(row.get("suppressed"))
    assert [w["line"] for w in report["warnings"]] == ["any-gap"]
    # synthetic gaps are single months: no one has a gap of 3 months or more
    assert report["gaps"]["gap_share_3"] == 0.0
    in_window = [p for p in people if p["last"] >= "2022-10"]
    assert report["gaps"]["persons"] == len(in_window)
    assert sum(r["persons"] or 0 for r in report["retiring"]) <= report["active"]


def test_female_group_is_configurable() -> None:
    assert group_for("女", RetirementGroup.FEMALE_CADRE) is RetirementGroup.FEMALE_CADRE
    assert group_for("女") is RetirementGroup.FEMALE_WORKER and group_for(None) is None
