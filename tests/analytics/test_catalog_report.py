"""Analytics read from a real catalog (SQLite, and PostgreSQL when configured): field rows stored as extraction
stores them, read back by the CLI; histories must match the synthetic persons' truth exactly."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from sqlalchemy import select
from typer.testing import CliRunner

from cli.app import app
from dangan.analytics.history import load_histories
from dangan.analytics.retirement import group_for, statutory_retirement
from dangan.catalog.db import session_scope
from dangan.catalog.fields import CONTRIBUTION_PREFIX
from dangan.catalog.models import AuditEvent, Document, Dossier, FieldValue, Person, ScanBatch
from dangan.catalog.sites import add_site
from dangan.config import load_settings
from dangan.pii import mask_id
from dangan.samples.persons import make_person

SITE = "330106"
runner = CliRunner()
GRANTED = {"DANGAN_ACCESS__GRANTS": '{"li.ming": ["pii.reveal"]}'}


def _field(doc: Document, name: str, value: str, **kw: Any) -> FieldValue:
    return FieldValue(document_id=doc.id, name=name, value=value, confidence=0.99, flags=[], source="extracted",
                      version=kw.get("version", 1), is_current=kw.get("is_current", True))  # fmt: skip


def seed(data: Path, persons: int = 12) -> tuple[str, list[dict[str, Any]]]:
    """A site with ``persons`` synthetic persons' three documents, fields stored as ``dangan.extract.store`` does."""
    ref = add_site(load_settings(data_dir=data), SITE, "西湖区")
    rng = random.Random(21)
    people = [make_person(rng, i, SITE, long_statement=i < 2) for i in range(persons)]
    with session_scope(ref.catalog_url) as s:
        batch = ScanBatch(site_code=SITE, source="/scans", source_key="k" * 64)
        s.add(batch)
        s.flush()
        for p in people:
            person = Person(site_code=SITE, resident_id=p["id_number"], resident_id_masked=mask_id(p["id_number"]))
            s.add(person)
            s.flush()
            dossier = Dossier(person_id=person.id, category="养老保险")
            s.add(dossier)
            s.flush()
            docs = {}
            for form in ("registration", "account_statement", "transfer_form"):
                name = f"p{p['index']}_{form}.tif"
                docs[form] = Document(
                    site_code=SITE, dossier_id=dossier.id, batch_id=batch.id, source_file=name, form_type=form
                )
                s.add(docs[form])
            s.flush()
            reg, st, tr = docs["registration"], docs["account_statement"], docs["transfer_form"]
            s.add_all([_field(reg, k, p[k]) for k in ("sex", "birth_date", "insured_since", "contribution_base")])
            s.add_all([_field(st, "months_paid", p["months_paid"]), _field(st, "period_first", p["first"]),
                       _field(st, "period_last", p["last"])])  # fmt: skip
            s.add_all(
                _field(st, f"{CONTRIBUTION_PREFIX}{i}", json.dumps(row, ensure_ascii=False))
                for i, row in enumerate(p["contributions"])
            )
            # an older extraction version that read the count wrong: superseded, must not count
            s.add(_field(st, "months_paid", "1", is_current=False))
            s.add_all([_field(tr, "insured_since", p["insured_since"]), _field(tr, "insured_until", p["last"]),
                       _field(tr, "months_paid", p["months_paid"])])  # fmt: skip
    return ref.catalog_url, people


def test_histories_from_the_catalog_are_exact(tmp_path: Path) -> None:
    url, people = seed(tmp_path / "d")
    histories = load_histories(url, SITE)
    assert len(histories) == len(people)
    for h, p in zip(histories, people, strict=True):
        assert h.resident_id_masked == mask_id(p["id_number"])
        assert [g.first for g in h.gaps] == p["gaps"]
        assert h.months_paid == int(p["months_paid"])
        group = group_for(p["sex"])
        assert group is not None
        assert h.retirement == statutory_retirement(group, int(p["birth_date"][:4]), int(p["birth_date"][5:7]))
        assert h.documents == 3 and h.conflicts == {}


def test_cli_site_report_and_person_report(tmp_path: Path) -> None:
    data = tmp_path / "d"
    url, people = seed(data)
    base = ["--data-dir", str(data)]
    out = tmp_path / "charts"
    result = runner.invoke(app, [*base, "analytics", "--site", SITE, "--json", "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["persons"] == len(people) and report["sites"] == [SITE]
    for name in ("contributors", "base_histogram", "base_trend", "gaps", "retiring", "retirees"):
        assert (out / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
        assert b"<svg" in (out / f"{name}.svg").read_bytes()[:400]
        assert (out / f"{name}.csv").read_text("utf-8").count("\n") >= 1
    for p in people:  # aggregates only: no resident ID, masked or not
        assert p["id_number"] not in result.output and mask_id(p["id_number"]) not in result.output

    refused = runner.invoke(app, [*base, "--actor", "wang", "person-report", "--person", "1", "--json"])
    assert refused.exit_code == 2 and "pii.reveal" in " ".join(refused.output.split())
    allowed = runner.invoke(
        app, [*base, "--actor", "li.ming", "person-report", "--person", people[1]["id_number"], "--json"], env=GRANTED
    )
    assert allowed.exit_code == 0, allowed.output
    person = json.loads(allowed.output)
    assert person["months_paid"] == int(people[1]["months_paid"])
    assert [g["first"] for g in person["gaps"]] == people[1]["gaps"]
    assert person["resident_id"] == mask_id(people[1]["id_number"]) and people[1]["id_number"] not in allowed.output
    with session_scope(url) as s:
        outcomes = [
            e.outcome for e in s.scalars(select(AuditEvent).where(AuditEvent.action == "analytics.person_report"))
        ]
    assert outcomes == ["refused", "ok"]
