"""``dangan export records`` masks every personal field; clear values need pii.reveal, a reason, and are audited."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import select
from typer.testing import CliRunner

from dangan.catalog.db import session_scope
from dangan.catalog.models import AuditEvent
from dangan.catalog.sites import add_site
from dangan.config import load_settings
from dangan.extract.store import current_fields, extract_documents
from dangan.pii import PERSONAL_FIELDS, mask_field
from tests.extract.catalog import seed
from tests.extract.helpers import truth_pages
from tests.extract.test_cli import _app
from tests.extract.test_store import SITE

GRANT = {"DANGAN_ACTOR": "li.ming", "DANGAN_ACCESS__GRANTS": '{"li.ming": ["pii.reveal"]}'}


def _seeded(truth_batch: Any, tmp_path: Path) -> tuple[str, dict[str, int], list[str]]:
    _, truths = truth_batch
    ref = add_site(load_settings(data_dir=tmp_path / "data"), SITE, "杭州市西湖区")
    docs = {n: (t, truth_pages(t)) for n, t in truths.items() if n[:3] in ("p01", "p02")}
    ids = seed(ref.catalog_url, SITE, docs)
    extract_documents(ref.catalog_url, SITE, ids.values())
    return ref.catalog_url, ids, ["--data-dir", str(tmp_path / "data"), "export", "records", "--site", SITE]


def _events(url: str) -> list[AuditEvent]:
    with session_scope(url) as s:
        events = list(s.scalars(select(AuditEvent).where(AuditEvent.action == "pii.reveal").order_by(AuditEvent.id)))
        s.expunge_all()
    return events


def test_export_masks_every_personal_field(truth_batch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url, ids, export = _seeded(truth_batch, tmp_path)
    result = CliRunner().invoke(_app(), export)
    assert result.exit_code == 0, result.output
    records = {r["document_id"]: r for r in map(json.loads, result.stdout.splitlines()) if r}
    raw: dict[int, dict[str, str]] = {}
    with session_scope(url) as s:
        for doc_id in ids.values():
            raw[doc_id] = {n: fv.value for n, fv in current_fields(s, doc_id).items() if n in PERSONAL_FIELDS}
    seen = {name for values in raw.values() for name in values}
    assert {"name", "id_number", "phone", "address", "birth_date", "ethnicity", "sex", "person_code"} <= seen
    for doc_id, values in raw.items():
        for name, value in values.items():
            assert records[doc_id]["fields"][name] == mask_field(name, value) != value, (name, value)
            if len(value) >= 2:
                assert value not in result.stdout, name  # not in any other column either
    assert _events(url) == []  # nothing shown in clear, nothing to record


def test_reveal_needs_a_reason_and_the_permission_and_is_audited(truth_batch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url, ids, export = _seeded(truth_batch, tmp_path)
    app, runner = _app(), CliRunner()

    no_reason = runner.invoke(app, [*export, "--reveal"], env=GRANT)
    assert no_reason.exit_code == 2 and "ACCESS_REASON_REQUIRED" in no_reason.output
    reason = ["--reason", "transfer case 2024-118"]
    denied = runner.invoke(app, [*export, "--full-ids", *reason], env={"DANGAN_ACTOR": "wang"})
    assert denied.exit_code == 2 and "ACCESS_DENIED" in denied.output and "pii.reveal" in denied.output
    assert "档案室负责人" in denied.output and "{" not in denied.stdout  # who grants it; no record printed
    with_env_grant = {**GRANT, "DANGAN_ACCESS__GRANTS": '{"someone.else": ["pii.reveal"]}'}
    assert runner.invoke(app, [*export, "--full-ids", "--reason", "case 2024-118"], env=with_env_grant).exit_code == 2

    shown = runner.invoke(app, [*export, "--full-ids", "--reason", "transfer case 2024-118"], env=GRANT)
    assert shown.exit_code == 0, shown.output
    records = [json.loads(line) for line in shown.stdout.splitlines() if line.startswith("{")]
    assert len(records) == len(ids)
    with session_scope(url) as s:
        phones = {fv.value for d in ids.values() if (fv := current_fields(s, d).get("phone"))}
    assert phones and all(p in shown.stdout for p in phones)  # in clear for the permitted operator

    events = _events(url)
    assert [(e.actor, e.outcome, e.details.get("code")) for e in events] == [
        ("li.ming", "refused", "ACCESS_REASON_REQUIRED"),
        ("wang", "refused", "ACCESS_DENIED"),
        ("li.ming", "refused", "ACCESS_DENIED"),
        ("li.ming", "started", None),
        ("li.ming", "ok", None),
    ]
    started, done = events[-2:]
    assert started.details["reason"] == "transfer case 2024-118" and started.site_code == SITE
    assert done.details["records"] == len(ids) and done.details["what"] == "exported records"
