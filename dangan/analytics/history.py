"""A person's contribution history, month by month, merged from every document of their archive.

Evidence comes from the catalog's current field rows (and the candidate readings kept beside a ``CONFLICT``):
account statements give contribution rows and the window they cover (对账期间) and the cumulative months paid
(累计缴费月数) as of the window's end; registration forms give the first insured month (参保日期) and the base;
transfer forms give the insured period (参保起止) and the cumulative months. Nothing is averaged: when two
documents (or two readings) disagree, the month or fact carries every value with the documents that printed it.

Months and their status:
- ``paid``: a contribution row names the month (``flag`` 补缴 = paid late);
- ``gap``: the month lies inside a statement's window but no row names it (断保, documented);
- months outside every window are not listed: they are neither evidence of payment nor of a gap.

Months paid = the latest declared cumulative count (statements before transfer forms when both declare the same
month) plus rows after the month it was declared for; without a declaration, the rows alone (``basis`` says
which). The statutory retirement month follows :mod:`dangan.analytics.retirement`, birth and sex from the resident
ID (the 出生日期/性别 fields are cross-checked and a disagreement is listed as a conflict).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from dangan.analytics.retirement import (
    Retirement,
    RetirementGroup,
    birth_and_sex_from_id,
    group_for,
    period_index,
    period_of,
    statutory_retirement,
)
from dangan.catalog.db import session_scope
from dangan.catalog.fields import CONTRIBUTION_PREFIX
from dangan.catalog.models import Document, Dossier, FieldValue, Person
from dangan.extract.store import CANDIDATE

PAID = "paid"
GAP = "gap"
ROW_COLUMNS = ("base", "employer", "personal", "total", "flag")
#: which document's declaration wins when two declare the cumulative months for the same month
DECLARATION_PRIORITY = {"account_statement": 0, "transfer_form": 1, "registration": 2}


@dataclass(frozen=True)
class DocEvidence:
    """What one document says: its field readings (current first, then candidates) and contribution rows."""

    document_id: int
    form_type: str
    doc_date: str | None
    fields: dict[str, list[str]]
    rows: list[dict[str, Any]]

    def first(self, name: str) -> str | None:
        """The document's current reading of ``name``."""
        values = self.fields.get(name)
        return values[0] if values else None


@dataclass(frozen=True)
class Gap:
    """Consecutive months without a contribution inside a documented window; ``resumed`` is the next paid month
    (续保), None when the window ends in the gap."""

    first: str
    last: str
    months: int
    resumed: str | None

    def to_json(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {"first": self.first, "last": self.last, "months": self.months, "resumed": self.resumed}


@dataclass
class Month:
    """One month of the merged history."""

    period: str
    status: str
    values: dict[str, str | None] = field(default_factory=dict)
    documents: list[int] = field(default_factory=list)
    conflicts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON form (``conflicts`` only when there are any)."""
        out: dict[str, Any] = {"period": self.period, "status": self.status, **self.values, "documents": self.documents}
        if self.conflicts:
            out["conflicts"] = self.conflicts
        return out


@dataclass
class PersonHistory:
    """The merged history of one person and what follows from it."""

    person_id: int
    site: str
    resident_id_masked: str
    status: str
    sex: str | None
    birth: str | None
    group: RetirementGroup | None
    insured_since: str | None
    months: list[Month]
    gaps: list[Gap]
    months_paid: int
    months_paid_basis: str
    declared: list[dict[str, Any]]
    conflicts: dict[str, list[dict[str, Any]]]
    retirement: Retirement | None
    as_of: str | None
    documents: int

    @property
    def months_still_to_pay(self) -> int | None:
        """Months short of the minimum for a pension at the statutory age (0 when already reached)."""
        if self.retirement is None:
            return None
        return max(0, self.retirement.min_contribution_months - self.months_paid)

    @property
    def last_paid(self) -> str | None:
        """The newest month with a contribution row."""
        paid = [m.period for m in self.months if m.status == PAID]
        return max(paid) if paid else None

    def months_to_retirement(self, as_of: str | None = None) -> int | None:
        """Months from ``as_of`` (default: the history's own newest month) to the statutory retirement month."""
        ref = as_of or self.as_of
        if self.retirement is None or ref is None:
            return None
        return period_index(self.retirement.month) - period_index(ref)

    def to_json(self, as_of: str | None = None) -> dict[str, Any]:
        """The person report (resident ID masked; no name)."""
        to_go = self.months_to_retirement(as_of)
        still = self.months_still_to_pay
        return {
            "person_id": self.person_id,
            "site": self.site,
            "resident_id": self.resident_id_masked,
            "status": self.status,
            "sex": self.sex,
            "birth": self.birth,
            "insured_since": self.insured_since,
            "as_of": as_of or self.as_of,
            "documents": self.documents,
            "months_paid": self.months_paid,
            "months_paid_basis": self.months_paid_basis,
            "declared": self.declared,
            "retirement": self.retirement.to_json() if self.retirement else None,
            "months_to_retirement": to_go,
            "months_still_to_pay": still,
            # paying every month from now on, is the minimum reached by the statutory date?
            "minimum_reachable": None if to_go is None or still is None else still <= max(0, to_go),
            "gaps": [g.to_json() for g in self.gaps],
            "conflicts": self.conflicts,
            "months": [m.to_json() for m in self.months],
        }


def _values_with_sources(pairs: Iterable[tuple[str | None, int]]) -> list[dict[str, Any]]:
    by_value: dict[str | None, list[int]] = defaultdict(list)
    for value, doc in pairs:
        if doc not in by_value[value]:
            by_value[value].append(doc)
    return [{"value": v, "documents": docs} for v, docs in by_value.items()]


def merge_history(
    person_id: int,
    site: str,
    resident_id: str | None,
    resident_id_masked: str,
    docs: Sequence[DocEvidence],
    *,
    status: str = "active",
    female_group: RetirementGroup = RetirementGroup.FEMALE_WORKER,
) -> PersonHistory:
    """Merge ``docs`` of one person into a :class:`PersonHistory` (see the module docstring for the rules)."""
    conflicts: dict[str, list[dict[str, Any]]] = {}
    # facts printed on several documents: every distinct reading, with its documents
    for name in ("sex", "birth_date", "insured_since", "months_paid"):
        printed = [(v, d.document_id) for d in docs for v in d.fields.get(name, [])]
        if len({v for v, _ in printed}) > 1:
            conflicts[name] = _values_with_sources(printed)
    from_id = birth_and_sex_from_id(resident_id)
    sex = from_id[1] if from_id else next((d.first("sex") for d in docs if d.first("sex")), None)
    birth_date = (
        from_id[0].isoformat()
        if from_id
        else next((d.first("birth_date") for d in docs if d.first("birth_date")), None)
    )
    if from_id:
        for name, truth in (("sex", from_id[1]), ("birth_date", from_id[0].isoformat())):
            differ = {(v, d.document_id) for d in docs for v in d.fields.get(name, []) if v and v != truth}
            if differ:
                conflicts[name] = _values_with_sources([(truth, 0), *sorted(differ, key=lambda p: p[1])])
                conflicts[name][0]["source"] = "resident_id"
    birth = birth_date[:7] if birth_date and len(birth_date) >= 7 else None

    # months: rows from every statement; a conflict lists each reading with its documents
    readings: dict[str, list[tuple[dict[str, Any], int]]] = defaultdict(list)
    windows: list[tuple[int, int]] = []
    for d in docs:
        for row in d.rows:
            period = row.get("period")
            if isinstance(period, str) and len(period) == 7:
                readings[period].append((row, d.document_id))
        first, last = d.first("period_first"), d.first("period_last")
        if first and last and len(first) == 7 and len(last) == 7 and first <= last:
            windows.append((period_index(first), period_index(last)))
    months: dict[int, Month] = {}
    for period, rows in readings.items():
        month = Month(period, PAID, documents=sorted({doc for _, doc in rows}))
        for column in ROW_COLUMNS:
            options = _values_with_sources((row.get(column), doc) for row, doc in rows)
            month.values[column] = options[0]["value"]
            if len(options) > 1:
                month.conflicts[column] = options
        months[period_index(period)] = month
    for first_i, last_i in windows:
        for index in range(first_i, last_i + 1):
            if index not in months:
                months[index] = Month(period_of(index), GAP)
    ordered = [months[i] for i in sorted(months)]
    gaps = find_gaps(ordered)

    # cumulative months paid: the latest declaration, plus rows after it
    declared: list[dict[str, Any]] = []
    for d in docs:
        value = d.first("months_paid")
        as_of = d.first("period_last") or d.first("insured_until")
        if value and value.isdigit() and as_of and len(as_of) == 7:
            declared.append({"months": int(value), "as_of": as_of, "document": d.document_id, "form_type": d.form_type})
    declared.sort(key=lambda x: (x["as_of"], -DECLARATION_PRIORITY.get(x["form_type"], 9)))
    paid_periods = [m.period for m in ordered if m.status == PAID]
    if declared:
        best = declared[-1]
        months_paid = best["months"] + sum(1 for p in paid_periods if p > best["as_of"])
        basis = f"declared by document {best['document']} ({best['form_type']}) as of {best['as_of']}"
        same_month = {x["months"] for x in declared if x["as_of"] == best["as_of"]}
        if len(same_month) > 1:
            conflicts["months_paid_as_of_" + best["as_of"]] = _values_with_sources(
                (str(x["months"]), x["document"]) for x in declared if x["as_of"] == best["as_of"]
            )
    else:
        months_paid, basis = len(paid_periods), "contribution rows only"

    since = sorted(v for d in docs for v in d.fields.get("insured_since", [])[:1] if v and len(v) == 7)
    group = group_for(sex, female_group)
    retirement = statutory_retirement(group, int(birth[:4]), int(birth[5:7])) if group and birth else None
    return PersonHistory(
        person_id=person_id,
        site=site,
        resident_id_masked=resident_id_masked,
        status=status,
        sex=sex,
        birth=birth,
        group=group,
        insured_since=since[0] if since else None,
        months=ordered,
        gaps=gaps,
        months_paid=months_paid,
        months_paid_basis=basis,
        declared=declared,
        conflicts=conflicts,
        retirement=retirement,
        as_of=ordered[-1].period if ordered else None,
        documents=len(docs),
    )


def find_gaps(months: Sequence[Month]) -> list[Gap]:
    """Runs of ``gap`` months (ordered input) with their length and the month contributions resumed."""
    gaps: list[Gap] = []
    run: list[Month] = []
    for month in [*months, None]:
        if (
            month is not None
            and month.status == GAP
            and (not run or period_index(month.period) == period_index(run[-1].period) + 1)
        ):
            run.append(month)
            continue
        if run:
            resumed = (
                month.period
                if month is not None
                and month.status == PAID
                and period_index(month.period) == period_index(run[-1].period) + 1
                else None
            )
            gaps.append(Gap(run[0].period, run[-1].period, len(run), resumed))
            run = []
        if month is not None and month.status == GAP:
            run = [month]
    return gaps


def _evidence(rows: Iterable[Any]) -> dict[int, dict[int, DocEvidence]]:
    """Catalog rows (person, document, form type, date, field name, value, source, version, current) grouped into
    :class:`DocEvidence` per person and document (candidates only of the current version)."""
    fields: dict[tuple[int, int], dict[str, list[tuple[int, str]]]] = defaultdict(lambda: defaultdict(list))
    meta: dict[tuple[int, int], tuple[str, str | None]] = {}
    current_version: dict[int, int] = {}
    raw = list(rows)
    for r in raw:
        if r.is_current:
            current_version[r.document_id] = max(current_version.get(r.document_id, 0), r.version)
    for r in raw:
        if not r.is_current and not (r.source == CANDIDATE and r.version == current_version.get(r.document_id)):
            continue
        key = (r.person_id, r.document_id)
        meta[key] = (r.form_type, r.doc_date)
        if r.value is not None:
            fields[key][r.name].append((0 if r.is_current else 1, r.value))
    out: dict[int, dict[int, DocEvidence]] = defaultdict(dict)
    for key, by_name in fields.items():
        contributions: list[tuple[int, dict[str, Any]]] = []
        plain: dict[str, list[str]] = {}
        for name, values in by_name.items():
            ordered = [v for _, v in sorted(values, key=lambda x: x[0])]
            if name.startswith(CONTRIBUTION_PREFIX):
                contributions.extend((int(name[len(CONTRIBUTION_PREFIX) :]), json.loads(v)) for v in ordered[:1])
            else:
                plain[name] = list(dict.fromkeys(ordered))
        form_type, doc_date = meta[key]
        out[key[0]][key[1]] = DocEvidence(
            key[1], form_type, doc_date, plain, [r for _, r in sorted(contributions, key=lambda c: c[0])]
        )
    return out


def load_histories(
    catalog_url: str,
    site: str,
    *,
    person_ids: Sequence[int] | None = None,
    female_group: RetirementGroup = RetirementGroup.FEMALE_WORKER,
) -> list[PersonHistory]:
    """Every person of ``site`` (or only ``person_ids``) with their merged history, read from the catalog."""
    with session_scope(catalog_url) as s:
        people_q = select(Person.id, Person.resident_id, Person.resident_id_masked, Person.status).where(
            Person.site_code == site
        )
        if person_ids is not None:
            people_q = people_q.where(Person.id.in_(list(person_ids)))
        people = {p.id: p for p in s.execute(people_q)}
        q = (
            select(
                Dossier.person_id,
                Document.id.label("document_id"),
                Document.form_type,
                Document.doc_date,
                FieldValue.name,
                FieldValue.value,
                FieldValue.source,
                FieldValue.version,
                FieldValue.is_current,
            )
            .join(Document, Document.dossier_id == Dossier.id)
            .join(FieldValue, FieldValue.document_id == Document.id)
            .where(Dossier.person_id.in_(list(people)), Document.site_code == site)
            .where((FieldValue.is_current.is_(True)) | (FieldValue.source == CANDIDATE))
        )
        evidence = _evidence(s.execute(q))
    return [
        merge_history(
            pid,
            site,
            p.resident_id,
            p.resident_id_masked,
            [docs[d] for d in sorted(docs)] if (docs := evidence.get(pid)) else [],
            status=p.status,
            female_group=female_group,
        )
        for pid, p in sorted(people.items())
    ]


def find_person(catalog_url: str, site: str, person: str) -> int | None:
    """A person's catalog id from ``person``: the id itself or an 18-character resident ID."""
    with session_scope(catalog_url) as s:
        if person.isdigit() and len(person) < 18:
            found = s.scalar(select(Person.id).where(Person.site_code == site, Person.id == int(person)))
        else:
            found = s.scalar(select(Person.id).where(Person.site_code == site, Person.resident_id == person.upper()))
    return found


def person_report(settings: Any, site: str, person: str, *, as_of: str | None = None) -> dict[str, Any]:
    """The person report (JSON) of ``person`` (catalog id or resident ID) at ``site``: needs ``pii.reveal``.

    The use and any refusal are appended to the audit trail (``analytics.person_report``, person id only).
    """
    from dangan.access import PII_REVEAL, audit, require
    from dangan.analytics.errors import PersonNotFound
    from dangan.catalog.sites import get_site
    from dangan.errors import PermissionDenied

    ref = get_site(settings, site)
    try:
        who = require(settings, PII_REVEAL, "read a person's contribution history")
    except PermissionDenied as exc:
        audit(ref.catalog_url, actor=settings.actor, action="analytics.person_report", entity_type="site",
              entity_id=site, site_code=site, outcome="refused", details={"code": exc.code})  # fmt: skip
        raise
    person_id = find_person(ref.catalog_url, site, person)
    if person_id is None:
        raise PersonNotFound(f"no such person at site {site}", site=site)
    audit(ref.catalog_url, actor=who, action="analytics.person_report", entity_type="person",
          entity_id=str(person_id), site_code=site)  # fmt: skip
    (history,) = load_histories(ref.catalog_url, site, person_ids=[person_id])
    return history.to_json(as_of)
